package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"text/tabwriter"

	"github.com/aitrack/aitrack/internal/config"
	"github.com/aitrack/aitrack/internal/shims"
)

// FindWrap locates aitrack-wrap: beside the running executable, else on PATH.
func FindWrap() (string, error) {
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "aitrack-wrap")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	p, err := exec.LookPath("aitrack-wrap")
	if err != nil {
		return "", errors.New("aitrack-wrap not found beside aitrack nor on PATH: build it with `make build`")
	}
	return filepath.Abs(p)
}

// InstallShims links a NAME-with-tracking shim for every configured provider.
func InstallShims(w io.Writer, cfg *config.Config, dir string) error {
	wrap, err := FindWrap()
	if err != nil {
		return err
	}
	made, err := shims.Install(dir, wrap, providers(cfg))
	for _, m := range made {
		fmt.Fprintf(w, "%s -> %s\n", m, wrap)
	}
	if !slices.Contains(filepath.SplitList(os.Getenv("PATH")), dir) {
		fmt.Fprintf(w, "\nNote: %s is not on your PATH; add it to use the shims.\n", dir)
	}
	return err
}

// ListShims shows each provider's shim and whether its program is on PATH.
func ListShims(w io.Writer, cfg *config.Config, dir string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SHIM\tINSTALLED\tRUNS\tON PATH")
	for _, s := range shims.List(dir, providers(cfg), cfg.ProviderCommand) {
		installed := "no"
		if s.Target != "" {
			installed = "yes"
		}
		runs, found := s.Program, "no"
		if s.Found {
			found = "yes"
		}
		if s.Err != nil {
			runs, found = "(not configured: see `aitrack config`)", "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Path, installed, runs, found)
	}
	tw.Flush()
}

func providers(cfg *config.Config) []string {
	var ps []string
	for p := range cfg.Providers {
		ps = append(ps, p)
	}
	slices.Sort(ps)
	return ps
}
