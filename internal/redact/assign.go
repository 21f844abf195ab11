package redact

import (
	"bytes"
	"strings"
)

// keyClass is what a key's name says about its value.
type keyClass uint8

const (
	keyNone     keyClass = iota
	keyPassword          // ..._PASSWORD, passwd, DB_PWD
	keySecret            // ..._TOKEN, client_secret, api_key
	keyIfRandom          // ..._KEY, _auth: a secret when the value looks generated
)

// maxValueLen bounds an assigned secret; a longer value is not one.
const maxValueLen = 1 << 10

// assignmentFinder returns the find function of a rule redacting values
// assigned to keys of class want (keySecret also takes keyIfRandom).
func assignmentFinder(want keyClass) func([]byte, int) (candidate, bool) {
	return func(text []byte, hit int) (candidate, bool) {
		// Only a key's last words count, so a longer one is read from
		// maxBefore bytes before the keyword.
		start := hit
		for start > 0 && keySet[text[start-1]] && hit-start < maxBefore {
			start--
		}
		if start < hit && jsonEscapeAt(text, start) {
			start++ // "\nAPI_KEY=..." in JSON-encoded text
		}
		keyEnd := runEnd(text, hit, keySet, maxBefore)
		key := text[start:keyEnd]
		class := classifyKey(key)
		if class != want && !(want == keySecret && class == keyIfRandom) {
			return candidate{}, false
		}
		p, ok := skipSeparator(text, keyEnd)
		if !ok {
			return candidate{}, false
		}
		vs, ve, end, quoted, ok := readValue(text, p)
		if !ok || !plausibleValue(key, text[vs:ve], quoted, class) {
			return candidate{}, false
		}
		return candidate{start: start, end: end, secStart: vs, secEnd: ve}, true
	}
}

// skipSeparator reads what joins a key to its value: the key's closing
// quote and index bracket (os.environ["K"]), then =, :, := or => with spaces
// or tabs around it. It returns where the value starts.
func skipSeparator(text []byte, p int) (int, bool) {
	at := func(c byte) bool { return p < len(text) && text[p] == c }
	if at('\\') && p+1 < len(text) && text[p+1] == '"' {
		p++ // JSON inside JSON: \"key\": ...
	}
	if at('"') || at('\'') || at('`') {
		p++
	}
	if at(']') {
		p++
	}
	p = skipBlanks(text, p)
	switch {
	case at(':'):
		p++
		if at('=') {
			p++
		}
	case at('='):
		p++
		if at('>') {
			p++
		}
	default:
		return 0, false
	}
	return skipBlanks(text, p), true
}

func skipBlanks(text []byte, p int) int {
	for n := 0; p < len(text) && (text[p] == ' ' || text[p] == '\t') && n < 8; n++ {
		p++
	}
	return p
}

// readValue reads the value at text[p:]: "double-quoted" (JSON escapes
// allowed), \"escaped\" (JSON inside JSON), 'single-quoted', or bare up to
// white space, a quote, a backslash (a JSON escape) or & | ; (shell
// operators, query separators), less a trailing comma. It returns the
// value's bounds, where the match ends, and whether it was quoted; ok is
// false without a complete value of at most maxValueLen bytes.
func readValue(text []byte, p int) (vs, ve, end int, quoted, ok bool) {
	limit := min(len(text), p+maxValueLen+2)
	switch {
	case p < limit && (text[p] == '"' || text[p] == '\''):
		q := text[p]
		for i := p + 1; i < limit; i++ {
			switch c := text[i]; {
			case c == q:
				return p + 1, i, i + 1, true, true
			case c == '\n':
				return 0, 0, 0, false, false
			case c == '\\' && q == '"':
				i++ // an escaped character
			}
		}
	case p+1 < limit && text[p] == '\\' && text[p+1] == '"':
		for i := p + 2; i < limit; i++ {
			switch text[i] {
			case '"':
				if text[i-1] != '\\' {
					return 0, 0, 0, false, false
				}
				return p + 2, i - 1, i + 1, true, true
			case '\n':
				return 0, 0, 0, false, false
			}
		}
	default:
		i := p
		for i < limit && !valueEnd[text[i]] {
			i++
		}
		if i == p || i == limit && limit < len(text) {
			return 0, 0, 0, false, false // none, or longer than any secret
		}
		ve := i
		for ve > p && text[ve-1] == ',' {
			ve--
		}
		return p, ve, i, false, true
	}
	return 0, 0, 0, false, false
}

var valueEnd = newSet(" \t\n\r\v\f\"'`\\&|;")

// classifyKey reads a key's last words, split at _ - . and at lower-to-upper
// case changes.
func classifyKey(key []byte) keyClass {
	prev, last := lastWords(key)
	// Long words also end words run together: PGPASSWORD, ACCESSTOKEN.
	switch {
	case len(last) == 0:
		return keyNone
	case hasSuffixFold(last, "password"), hasSuffixFold(last, "passwd"), hasSuffixFold(last, "passphrase"),
		bytes.EqualFold(last, []byte("pass")):
		return keyPassword
	case bytes.EqualFold(last, []byte("pwd")):
		if prev != nil { // PWD alone is the working directory
			return keyPassword
		}
	case hasSuffixFold(last, "token"), hasSuffixFold(last, "secret"), hasSuffixFold(last, "apikey"):
		return keySecret
	case bytes.EqualFold(last, []byte("key")):
		for _, q := range secretKeyQualifiers {
			if bytes.EqualFold(prev, []byte(q)) {
				return keySecret
			}
		}
		return keyIfRandom
	case bytes.EqualFold(last, []byte("auth")):
		return keyIfRandom
	}
	return keyNone
}

