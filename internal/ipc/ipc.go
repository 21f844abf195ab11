// Package ipc opens the daemon's Unix socket and dials it, for the daemon's
// user alone.
//
// The socket's directory is the first guard: it is created 0700, must be
// owned by the user and must not be a symlink; the socket itself is 0600. The
// second is the kernel's word on who is at the other end (SO_PEERCRED,
// LOCAL_PEERCRED), read in the gRPC transport handshake: the daemon refuses
// every call from another uid, and a client refuses a daemon run by another
// uid. A socket file left behind by a crashed daemon is replaced only after a
// dial proves that nothing answers on it.
package ipc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/aitrack/aitrack/internal/paths"
	"google.golang.org/grpc"
)

// MaxMessage bounds one gRPC message in either direction; wrappers keep their
// batches well below it.
const MaxMessage = 16 << 20

// ErrInUse means another daemon answers on the socket.
var ErrInUse = errors.New("another aitrackd is already listening")

// Listen creates the socket at path, replacing a stale one.
func Listen(path string) (net.Listener, error) {
	if len(path) > paths.MaxSocketPath {
		return nil, fmt.Errorf("socket path %s is %d bytes, more than the %d a Unix socket allows: set AITRACK_SOCKET to a shorter path", path, len(path), paths.MaxSocketPath)
	}
	if err := PrivateDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("%s: %w", path, ErrInUse)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("remove stale socket %s: %w", path, err)
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("chmod socket %s: %w", path, err)
	}
	return l, nil
}

// PrivateDir makes sure dir exists, is a real directory owned by this user
// and is accessible by this user alone. It creates missing parents 0700 and
// tightens the mode of a directory it owns; it refuses anything else.
func PrivateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if fi.Mode()&os.ModeSymlink != 0 || !fi.IsDir() {
		return fmt.Errorf("%s is not a directory (a symlink or a file): refusing to use it; remove it or choose another path", dir)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Getuid() {
		return fmt.Errorf("%s is owned by uid %d, not by you (uid %d): refusing to use it", dir, st.Uid, os.Getuid())
	}
	if fi.Mode().Perm() != 0o700 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("make %s private: %w", dir, err)
		}
	}
	return nil
}

// Dial returns a client connection to the daemon's socket. Like
// grpc.NewClient it does no I/O: the first RPC finds out whether a daemon
// answers.
func Dial(path string) (*grpc.ClientConn, error) {
	return grpc.NewClient("unix://"+path,
		grpc.WithTransportCredentials(peerCreds{}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessage), grpc.MaxCallSendMsgSize(MaxMessage)),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		}),
	)
}
