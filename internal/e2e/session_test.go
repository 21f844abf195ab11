package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// gitRepo makes a repository with one commit, on branch main.
func gitRepo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, args := range [][]string{
		{"init", "-q", "-b", "main"},
		{"-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "first"},
	} {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	return dir
}

func gitHead(t *testing.T, dir string) string {
	out, err := exec.Command("git", "-C", dir, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// The script a user's session runs: xtrace shows each command behind a
// `$ ` prompt, as a shell session would.
const script = `PS4='$ '
set -x
echo hello from the session
git status
ls /nonexistent-aitrack-path
true
exit %s
`

func TestSessionBecomesRun(t *testing.T) {
	e := newEnv(t)
	e.startDaemon()
	repo := gitRepo(t)

	for _, tc := range []struct {
		exit       string
		code       int
		status     string
		success    float64
		sessionTag string
	}{
		{exit: "3", code: 3, status: "FAILED", success: 0, sessionTag: "failing"},
		{exit: "0", code: 0, status: "FINISHED", success: 1, sessionTag: "passing"},
	} {
		t.Run(tc.status, func(t *testing.T) {
			e := e.with(t)
			scriptPath := filepath.Join(e.dir, "session-"+tc.exit+".sh")
			os.WriteFile(scriptPath, []byte(strings.Replace(script, "%s", tc.exit, 1)), 0o700)
			s := e.startPTY(repo, e.bin("aitrack-wrap"), "--provider", "shell", "--param", "scenario="+tc.sessionTag, "--tag", "suite=e2e", "--", "bash", "--norc", "--noprofile", scriptPath)
			out, code := s.wait(t, 30*time.Second)
			if code != tc.code {
				t.Fatalf("exit code %d, want %d; output:\n%s", code, tc.code, out)
			}
			if !strings.Contains(out, "hello from the session") || !strings.Contains(out, "$ git status") {
				t.Fatalf("terminal output is missing the session's lines:\n%s", out)
			}

			run := e.finishedRun(`tags.type = "ai_session" AND params.scenario = "`+tc.sessionTag+`"`, 60*time.Second)
			if string(run.Info.Status) != tc.status {
				t.Errorf("status %s, want %s", run.Info.Status, tc.status)
			}
			if run.Info.EndTime.Before(run.Info.StartTime) || run.Info.StartTime.IsZero() {
				t.Errorf("start %v, end %v", run.Info.StartTime, run.Info.EndTime)
			}
			wantParams := map[string]string{
				"provider": "shell",
				"command":  "bash --norc --noprofile " + scriptPath,
				"cwd":      repo,
				"scenario": tc.sessionTag,
			}
			host, _ := os.Hostname()
			wantParams["hostname"] = host
			for k, v := range wantParams {
				if got, _ := run.Param(k); got != v {
					t.Errorf("param %s = %q, want %q", k, got, v)
				}
			}
			wantTags := map[string]string{
				"type":                     "ai_session",
				"provider":                 "shell",
				"suite":                    "e2e",
				"mlflow.source.name":       "bash",
				"mlflow.source.type":       "LOCAL",
				"mlflow.source.git.branch": "main",
				"mlflow.source.git.commit": gitHead(t, repo),
			}
			for k, v := range wantTags {
				if got, _ := run.Tag(k); got != v {
					t.Errorf("tag %s = %q, want %q", k, got, v)
				}
			}
			sid, _ := run.Tag("aitrack.session_id")
			user, _ := run.Tag("mlflow.user")
			name, _ := run.Tag("mlflow.runName")
			if sid == "" || user == "" || !strings.HasPrefix(name, "shell · --norc --noprofile") {
				t.Errorf("session id %q, user %q, run name %q", sid, user, name)
			}
			wantMetrics := map[string]float64{
				// echo, git status, ls, true, exit
				"commands_executed":  5,
				"git_operations":     1,
				"gh_operations":      0,
				"errors_encountered": 1,
				"exit_code":          float64(tc.code),
				"success":            tc.success,
			}
			for k, v := range wantMetrics {
				m, ok := run.Metric(k)
				if !ok || m.Value != v {
					t.Errorf("metric %s = %v (present %v), want %v", k, m.Value, ok, v)
				}
			}
			if m, ok := run.Metric("duration_seconds"); !ok || m.Value <= 0 || m.Value > 30 {
				t.Errorf("duration_seconds = %v (present %v)", m.Value, ok)
			}

			raw := e.artifact(run, "transcript.raw")
			if raw != out {
				t.Errorf("raw transcript (%d bytes) differs from what the terminal showed (%d bytes)", len(raw), len(out))
			}
			clean := e.artifact(run, "transcript.txt")
			for _, want := range []string{"$ git status\n", "hello from the session\n", "No such file or directory"} {
				if !strings.Contains(clean, want) {
					t.Errorf("clean transcript lacks %q:\n%s", want, clean)
				}
			}
			if strings.ContainsRune(clean, '\x1b') || strings.Contains(clean, "\r") {
				t.Errorf("clean transcript has escape sequences or CRs:\n%q", clean)
			}
		})
	}
}

func TestStatusListsLiveSession(t *testing.T) {
	e := newEnv(t)
	e.startDaemon()
	s := e.startPTY(e.dir, e.bin("aitrack-wrap"), "--provider", "waiter", "--", "sh", "-c", "echo ready; read line; echo got $line")

	var pid int64
	e.eventually(15*time.Second, "status lists the session", func() error {
		st := e.status()
		for _, ss := range st.Sessions {
			if ss.Provider == "waiter" && strings.Join(ss.Command, " ") == "sh -c echo ready; read line; echo got $line" && ss.PID > 0 && ss.BytesReceived > 0 {
				pid = ss.PID
				return nil
			}
		}
		return errAbsent(st)
	})
	if _, err := os.FindProcess(int(pid)); err != nil {
		t.Errorf("status pid %d: %v", pid, err)
	}
	s.pty.Write([]byte("bye\r"))
	if out, code := s.wait(t, 15*time.Second); code != 0 || !strings.Contains(out, "got bye") {
		t.Fatalf("exit %d, output %q", code, out)
	}
	e.eventually(15*time.Second, "status drops the ended session", func() error {
		if st := e.status(); len(st.Sessions) != 0 {
			return errAbsent(st)
		}
		return nil
	})
}

func TestExitCodes(t *testing.T) {
	e := newEnv(t)
	e.startDaemon()
	for _, tc := range []struct {
		name   string
		script string
		want   int
	}{
		{"zero", "exit 0", 0},
		{"three", "exit 3", 3},
		{"SIGTERM", "kill -TERM $$", 128 + 15},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.with(t)
			s := e.startPTY(e.dir, e.bin("aitrack-wrap"), "--", "sh", "-c", tc.script)
			if out, code := s.wait(t, 15*time.Second); code != tc.want {
				t.Fatalf("exit code %d, want %d; output %q", code, tc.want, out)
			}
		})
	}
	// A missing program, directly and through a shim, is a shell's 127.
	s := e.startPTY(e.dir, e.bin("aitrack-wrap"), "--", "no-such-program-aitrack")
	if out, code := s.wait(t, 15*time.Second); code != 127 || !strings.Contains(out, "no-such-program-aitrack: command not found") {
		t.Errorf("missing program: exit %d, output %q", code, out)
	}
	e.config("[providers.ghostcli]\ncommand = [\"ghost-cli-not-installed\"]\n")
	shims := filepath.Join(e.dir, "shims")
	e.run(e.bin("aitrack"), "shims", "install", "--dir", shims)
	s = e.startPTY(e.dir, filepath.Join(shims, "ghostcli-with-tracking"), "hello")
	if out, code := s.wait(t, 15*time.Second); code != 127 || !strings.Contains(out, "ghost-cli-not-installed: command not found") {
		t.Errorf("shim of a missing program: exit %d, output %q", code, out)
	}
	run := e.finishedRun(`params.command = "sh -c 'kill -TERM $$'"`, 30*time.Second)
	if run.Info.Status != "KILLED" {
		t.Errorf("a session killed by SIGTERM ended as %s, want KILLED", run.Info.Status)
	}
}

func TestDaemonDown(t *testing.T) {
	e := newEnv(t)
	s := e.startPTY(e.dir, e.bin("aitrack-wrap"), "--", "sh", "-c", "echo hi; exit 4")
	out, code := s.wait(t, 20*time.Second)
	if code != 4 || !strings.Contains(out, "hi") {
		t.Fatalf("exit %d, output %q; want 4 and hi", code, out)
	}
	if !strings.Contains(out, "daemon not reachable") {
		t.Errorf("no notice that the session was spooled: %q", out)
	}
	// Nothing is lost: the daemon takes the spooled session when it starts.
	e.startDaemon()
	run := e.finishedRun(`params.command = "sh -c 'echo hi; exit 4'"`, 60*time.Second)
	if m, _ := run.Metric("exit_code"); run.Info.Status != "FAILED" || m.Value != 4 {
		t.Errorf("spooled session: status %s, exit_code %v", run.Info.Status, m.Value)
	}
	if raw := e.artifact(run, "transcript.raw"); !strings.Contains(raw, "hi") {
		t.Errorf("spooled transcript %q lacks the output", raw)
	}
	e.assertPrivate()
}
