package redact

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"os"
	"regexp"
	"strings"
	"testing"
)

// Fake secrets are generated with the right shapes from a seed, so that no
// secret-looking literal sits in the repository for scanners to flag, and a
// test knows exactly which values it planted.

const (
	b64url  = alnum + "_-"
	b64std  = alnum + "+/"
	hexChar = "0123456789abcdef"
)

type faker struct{ rng *rand.Rand }

func newFaker(seed uint64) *faker { return &faker{rand.New(rand.NewPCG(seed, 0x5eed))} }

func (f *faker) chars(alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[f.rng.IntN(len(alphabet))]
	}
	return string(b)
}

// mixed is like chars but has an upper- and a lower-case letter and a
// digit, as generated keys almost always do.
func (f *faker) mixed(alphabet string, n int) string {
	b := []byte(f.chars(alphabet, n))
	for i, set := range []string{upper, lower, digits} {
		b[f.rng.IntN(n/3)+i*(n/3)] = set[f.rng.IntN(len(set))]
	}
	return string(b)
}

func (f *faker) jwt() string {
	enc := base64.RawURLEncoding
	header := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	payload := enc.EncodeToString([]byte(fmt.Sprintf(`{"sub":"%s","name":"Test User","iat":%d}`, f.chars(digits, 10), 1700000000+f.rng.IntN(1e7))))
	return header + "." + payload + "." + f.chars(b64url, 43)
}

func (f *faker) pem(label string, lines int) string {
	var b strings.Builder
	b.WriteString("-----BEGIN " + label + " PRIVATE KEY-----\n")
	for i := 0; i < lines; i++ {
		b.WriteString(f.chars(b64std, 64) + "\n")
	}
	b.WriteString(f.chars(b64std, 20) + "==\n")
	b.WriteString("-----END " + label + " PRIVATE KEY-----")
	return b.String()
}

// fakes maps a generator name to the kind it makes and the maker.
var fakes = map[string]struct {
	kind string
	make func(*faker) string
}{
	"aws-access-key-id":  {"aws-access-key-id", func(f *faker) string { return "AKIA" + f.chars(upper+digits, 16) }},
	"aws-session-key-id": {"aws-access-key-id", func(f *faker) string { return "ASIA" + f.chars(upper+digits, 16) }},
	"aws-secret":         {"aws-secret-access-key", func(f *faker) string { return f.mixed(b64std, 40) }},
	"ghp":                {"github-token", func(f *faker) string { return "ghp_" + f.chars(alnum, 36) }},
	"gho":                {"github-token", func(f *faker) string { return "gho_" + f.chars(alnum, 36) }},
	"ghu":                {"github-token", func(f *faker) string { return "ghu_" + f.chars(alnum, 36) }},
	"ghs":                {"github-token", func(f *faker) string { return "ghs_" + f.chars(alnum, 36) }},
	"ghr":                {"github-token", func(f *faker) string { return "ghr_" + f.chars(alnum, 36) }},
	"github-pat": {"github-token", func(f *faker) string {
		return "github_pat_" + f.chars(alnum, 22) + "_" + f.chars(alnum, 59)
	}},
	"glpat":         {"gitlab-token", func(f *faker) string { return "glpat-" + f.chars(alnum+"_", 19) + "x" }},
	"anthropic":     {"anthropic-api-key", func(f *faker) string { return "sk-ant-api03-" + f.chars(b64url, 93) + "AA" }},
	"openai-proj":   {"openai-api-key", func(f *faker) string { return "sk-proj-" + f.mixed(b64url, 156) + "A" }},
	"openai-legacy": {"openai-api-key", func(f *faker) string { return "sk-" + f.mixed(alnum, 48) }},
	"google":        {"google-api-key", func(f *faker) string { return "AIza" + f.chars(b64url, 34) + "Q" }},
	"slack-bot": {"slack-token", func(f *faker) string {
		return "xoxb-" + f.chars(digits, 12) + "-" + f.chars(digits, 13) + "-" + f.chars(alnum, 24)
	}},
	"slack-user": {"slack-token", func(f *faker) string {
		return "xoxp-" + f.chars(digits, 12) + "-" + f.chars(digits, 12) + "-" + f.chars(digits, 13) + "-" + f.chars(hexChar, 32)
	}},
	"slack-app": {"slack-token", func(f *faker) string {
		return "xapp-1-A" + f.chars(upper+digits, 10) + "-" + f.chars(digits, 13) + "-" + f.chars(hexChar, 64)
	}},
	"stripe-live":       {"stripe-key", func(f *faker) string { return "sk_live_" + f.chars(alnum, 99) }},
	"stripe-restricted": {"stripe-key", func(f *faker) string { return "rk_live_" + f.chars(alnum, 99) }},
	"stripe-test":       {"stripe-key", func(f *faker) string { return "sk_test_" + f.chars(alnum, 24) }},
	"jwt":               {"jwt", (*faker).jwt},
	"pem-rsa":           {"private-key", func(f *faker) string { return f.pem("RSA", 24) }},
	"pem-openssh":       {"private-key", func(f *faker) string { return f.pem("OPENSSH", 6) }},
	"bearer":            {"bearer-token", func(f *faker) string { return f.mixed(b64url+".", 39) + "Z" }}, // ends like a token, not a sentence
	"basic": {"authorization-header", func(f *faker) string {
		return base64.StdEncoding.EncodeToString([]byte("deploy:" + f.mixed(alnum, 17)))
	}},
	"url-password": {"url-password", func(f *faker) string { return f.mixed(alnum+"!*~", 20) }},
	"password":     {"password", func(f *faker) string { return f.mixed(alnum+"!#%^*", 14) }},
	"secret":       {"secret", func(f *faker) string { return f.mixed(alnum, 32) }},
}

// placeholder is «generator» or «generator|kind» when the context makes the
// redaction's kind differ from the generator's.
var placeholder = regexp.MustCompile(`«([a-z0-9-]+)(?:\|([a-z0-9-]+))?»`)

// fixture is a template rendered with fake secrets.
type fixture struct {
	input    string   // with the secrets
	want     string   // with markers in their place
	counts   Counts   // redactions expected
	planted  []string // the secret values
	template string
}

func render(t testing.TB, template string, seed uint64) fixture {
	t.Helper()
	f := newFaker(seed)
	fx := fixture{counts: Counts{}, template: template}
	var missing []string
	fx.input = placeholder.ReplaceAllStringFunc(template, func(p string) string {
		m := placeholder.FindStringSubmatch(p)
		gen, ok := fakes[m[1]]
		if !ok {
			missing = append(missing, m[1])
			return p
		}
		v := gen.make(f)
		fx.planted = append(fx.planted, v)
		return v
	})
	if len(missing) > 0 {
		t.Fatalf("template uses unknown generators %v", missing)
	}
	fx.want = placeholder.ReplaceAllStringFunc(template, func(p string) string {
		m := placeholder.FindStringSubmatch(p)
		kind := fakes[m[1]].kind
		if m[2] != "" {
			kind = m[2]
		}
		fx.counts[kind]++
		return marker(kind)
	})
	return fx
}

func readTemplate(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// fake returns one generated value.
func fake(name string, seed uint64) string { return fakes[name].make(newFaker(seed)) }
