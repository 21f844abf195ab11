package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// One realistic (made-up) example of each kind of secret, with the kind the
// run must count it under.
var secrets = []struct{ kind, line, secret string }{
	{"aws-access-key-id", "AWS_ACCESS_KEY_ID=%s", "AKIA2E5XQ7PZ3LTK9RMN"},
	{"aws-secret-access-key", "AWS_SECRET_ACCESS_KEY=%s", "Zq3vR8tY1uI4oP7aS0dF2gH5jK9lM6nB3vC8xQ1w"},
	{"github-token", "GH_TOKEN=%s", "ghp_R7tY2uI9oP4aS1dF6gH3jK8lZ5xC0vB2nM7q"},
	{"github-token", "pushed with %s", "github_pat_11ABCDEFG0kLmNoPqRsTuV_1a2B3c4D5e6F7g8H9i0J1k2L3m4N5o6P7q8R9s0T1u2V3w4X5y6Z7a8B9c0D1e2F3g4H5"},
	{"gitlab-token", "GITLAB_TOKEN=%s", "glpat-Xy7Zq2Lm9Kp4Rt8Vw1Bn"},
	{"openai-api-key", "OPENAI_API_KEY=%s", "sk-proj-Ab3De5Gh7Jk9Mn2Pq4St6Vw8Yz1Bc3Ef5Hi7Kl9No2Qr4Tu6Wx8Za1Cd3Fg5Ij7Lm"},
	{"anthropic-api-key", "ANTHROPIC_API_KEY=%s", "sk-ant-api03-Ab3De5Gh7Jk9Mn2Pq4St6Vw8Yz1Bc3Ef5Hi7Kl9No2Qr4Tu6Wx8Za1Cd3Fg5Ij7Lm9Op2Rs4Uv6Xy8Ab1De3Gh5Jk7Mn9Pq2-_AbCdAA"},
	{"slack-token", "SLACK_BOT_TOKEN=%s", "xoxb-2847561930-4820394857162-Ab3De5Gh7Jk9Mn2Pq4St6Vw8"},
	{"stripe-key", "STRIPE_KEY=%s", "sk_live_51Hx3ZqLkR9mN2pB7vC4xQ8wE"},
	{"jwt", `{"access_token":"%s"}`, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkFuYSJ9.Qm8xYz3vT7rP2kL9nW5sD1fH6jG4aZ0cV8bN2mX7yUe"},
	{"bearer-token", "Authorization: Bearer %s", "Zx8Yw7Vu6Ts5Rq4Po3Nm2Lk1Ji0Hg9Fe8Dc7Ba6"},
	{"url-password", "DATABASE_URL=postgres://app:%s@db:5432/app", "Sup3rS3cretPw"},
	{"password", "DB_PASSWORD=%s", "correct-horse-battery-staple"},
}

const pemKey = "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW"

// Near misses that must survive untouched.
var nearMisses = []string{
	"9f3c2ab7e4d5f60718293a4b5c6d7e8f90a1b2c3",
	"8c4f2f0e-6b1d-4c7a-9a53-2f1f0b7d9e11",
	"data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==",
	"PASSWORD_MIN_LENGTH=8",
}

func TestSecretsNeverLeave(t *testing.T) {
	e := newEnv(t)
	e.startDaemon()
	// The program prints each secret in two writes with colour codes in
	// the middle of it, as a TUI might.
	var script strings.Builder
	for _, s := range secrets {
		cut := len(s.secret) / 2
		coloured := s.secret[:cut] + "\033[1;32m" + s.secret[cut:cut+2] + "\033[0m" + s.secret[cut+2:]
		line := fmt.Sprintf(s.line, coloured)
		// Two writes, split inside the secret's second half.
		half := len(line) - len(s.secret)/4
		fmt.Fprintf(&script, "printf '%%s' '%s'; sleep 0.02; printf '%%s\\n' '%s'\n", line[:half], line[half:])
	}
	fmt.Fprintf(&script, "printf -- '-----BEGIN OPENSSH PRIVATE KEY-----\\n%s\\n-----END OPENSSH PRIVATE KEY-----\\n'\n", pemKey)
	for _, n := range nearMisses {
		fmt.Fprintf(&script, "echo '%s'\n", n)
	}
	path := filepath.Join(e.dir, "leaky.sh")
	os.WriteFile(path, []byte(script.String()), 0o700)
	s := e.startPTY(e.dir, e.bin("aitrack-wrap"), "--param", "scenario=redaction", "--param", "token="+secrets[2].secret,
		"--tag", "db=postgres://app:Sup3rS3cretPw@db/app", "--", "sh", path, "--api-key", secrets[4].secret)
	out, code := s.wait(t, 30*time.Second)
	if code != 0 || !strings.Contains(out, "PASSWORD_MIN_LENGTH=8") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	run := e.finishedRun(`params.scenario = "redaction"`, 60*time.Second)

	var sent []string // everything that reached MLflow
	for _, name := range []string{"transcript.raw", "transcript.txt", "events.jsonl", "session.cast"} {
		sent = append(sent, e.artifact(run, name))
	}
	for _, p := range run.Data.Params {
		sent = append(sent, p.Key+"="+p.Value)
	}
	for _, tg := range run.Data.Tags {
		sent = append(sent, tg.Key+"="+tg.Value)
	}
	all := strings.Join(sent, "\n")
	for _, s := range append(secrets, struct{ kind, line, secret string }{"private-key", "", pemKey}) {
		// The secret's distinctive middle: also the part split by colour.
		mid := s.secret[len(s.secret)/4 : len(s.secret)*3/4]
		if strings.Contains(all, mid) {
			t.Errorf("%s %q reached MLflow", s.kind, s.secret)
			for _, x := range sent {
				if i := strings.Index(x, mid); i >= 0 {
					t.Logf("in: %q", x[max(i-80, 0):min(i+80, len(x))])
				}
			}
		}
	}
	clean := sent[1]
	for _, n := range nearMisses {
		if !strings.Contains(clean, n) {
			t.Errorf("near miss %q was redacted", n)
		}
	}
	if !strings.Contains(clean, "[REDACTED:github-token]") {
		t.Errorf("no marker in the clean transcript:\n%s", clean)
	}
	if v, _ := run.Param("token"); v != "[REDACTED:github-token]" {
		t.Errorf("param token = %q", v)
	}
	// Each kind is counted; the transcripts carry every secret, so each
	// kind shows up at least once.
	for _, s := range secrets {
		if m, ok := run.Metric("redactions." + s.kind); !ok || m.Value < 1 {
			t.Errorf("redactions.%s = %v (%v)", s.kind, m.Value, ok)
		}
	}
	if m, _ := run.Metric("redactions.private-key"); m.Value < 1 {
		t.Errorf("redactions.private-key = %v", m.Value)
	}

	// --no-redact sends a session as it is, and says so on the run.
	s = e.startPTY(e.dir, e.bin("aitrack-wrap"), "--no-redact", "--param", "scenario=unredacted", "--", "echo", "GH_TOKEN="+secrets[2].secret)
	s.wait(t, 30*time.Second)
	run = e.finishedRun(`params.scenario = "unredacted"`, 60*time.Second)
	if v, _ := run.Tag("aitrack.redaction"); v != "off" {
		t.Errorf("tag aitrack.redaction = %q", v)
	}
	if raw := e.artifact(run, "transcript.raw"); !strings.Contains(raw, secrets[2].secret) {
		t.Error("--no-redact still redacted")
	}
}
