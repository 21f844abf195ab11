// Package gitfacts collects what a session did to its git repository once it
// has ended: where the branch and commit stand, the commits made since the
// session started, and the diff against the starting commit (committed and
// uncommitted changes alike), for review in MLflow.
//
// It only reads: git runs with GIT_OPTIONAL_LOCKS=0, so that not even the
// index is refreshed on the user's behalf.
package gitfacts

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// Commit is one commit made during the session.
type Commit struct {
	Hash    string `json:"hash"`
	Subject string `json:"subject"`
}

// Facts is what the session's run records about its repository.
type Facts struct {
	Branch  string   `json:"branch,omitempty"`
	Commit  string   `json:"commit,omitempty"`
	Commits []Commit `json:"commits,omitempty"`
	// Files are the files this package wrote into the output directory,
	// relative to it.
	Files []string `json:"files,omitempty"`
}

// File names in the output directory.
const (
	FactsFile    = "facts.json"
	CommitsFile  = "commits.txt"
	DiffStatFile = "diffstat.txt"
	DiffFile     = "changes.diff"
)

// maxDiff bounds the diff kept for review.
const maxDiff = 32 << 20

// Collect reads the repository at dir against the session's start commit
// and writes the commit list, the diff statistics and the diff into out.
func Collect(ctx context.Context, dir, start, out string) (Facts, error) {
	var f Facts
	if err := os.MkdirAll(out, 0o700); err != nil {
		return f, err
	}
	head, err := git(ctx, dir, "rev-parse", "HEAD")
	if err != nil {
		return f, err
	}
	f.Commit = strings.TrimSpace(head)
	if b, err := git(ctx, dir, "symbolic-ref", "--quiet", "--short", "HEAD"); err == nil {
		f.Branch = strings.TrimSpace(b)
	}
	if start == "" {
		return f, save(out, f)
	}
	log, err := git(ctx, dir, "log", "--format=%H%x09%s", start+"..HEAD")
	if err != nil {
		return f, err
	}
	var list strings.Builder
	for _, line := range strings.Split(strings.TrimSpace(log), "\n") {
		if hash, subject, ok := strings.Cut(line, "\t"); ok {
			f.Commits = append(f.Commits, Commit{Hash: hash, Subject: subject})
			fmt.Fprintf(&list, "%s %s\n", hash, subject)
		}
	}
	if len(f.Commits) > 0 {
		if err := os.WriteFile(filepath.Join(out, CommitsFile), []byte(list.String()), 0o600); err != nil {
			return f, err
		}
		f.Files = append(f.Files, CommitsFile)
	}
	stat, err := git(ctx, dir, "diff", "--stat", start)
	if err != nil {
		return f, err
	}
	if strings.TrimSpace(stat) != "" {
		if err := os.WriteFile(filepath.Join(out, DiffStatFile), []byte(stat), 0o600); err != nil {
			return f, err
		}
		if err := diffTo(ctx, dir, start, filepath.Join(out, DiffFile)); err != nil {
			return f, err
		}
		f.Files = append(f.Files, DiffStatFile, DiffFile)
	}
	return f, save(out, f)
}

// Load reads facts saved by an earlier Collect.
func Load(out string) (Facts, error) {
	var f Facts
	b, err := os.ReadFile(filepath.Join(out, FactsFile))
	if err != nil {
		return f, err
	}
	return f, json.Unmarshal(b, &f)
}

func save(out string, f Facts) error {
	b, _ := json.Marshal(f)
	return os.WriteFile(filepath.Join(out, FactsFile), b, 0o600)
}

func command(ctx context.Context, dir string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir, "-c", "core.quotepath=off"}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_OPTIONAL_LOCKS=0", "GIT_TERMINAL_PROMPT=0", "GIT_PAGER=cat", "LC_ALL=C")
	return cmd
}

func git(ctx context.Context, dir string, args ...string) (string, error) {
	var stderr bytes.Buffer
	cmd := command(ctx, dir, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// maxUntracked bounds how many new, untracked files the diff shows.
const maxUntracked = 200

// diffTo writes the diff against start, then the files the session created
// without adding them, cut at maxDiff with a note saying so.
func diffTo(ctx context.Context, dir, start, path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	budget := int64(maxDiff)
	if err := copyOutput(ctx, f, &budget, command(ctx, dir, "diff", "--no-color", start)); err != nil {
		return err
	}
	untracked, err := git(ctx, dir, "ls-files", "--others", "--exclude-standard", "-z")
	if err != nil {
		return err
	}
	names := strings.Split(strings.TrimRight(untracked, "\x00"), "\x00")
	for i, name := range names {
		if name == "" || budget <= 0 {
			continue
		}
		if i == maxUntracked {
			fmt.Fprintf(f, "\n[aitrack: %d more untracked files not shown]\n", len(names)-maxUntracked)
			break
		}
		// --no-index exits 1 when the files differ, which they do.
		cmd := command(ctx, dir, "diff", "--no-color", "--no-index", "--", "/dev/null", name)
		if err := copyOutput(ctx, f, &budget, cmd); err != nil && !isExit1(err) {
			return err
		}
	}
	if budget <= 0 {
		fmt.Fprintf(f, "\n[aitrack: diff cut at %d MiB]\n", maxDiff>>20)
	}
	return nil
}

// copyOutput copies cmd's output into w, at most *budget bytes.
func copyOutput(ctx context.Context, w io.Writer, budget *int64, cmd *exec.Cmd) error {
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	n, err := io.Copy(w, io.LimitReader(stdout, *budget))
	*budget -= n
	io.Copy(io.Discard, stdout)
	if werr := cmd.Wait(); err == nil {
		err = werr
	}
	return err
}

func isExit1(err error) bool {
	var ee *exec.ExitError
	return errors.As(err, &ee) && ee.ExitCode() == 1
}

var prURL = regexp.MustCompile(`https://[^\s/]+/[^\s/]+/[^\s/]+/(?:pull|-/merge_requests)/\d+`)

// PullRequests returns the pull/merge request URLs a transcript shows (as
// `gh pr create` prints them), each once, in order.
func PullRequests(transcript string) ([]string, error) {
	f, err := os.Open(transcript)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	seen := map[string]bool{}
	var urls []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		for _, u := range prURL.FindAllString(sc.Text(), -1) {
			if !seen[u] {
				seen[u] = true
				urls = append(urls, u)
			}
		}
	}
	return urls, nil
}
