package shellmarks

import (
	"bytes"
	"errors"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

func TestPrepare(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "shell")
	rc, fish, zdot := filepath.Join(dir, "bash.rc"), filepath.Join(dir, "aitrack.fish"), filepath.Join(dir, "zsh")
	env := []string{"HOME=/home/u", "TERM=xterm"}
	tests := []struct {
		name     string
		argv     []string
		env      []string
		want     []string // nil: unchanged
		wantEnv  []string // nil: unchanged
		wantFile string
	}{
		{"bash", []string{"bash"}, env, []string{"bash", "--rcfile", rc, "-i"}, nil, rc},
		{"bash -i", []string{"/bin/bash", "-i"}, env, []string{"/bin/bash", "--rcfile", rc, "-i"}, nil, rc},
		{"zsh", []string{"zsh"}, env, []string{"zsh", "-i"}, append(slices.Clip(env), "ZDOTDIR="+zdot), filepath.Join(zdot, ".zshrc")},
		{"zsh with the user's ZDOTDIR", []string{"/usr/bin/zsh", "-i"}, append(slices.Clip(env), "ZDOTDIR=/home/u/.config/zsh"),
			[]string{"/usr/bin/zsh", "-i"}, append(slices.Clip(env), "AITRACK_USER_ZDOTDIR=/home/u/.config/zsh", "ZDOTDIR="+zdot), filepath.Join(zdot, ".zshenv")},
		{"fish", []string{"fish"}, env, []string{"fish", "-i", "--init-command", "source '" + fish + "'"}, nil, fish},
		{"a login shell reads profiles", []string{"bash", "-l"}, env, nil, nil, ""},
		{"a script", []string{"zsh", "script.zsh"}, env, nil, nil, ""},
		{"fish -c", []string{"fish", "-c", "ls"}, env, nil, nil, ""},
		{"the user's own rc file", []string{"bash", "--rcfile", "x"}, env, nil, nil, ""},
		{"bash --norc", []string{"bash", "--norc"}, env, nil, nil, ""},
		{"not a shell", []string{"claude"}, env, nil, nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok, err := Prepare(Launch{Argv: tc.argv, Env: tc.env}, dir)
			if err != nil {
				t.Fatal(err)
			}
			want, wantEnv := cmpOr(tc.want, tc.argv), cmpOr(tc.wantEnv, tc.env)
			if !slices.Equal(got.Argv, want) || !slices.Equal(got.Env, wantEnv) || ok != (tc.want != nil) {
				t.Errorf("Prepare(%q, %q) = %q, %q, %v; want %q, %q", tc.argv, tc.env, got.Argv, got.Env, ok, want, wantEnv)
			}
			if tc.wantFile == "" {
				return
			}
			if fi, err := os.Stat(tc.wantFile); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("start-up file %s: %v, %v; want mode 0600", tc.wantFile, fi, err)
			}
		})
	}
}

func cmpOr(a, b []string) []string {
	if a != nil {
		return a
	}
	return b
}

