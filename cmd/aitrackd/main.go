// Command aitrackd is aitrack's per-user daemon: it receives sessions from
// aitrack-wrap, stores them, parses them and delivers them to MLflow.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"slices"
	"syscall"
	"time"

	"github.com/aitrack/aitrack/internal/background"
	"github.com/aitrack/aitrack/internal/config"
	"github.com/aitrack/aitrack/internal/daemon"
	"github.com/aitrack/aitrack/internal/ingest"
	"github.com/aitrack/aitrack/internal/logging"
	"github.com/aitrack/aitrack/internal/mlflowclient"
	"github.com/aitrack/aitrack/internal/procfacts"
	"github.com/aitrack/aitrack/internal/redact"
	"github.com/aitrack/aitrack/internal/service"
	"go.uber.org/zap"
)

const usage = `usage: aitrackd [run] [flags]
       aitrackd service install|uninstall|start|stop|restart|status

Runs the aitrack daemon in the foreground, or manages it as your user
service (a systemd user unit, or a LaunchAgent on macOS). Each flag overrides its
environment variable, which overrides the config file, which overrides the
default; ` + "`aitrack config`" + ` shows the effective values.

Example:
  aitrackd --tracking-uri http://mlflow.internal:5000 --mlflow-ui=false

`

func main() {
	setGCPercent()
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "service" {
		os.Exit(serviceCmd(args[1:]))
	}
	if len(args) > 0 && args[0] == "run" {
		args = args[1:]
	}
	fs := flag.NewFlagSet("aitrackd", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(os.Stderr, usage); fs.PrintDefaults() }
	fs.String("socket", "", "Unix socket to listen on (env AITRACK_SOCKET)")
	fs.String("state-dir", "", "where sessions are stored (env AITRACK_STATE_DIR)")
	fs.String("tracking-uri", "", "MLflow tracking server (env MLFLOW_TRACKING_URI; default http://127.0.0.1:5000)")
	fs.String("experiment", "", "MLflow experiment for sessions (env AITRACK_EXPERIMENT; default ai-sessions)")
	fs.String("mlflow-ui", "", "start a local MLflow server when the tracking URI is local and nothing answers there: true or false (env AITRACK_MLFLOW_UI; default true)")
	fs.String("mlflow-bin", "", "the mlflow executable for that server (env AITRACK_MLFLOW; default mlflow)")
	fs.String("log-level", "", "debug, info, warn or error (env AITRACK_LOG_LEVEL; default info)")
	if err := fs.Parse(args); err != nil {
		os.Exit(2)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "aitrackd: unexpected argument %q\n\n", fs.Arg(0))
		fs.Usage()
		os.Exit(2)
	}
	flags := map[string]string{}
	fs.Visit(func(f *flag.Flag) { flags[config.FlagKey(f.Name)] = f.Value.String() })
	cfg, err := config.Load(os.Getenv, flags)
	if err != nil {
		fmt.Fprintln(os.Stderr, "aitrackd:", err)
		os.Exit(2)
	}

	// The service files set AITRACK_SERVICE: the daemon then logs to a
	// file, and leaves restarting itself to the service manager.
	log, err := logging.New(logging.Options{Level: cfg.LogLevel, Service: os.Getenv("AITRACK_SERVICE") == "1", StateDir: cfg.StateDir})
	if err != nil {
		fmt.Fprintln(os.Stderr, "aitrackd:", err)
		os.Exit(2)
	}
	if err := background.Lower(); err != nil {
		log.Warn("the daemon runs at normal priority and may slow the terminal under heavy output", zap.Error(err))
	}
	procedures, err := procfacts.New(cfg.ProcedurePatterns)
	if err != nil {
		fmt.Fprintf(os.Stderr, "aitrackd: %s: %v\n", cfg.Path, err)
		os.Exit(2)
	}
	var redactor *redact.Redactor
	if cfg.Redact {
		rc := redact.Config{Allow: cfg.RedactAllow}
		for _, p := range cfg.RedactPatterns {
			rc.Extra = append(rc.Extra, redact.Rule{Kind: p.Kind, Pattern: p.Regex})
		}
		if redactor, err = redact.NewRedactor(rc); err != nil {
			fmt.Fprintf(os.Stderr, "aitrackd: %s: %v\n", cfg.Path, err)
			os.Exit(2)
		}
	}
	mlcfg := mlflowclient.ConfigFromEnv(os.Getenv)
	mlcfg.TrackingURI = cfg.TrackingURI
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err = daemon.Run(ctx, daemon.Config{
		Socket:        cfg.Socket,
		StateDir:      cfg.StateDir,
		Experiment:    cfg.Experiment,
		MLflow:        mlcfg,
		MLflowUI:      cfg.MLflowUI,
		MLflowBin:     cfg.MLflowBin,
		Procedures:    procedures,
		Redactor:      redactor,
		KeepDelivered: time.Duration(cfg.KeepDays) * 24 * time.Hour,
		MaxStoreBytes: int64(cfg.MaxStoreMB) << 20,
		Limits:        ingest.Limits{MaxSessions: cfg.MaxSessions, MaxBytesPerSecond: int64(cfg.MaxSessionMBPerSecond) << 20},
		Log:           log,
	})
	if err != nil {
		log.Error("aitrackd failed", zap.Error(err))
		log.Sync()
		fmt.Fprintln(os.Stderr, "aitrackd:", err)
		os.Exit(1)
	}
	log.Sync()
}

// setGCPercent runs the collector at GOGC=50 unless GOGC is set. Go's
// default lets garbage grow to twice the live heap and to at least 4 MB
// (GOGC × 4 MB / 100). The daemon's live heap is small (about 1 MB, plus
// under 1 MB per live session), so that headroom was most of the RSS a
// first session added and half of each further session's (issue #9). At
// 50 the floor is 2 MB and the headroom half as much, for GC work that
// stays small at these heap sizes.
func setGCPercent() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(50)
	}
}

func serviceCmd(args []string) int {
	actions := "install, uninstall, start, stop, restart or status"
	if len(args) != 1 || !slices.Contains([]string{"install", "uninstall", "start", "stop", "restart", "status"}, args[0]) {
		fmt.Fprintf(os.Stderr, "usage: aitrackd service ACTION\n\nACTION is %s.\n\nExample:\n  aitrackd service install && aitrackd service start\n", actions)
		return 2
	}
	cfg, err := config.Load(os.Getenv, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "aitrackd:", err)
		return 2
	}
	env := map[string]string{"AITRACK_SERVICE": "1"}
	// The service manager's PATH is short: give the daemon the mlflow this
	// shell would run.
	if p, err := exec.LookPath(cfg.MLflowBin); err == nil {
		if abs, err := filepath.Abs(p); err == nil {
			env["AITRACK_MLFLOW"] = abs
		}
	}
	if err := service.Control(args[0], service.Config{Arguments: []string{"run"}, Env: env}); err != nil {
		fmt.Fprintln(os.Stderr, "aitrackd service:", err)
		return 1
	}
	return 0
}
