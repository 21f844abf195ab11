// Package paths decides where aitrack keeps its socket and its state, by the
// same rules for every binary, so that setting AITRACK_SOCKET and
// AITRACK_STATE_DIR is enough to run a private daemon.
//
// It only computes paths; creating directories with safe permissions is the
// business of the packages that use them (ipc, ingest, spool).
package paths

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Getenv reads an environment variable; os.Getenv in production.
type Getenv func(string) string

// SocketFile is the daemon's socket name inside its directory.
const SocketFile = "aitrackd.sock"

// Socket returns the daemon's socket path: $AITRACK_SOCKET, else
// $XDG_RUNTIME_DIR/aitrack/aitrackd.sock, else /tmp/aitrack-<uid>/aitrackd.sock
// (a per-user directory that ipc creates 0700 and checks before use).
//
// A path longer than a Unix socket allows (104 bytes on macOS, 108 on
// Linux) is replaced by a short one under /tmp/aitrack-<uid>/ named after a
// hash of the long one, so that every binary that computes the same long
// path finds the same short one.
func Socket(getenv Getenv) string {
	p := getenv("AITRACK_SOCKET")
	switch {
	case p != "":
	case getenv("XDG_RUNTIME_DIR") != "" && filepath.IsAbs(getenv("XDG_RUNTIME_DIR")):
		p = filepath.Join(getenv("XDG_RUNTIME_DIR"), "aitrack", SocketFile)
	default:
		return filepath.Join(shortDir(), SocketFile)
	}
	if len(p) > MaxSocketPath {
		sum := sha256.Sum256([]byte(p))
		return filepath.Join(shortDir(), fmt.Sprintf("s-%x.sock", sum[:8]))
	}
	return p
}

// MaxSocketPath is the longest socket path that works everywhere (macOS's
// sun_path holds 104 bytes with the terminating NUL).
const MaxSocketPath = 103

func shortDir() string {
	return filepath.Join("/tmp", fmt.Sprintf("aitrack-%d", os.Getuid()))
}

// StateDir returns the daemon's state directory: $AITRACK_STATE_DIR, else
// $XDG_STATE_HOME/aitrack, else ~/.local/state/aitrack.
func StateDir(getenv Getenv) (string, error) {
	if p := getenv("AITRACK_STATE_DIR"); p != "" {
		return filepath.Abs(p)
	}
	if d := getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "aitrack"), nil
	}
	home := getenv("HOME")
	if home == "" {
		var err error
		if home, err = os.UserHomeDir(); err != nil {
			return "", errors.New("cannot find the state directory: set AITRACK_STATE_DIR or HOME")
		}
	}
	return filepath.Join(home, ".local", "state", "aitrack"), nil
}

// SpoolDir is where wrappers leave sessions the daemon has not taken yet.
func SpoolDir(stateDir string) string { return filepath.Join(stateDir, "spool") }

// SessionsDir is where the daemon stores every session's bytes.
func SessionsDir(stateDir string) string { return filepath.Join(stateDir, "sessions") }
