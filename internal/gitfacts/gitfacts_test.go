package gitfacts

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func run(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// A session that makes two commits and leaves one change uncommitted.
func TestCollect(t *testing.T) {
	repo := t.TempDir()
	run(t, repo, "init", "-q", "-b", "main")
	os.WriteFile(filepath.Join(repo, "a.txt"), []byte("one\n"), 0o644)
	run(t, repo, "add", ".")
	run(t, repo, "commit", "-q", "-m", "base")
	start := run(t, repo, "rev-parse", "HEAD")

	os.WriteFile(filepath.Join(repo, "a.txt"), []byte("one\ntwo\n"), 0o644)
	run(t, repo, "commit", "-qam", "add two")
	os.WriteFile(filepath.Join(repo, "b.txt"), []byte("new\n"), 0o644)
	run(t, repo, "add", "b.txt")
	run(t, repo, "commit", "-qm", "add b")
	os.WriteFile(filepath.Join(repo, "a.txt"), []byte("one\ntwo\nthree\n"), 0o644) // uncommitted
	os.WriteFile(filepath.Join(repo, "c.txt"), []byte("draft\n"), 0o644)           // untracked
	indexBefore, _ := os.ReadFile(filepath.Join(repo, ".git", "index"))

	out := t.TempDir()
	f, err := Collect(context.Background(), repo, start, out)
	if err != nil {
		t.Fatal(err)
	}
	if f.Branch != "main" || f.Commit != run(t, repo, "rev-parse", "HEAD") {
		t.Errorf("branch %q commit %q", f.Branch, f.Commit)
	}
	if len(f.Commits) != 2 || f.Commits[0].Subject != "add b" || f.Commits[1].Subject != "add two" {
		t.Errorf("commits %+v", f.Commits)
	}
	if !slices.Equal(f.Files, []string{CommitsFile, DiffStatFile, DiffFile}) {
		t.Errorf("files %v", f.Files)
	}
	stat, _ := os.ReadFile(filepath.Join(out, DiffStatFile))
	if !strings.Contains(string(stat), "a.txt") || !strings.Contains(string(stat), "b.txt") {
		t.Errorf("diffstat %q", stat)
	}
	diff, _ := os.ReadFile(filepath.Join(out, DiffFile))
	if !strings.Contains(string(diff), "+three") || !strings.Contains(string(diff), "+new") || !strings.Contains(string(diff), "+draft") {
		t.Errorf("diff lacks committed or uncommitted changes:\n%s", diff)
	}
	if again, err := Load(out); err != nil || len(again.Commits) != 2 {
		t.Errorf("Load = %+v, %v", again, err)
	}
	indexAfter, _ := os.ReadFile(filepath.Join(repo, ".git", "index"))
	if string(indexBefore) != string(indexAfter) {
		t.Error("collecting facts rewrote the index")
	}
	if status := run(t, repo, "status", "--porcelain"); status != "M a.txt\n?? c.txt" {
		t.Errorf("repository changed: %q", status)
	}
}

func TestPullRequests(t *testing.T) {
	p := filepath.Join(t.TempDir(), "t.txt")
	os.WriteFile(p, []byte("$ gh pr create --fill\nhttps://github.com/acme/app/pull/42\nsee https://github.com/acme/app/pull/42 again\nhttps://gitlab.com/g/p/-/merge_requests/7\n"), 0o600)
	urls, err := PullRequests(p)
	if err != nil || !slices.Equal(urls, []string{"https://github.com/acme/app/pull/42", "https://gitlab.com/g/p/-/merge_requests/7"}) {
		t.Errorf("PullRequests = %v, %v", urls, err)
	}
}
