package bench

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// shellJoin must give sh back exactly the arguments: script and asciinema
// run the child through a shell.
func TestShellJoinRoundTripsThroughSh(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	tests := []struct {
		name string
		args []string
	}{
		{"plain words stay bare", []string{"cat", "/tmp/x.b64"}},
		{"spaces and quotes", []string{"stty raw -echo; printf R; exec cat", "it's", `"double"`}},
		{"an empty argument", []string{"a", "", "b"}},
		{"shell syntax is not interpreted", []string{"$HOME", "`id`", "a|b", "*", "~"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			script := `for a in "$@"; do printf '%s\0' "$a"; done`
			cmd := exec.Command(sh, "-c", "set -- "+shellJoin(tt.args)+"; "+script)
			got, err := cmd.Output()
			if err != nil {
				t.Fatalf("sh: %v", err)
			}
			parts := strings.Split(string(got), "\x00")
			parts = parts[:len(parts)-1]
			if !slices.Equal(parts, tt.args) {
				t.Errorf("sh read %q back as %q (quoted: %s)", tt.args, parts, shellJoin(tt.args))
			}
		})
	}
	if got := shellJoin([]string{"cat", "/tmp/x.b64"}); got != "cat /tmp/x.b64" {
		t.Errorf("shellJoin quoted plain words: %s", got)
	}
}

func TestCandidateEnv(t *testing.T) {
	base := []string{"PATH=/bin", "HOME=/root", "TERM=dumb", "AITRACK_SESSION=abc", "AITRACK_SOCKET=/x", "MLFLOW_TRACKING_URI=http://x", "LANG=C", "LC_ALL=C"}
	env := candidateEnv(base, "/w")
	for _, kv := range env {
		for _, dropped := range []string{"AITRACK_SESSION=", "AITRACK_SOCKET=", "MLFLOW_TRACKING_URI=", "LC_ALL="} {
			if strings.HasPrefix(kv, dropped) {
				t.Errorf("env keeps the caller's %q", kv)
			}
		}
	}
	for _, want := range []string{"PATH=/bin", "HOME=/root", "TERM=xterm-256color", "SHELL=/bin/sh", "LANG=C.UTF-8", "AITRACK_CONFIG=/w/no-config.toml"} {
		if !slices.Contains(env, want) {
			t.Errorf("env lacks %q: %q", want, env)
		}
	}
	for _, key := range []string{"TERM=", "LANG="} {
		n := 0
		for _, kv := range env {
			if strings.HasPrefix(kv, key) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("env has %d %s entries, want 1: %q", n, key, env)
		}
	}
}
