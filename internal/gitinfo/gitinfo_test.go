package gitinfo

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func git(t *testing.T, dir string, args ...string) string {
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

// The real git is the ground truth for every layout.
func TestLookupAgainstGit(t *testing.T) {
	repo := t.TempDir()
	git(t, repo, "init", "-q", "-b", "main")
	git(t, repo, "remote", "add", "origin", "https://user:secret@example.com/o/r.git")
	git(t, repo, "commit", "-q", "--allow-empty", "-m", "one")
	sub := filepath.Join(repo, "a", "b")
	os.MkdirAll(sub, 0o755)

	t.Run("loose ref from a subdirectory", func(t *testing.T) {
		info, ok := Lookup(sub)
		want := Info{Root: repo, Branch: "main", Commit: git(t, repo, "rev-parse", "HEAD"), RepoURL: "https://example.com/o/r.git"}
		if !ok || info != want {
			t.Fatalf("Lookup = %+v, %v; want %+v", info, ok, want)
		}
	})
	t.Run("packed refs", func(t *testing.T) {
		git(t, repo, "pack-refs", "--all")
		info, _ := Lookup(repo)
		if info.Commit != git(t, repo, "rev-parse", "HEAD") {
			t.Fatalf("commit %q after pack-refs", info.Commit)
		}
	})
	t.Run("detached head", func(t *testing.T) {
		git(t, repo, "commit", "-q", "--allow-empty", "-m", "two")
		git(t, repo, "checkout", "-q", "--detach", "HEAD~1")
		info, _ := Lookup(repo)
		if info.Branch != "" || info.Commit != git(t, repo, "rev-parse", "HEAD") {
			t.Fatalf("detached: %+v", info)
		}
		git(t, repo, "checkout", "-q", "main")
	})
	t.Run("worktree", func(t *testing.T) {
		wt := filepath.Join(t.TempDir(), "wt")
		git(t, repo, "worktree", "add", "-q", "-b", "feature", wt)
		info, ok := Lookup(wt)
		if !ok || info.Root != wt || info.Branch != "feature" || info.Commit != git(t, wt, "rev-parse", "HEAD") || info.RepoURL != "https://example.com/o/r.git" {
			t.Fatalf("worktree: %+v", info)
		}
	})
	t.Run("outside a repository", func(t *testing.T) {
		if _, ok := Lookup(t.TempDir()); ok {
			t.Fatal("found a repository in an empty temp dir")
		}
	})
}
