package daemon

import (
	"strings"
	"testing"
	"time"

	aitrackv1 "github.com/aitrack/aitrack/api/proto/aitrack/v1"
)

func TestShellJoin(t *testing.T) {
	tests := map[string][]string{
		"git status":               {"git", "status"},
		"sh -c 'echo hi; exit 4'":  {"sh", "-c", "echo hi; exit 4"},
		`echo 'it'\''s'`:           {"echo", "it's"},
		"claude ''":                {"claude", ""},
		"ls --color=auto /tmp/a,b": {"ls", "--color=auto", "/tmp/a,b"},
	}
	for want, argv := range tests {
		if got := shellJoin(argv); got != want {
			t.Errorf("shellJoin(%q) = %q, want %q", argv, got, want)
		}
	}
}

func TestRunName(t *testing.T) {
	start := time.Date(2026, 11, 25, 19, 40, 0, 0, time.Local)
	tests := []struct {
		open *aitrackv1.Open
		want string
	}{
		{&aitrackv1.Open{Provider: "claude", Argv: []string{"claude", "close-issue  583"}}, "claude · close-issue 583 · 2026-11-25 19:40"},
		{&aitrackv1.Open{Argv: []string{"/usr/bin/bash"}}, "bash · 2026-11-25 19:40"},
		{&aitrackv1.Open{Provider: "procedure", Argv: []string{"./close.sh", "7"}, Params: map[string]string{"procedure_name": "close-issue"}}, "close-issue · 7 · 2026-11-25 19:40"},
	}
	for _, tt := range tests {
		if got := runName(tt.open, start); got != tt.want {
			t.Errorf("runName = %q, want %q", got, tt.want)
		}
	}
	// Not cut here: the outbox redacts, then shortens.
	long := runName(&aitrackv1.Open{Provider: "codex", Argv: []string{"codex", strings.Repeat("x", 200)}}, start)
	if !strings.Contains(long, strings.Repeat("x", 200)) {
		t.Errorf("long prompt cut before redaction: %q", long)
	}
}

func TestRunTags(t *testing.T) {
	o := &aitrackv1.Open{
		Provider: "claude", Argv: []string{"/opt/bin/claude"}, User: "ana",
		Git:  &aitrackv1.GitInfo{Commit: "abc", Branch: "main"},
		Tags: map[string]string{"type": "procedure", "team": "infra"},
	}
	tags := runTags(o)
	want := map[string]string{"type": "procedure", "team": "infra", "provider": "claude", "mlflow.source.name": "claude",
		"mlflow.source.type": "LOCAL", "mlflow.user": "ana", "mlflow.source.git.commit": "abc", "mlflow.source.git.branch": "main"}
	for k, v := range want {
		if tags[k] != v {
			t.Errorf("tag %s = %q, want %q", k, tags[k], v)
		}
	}
	if _, ok := tags["mlflow.source.git.repoURL"]; ok {
		t.Error("empty repo URL tagged")
	}
}