// TestShells runs each shell as the wrapper starts it, in a real PTY, with
// the user's own start-up files: they are read, the prompt is the user's
// (with its exit status, which the marks must not change), the marks wrap
// it from the first prompt on, and each command's exit status follows it.
func TestShells(t *testing.T) {
	const (
		env   = "env | grep -E '^(FROM_|ZDOTDIR|AITRACK_USER)' | sort"
		pct   = "echo '50%; done'" // what the mark's encoding must carry
		theme = "theme_precmd() { PS1='%? user-prompt> ' }\nprecmd_functions+=(theme_precmd)\n"
	)
	tests := []struct {
		name    string
		shell   string
		files   map[string]string // under home
		env     []string
		wantEnv string // env's output
	}{
		{"bash", "bash", map[string]string{".bashrc": "PS1='$? user-prompt> '\nexport FROM_RC=yes\n"}, nil, "FROM_RC=yes\r\n"},
		{"zsh", "zsh", map[string]string{
			".zshenv": "export FROM_ENV=yes\n",
			".zshrc":  "PS1='%? user-prompt> '\nexport FROM_RC=yes\n",
		}, nil, "FROM_ENV=yes\r\nFROM_RC=yes\r\n"},
		// A theme that sets the prompt in its own precmd hook, added after
		// the marks' .zshenv ran.
		{"zsh with the user's ZDOTDIR and a theme", "zsh", map[string]string{
			"zdot/.zshenv": "export FROM_ENV=yes\n",
			"zdot/.zshrc":  "export FROM_RC=$ZDOTDIR\n" + theme,
		}, []string{"ZDOTDIR=HOME/zdot"}, "FROM_ENV=yes\r\nFROM_RC=HOME/zdot\r\nZDOTDIR=HOME/zdot\r\n"},
		{"fish", "fish", map[string]string{
			".config/fish/config.fish": "function fish_prompt; printf '%s user-prompt> ' $status; end\nset -gx FROM_RC yes\n",
			// As after fish's first start: otherwise it generates them in
			// the background, holding the terminal open.
			".local/share/fish/generated_completions/.keep": "",
		}, nil, "FROM_RC=yes\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := exec.LookPath(tc.shell); err != nil {
				t.Skipf("%s not installed (make test installs it as root)", tc.shell)
			}
			home := t.TempDir()
			for name, content := range tc.files {
				path := filepath.Join(home, name)
				if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			base := []string{"HOME=" + home, "TERM=xterm-256color", "LANG=C.UTF-8", "PATH=/usr/local/bin:/usr/bin:/bin", "HISTFILE=/dev/null", "fish_greeting="}
			for _, kv := range tc.env {
				base = append(base, strings.ReplaceAll(kv, "HOME", home))
			}
			l, ok, err := Prepare(Launch{Argv: []string{tc.shell}, Env: base}, filepath.Join(home, "state", "shell"))
			if err != nil || !ok {
				t.Fatalf("Prepare: %v, %v", ok, err)
			}
			sh := startShell(t, l)
			first := sh.waitFor(t, 0, mark("B"))
			if want := mark("A") + "0 user-prompt> " + mark("B"); !strings.Contains(sh.output()[:first], want) {
				t.Errorf("first prompt is not the user's between the marks (want %q):\n%q", want, sh.output())
			}
			sh.typeLine(t, env)
			at := sh.waitFor(t, first, mark("D;0"))
			at = sh.waitFor(t, at, mark("B"))
			wantEnv := strings.ReplaceAll(tc.wantEnv, "HOME", home)
			if got := sh.output()[first:at]; !strings.Contains(got, "\x1b]133;C") || strings.Index(got, "\x1b]133;C") > strings.Index(got, wantEnv) {
				t.Errorf("after %q: want C, then the environment\n%s\ngot %q", env, wantEnv, got)
			}
			sh.typeLine(t, pct)
			at = sh.waitFor(t, at, mark("D;0"))
			at = sh.waitFor(t, at, "0 user-prompt> "+mark("B"))
			sh.typeLine(t, "false")
			at = sh.waitFor(t, at, mark("D;1"))
			at = sh.waitFor(t, at, "1 user-prompt> "+mark("B"))
			sh.typeLine(t, "ls /nonexistent-aitrack")
			at = sh.waitFor(t, at, mark("D;2"))
			at = sh.waitFor(t, at, "2 user-prompt> "+mark("B"))
			sh.typeLine(t, "exit")
			sh.wait(t)
			typed := []string{env, pct, "false", "ls /nonexistent-aitrack", "exit"}
			lines, n := cmdlines(t, sh.output())
			if n != len(typed) {
				t.Errorf("%d command-executed marks, want %d (one per command):\n%q", n, len(typed), sh.output())
			}
			if tc.shell != "bash" && !slices.Equal(lines, typed) {
				t.Errorf("command lines sent with the marks: %q, want %q", lines, typed)
			}
		})
	}
}

func mark(s string) string { return "\x1b]133;" + s + "\a" }

// cmdlines returns the command lines the command-executed marks in out
// carry, decoded, and how many such marks there are.
func cmdlines(t *testing.T, out string) ([]string, int) {
	t.Helper()
	var lines []string
	marks := strings.Split(out, "\x1b]133;C")
	for _, m := range marks[1:] {
		arg, _, ok := strings.Cut(m, "\a")
		if !ok {
			t.Fatalf("unterminated mark in %q", out)
		}
		if enc, ok := strings.CutPrefix(arg, ";cmdline_url="); ok {
			line, err := url.PathUnescape(enc)
			if err != nil {
				t.Fatalf("cmdline_url %q: %v", enc, err)
			}
			lines = append(lines, line)
		}
	}
	return lines, len(marks) - 1
}

type shell struct {
	cmd  *exec.Cmd
	ptmx *os.File
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
}

func startShell(t *testing.T, l Launch) *shell {
	t.Helper()
	cmd := exec.Command(l.Argv[0], l.Argv[1:]...)
	cmd.Env = l.Env
	cmd.Dir = t.TempDir()
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: 100, Rows: 30})
	if err != nil {
		t.Fatal(err)
	}
	sh := &shell{cmd: cmd, ptmx: ptmx, done: make(chan struct{})}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		ptmx.Close()
		<-sh.done
	})
	go func() {
		defer close(sh.done)
		buf := make([]byte, 4096)
		for {
			n, err := ptmx.Read(buf)
			sh.mu.Lock()
			sh.out.Write(buf[:n])
			sh.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return sh
}

func (sh *shell) output() string {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.out.String()
}

// waitFor waits until s appears after offset from and returns the offset
// just past it.
func (sh *shell) waitFor(t *testing.T, from int, s string) int {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if i := strings.Index(sh.output()[from:], s); i >= 0 {
			return from + i + len(s)
		}
	}
	t.Fatalf("no %q within 20 s; output:\n%q", s, sh.output())
	return 0
}

func (sh *shell) typeLine(t *testing.T, line string) {
	t.Helper()
	if _, err := sh.ptmx.Write([]byte(line + "\r")); err != nil {
		t.Fatal(err)
	}
}

func (sh *shell) wait(t *testing.T) {
	t.Helper()
	exited := make(chan error, 1)
	go func() { exited <- sh.cmd.Wait() }()
	select {
	case err := <-exited:
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		_ = sh.cmd.Process.Signal(syscall.SIGKILL)
		t.Fatalf("the shell did not exit; output:\n%q", sh.output())
	}
	select {
	case <-sh.done:
	case <-time.After(20 * time.Second):
		t.Fatal("output did not end")
	}
}
