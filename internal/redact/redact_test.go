package redact

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
)

func newTestRedactor(t testing.TB, cfg Config) *Redactor {
	t.Helper()
	r, err := NewRedactor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// diffLines reports the first differing line, which is what a reader of a
// failed transcript comparison needs.
func diffLines(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < max(len(g), len(w)); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d:\n got: %q\nwant: %q", i+1, gl, wl)
		}
	}
	return "equal lines"
}

func TestStringTranscript(t *testing.T) {
	r := newTestRedactor(t, Config{})
	template := readTemplate(t, "transcript.txt")
	for seed := uint64(1); seed <= 20; seed++ {
		fx := render(t, template, seed)
		got, counts := r.String(fx.input)
		if got != fx.want {
			t.Fatalf("seed %d: %s", seed, diffLines(got, fx.want))
		}
		if !maps.Equal(counts, fx.counts) {
			t.Fatalf("seed %d: counts %v, want %v", seed, counts, fx.counts)
		}
	}
}

// TestStringKinds checks each kind in the contexts it shows up in: the
// secret (a generated value, or literal when its shape is the point) must
// become the marker and nothing else may change.
func TestStringKinds(t *testing.T) {
	r := newTestRedactor(t, Config{})
	tests := []struct {
		name   string
		before string // text around the secret: before + secret + after
		secret string
		after  string
		kind   string
	}{
		{"aws key id in env", "AWS_ACCESS_KEY_ID=", fake("aws-access-key-id", 1), "\n", "aws-access-key-id"},
		{"aws session key id in json", `{"AccessKeyId": "`, fake("aws-session-key-id", 1), `",`, "aws-access-key-id"},
		{"aws key id after a json escape", `"content":"key:\n`, fake("aws-access-key-id", 2), `\n"`, "aws-access-key-id"},
		{"aws secret in env", "AWS_SECRET_ACCESS_KEY=", fake("aws-secret", 1), "\n", "aws-secret-access-key"},
		{"aws secret in ini", "aws_secret_access_key = ", fake("aws-secret", 2), "\n", "aws-secret-access-key"},
		{"aws secret in sts json", `"SecretAccessKey": "`, fake("aws-secret", 3), `",`, "aws-secret-access-key"},
		{"github classic", "token ", fake("ghp", 1), " expires", "github-token"},
		{"github oauth in yaml", "oauth_token: ", fake("gho", 1), "\n", "github-token"},
		{"github server-to-server", "(", fake("ghs", 1), ")", "github-token"},
		{"github fine-grained", "GH_TOKEN=", fake("github-pat", 1), "", "github-token"},
		{"gitlab", "PRIVATE-TOKEN: ", fake("glpat", 1), "\r\n", "gitlab-token"},
		{"openai project", "OPENAI_API_KEY=", fake("openai-proj", 1), "\n", "openai-api-key"},
		{"openai legacy in prose", "use ", fake("openai-legacy", 1), ".", "openai-api-key"},
		{"anthropic", "x-api-key: ", fake("anthropic", 1), "\n", "anthropic-api-key"},
		{"google", "https://maps.googleapis.com/maps/api/geocode/json?key=", fake("google", 1), "&address=x", "google-api-key"},
		{"slack bot", "SLACK_BOT_TOKEN=", fake("slack-bot", 1), "\n", "slack-token"},
		{"slack user", "token=", fake("slack-user", 1), "&channel=C1", "slack-token"},
		{"slack app", "'", fake("slack-app", 1), "'", "slack-token"},
		{"stripe live", `stripe.api_key = "`, fake("stripe-live", 1), `"`, "stripe-key"},
		{"stripe restricted", "key ", fake("stripe-restricted", 1), " ", "stripe-key"},
		{"stripe test", "-u ", fake("stripe-test", 1), ":", "stripe-key"},
		{"jwt alone", "id token ", fake("jwt", 1), " end", "jwt"},
		{"jwt as bearer", "Authorization: Bearer ", fake("jwt", 2), "\r\n", "jwt"},
		{"pem rsa", "$ cat key.pem\n", fake("pem-rsa", 1), "\n$ ", "private-key"},
		{"pem openssh crlf", "output:\r\n", strings.ReplaceAll(fake("pem-openssh", 1), "\n", "\r\n"), "\r\n", "private-key"},
		{"pem in json string", `{"private_key": "`, strings.ReplaceAll(fake("pem-rsa", 2), "\n", `\n`), `\n", "client_email": "x"}`, "private-key"},
		{"pem without end line", "⎿  ", "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg4LVWM9nuwNSk3yBHEzwgmBp4ujUjHBYDm5Wgr3zloAoGCCqGSM49\nAwEHoUQDQgAE", "\n     … +3 lines (ctrl+r to expand)", "private-key"},
		{"pem encrypted headers", "", "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,3F17F5316E2BAC89\n\n" + fake("secret", 9) + "\n-----END RSA PRIVATE KEY-----", "", "private-key"},
		{"bearer header", "-H 'Authorization: Bearer ", fake("bearer", 1), "'", "bearer-token"},
		{"bearer in code", `headers = {"Authorization": "Bearer `, fake("bearer", 2), `"}`, "bearer-token"},
		{"basic auth header", "Authorization: Basic ", fake("basic", 1), "\n", "authorization-header"},
		{"token auth header", "authorization: token ", fake("secret", 2), "\n", "authorization-header"},
		{"url password", "postgres://app:", fake("url-password", 1), "@db:5432/app", "url-password"},
		{"url password without user", "redis://:", fake("url-password", 2), "@cache:6379", "url-password"},
		{"url password with at sign", "mysql://root:", "p@ss" + fake("url-password", 3), "@localhost/db", "url-password"},
		{"url password in git remote", "(https://oauth2:", fake("url-password", 4), "@gitlab.com/x.git)", "url-password"},
		{"password env", "DB_PASSWORD=", fake("password", 1), "\n", "password"},
		{"password export quoted", `export PGPASSWORD="`, fake("password", 2), `"`, "password"},
		{"password yaml", "  password: ", fake("password", 3), "\n", "password"},
		{"password json escaped quote", `{"password":"`, `ab\"` + fake("password", 4), `"}`, "password"},
		{"password json in json", `"input": "{\"password\": \"`, fake("password", 5), `\"}"`, "password"},
		{"password python dict", `os.environ['SMTP_PASS'] = '`, fake("password", 6), `'`, "password"},
		{"password php array", `'db_passwd' => '`, fake("password", 7), `',`, "password"},
		{"password with prefix word", "MYSQL_PWD=", fake("password", 8), " mysql", "password"},
		{"password camel case", `dbPassword: "`, fake("password", 9), `"`, "password"},
		{"password after json newline", `"content":"HOST=db\nPASSWORD=`, fake("password", 10), `\nPORT=5432"`, "password"},
		{"password trailing comma", "password=", fake("password", 11), ", user=x", "password"},
		{"secret token env", "CI_JOB_TOKEN=", fake("secret", 1), "\n", "secret"},
		{"secret client secret", `"client_secret": "`, fake("secret", 3), `"`, "secret"},
		{"secret api key header", "X-Api-Key: ", fake("secret", 4), "\n", "secret"},
		{"secret npmrc", "//registry.npmjs.org/:_authToken=", fake("secret", 5), "\n", "secret"},
		{"secret random key value", "ENCRYPTION_SEED_KEY=", fake("secret", 6), "\n", "secret"},
		{"secret go assignment", `apiToken := "`, fake("secret", 7), `"`, "secret"},
		{"secret with colon equals", "WEBHOOK_SECRET := ", fake("secret", 8), "\n", "secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.before + tt.secret + tt.after
			want := tt.before + marker(tt.kind) + tt.after
			got, counts := r.String(in)
			if got != want {
				t.Errorf("String(%q)\n got %q\nwant %q", in, got, want)
			}
			if !maps.Equal(counts, Counts{tt.kind: 1}) {
				t.Errorf("counts %v, want %s: 1", counts, tt.kind)
			}
		})
	}
}

