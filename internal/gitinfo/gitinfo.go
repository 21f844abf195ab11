// Package gitinfo reads a working directory's git facts (repository root,
// branch, commit, origin URL) straight from the .git directory, without
// running git, so that the wrapper can afford it at every start.
//
// It reads, never writes, and knows only the plain layouts: a .git
// directory, a .git file pointing elsewhere (worktrees, submodules), loose
// and packed refs. Anything it cannot read yields empty fields, not errors.
package gitinfo

import (
	"bufio"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// Info is what the session records about its repository.
type Info struct {
	Root, Branch, Commit, RepoURL string
}

// Lookup finds the repository containing dir. ok is false outside one.
func Lookup(dir string) (info Info, ok bool) {
	root, gitDir := find(dir)
	if gitDir == "" {
		return Info{}, false
	}
	info.Root = root
	common := gitDir
	if b, err := os.ReadFile(filepath.Join(gitDir, "commondir")); err == nil {
		c := strings.TrimSpace(string(b))
		if !filepath.IsAbs(c) {
			c = filepath.Join(gitDir, c)
		}
		common = filepath.Clean(c)
	}
	head, _ := os.ReadFile(filepath.Join(gitDir, "HEAD"))
	h := strings.TrimSpace(string(head))
	if ref, isRef := strings.CutPrefix(h, "ref: "); isRef {
		info.Branch = strings.TrimPrefix(ref, "refs/heads/")
		info.Commit = resolve(common, ref)
	} else if isHash(h) {
		info.Commit = h
	}
	info.RepoURL = originURL(filepath.Join(common, "config"))
	return info, true
}

// find walks up from dir to the first directory holding .git.
func find(dir string) (root, gitDir string) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", ""
	}
	for {
		p := filepath.Join(dir, ".git")
		if fi, err := os.Stat(p); err == nil {
			if fi.IsDir() {
				return dir, p
			}
			if b, err := os.ReadFile(p); err == nil {
				if g, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "gitdir: "); ok {
					if !filepath.IsAbs(g) {
						g = filepath.Join(dir, g)
					}
					return dir, filepath.Clean(g)
				}
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", ""
		}
		dir = parent
	}
}

func resolve(gitDir, ref string) string {
	if b, err := os.ReadFile(filepath.Join(gitDir, filepath.FromSlash(ref))); err == nil {
		if h := strings.TrimSpace(string(b)); isHash(h) {
			return h
		}
	}
	f, err := os.Open(filepath.Join(gitDir, "packed-refs"))
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		hash, name, ok := strings.Cut(sc.Text(), " ")
		if ok && name == ref && isHash(hash) {
			return hash
		}
	}
	return ""
}

// originURL returns remote "origin"'s URL with any credentials removed.
func originURL(config string) string {
	f, err := os.Open(config)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	inOrigin := false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") {
			inOrigin = line == `[remote "origin"]`
			continue
		}
		if k, v, ok := strings.Cut(line, "="); inOrigin && ok && strings.TrimSpace(k) == "url" {
			return stripCredentials(strings.TrimSpace(v))
		}
	}
	return ""
}

func stripCredentials(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil || u.Scheme == "" {
		return raw
	}
	u.User = nil
	return u.String()
}

func isHash(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
