package clitest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestInstalled(t *testing.T) {
	prefix := t.TempDir()
	bin := filepath.Join(prefix, "node_modules", ".bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "codex"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AITRACK_NPM_PREFIX", prefix)
	tests := []struct {
		cli     CLI
		want    string
		wantErr bool
	}{
		{Codex, filepath.Join(bin, "codex"), false},
		{Claude, "", true},
	}
	for _, tc := range tests {
		t.Run(string(tc.cli), func(t *testing.T) {
			got, err := Installed(tc.cli)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Fatalf("Installed(%s) = %q, %v; want %q, error %v", tc.cli, got, err, tc.want, tc.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "scripts/install-ai-clis.sh") {
				t.Errorf("error %q does not name the install script", err)
			}
		})
	}
}

func TestNPMPrefixFindsTheRepositoryCache(t *testing.T) {
	t.Setenv("AITRACK_NPM_PREFIX", "")
	root := t.TempDir()
	want := filepath.Join(root, ".cache", "npm")
	deep := filepath.Join(root, "internal", "pkg")
	for _, d := range []string{want, deep} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(deep)
	if got, err := NPMPrefix(); err != nil || got != want {
		t.Errorf("NPMPrefix() = %q, %v; want %q", got, err, want)
	}
}
