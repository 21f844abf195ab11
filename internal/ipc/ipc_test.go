package ipc

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func shortTemp(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "ipc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func TestListenPermissions(t *testing.T) {
	path := filepath.Join(shortTemp(t), "run", "d.sock")
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for p, want := range map[string]os.FileMode{filepath.Dir(path): 0o700, path: 0o600} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s mode = %o, want %o", p, got, want)
		}
	}
}

func TestListenStaleAndInUse(t *testing.T) {
	path := filepath.Join(shortTemp(t), "d.sock")
	// A stale socket: bound and closed without unlinking, as after SIGKILL.
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("stale socket missing: %v", err)
	}
	live, err := Listen(path)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	defer live.Close()
	go func() {
		for {
			c, err := live.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	if _, err := Listen(path); !errors.Is(err, ErrInUse) {
		t.Fatalf("second Listen = %v, want ErrInUse", err)
	}
}

func TestPrivateDirRefusesSymlink(t *testing.T) {
	d := shortTemp(t)
	target := filepath.Join(d, "target")
	os.Mkdir(target, 0o700)
	link := filepath.Join(d, "link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := PrivateDir(link); err == nil {
		t.Fatal("PrivateDir accepted a symlink")
	}
}

func TestListenPathTooLong(t *testing.T) {
	long := filepath.Join("/tmp", strings.Repeat("d", 60), strings.Repeat("e", 60), "s.sock")
	if _, err := Listen(long); err == nil {
		t.Fatal("Listen accepted a path longer than sun_path")
	}
}
