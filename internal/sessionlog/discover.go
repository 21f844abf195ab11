package sessionlog

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Query describes a session whose log is wanted.
type Query struct {
	Format Format
	// Home is the HOME of the CLI's process; Env its variables that move
	// the logs (CLAUDE_CONFIG_DIR, CODEX_HOME, GEMINI_CLI_HOME), if set.
	Home  string
	Env   map[string]string
	Cwd   string    // the CLI's working directory
	Start time.Time // when the CLI started
	// Prompt is the first prompt typed in the session, if known: among
	// several candidate logs, the one that starts with it wins.
	Prompt string
	// Typed says the user has typed into the session. A log that holds a
	// prompt cannot be the session's before then: this keeps a session
	// that is still idle from taking the log of one started beside it.
	Typed bool
}

// startSlack allows for clocks read by different processes and for
// timestamps rounded to the millisecond.
const startSlack = 2 * time.Second

// Candidate is a log that may be the session's.
type Candidate struct {
	Path  string
	Facts Facts
}

// Candidates returns the logs that can belong to the session, best first:
// logs of its CLI, in its directory, started no earlier than it. Callers
// skip those another session claimed. No log yet is not an error; a log
// directory that exists but cannot be read (no permission, or not a
// directory) is, beside whatever the readable ones hold.
func Candidates(q Query) ([]Candidate, error) {
	var paths []string
	var errs []error
	for _, pattern := range patterns(q) {
		if err := readableDir(fixedDir(pattern)); err != nil {
			errs = append(errs, err)
			continue
		}
		m, err := filepath.Glob(pattern)
		if err != nil {
			return nil, err
		}
		paths = append(paths, m...)
	}
	cwd := realPath(q.Cwd)
	var out []Candidate
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil || st.ModTime().Before(q.Start.Add(-startSlack)) {
			continue
		}
		f, err := ReadFile(p, q.Format)
		if err != nil || f.Start.IsZero() || f.Start.Before(q.Start.Add(-startSlack)) {
			continue
		}
		if f.Cwd != "" && cwd != "" && realPath(f.Cwd) != cwd || !q.Typed && len(f.Prompts) > 0 {
			continue
		}
		out = append(out, Candidate{Path: p, Facts: f})
	}
	prompt := normalize(q.Prompt)
	matches := func(c Candidate) bool {
		return prompt != "" && len(c.Facts.Prompts) > 0 && strings.HasPrefix(normalize(c.Facts.Prompts[0]), prompt)
	}
	slices.SortStableFunc(out, func(a, b Candidate) int {
		if ma, mb := matches(a), matches(b); ma != mb {
			if ma {
				return -1
			}
			return 1
		}
		return a.Facts.Start.Compare(b.Facts.Start)
	})
	return out, errors.Join(errs...)
}

// fixedDir is the part of a glob pattern before its first element with a
// metacharacter: the directory that must be readable for the glob to see
// anything. filepath.Glob ignores I/O errors, so it is checked apart.
func fixedDir(pattern string) string {
	dir := filepath.Dir(pattern)
	for strings.ContainsAny(dir, `*?[\`) {
		dir = filepath.Dir(dir)
	}
	return dir
}

// readableDir reports a directory that exists but cannot be listed. One
// that does not exist (yet) is fine: the CLI creates it with its first log.
func readableDir(dir string) error {
	f, err := os.Open(dir)
	if err == nil {
		_, err = f.Readdirnames(1)
		f.Close()
	}
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return fmt.Errorf("session log directory unreadable: %w", err)
}

// patterns are the globs of the format's logs for the query's directory.
func patterns(q Query) []string {
	env := func(k, def string) string {
		if v := q.Env[k]; v != "" {
			return v
		}
		return filepath.Join(q.Home, def)
	}
	switch q.Format {
	case Claude:
		return []string{filepath.Join(env("CLAUDE_CONFIG_DIR", ".claude"), "projects", ClaudeProjectDir(q.Cwd), "*.jsonl")}
	case Codex:
		root := env("CODEX_HOME", ".codex")
		day := "[0-9][0-9][0-9][0-9]/[0-9][0-9]/[0-9][0-9]"
		return []string{filepath.Join(root, "sessions", day, "rollout-*.jsonl")}
	case Gemini:
		root := filepath.Join(q.Home, ".gemini")
		if v := q.Env["GEMINI_CLI_HOME"]; v != "" {
			root = filepath.Join(v, ".gemini")
		}
		sum := sha256.Sum256([]byte(q.Cwd))
		dirs := []string{hex.EncodeToString(sum[:])}
		// Newer versions name the project directory in projects.json.
		var reg struct {
			Projects map[string]string `json:"projects"`
		}
		if b, err := os.ReadFile(filepath.Join(root, "projects.json")); err == nil && json.Unmarshal(b, &reg) == nil {
			if short := reg.Projects[q.Cwd]; short != "" && !strings.ContainsAny(short, `/\*?[`) {
				dirs = append(dirs, short)
			}
		}
		var out []string
		for _, d := range dirs {
			out = append(out, filepath.Join(root, "tmp", d, "chats", "session-*.jsonl"))
		}
		return out
	}
	return nil
}

// ClaudeProjectDir is the directory name Claude Code keeps a working
// directory's sessions under: every character but ASCII letters and digits
// becomes "-".
func ClaudeProjectDir(cwd string) string {
	return strings.Map(func(r rune) rune {
		if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' {
			return r
		}
		return '-'
	}, cwd)
}

func realPath(p string) string {
	if p == "" {
		return ""
	}
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return filepath.Clean(p)
}

func normalize(s string) string { return strings.Join(strings.Fields(s), " ") }
