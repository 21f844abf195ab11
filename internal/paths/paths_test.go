package paths

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func env(m map[string]string) Getenv { return func(k string) string { return m[k] } }

func TestSocket(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"explicit", map[string]string{"AITRACK_SOCKET": "/x/s.sock", "XDG_RUNTIME_DIR": "/run/user/1"}, "/x/s.sock"},
		{"xdg runtime", map[string]string{"XDG_RUNTIME_DIR": "/run/user/1"}, "/run/user/1/aitrack/aitrackd.sock"},
		{"relative xdg ignored", map[string]string{"XDG_RUNTIME_DIR": "rel"}, filepath.Join("/tmp", "aitrack-"+itoa(os.Getuid()), "aitrackd.sock")},
		{"fallback", nil, filepath.Join("/tmp", "aitrack-"+itoa(os.Getuid()), "aitrackd.sock")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Socket(env(tt.env)); got != tt.want {
				t.Errorf("Socket() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLongSocketPathGetsShortOne(t *testing.T) {
	long := "/home/someone/" + strings.Repeat("very-long-directory-name/", 5) + "aitrackd.sock"
	env := env(map[string]string{"AITRACK_SOCKET": long})
	got := Socket(env)
	if len(got) > MaxSocketPath || !strings.HasPrefix(got, filepath.Join("/tmp", "aitrack-"+itoa(os.Getuid()))+"/s-") {
		t.Fatalf("Socket() = %q", got)
	}
	if again := Socket(env); again != got {
		t.Errorf("not stable: %q then %q", got, again)
	}
	other := Socket(func(k string) string { return map[string]string{"AITRACK_SOCKET": long + "x"}[k] })
	if other == got {
		t.Error("two long paths share one short path")
	}
}

func TestStateDir(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"explicit", map[string]string{"AITRACK_STATE_DIR": "/s", "XDG_STATE_HOME": "/x"}, "/s"},
		{"xdg state", map[string]string{"XDG_STATE_HOME": "/x", "HOME": "/h"}, "/x/aitrack"},
		{"home", map[string]string{"HOME": "/h"}, "/h/.local/state/aitrack"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := StateDir(env(tt.env))
			if err != nil || got != tt.want {
				t.Errorf("StateDir() = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
