package paths

import (
	"os"
	"path/filepath"
	"strconv"
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
		{"relative xdg ignored", map[string]string{"XDG_RUNTIME_DIR": "rel"}, filepath.Join(os.TempDir(), "aitrack-"+itoa(os.Getuid()), "aitrackd.sock")},
		{"fallback", nil, filepath.Join(os.TempDir(), "aitrack-"+itoa(os.Getuid()), "aitrackd.sock")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Socket(env(tt.env)); got != tt.want {
				t.Errorf("Socket() = %q, want %q", got, tt.want)
			}
		})
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
