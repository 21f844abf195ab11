package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"time"

	aitrackv1 "github.com/aitrack/aitrack/api/proto/aitrack/v1"
)

// DaemonVersion asks the daemon for its version.
func DaemonVersion(ctx context.Context, socket string) (*aitrackv1.HelloResponse, error) {
	return hello(ctx, socket)
}

// OpenBrowser opens url in a browser when there is one to open; quietly
// does nothing otherwise (over SSH, in CI).
func OpenBrowser(url string) {
	name := "xdg-open"
	if runtime.GOOS == "darwin" {
		name = "open"
	} else if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
		return
	}
	if p, err := exec.LookPath(name); err == nil {
		exec.Command(p, url).Start()
	}
}

// TailLog prints the last lines of a log file, and with follow the lines
// written to it afterwards, until ctx ends.
func TailLog(ctx context.Context, w io.Writer, path string, follow bool) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s does not exist: aitrackd writes it when it runs as a service (`aitrackd service install`); in the foreground it logs to its terminal", path)
	}
	if err != nil {
		return err
	}
	defer f.Close()
	// The last 64 KiB hold the recent lines.
	if fi, err := f.Stat(); err == nil && fi.Size() > 64<<10 {
		f.Seek(-64<<10, io.SeekEnd)
		bufio.NewReader(f).ReadString('\n') // drop the partial first line
	}
	r := bufio.NewReader(f)
	for {
		line, err := r.ReadString('\n')
		io.WriteString(w, line)
		if err == io.EOF {
			if !follow {
				return nil
			}
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(500 * time.Millisecond):
			}
			continue
		}
		if err != nil {
			return err
		}
	}
}
