package redact

import (
	"bytes"
	"regexp"
)

// rule is a built-in detector. find is called at every occurrence of a
// keyword in the lower-cased text and reads only
// text[hit-maxBefore-2 : hit+maxMatchLen+1]; the match it returns contains
// the keyword and starts at most maxBefore bytes before it.
type rule struct {
	kind     string
	keywords [][]byte // lower case
	find     func(text []byte, hit int) (candidate, bool)
}

// byteSet is a set of ASCII bytes.
type byteSet [256]bool

func newSet(members ...string) *byteSet {
	var s byteSet
	for _, m := range members {
		for i := 0; i < len(m); i++ {
			s[m[i]] = true
		}
	}
	return &s
}

const (
	upper  = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	lower  = "abcdefghijklmnopqrstuvwxyz"
	digits = "0123456789"
	alnum  = upper + lower + digits
)

var (
	alnumSet  = newSet(alnum)
	letterSet = newSet(upper, lower)
	keySet    = newSet(alnum, "_.-") // a key's name
	schemeSet = newSet(alnum, "+.-") // a URL scheme
	base64Set = newSet(alnum, "+/=") // a PEM body line
	b64urlSet = newSet(alnum, "_-")  // JWT parts, most API tokens
	wordSet   = newSet(alnum, "_")
	gitlabSet = newSet(alnum, "_.-")
	slackSet  = newSet(alnum, "-")
	jwtSet    = newSet(alnum, "_-.")
	bearerSet = newSet(alnum, "._~+/=-") // RFC 6750 b64token
)

func keywords(ks ...string) [][]byte {
	out := make([][]byte, len(ks))
	for i, k := range ks {
		out[i] = []byte(k)
	}
	return out
}

