// Package redact removes secrets from text before it leaves the machine:
// API keys, tokens, passwords and private keys that an AI coding session
// showed on the terminal end up in transcripts, params, tags and run
// descriptions uploaded to MLflow. A found secret is replaced by the marker
// [REDACTED:<kind>], e.g. [REDACTED:github-token].
//
// Redactor.String cleans a string (params, tags, descriptions, clean
// transcripts). Redactor.NewStream cleans raw terminal output as it is
// produced: escape sequences, including SGR colour codes inside a token, and
// secrets split across writes do not hide a secret from it.
//
// Built-in kinds:
//
//	private-key            a whole PEM "-----BEGIN ... PRIVATE KEY-----" block
//	aws-access-key-id      AKIA/ASIA + 16 upper-case letters or digits
//	aws-secret-access-key  40 characters after an aws_secret_access_key / SecretAccessKey key
//	github-token           ghp_ gho_ ghu_ ghs_ ghr_ + 36 or more, github_pat_ + 40 or more
//	gitlab-token           glpat- gldt- glrt- glptt- + 20 or more
//	anthropic-api-key      sk-ant-<type><2 digits>-...
//	openai-api-key         sk-, sk-proj-, sk-svcacct-, sk-admin- + 20 or more mixed-case letters and digits
//	google-api-key         AIza + 35
//	slack-token            xoxb- xoxp- xoxa- xoxr- xoxs- xoxe- xoxo-, xapp-<digit>-
//	stripe-key             sk_live_ rk_live_ sk_test_ rk_test_
//	jwt                    eyJ<header>.<payload>.<signature> (and JWE's five parts)
//	url-password           the password of scheme://user:password@host; user and host stay
//	bearer-token           Bearer <token>
//	authorization-header   Authorization: Basic|token <credentials>
//	password, secret       KEY=value, KEY: value, "key": "value", export KEY="value" (see below)
//
// A token is recognised only as a whole word of its characters: the
// character before it must not be one (an escaped \n, \r or \t of JSON text
// counts as a break) and it must not run on into more, so "task-list" is not
// an OpenAI key and a base64 image does not hide an AWS key id.
//
// Assignments. The key is the identifier before =, :, := or => (optionally
// quoted, optionally closing an index as in os.environ["K"] = ...; only its
// last 64 bytes are read). It is split into words at _ - . and at
// lower-to-upper case changes; its last word decides:
//   - ending in password, passwd or passphrase (PGPASSWORD too), or pass, or
//     pwd after another word (PWD alone is the working directory): kind
//     password;
//   - ending in token, secret or apikey, or key after api, secret, private,
//     access, encryption, signing, master or client: kind secret;
//   - key after any other word or alone, and auth: kind secret only when
//     the value looks generated (16 or more characters with letters and
//     digits);
//   - anything else (MAX_TOKENS, TOKEN_URL, PASSWORD_MIN_LENGTH) is no secret.
//
// The value is not a secret when it is shorter than 4 characters, a number
// of up to 6 digits (with an optional unit like 30s), true/false/yes/no/
// on/off/null/nil/none/undefined, a type name (string, str, int, ...), a
// reference ($VAR, ${VAR}, %VAR%, {{ ... }}, <placeholder>), masked (xxxx,
// or holding ****), a path (/, ./, ../, ~/), a URL, a marker, or a quoted
// phrase with spaces. An unquoted value is also no secret when it is code:
// it holds brackets or parentheses, is a dotted path (self.token), repeats
// the key, or is a multi-word identifier without digits (new_password).
// Quoted values may hold anything but a newline, up to 1 KiB; unquoted ones
// end at white space, a quote, a backslash (a JSON escape) or & | ; (shell
// operators, query separators), and lose a trailing comma.
//
// Secrets found by several rules, or overlapping, are redacted as one, named
// after the first kind in the list above; a chain of overlapping matches is
// cut into markers of at most 16 KiB. Markers are inert: a second pass does
// not take "[REDACTED:github-token]: x" for an assignment.
//
// What it does not do: decide whether a token is live, find secrets with no
// recognisable shape or key (a password typed at a prompt), or rebuild text a
// program draws in pieces (cursor movements between parts of a token, shell
// line wrapping, backspace edits): it reads the bytes in order, as a log
// viewer would.
package redact