// secretKeyQualifiers make "<word>_key" a secret whatever its value.
var secretKeyQualifiers = []string{"api", "secret", "private", "access", "encryption", "signing", "master", "client"}

// lastWords returns the last two words of a key (prev is nil when there is
// only one), split at _ - . and where a lower-case letter or digit is
// followed by an upper-case letter.
func lastWords(key []byte) (prev, last []byte) {
	rest, last := cutLastWord(key)
	_, prev = cutLastWord(rest)
	return prev, last
}

// cutLastWord splits key before its last word; word is nil when there is
// none.
func cutLastWord(key []byte) (rest, word []byte) {
	end := len(key)
	for end > 0 && isWordBreak(key[end-1]) {
		end--
	}
	start := end
	for start > 0 && !isWordBreak(key[start-1]) {
		start--
		if camelBreak(key, start) {
			break
		}
	}
	if start == end {
		return nil, nil
	}
	return key[:start], key[start:end]
}

func isWordBreak(c byte) bool { return c == '_' || c == '-' || c == '.' }

// camelBreak reports whether a word starts at key[i]: fooBar, foo2Bar.
func camelBreak(key []byte, i int) bool {
	return i > 0 && 'A' <= key[i] && key[i] <= 'Z' && !('A' <= key[i-1] && key[i-1] <= 'Z') && !isWordBreak(key[i-1])
}

func hasSuffixFold(b []byte, suffix string) bool {
	return len(b) >= len(suffix) && bytes.EqualFold(b[len(b)-len(suffix):], []byte(suffix))
}

// notSecrets are values that say something other than a secret.
var notSecrets = map[string]bool{
	"true": true, "false": true, "yes": true, "no": true, "on": true, "off": true,
	"null": true, "nil": true, "none": true, "undefined": true, "empty": true,
	"string": true, "str": true, "bytes": true, "int": true, "integer": true, "number": true,
	"bool": true, "boolean": true, "any": true, "object": true, "optional": true, "required": true,
}

// plausibleValue reports whether v, assigned to key, may be a secret; the
// rules are in the package documentation.
func plausibleValue(key, v []byte, quoted bool, class keyClass) bool {
	if len(v) < 4 {
		return false
	}
	if class == keyIfRandom && (len(v) < 16 || !hasDigitAndLetter(v)) {
		return false
	}
	lv := strings.ToLower(string(v))
	switch {
	case quoted && bytes.ContainsAny(v, " \t"),
		notSecrets[lv],
		isSmallNumber(v),
		isReference(v),
		isMarker(v),
		strings.Trim(lv, "*x#.•") == "", strings.Contains(lv, "****"),
		strings.HasPrefix(lv, "/"), strings.HasPrefix(lv, "./"), strings.HasPrefix(lv, "../"), strings.HasPrefix(lv, "~/"),
		strings.Contains(lv, "://"):
		return false
	}
	if quoted {
		return true
	}
	// Bare values that are code, not data.
	_, lastKeyWord := lastWords(key)
	prevWord, _ := lastWords(v)
	switch {
	case bytes.ContainsAny(v, "()[]{}<>"),
		isDottedPath(v),
		bytes.EqualFold(v, key) || bytes.EqualFold(v, lastKeyWord),
		isIdentifier(v) && !bytes.ContainsAny(v, digits) && prevWord != nil: // new_password, accessToken
		return false
	}
	return true
}

func hasDigitAndLetter(v []byte) bool {
	up, low, dig := charKinds(v)
	return dig && (up || low)
}

// isSmallNumber matches a count, size or duration: up to 6 digits, an
// optional fraction and a unit of up to 2 letters (8, 3600, 1.5, 30s, 10ms).
func isSmallNumber(v []byte) bool {
	i := 0
	for i < len(v) && '0' <= v[i] && v[i] <= '9' {
		i++
	}
	if i == 0 || i > 6 {
		return false
	}
	if i < len(v) && v[i] == '.' {
		j := i + 1
		for j < len(v) && '0' <= v[j] && v[j] <= '9' {
			j++
		}
		if j == i+1 {
			return false
		}
		i = j
	}
	unit := len(v) - i
	return unit <= 2 && !bytes.ContainsAny(v[i:], digits+"._-")
}

// isReference matches a variable or template reference or a placeholder:
// $VAR, ${VAR}, $(cmd), %VAR%, {{ x }}, <your-token>.
func isReference(v []byte) bool {
	switch {
	case len(v) < 2:
		return false
	case v[0] == '%':
		return v[len(v)-1] == '%'
	case v[0] == '<':
		return v[len(v)-1] == '>'
	}
	return v[0] == '$' || bytes.HasPrefix(v, []byte("{{"))
}

func isMarker(v []byte) bool {
	return bytes.HasPrefix(v, []byte(markerPrefix)) && v[len(v)-1] == ']'
}

// isIdentifier matches a programming-language identifier.
func isIdentifier(v []byte) bool {
	if len(v) == 0 || !(letterSet[v[0]] || v[0] == '_') {
		return false
	}
	for _, c := range v {
		if !alnumSet[c] && c != '_' {
			return false
		}
	}
	return true
}

// isDottedPath matches obj.field chains such as self.token or
// process.env.API_KEY.
func isDottedPath(v []byte) bool {
	parts := bytes.Split(v, []byte("."))
	if len(parts) < 2 {
		return false
	}
	for _, p := range parts {
		if !isIdentifier(p) {
			return false
		}
	}
	return true
}
