package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	aitrackv1 "github.com/aitrack/aitrack/api/proto/aitrack/v1"
	"github.com/aitrack/aitrack/internal/config"
	"github.com/aitrack/aitrack/internal/ipc"
	"github.com/aitrack/aitrack/internal/mlflowclient"
	"github.com/aitrack/aitrack/internal/service"
	"github.com/aitrack/aitrack/internal/shims"
	"github.com/aitrack/aitrack/internal/version"
)

// Check is one thing `aitrack doctor` looked at.
type Check struct {
	Name string
	OK   bool
	// Optional checks are advice: they do not make doctor fail.
	Optional bool
	Detail   string
	Fix      string
}

// Doctor checks what aitrack needs and says how to fix what is wrong.
func Doctor(ctx context.Context, cfg *config.Config, mlcfg mlflowclient.Config) []Check {
	var checks []Check
	add := func(c Check) { checks = append(checks, c) }

	// The daemon, and its socket's permissions.
	hello, helloErr := hello(ctx, cfg.Socket)
	c := Check{Name: "daemon reachable", OK: helloErr == nil, Fix: "start it: `aitrackd` in a terminal, `aitrackd service start`, or `make run`"}
	if helloErr == nil {
		c.Detail = fmt.Sprintf("aitrackd %s (pid %d) on %s", hello.GetDaemonVersion(), hello.GetPid(), cfg.Socket)
	} else {
		c.Detail = fmt.Sprintf("nothing answers on %s", cfg.Socket)
	}
	add(c)
	add(socketCheck(cfg.Socket))

	// MLflow: the tracking server, and the mlflow program for a local one.
	c = Check{Name: "tracking server reachable", Fix: "start MLflow (`aitrackd` starts a local one), or check tracking_uri and MLFLOW_TRACKING_* credentials (`aitrack config`)"}
	mlcfg.TrackingURI = cfg.TrackingURI
	client, err := mlflowclient.New(mlcfg)
	if err == nil {
		err = client.Health(ctx)
	}
	c.OK = err == nil
	c.Detail = cfg.TrackingURI
	if err != nil {
		c.Detail += ": " + err.Error()
	}
	add(c)
	_, binErr := exec.LookPath(cfg.MLflowBin)
	add(Check{Name: "mlflow installed", OK: binErr == nil, Optional: !cfg.MLflowUI,
		Detail: cfg.MLflowBin, Fix: "pip install 'mlflow[auth]' (or `make run`, which installs it into .venv), or set mlflow_bin"})

	add(clockCheck(ctx, cfg.TrackingURI))

	// The service and the shims are conveniences.
	home, _ := os.UserHomeDir()
	kind := service.Systemd
	if runtime.GOOS == "darwin" {
		kind = service.Launchd
	}
	unit := kind.File(home)
	_, err = os.Stat(unit)
	add(Check{Name: "service installed", OK: err == nil, Optional: true, Detail: unit, Fix: "`aitrackd service install` starts aitrackd at login"})
	onPath := 0
	var missing []string
	for _, s := range shims.List(filepath.Join(home, ".local", "bin"), providers(cfg), cfg.ProviderCommand) {
		if s.Err != nil || !s.Found {
			continue // no program to wrap
		}
		if p, err := exec.LookPath(s.Provider + shims.Suffix); err == nil && p != "" {
			onPath++
		} else {
			missing = append(missing, s.Provider+shims.Suffix)
		}
	}
	add(Check{Name: "shims on PATH", OK: len(missing) == 0, Optional: true,
		Detail: fmt.Sprintf("%d installed, missing: %v", onPath, missing), Fix: "`aitrack shims install`, and put ~/.local/bin on PATH"})
	return checks
}

func hello(ctx context.Context, socket string) (*aitrackv1.HelloResponse, error) {
	conn, err := ipc.Dial(socket)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	return aitrackv1.NewRecorderClient(conn).Hello(ctx, &aitrackv1.HelloRequest{ClientVersion: version.Version, Protocol: version.Protocol, ClientKind: "cli"})
}

func socketCheck(socket string) Check {
	c := Check{Name: "socket private", OK: true, Detail: socket, Fix: "remove the directory (it is recreated 0700 by aitrackd) or choose another AITRACK_SOCKET"}
	dir := filepath.Dir(socket)
	fi, err := os.Lstat(dir)
	if os.IsNotExist(err) {
		c.Detail = dir + " does not exist yet (aitrackd creates it)"
		return c
	}
	if err != nil {
		c.OK, c.Detail = false, err.Error()
		return c
	}
	st, _ := fi.Sys().(*syscall.Stat_t)
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		c.OK, c.Detail = false, dir+" is a symlink"
	case fi.Mode().Perm()&0o077 != 0:
		c.OK, c.Detail = false, fmt.Sprintf("%s has mode %o: others can reach the socket", dir, fi.Mode().Perm())
	case st != nil && int(st.Uid) != os.Getuid():
		c.OK, c.Detail = false, fmt.Sprintf("%s belongs to uid %d", dir, st.Uid)
	}
	return c
}

// clockCheck compares this machine's clock with the tracking server's:
// run times and metric timestamps come from here.
func clockCheck(ctx context.Context, uri string) Check {
	c := Check{Name: "clock sane", OK: true, Fix: "enable time synchronisation (timedatectl set-ntp true)"}
	now := time.Now()
	if now.Year() < 2024 {
		c.OK, c.Detail = false, "the clock says "+now.Format(time.RFC3339)
		return c
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, uri+"/health", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.Detail = "no server to compare with; " + now.Format(time.RFC3339)
		return c
	}
	resp.Body.Close()
	server, err := http.ParseTime(resp.Header.Get("Date"))
	if err != nil {
		c.Detail = now.Format(time.RFC3339)
		return c
	}
	skew := now.Sub(server).Round(time.Second)
	c.Detail = fmt.Sprintf("%s off the tracking server's clock", skew)
	c.OK = skew.Abs() < 2*time.Minute
	return c
}

// PrintChecks writes the checks and reports whether none required failed.
func PrintChecks(w io.Writer, checks []Check) bool {
	ok := true
	for _, c := range checks {
		mark := "ok  "
		switch {
		case !c.OK && c.Optional:
			mark = "note"
		case !c.OK:
			mark, ok = "FAIL", false
		}
		fmt.Fprintf(w, "[%s] %-26s %s\n", mark, c.Name, c.Detail)
		if !c.OK {
			fmt.Fprintf(w, "       fix: %s\n", c.Fix)
		}
	}
	return ok
}