// TestStringNearMisses lists text that looks like secrets but is not.
func TestStringNearMisses(t *testing.T) {
	r := newTestRedactor(t, Config{})
	tests := []struct{ name, text string }{
		{"git commit sha1", "commit 9f3c2ab7e4d5f60718293a4b5c6d7e8f90a1b2c3\nAuthor: Dev <dev@example.com>"},
		{"git commit sha256", "object 3b7f0c1d9e8a2b4c6d5e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4"},
		{"sha256sum", "3b7f0c1d9e8a2b4c6d5e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4  dist/app.tar.gz"},
		{"uuid", `"id": "8c4f2f0e-6b1d-4c7a-9a53-2f1f0b7d9e11", "request_id": "f47ac10b-58cc-4372-a567-0e02b2c3d479"`},
		{"base64 image with key-like runs", "![x](data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAKIAABCDEFGHIJKLMNOPQRAIzaSyBaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaeyJhbGciOiJIUzI1NiJ9ghp_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa==)"},
		{"go module hashes", "golang.org/x/sys v0.50.0 h1:kmDF2ucvwIVpSn4ZLtP7U9BMbcvhcHIumqKKrDlBbEI=\ngolang.org/x/sys v0.50.0/go.mod h1:rw1MxjlAKKcZ+3FOXgTHgwiOa2ya6CPq6ykpJ0Q6Po4="},
		{"words with sk-", "see the task-list and disk-usage-report-for-the-current-quarter, risk-assessment-framework-document-v2"},
		{"sk- prefix word without digits", "sk-learning-resources-and-more-things"},
		{"small number", "PASSWORD_MIN_LENGTH=8\nMAX_TOKENS=4096\nTOKEN_TTL=3600\nDB_PASSWORD=1234\nSESSION_TOKEN_EXPIRY=30m"},
		{"booleans", "ENABLE_PASSWORD_LOGIN=true\nREQUIRE_TOKEN=false\npassword: none\ntoken: null"},
		{"keys naming no secret", "TOKEN_URL=https://auth.example.com/token\nSSH_KEY_PATH=/home/dev/.ssh/id_ed25519\nTOKENIZER=cl100k_base\nPRIMARY_KEY=id\nPWD=/home/dev"},
		{"key with plain value", "FEATURE_FLAGS_KEY=checkout\nsort_key: created_at\nCACHE_KEY=build-cache-linux"},
		{"references", "GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}\nNODE_AUTH_TOKEN=$NPM_TOKEN\ntoken=$(gh auth token)\npassword: <your-password>\nPASSWORD=%DB_PASS%"},
		{"code", "token := os.Getenv(\"GITHUB_TOKEN\")\npassword = getpass.getpass()\napi_key = self.api_key\nsecret: secret,\naccessToken = new_access_token\nreturn {token: token}"},
		{"type annotations", "password: string;\ntoken: str\napiKey: String\nsecret: Optional[str] = None"},
		{"masked", "- Token: gho_************************************\npassword: ********\nAPI_KEY=xxxxxxxxxxxxxxxx"},
		{"prose", "The token: it expires after an hour.\nEnter the password: \"hunter two words\"\nbearer tokens are sent in the Authorization header\nUse Bearer $TOKEN in the header"},
		{"bearer challenge", `www-authenticate: Bearer error="invalid_token"`},
		{"url without password", "https://user@example.com/x ssh://git@github.com:22/x.git http://[::1]:8080/x https://example.com:443/a@b"},
		{"url password reference", "postgres://app:${DB_PASSWORD}@db/app"},
		{"public key and certificate", "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"},
		{"aws example shapes", "AKIA is the prefix of long-term keys; AKIATOOSHORT1; XAKIAIOSFODNN7EXAMPL9"},
		{"jwt-like but short", "eyJhbGc.eyJzdWI.sig"},
		{"markers", "password: [REDACTED:password]\npostgres://app:[REDACTED:url-password]@db/app"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, counts := r.String(tt.text)
			if got != tt.text || counts != nil {
				t.Errorf("String changed a near miss (counts %v):\n%s", counts, diffLines(got, tt.text))
			}
		})
	}
}

