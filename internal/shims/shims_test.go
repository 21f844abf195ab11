package shims

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestInstallAndList(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "bin")
	wrap := filepath.Join(t.TempDir(), "aitrack-wrap")
	os.WriteFile(wrap, []byte("#!/bin/sh\n"), 0o755)
	// A file of the user's own with a shim's name must survive.
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "aider"+Suffix), []byte("mine"), 0o755)

	made, err := Install(dir, wrap, []string{"claude", "sh", "aider"})
	if len(made) != 2 || err == nil {
		t.Fatalf("Install = %v, %v; want 2 links and an error about aider", made, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "aider"+Suffix)); string(b) != "mine" {
		t.Error("a user's file was replaced")
	}
	// Installing again replaces the links.
	if _, err := Install(dir, wrap, []string{"claude"}); err != nil {
		t.Fatal(err)
	}
	shims := List(dir, []string{"sh", "claude", "gpt"}, func(p string) ([]string, error) {
		switch p {
		case "gpt":
			return nil, errors.New("no command configured")
		case "claude":
			return []string{"definitely-not-installed-cli"}, nil
		}
		return []string{p}, nil
	})
	if len(shims) != 3 {
		t.Fatalf("List = %+v", shims)
	}
	byName := map[string]Shim{}
	for _, s := range shims {
		byName[s.Provider] = s
	}
	if s := byName["sh"]; s.Target != wrap || !s.Found || s.Program != "sh" {
		t.Errorf("sh: %+v", s)
	}
	if s := byName["claude"]; s.Target != wrap || s.Found {
		t.Errorf("claude: %+v", s)
	}
	if s := byName["gpt"]; s.Target != "" || s.Err == nil {
		t.Errorf("gpt: %+v", s)
	}
}