import (
	"bytes"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Rule is a user-supplied pattern (from the config file).
type Rule struct {
	// Kind names what the pattern finds: it appears in the marker and in
	// Counts. Letters, digits, '.', '_' and '-' only.
	Kind string
	// Pattern is a Go (RE2) regular expression. When it has a group named
	// "secret", only that group is replaced; otherwise the whole match is.
	// Matches longer than 16 KiB are ignored, so that a Stream finds the same
	// secrets as String.
	Pattern string
}

// Config adjusts a Redactor; the zero value uses the built-in rules only.
type Config struct {
	Extra []Rule   // user patterns, applied after the built-in rules
	Allow []string // literal values never redacted, compared with the whole secret
}

// Counts is the number of redactions per kind.
type Counts map[string]int

// Add adds o's counts to c. c must not be nil unless o is empty.
func (c Counts) Add(o Counts) {
	for kind, n := range o {
		c[kind] += n
	}
}

// Redactor finds and replaces secrets. It is safe for concurrent use; a
// Stream is not.
type Redactor struct {
	rules []rule // built-in, in priority order
	index *keywordIndex
	extra []extraRule // user rules, after the built-in ones
	kinds []string    // kind by rank: the built-in rules' kinds, then the extra ones
	allow map[string]struct{}
}

// extraRule is a compiled user Rule.
type extraRule struct {
	re    *regexp.Regexp
	group int // submatch replaced; 0 for the whole match
}

var kindSyntax = regexp.MustCompile(`\A[A-Za-z0-9][A-Za-z0-9._-]*\z`)

// NewRedactor compiles cfg's extra rules; an error names the rule at fault.
func NewRedactor(cfg Config) (*Redactor, error) {
	r := &Redactor{rules: builtinRules(), allow: make(map[string]struct{}, len(cfg.Allow))}
	r.index = newKeywordIndex(r.rules)
	for _, rl := range r.rules {
		r.kinds = append(r.kinds, rl.kind)
	}
	for i, x := range cfg.Extra {
		if !kindSyntax.MatchString(x.Kind) {
			return nil, fmt.Errorf("redact: extra rule %d: kind %q must be letters, digits, '.', '_' or '-'", i+1, x.Kind)
		}
		re, err := regexp.Compile(x.Pattern)
		if err != nil {
			return nil, fmt.Errorf("redact: extra rule %d (kind %q): pattern %q does not compile: %w", i+1, x.Kind, x.Pattern, err)
		}
		group := 0
		if g := re.SubexpIndex("secret"); g > 0 {
			group = g
		}
		r.extra = append(r.extra, extraRule{re: re, group: group})
		r.kinds = append(r.kinds, x.Kind)
	}
	for _, v := range cfg.Allow {
		if v != "" {
			r.allow[v] = struct{}{}
		}
	}
	return r, nil
}

// String returns s with every secret replaced by its marker, and what was
// replaced; the Counts is nil when nothing was.
func (r *Redactor) String(s string) (string, Counts) {
	text := []byte(s)
	spans := merge(r.find(text, lowerASCII(nil, text), 0, nil))
	if len(spans) == 0 {
		return s, nil
	}
	counts := Counts{}
	var b strings.Builder
	b.Grow(len(s))
	prev := 0
	for _, sp := range spans {
		b.WriteString(s[prev:sp.start])
		b.WriteString(marker(r.kinds[sp.rank]))
		counts[r.kinds[sp.rank]]++
		prev = sp.end
	}
	b.WriteString(s[prev:])
	return b.String(), counts
}

const markerPrefix = "[REDACTED:"

func marker(kind string) string { return markerPrefix + kind + "]" }

// insideMarker reports whether text[i] is part of a marker's kind.
func insideMarker(text []byte, i int) bool {
	j := i
	for j > 0 && i-j < 64 && kindChars[text[j-1]] {
		j--
	}
	return j >= len(markerPrefix) && string(text[j-len(markerPrefix):j]) == markerPrefix
}

var kindChars = newSet(alnum, "._-")

// Limits shared by the rules and the Stream, which must hold back enough text
// to see any match whole.
const (
	maxMatchLen = 16 << 10 // longest match of any rule (a PEM block); longer user matches are ignored
	maxBefore   = 64       // most bytes between a match's start and its keyword (a key's name)
)

// candidate is one rule's match. Candidates may overlap; find merges them.
type candidate struct {
	start, end       int // the whole match, key included: a Stream never cuts inside it
	secStart, secEnd int // the part replaced by the marker
	rank             int // rule index in Redactor.kinds; the lower wins a merge
}

// span is a final redaction: a union of overlapping candidates' secrets,
// named after the highest-priority one.
type span struct{ start, end, rank int }

// find appends to cands[:0] the candidates in text[from:]. text[:from] is
// context already dealt with: rules read it (a key's start, the byte before
// a token) but nothing starting there is redacted. lower is text in ASCII
// lower case, where keywords are searched.
//
// A built-in candidate depends only on text[hit-maxBefore-1 : hit+maxMatchLen+1]
// around its keyword hit, which is what lets a Stream decide a candidate
// before it has seen the rest of its input.
func (r *Redactor) find(text, lower []byte, from int, cands []candidate) []candidate {
	cands = cands[:0]
	idx := r.index
	for i := from; i+1 < len(lower); i++ {
		bigram := uint16(lower[i])<<8 | uint16(lower[i+1])
		if idx.starts[bigram>>6]&(1<<(bigram&63)) == 0 {
			continue // most text: one bit in a table that stays in L1
		}
		g := idx.byBigram[bigram]
		for _, k := range idx.groups[g-1] {
			if !bytes.HasPrefix(lower[i:], k.keyword) {
				continue
			}
			if c, ok := r.rules[k.rank].find(text, i); ok {
				c.rank = k.rank
				cands = r.keep(cands, text, c, from)
			}
		}
	}
	for i, x := range r.extra {
		rank := len(r.rules) + i
		for _, m := range x.re.FindAllSubmatchIndex(text, -1) {
			if m[1]-m[0] > maxMatchLen || m[2*x.group] < 0 {
				continue
			}
			c := candidate{start: m[0], end: m[1], secStart: m[2*x.group], secEnd: m[2*x.group+1], rank: rank}
			cands = r.keep(cands, text, c, from)
		}
	}
	return cands
}

// keep appends c unless it is empty, allowed, lies in the context, or
// starts or ends inside a marker: markers are inert ("[REDACTED:github-token]: x"
// assigns nothing to a key named token; the ':' in a marker is no
// user:password separator).
func (r *Redactor) keep(cands []candidate, text []byte, c candidate, from int) []candidate {
	if c.secEnd <= c.secStart || c.secEnd <= from ||
		insideMarker(text, c.start) || insideMarker(text, c.secStart) || insideMarker(text, c.secEnd-1) {
		return cands
	}
	// A secret starting in the context was already written; redact what remains.
	c.secStart = max(c.secStart, from)
	c.start = max(c.start, from)
	if _, ok := r.allow[string(text[c.secStart:c.secEnd])]; ok {
		return cands
	}
	return append(cands, c)
}

// merge sorts the candidates' secrets and unites overlapping ones, so that a
// secret found by two rules (GITHUB_TOKEN=ghp_...) is redacted once, under the
// more specific kind, and no part of any candidate survives. A union grows
// to maxMatchLen at most; what overlaps further goes into the next span, so
// that where a long chain of overlapping matches is split depends on the
// text only, not on how a Stream received it.
func merge(cands []candidate) []span {
	if len(cands) == 0 {
		return nil
	}
	sort.Slice(cands, func(i, j int) bool {
		if cands[i].secStart != cands[j].secStart {
			return cands[i].secStart < cands[j].secStart
		}
		if cands[i].secEnd != cands[j].secEnd {
			return cands[i].secEnd < cands[j].secEnd
		}
		return cands[i].rank < cands[j].rank
	})
	spans := make([]span, 0, len(cands))
	cur := span{cands[0].secStart, cands[0].secEnd, cands[0].rank}
	for _, c := range cands[1:] {
		switch {
		case c.secStart >= cur.end: // apart
			spans = append(spans, cur)
			cur = span{c.secStart, c.secEnd, c.rank}
		case c.secEnd <= cur.end: // inside (or in the span before, when split)
			if c.secEnd > cur.start {
				cur.rank = min(cur.rank, c.rank)
			}
		case c.secEnd-cur.start <= maxMatchLen: // overlapping
			cur.end = c.secEnd
			cur.rank = min(cur.rank, c.rank)
		default: // overlapping, too long together
			spans = append(spans, cur)
			cur = span{cur.end, c.secEnd, c.rank}
		}
	}
	return append(spans, cur)
}

// keywordIndex finds every rule's keywords in one pass: a table from a
// keyword's first two bytes to the keywords starting with them.
type keywordIndex struct {
	starts   [1 << 16 / 64]uint64 // bit set: a keyword starts with the bigram
	byBigram [1 << 16]uint16      // 1 + index into groups; 0 when no keyword starts so
	groups   [][]keywordOf
}

type keywordOf struct {
	keyword []byte // lower case, at least 2 bytes
	rank    int    // the rule's index
}

func newKeywordIndex(rules []rule) *keywordIndex {
	idx := &keywordIndex{}
	for rank, rl := range rules {
		for _, kw := range rl.keywords {
			bigram := uint16(kw[0])<<8 | uint16(kw[1])
			if idx.byBigram[bigram] == 0 {
				idx.groups = append(idx.groups, nil)
				idx.byBigram[bigram] = uint16(len(idx.groups))
				idx.starts[bigram>>6] |= 1 << (bigram & 63)
			}
			g := idx.byBigram[bigram] - 1
			idx.groups[g] = append(idx.groups[g], keywordOf{kw, rank})
		}
	}
	return idx
}

// lowerASCII appends src to dst[:0] with ASCII letters in lower case, byte
// for byte, so that indexes into both agree.
func lowerASCII(dst, src []byte) []byte {
	return appendLower(dst[:0], src)
}

// appendLower appends src to dst with ASCII letters in lower case.
func appendLower(dst, src []byte) []byte {
	n := len(dst)
	dst = append(dst, src...)
	for i, c := range dst[n:] {
		dst[n+i] = lowerTable[c] // no branch to mispredict on mixed case
	}
	return dst
}

var lowerTable = func() (t [256]byte) {
	for i := range t {
		t[i] = byte(i)
		if 'A' <= i && i <= 'Z' {
			t[i] += 'a' - 'A'
		}
	}
	return t
}()