func TestAllow(t *testing.T) {
	token := fake("ghp", 7)
	other := fake("ghp", 8)
	r := newTestRedactor(t, Config{Allow: []string{token, "", "hunter22"}})
	in := "a " + token + " b " + other + " password: hunter22 password: hunter23"
	want := "a " + token + " b [REDACTED:github-token] password: hunter22 password: [REDACTED:password]"
	got, counts := r.String(in)
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if !maps.Equal(counts, Counts{"github-token": 1, "password": 1}) {
		t.Errorf("counts %v", counts)
	}
}

func TestExtraRules(t *testing.T) {
	r := newTestRedactor(t, Config{Extra: []Rule{
		{Kind: "internal-token", Pattern: `\bitk_[0-9a-f]{24}\b`},
		{Kind: "employee-id", Pattern: `employee (?P<secret>E\d{6})`},
	}})
	in := "use itk_0123456789abcdef01234567 for employee E123456, not itk_short"
	want := "use [REDACTED:internal-token] for employee [REDACTED:employee-id], not itk_short"
	got, counts := r.String(in)
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if !maps.Equal(counts, Counts{"internal-token": 1, "employee-id": 1}) {
		t.Errorf("counts %v", counts)
	}
}

func TestExtraRuleErrors(t *testing.T) {
	tests := []struct {
		name string
		rule Rule
		want []string // in the error message
	}{
		{"bad pattern", Rule{Kind: "acme-key", Pattern: `acme_[a-z`}, []string{"extra rule 2", `"acme-key"`, `"acme_[a-z"`, "missing closing ]"}},
		{"empty kind", Rule{Kind: "", Pattern: `x`}, []string{"extra rule 2", `kind ""`}},
		{"kind breaking the marker", Rule{Kind: "a]b", Pattern: `x`}, []string{"extra rule 2", `kind "a]b"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewRedactor(Config{Extra: []Rule{{Kind: "fine", Pattern: "ok"}, tt.rule}})
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %s", err, w)
				}
			}
		})
	}
}

func TestCountsAdd(t *testing.T) {
	c := Counts{"jwt": 1}
	c.Add(Counts{"jwt": 2, "password": 1})
	c.Add(nil)
	if !maps.Equal(c, Counts{"jwt": 3, "password": 1}) {
		t.Errorf("got %v", c)
	}
}

func TestClassifyKey(t *testing.T) {
	tests := []struct {
		key  string
		want keyClass
	}{
		{"DB_PASSWORD", keyPassword},
		{"passwd", keyPassword},
		{"SMTP_PASS", keyPassword},
		{"MYSQL_PWD", keyPassword},
		{"PWD", keyNone},
		{"OLDPWD", keyNone},
		{"PASSWORD_MIN_LENGTH", keyNone},
		{"GITHUB_TOKEN", keySecret},
		{"accessToken", keySecret},
		{"X-Auth-Token", keySecret},
		{"MAX_TOKENS", keyNone},
		{"TOKEN_URL", keyNone},
		{"client_secret", keySecret},
		{"OPENAI_API_KEY", keySecret},
		{"apiKey", keySecret},
		{"APIKEY", keySecret},
		{"spring.datasource.password", keyPassword},
		{"STRIPE_KEY", keyIfRandom},
		{"key", keyIfRandom},
		{"_auth", keyIfRandom},
		{"SSH_KEY_PATH", keyNone},
		{"keyboard", keyNone},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			if got := classifyKey([]byte(tt.key)); got != tt.want {
				t.Errorf("classifyKey(%q) = %d, want %d", tt.key, got, tt.want)
			}
		})
	}
}

func TestMerge(t *testing.T) {
	c := func(start, end, rank int) candidate {
		return candidate{start: start, end: end, secStart: start, secEnd: end, rank: rank}
	}
	tests := []struct {
		name  string
		cands []candidate
		want  []span
	}{
		{"none", nil, nil},
		{"apart and touching", []candidate{c(10, 20, 3), c(0, 5, 1), c(5, 8, 2)}, []span{{0, 5, 1}, {5, 8, 2}, {10, 20, 3}}},
		{"same secret, two rules", []candidate{c(4, 44, 15), c(4, 44, 3)}, []span{{4, 44, 3}}},
		{"inside", []candidate{c(0, 100, 5), c(10, 20, 0)}, []span{{0, 100, 0}}},
		{"overlapping", []candidate{c(0, 10, 2), c(5, 15, 1), c(14, 30, 4)}, []span{{0, 30, 1}}},
		{"chain longer than a match", []candidate{c(0, 10000, 1), c(9000, 17000, 2), c(16000, 30000, 0), c(100, 200, 0)},
			[]span{{0, 10000, 0}, {10000, 17000, 2}, {17000, 30000, 0}}},
		{"rank of a candidate before a split stays there", []candidate{c(0, 10000, 3), c(9000, 17000, 2), c(5, 9500, 1)},
			[]span{{0, 10000, 1}, {10000, 17000, 2}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := merge(tt.cands); !slices.Equal(got, tt.want) {
				t.Errorf("merge = %v, want %v", got, tt.want)
			}
		})
	}
}
