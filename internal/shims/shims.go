// Package shims makes and lists the NAME-with-tracking links through which
// users start their AI CLIs under aitrack-wrap. It only manages links; what
// each provider runs is configuration (see config.Providers).
package shims

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
)

// Suffix ends every shim's name.
const Suffix = "-with-tracking"

// Shim is one link and what it would run.
type Shim struct {
	Provider string
	Path     string // the link
	Target   string // what the link points to ("" when there is no link)
	// Program is the command the provider runs, and Found whether it is
	// on PATH.
	Program string
	Found   bool
	// Err says why the provider cannot run, e.g. no command configured.
	Err error
}

// Install links DIR/PROVIDER-with-tracking to wrap for each provider. An
// existing link is replaced; an existing file that is not a link is left
// alone with an error.
func Install(dir, wrap string, providers []string) ([]string, error) {
	if !filepath.IsAbs(wrap) {
		return nil, fmt.Errorf("aitrack-wrap path %q is not absolute", wrap)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	var made []string
	var errs []error
	for _, p := range providers {
		link := filepath.Join(dir, p+Suffix)
		if fi, err := os.Lstat(link); err == nil {
			if fi.Mode()&os.ModeSymlink == 0 {
				errs = append(errs, fmt.Errorf("%s exists and is not a link: not replacing it", link))
				continue
			}
			os.Remove(link)
		}
		if err := os.Symlink(wrap, link); err != nil {
			errs = append(errs, fmt.Errorf("link %s: %w", link, err))
			continue
		}
		made = append(made, link)
	}
	return made, errors.Join(errs...)
}

// List describes the shims of providers in dir. command gives each
// provider's command (or why it has none).
func List(dir string, providers []string, command func(string) ([]string, error)) []Shim {
	providers = slices.Sorted(slices.Values(providers))
	out := make([]Shim, 0, len(providers))
	for _, p := range providers {
		s := Shim{Provider: p, Path: filepath.Join(dir, p+Suffix)}
		s.Target, _ = os.Readlink(s.Path)
		cmd, err := command(p)
		if err != nil {
			s.Err = err
		} else {
			s.Program = cmd[0]
			_, lerr := exec.LookPath(cmd[0])
			s.Found = lerr == nil
		}
		out = append(out, s)
	}
	return out
}
