package clitest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// CLI names one of the AI coding CLIs by its executable.
type CLI string

const (
	Claude CLI = "claude" // Claude Code, npm @anthropic-ai/claude-code
	Codex  CLI = "codex"  // Codex CLI, npm @openai/codex
	Gemini CLI = "gemini" // Gemini CLI, npm @google/gemini-cli
)

// installScript is what puts the CLIs where Installed looks.
const installScript = "scripts/install-ai-clis.sh"

// NPMPrefix returns the npm prefix scripts/install-ai-clis.sh installs into:
// $AITRACK_NPM_PREFIX, else the nearest .cache/npm above the working
// directory (the repository's, when run by `go test`).
func NPMPrefix() (string, error) {
	if p := os.Getenv("AITRACK_NPM_PREFIX"); p != "" {
		return p, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find the npm prefix: %w", err)
	}
	for {
		p := filepath.Join(dir, ".cache", "npm")
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no .cache/npm above the working directory: run " + installScript)
		}
		dir = parent
	}
}

// Installed returns the path of cli's executable as installed by
// scripts/install-ai-clis.sh.
func Installed(cli CLI) (string, error) {
	prefix, err := NPMPrefix()
	if err != nil {
		return "", err
	}
	p := filepath.Join(prefix, "node_modules", ".bin", string(cli))
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("%s is not installed under %s: run %s: %w", cli, prefix, installScript, err)
	}
	return p, nil
}

// RequireCLI returns the path of cli's executable, or skips the test with a
// message naming scripts/install-ai-clis.sh when it is not installed.
func RequireCLI(t testing.TB, cli CLI) string {
	t.Helper()
	p, err := Installed(cli)
	if err != nil {
		t.Skipf("skipping: the real %s CLI is needed (%v)", cli, err)
	}
	return p
}
