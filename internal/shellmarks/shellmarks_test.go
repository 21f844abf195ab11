package shellmarks

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestArgs(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "shell")
	rc := filepath.Join(dir, "bash.rc")
	tests := []struct {
		argv []string
		want []string // nil: unchanged
	}{
		{[]string{"bash"}, []string{"bash", "--rcfile", rc, "-i"}},
		{[]string{"/bin/bash", "-i"}, []string{"/bin/bash", "--rcfile", rc, "-i"}},
		{[]string{"bash", "-l"}, nil},            // a login shell reads profiles, not an rc file
		{[]string{"bash", "script.sh"}, nil},     // not interactive
		{[]string{"bash", "--rcfile", "x"}, nil}, // the user's own choice
		{[]string{"bash", "--norc"}, nil},
		{[]string{"zsh"}, nil},
		{[]string{"claude"}, nil},
	}
	for _, tc := range tests {
		got, ok, err := Args(tc.argv, dir)
		if err != nil {
			t.Fatal(err)
		}
		want := tc.want
		if want == nil {
			want = tc.argv
		}
		if !slices.Equal(got, want) || ok != (tc.want != nil) {
			t.Errorf("Args(%q) = %q, %v; want %q", tc.argv, got, ok, want)
		}
	}
	b, err := os.ReadFile(rc)
	if err != nil || string(b) != BashRC {
		t.Fatalf("start-up file: %q, %v", b, err)
	}
	if fi, _ := os.Stat(rc); fi.Mode().Perm() != 0o600 {
		t.Errorf("start-up file mode %v, want 0600", fi.Mode().Perm())
	}
}