// builtinRules returns the detectors in priority order: when two find
// overlapping secrets, the kind of the earlier one names the redaction.
func builtinRules() []rule {
	return []rule{
		{kind: "private-key", keywords: keywords("-----begin "), find: findPrivateKey},
		tokenRule("aws-access-key-id", `\A(?:AKIA|ASIA)[A-Z0-9]{16}`, maxTokenLen, alnumSet, alnumSet, nil, "akia", "asia"),
		{kind: "aws-secret-access-key", keywords: keywords("secret_access_key", "secretaccesskey", "secret-access-key"), find: findAWSSecret},
		tokenRule("github-token", `\A(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})`, maxTokenLen, wordSet, wordSet, nil,
			"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
		tokenRule("gitlab-token", `\Agl(?:pat|dt|rt|ptt)-[A-Za-z0-9_.-]{20,}`, maxTokenLen, gitlabSet, gitlabSet, nil,
			"glpat-", "gldt-", "glrt-", "glptt-"),
		tokenRule("anthropic-api-key", `\Ask-ant-[a-z]{2,12}[0-9]{2}-[A-Za-z0-9_-]{20,}`, maxTokenLen, b64urlSet, b64urlSet, nil, "sk-ant-"),
		tokenRule("openai-api-key", `\Ask-(?:proj-|svcacct-|admin-)?([A-Za-z0-9_-]{20,})`, maxTokenLen, b64urlSet, b64urlSet, mixedCase, "sk-"),
		tokenRule("google-api-key", `\AAIza[0-9A-Za-z_-]{35}`, maxTokenLen, b64urlSet, b64urlSet, nil, "aiza"),
		tokenRule("slack-token", `\A(?:xox[abeoprs]-[0-9A-Za-z-]{10,}|xapp-[0-9]-[0-9A-Za-z-]{10,})`, maxTokenLen, slackSet, slackSet, nil, "xox", "xapp-"),
		tokenRule("stripe-key", `\A[rs]k_(?:live|test)_[0-9A-Za-z]{10,}`, maxTokenLen, wordSet, alnumSet, nil, "sk_live_", "sk_test_", "rk_live_", "rk_test_"),
		tokenRule("jwt", `\AeyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}(?:\.[A-Za-z0-9_-]+){0,2}`, maxJWTLen, jwtSet, b64urlSet, nil, "eyj"),
		{kind: "url-password", keywords: keywords("://"), find: findURLPassword},
		{kind: "bearer-token", keywords: keywords("bearer"), find: findBearer},
		{kind: "authorization-header", keywords: keywords("authorization"), find: findAuthorization},
		{kind: "password", keywords: keywords("pass", "pwd"), find: assignmentFinder(keyPassword)},
		{kind: "secret", keywords: keywords("token", "secret", "key", "auth"), find: assignmentFinder(keySecret)},
	}
}

// tokenRule detects a token that begins with its keyword: re (anchored with
// \A, matching only bytes in chars) must match there, the byte before must
// not be one of chars (the token is a word of its own), and the byte after
// must not be in tail (it does not run on). The whole match is the secret;
// accept, if set, vets re's group 1 (or the whole match without one).
func tokenRule(kind, pattern string, maxLen int, chars, tail *byteSet, accept func([]byte) bool, kws ...string) rule {
	re := regexp.MustCompile(pattern)
	return rule{kind: kind, keywords: keywords(kws...), find: func(text []byte, hit int) (candidate, bool) {
		if hit > 0 && chars[text[hit-1]] && !jsonEscapeAt(text, hit-1) {
			return candidate{}, false
		}
		// The regexp reads only the run of token characters: a shorter
		// input is much cheaper to match.
		m := re.FindSubmatchIndex(text[hit:runEnd(text, hit, chars, maxLen)])
		if m == nil {
			return candidate{}, false
		}
		end := hit + m[1]
		if end < len(text) && tail[text[end]] {
			return candidate{}, false // runs on: part of something longer
		}
		vet := text[hit:end]
		if len(m) > 2 && m[2] >= 0 {
			vet = text[hit+m[2] : hit+m[3]]
		}
		if accept != nil && !accept(vet) {
			return candidate{}, false
		}
		return candidate{start: hit, end: end, secStart: hit, secEnd: end}, true
	}}
}

// Longest matches, beyond which a run of token characters is no token.
const (
	maxTokenLen  = 1 << 10 // API keys, a URL up to its password
	maxJWTLen    = 8 << 10
	maxBearerLen = 4 << 10 // opaque OAuth tokens can be long
)

// runEnd returns where the run of set's bytes from text[i] ends, at most
// maxLen bytes on.
func runEnd(text []byte, i int, set *byteSet, maxLen int) int {
	limit := min(len(text), i+maxLen)
	for i < limit && set[text[i]] {
		i++
	}
	return i
}

// jsonEscapeAt reports whether text[i] is the letter of a \n, \r or \t
// escape, which in JSON-encoded text separates words.
func jsonEscapeAt(text []byte, i int) bool {
	c := text[i]
	return (c == 'n' || c == 'r' || c == 't') && i > 0 && text[i-1] == '\\' && (i < 2 || text[i-2] != '\\')
}

// charKinds reports which of upper-case letters, lower-case letters and
// digits b holds.
func charKinds(b []byte) (up, low, dig bool) {
	for _, c := range b {
		switch {
		case 'A' <= c && c <= 'Z':
			up = true
		case 'a' <= c && c <= 'z':
			low = true
		case '0' <= c && c <= '9':
			dig = true
		}
	}
	return up, low, dig
}

// mixedCase reports whether an OpenAI key's random part has upper- and
// lower-case letters and digits, as generated keys do and words do not.
func mixedCase(b []byte) bool {
	up, low, dig := charKinds(b)
	return up && low && dig
}

// Private keys.

var (
	pemHeader = regexp.MustCompile(`\A-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----`)
	pemFooter = regexp.MustCompile(`\A-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----`)
	pemBegin  = []byte("-----BEGIN ")
	pemEnd    = []byte("-----END ")
)

// findPrivateKey redacts a PEM private key block through its END line. A
// block without one within maxMatchLen (output cut short, "… +20 lines") is
// redacted through its last line of base64 or header fields.
func findPrivateKey(text []byte, hit int) (candidate, bool) {
	limit := min(len(text), hit+maxMatchLen)
	h := pemHeader.FindIndex(text[hit:min(limit, hit+80)])
	if h == nil {
		return candidate{}, false
	}
	body := hit + h[1]
	// The footer must come before any other block begins.
	if next := bytes.Index(text[body:limit], pemBegin); next >= 0 {
		limit = body + next
	}
	for i := body; ; {
		j := bytes.Index(text[i:limit], pemEnd)
		if j < 0 {
			break
		}
		if f := pemFooter.FindIndex(text[i+j : min(limit, i+j+80)]); f != nil {
			end := i + j + f[1]
			return candidate{start: hit, end: end, secStart: hit, secEnd: end}, true
		}
		i += j + 1
	}
	end := pemBodyEnd(text[:limit], body)
	return candidate{start: hit, end: end, secStart: hit, secEnd: end}, true
}

// pemBodyEnd returns where the base64 lines after a PEM header stop. Lines
// end at a newline or at a JSON-escaped \n; white space around them is
// ignored.
func pemBodyEnd(text []byte, pos int) int {
	end := pos
	for pos < len(text) {
		lineEnd, next := len(text), len(text)
		for i := pos; i < len(text); i++ {
			if text[i] == '\n' {
				lineEnd, next = i, i+1
				break
			}
			if text[i] == '\\' && i+1 < len(text) && (text[i+1] == 'n' || text[i+1] == 'r') {
				lineEnd, next = i, i+2
				break
			}
		}
		line := bytes.TrimSpace(text[pos:lineEnd])
		switch {
		case len(line) == 0:
		case pemBodyLine(line):
			end = pos + bytes.Index(text[pos:lineEnd], line) + len(line)
		default:
			return end
		}
		pos = next
	}
	return end
}

func pemBodyLine(line []byte) bool {
	if bytes.HasPrefix(line, []byte("Proc-Type:")) || bytes.HasPrefix(line, []byte("DEK-Info:")) {
		return true
	}
	for _, c := range line {
		if !base64Set[c] {
			return false
		}
	}
	return true
}

// Context rules: a key or header name, then the secret.

var awsSecretRe = regexp.MustCompile(`\A(?i:secret[_-]?access[_-]?key)\\?["'` + "`" + `]?\]?[ \t]*(?::=|=>|=|:)[ \t]*\\?["']?([A-Za-z0-9/+]{40})`)

// findAWSSecret redacts the 40 characters after an AWS secret access key's
// name (aws_secret_access_key = ..., AWS_SECRET_ACCESS_KEY=...,
// "SecretAccessKey": "...").
func findAWSSecret(text []byte, hit int) (candidate, bool) {
	m := awsSecretRe.FindSubmatchIndex(text[hit:min(len(text), hit+80)])
	if m == nil {
		return candidate{}, false
	}
	end := hit + m[1]
	if end < len(text) && base64Set[text[end]] {
		return candidate{}, false
	}
	return candidate{start: hit, end: end, secStart: hit + m[2], secEnd: end}, true
}

// urlRunSet holds the bytes urlPasswordRe can match.
var urlRunSet = func() *byteSet {
	var s byteSet
	for c := 0x21; c < 0x7f; c++ {
		s[c] = !bytes.ContainsRune([]byte("\\\"'<>"), rune(c))
	}
	for c := 0x80; c < 0x100; c++ {
		s[c] = true
	}
	return &s
}()

var urlPasswordRe = regexp.MustCompile(`\A[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@?#\\"'<>]*:([^\s/?#\\"'<>]+)@`)

// findURLPassword redacts the password of scheme://user:password@host. The
// password runs to the authority's last '@', so an unescaped '@' in it is
// still covered.
func findURLPassword(text []byte, hit int) (candidate, bool) {
	// A scheme is short; a longer run is read from its last 32 bytes.
	start := hit
	for start > 0 && schemeSet[text[start-1]] && hit-start < 32 {
		start--
	}
	for start < hit && !letterSet[text[start]] {
		start++ // a scheme starts with a letter: "(https://" or "1http://"
	}
	if start == hit {
		return candidate{}, false
	}
	m := urlPasswordRe.FindSubmatchIndex(text[start:runEnd(text, start, urlRunSet, maxTokenLen)])
	if m == nil {
		return candidate{}, false
	}
	secret := text[start+m[2] : start+m[3]]
	if isReference(secret) || isMarker(secret) {
		return candidate{}, false
	}
	return candidate{start: start, end: start + m[1], secStart: start + m[2], secEnd: start + m[3]}, true
}

var bearerRe = regexp.MustCompile(`\A(?i:bearer)[ \t]+`)

// findBearer redacts the token after "Bearer" when it looks generated, which
// "bearer tokens" and "Bearer $TOKEN" do not.
func findBearer(text []byte, hit int) (candidate, bool) {
	if hit > 0 && letterSet[text[hit-1]] {
		return candidate{}, false
	}
	return credentialAfter(bearerRe, text, hit)
}

var authorizationRe = regexp.MustCompile(`\A(?i:authorization)\\?["']?[ \t]*[:=][ \t]*\\?["']?(?i:basic|token)[ \t]+`)

// findAuthorization redacts the credentials of an Authorization header with
// the Basic or token scheme; Bearer is findBearer's.
func findAuthorization(text []byte, hit int) (candidate, bool) {
	if hit > 0 && letterSet[text[hit-1]] {
		return candidate{}, false
	}
	return credentialAfter(authorizationRe, text, hit)
}

// credentialAfter matches prefix at hit; the credential after it (RFC 6750
// b64token: token characters, then '=' padding) must look generated and not
// run on.
func credentialAfter(prefix *regexp.Regexp, text []byte, hit int) (candidate, bool) {
	m := prefix.FindIndex(text[hit:min(len(text), hit+40)])
	if m == nil {
		return candidate{}, false
	}
	secStart := hit + m[1]
	end := runEnd(text, secStart, credentialSet, maxBearerLen)
	end = runEnd(text, end, paddingSet, maxBearerLen-(end-secStart))
	if end == secStart || end < len(text) && bearerSet[text[end]] {
		return candidate{}, false
	}
	secEnd := end
	for secEnd > secStart && text[secEnd-1] == '.' {
		secEnd-- // the end of a sentence
	}
	if !looksGenerated(text[secStart:secEnd], 12) {
		return candidate{}, false
	}
	return candidate{start: hit, end: end, secStart: secStart, secEnd: secEnd}, true
}

var (
	credentialSet = newSet(alnum, "._~+/-")
	paddingSet    = newSet("=")
)

// looksGenerated reports whether v is at least minLen long and mixes letters
// with digits, or upper- with lower-case letters, as generated credentials do
// and words mostly do not.
func looksGenerated(v []byte, minLen int) bool {
	if len(v) < minLen {
		return false
	}
	up, low, dig := charKinds(v)
	return (dig && (up || low)) || (up && low)
}
