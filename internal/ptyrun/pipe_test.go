//go:build linux

package ptyrun

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// pipeWrapper is the wrapper helper started with pipes (or a given file) as
// its stdio, as in `echo hi | aitrack-wrap cat`.
func pipeWrapper(t *testing.T, grace time.Duration, argv ...string) (*exec.Cmd, string) {
	t.Helper()
	tap := filepath.Join(t.TempDir(), "tap")
	cmd := exec.Command(os.Args[0], argv...)
	cmd.Env = append(os.Environ(), "GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=0",
		envHelper+"=wrap", envTap+"="+tap, envGrace+"="+grace.String())
	return cmd, tap
}

func TestPipeMode(t *testing.T) {
	tests := []struct {
		name       string
		stdinTTY   bool // stdin is a terminal, stdout a pipe
		input      string
		script     string
		wantStdout string
		wantStderr string
	}{
		{"stdin and stdout are pipes", false, "hi\n", `[ -t 0 ] || echo "stdin is no tty"; cat`, "stdin is no tty\nhi\n", ""},
		{"stderr is teed", false, "", `echo out; echo err >&2`, "out\n", "err\n"},
		{"stdout is a pipe, stdin the terminal", true, "", `[ -t 0 ] && echo "stdin is the tty"; [ -t 1 ] || echo "stdout is no tty"`,
			"stdin is the tty\nstdout is no tty\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd, tap := pipeWrapper(t, 0, "sh", "-c", tt.script)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			cmd.Stdin = strings.NewReader(tt.input)
			if tt.stdinTTY {
				master, slave, err := pty.Open()
				if err != nil {
					t.Fatal(err)
				}
				defer master.Close()
				defer slave.Close()
				cmd.Stdin = slave
			}
			if err := cmd.Run(); err != nil {
				t.Fatalf("wrapper: %v; stderr %q", err, stderr.String())
			}
			if stdout.String() != tt.wantStdout || stderr.String() != tt.wantStderr {
				t.Errorf("stdout %q, stderr %q; want %q, %q", stdout.String(), stderr.String(), tt.wantStdout, tt.wantStderr)
			}
			tapped, err := os.ReadFile(tap)
			if err != nil {
				t.Fatal(err)
			}
			// stdout and stderr reach OnOutput in either order.
			got := strings.SplitAfter(string(tapped), "\n")
			want := strings.SplitAfter(tt.wantStdout+tt.wantStderr, "\n")
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("OnOutput got %q, want the lines of %q", tapped, tt.wantStdout+tt.wantStderr)
			}
		})
	}
}

func TestPipeModeSignals(t *testing.T) {
	tests := []struct {
		name   string
		sig    syscall.Signal
		script string
		want   int
	}{
		{"SIGTERM", unix.SIGTERM, "echo ready; exec sleep 100", 143},
		{"SIGHUP", unix.SIGHUP, "echo ready; exec sleep 100", 129},
		{"TERM trapped: SIGKILL after the grace", unix.SIGTERM, `trap "" TERM; echo ready; exec sleep 100`, 137},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd, _ := pipeWrapper(t, 300*time.Millisecond, "sh", "-c", tt.script)
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
			line, err := bufio.NewReader(stdout).ReadString('\n')
			if line != "ready\n" {
				t.Fatalf("first line %q (%v)", line, err)
			}
			if err := cmd.Process.Signal(tt.sig); err != nil {
				t.Fatal(err)
			}
			_ = cmd.Wait()
			if code := cmd.ProcessState.ExitCode(); code != tt.want {
				t.Errorf("exit code %d, want %d", code, tt.want)
			}
		})
	}
}
