package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/aitrack/aitrack/internal/mlflowclient"
	"github.com/aitrack/aitrack/internal/mlflowtest"
)

// experiment is the MLflow experiment the harness's daemons record into.
const experiment = "aitrack-bench"

type harness struct {
	cfg     Config
	started time.Time
	root    string
	work    string
	goBin,
	daemonBin, wrapBin, genBin string
	// env is every candidate's environment: the harness's own, without
	// anything that would point a wrapper or daemon at the user's setup.
	env []string

	mlflow *mlflowtest.Server
	proxy  *countingProxy
	client *mlflowclient.Client // straight to MLflow, for verification
	expID  string               // the experiment's ID, once looked up
	main   *daemonProc          // the daemon connected wrappers talk to
	peers  []peer
	bulk   bulkFile
	seq    int // numbers daemon directories and recordings

	report *Report
}

// Figures name what Run measures, in order, for Config.Only.
var Figures = []string{"keystroke", "bulk", "startup", "parse", "store", "live", "e2e"}

// Run measures everything Config asks for and returns the report. It fails
// only when nothing meaningful can be measured (no module, no build); a
// figure that cannot be measured is recorded as such in the report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	started := time.Now()
	h := &harness{cfg: cfg, started: started, report: &Report{Invocation: cfg.Invocation, Quick: cfg.Quick, Settings: settingsOf(cfg)}}
	defer h.close()
	if err := h.setup(ctx); err != nil {
		return nil, err
	}
	h.report.Machine = describeMachine(ctx, h.root, h.goBin, started)
	loadCtx, stopLoad := context.WithCancel(ctx)
	loads := sampleLoad(loadCtx)
	h.report.Tools = h.findTools(ctx)
	h.peers = h.buildPeers()
	h.report.Commands = h.commands()

	measures := []func(context.Context){h.measureKeystrokes, h.measureBulk, h.measureStartup, h.measureParse, h.measureStore, h.measureLive, h.measureEndToEnd}
	for i, measure := range measures {
		if len(cfg.Only) == 0 || slices.Contains(cfg.Only, Figures[i]) {
			measure(ctx)
		}
	}

	stopLoad()
	m := &h.report.Machine
	m.LoadEnd, m.LoadDuring = loadAverage(), spreadOf(<-loads)
	cores := float64(m.Cores)
	if l := load1(m.LoadStart); l >= cores {
		h.note("The machine was busy when the run started (1-minute load %.2f on %d cores): other work competed for the CPU.", l, m.Cores)
	}
	if m.LoadDuring.Valid() && m.LoadDuring.Max >= 2*cores {
		h.note("The 1-minute load average reached %.1f on %d cores during the run (median %.1f). Part of that is the harness's own (up to 50 sessions at once), but a load this high means other work shared the machine: expect noisy figures, the tails (p99) most.", m.LoadDuring.Max, m.Cores, m.LoadDuring.Median)
	}
	h.report.DurationSeconds = time.Since(started).Seconds()
	h.report.Budgets = evaluateBudgets(h.report)
	return h.report, ctx.Err()
}

func (h *harness) logf(format string, args ...any) {
	fmt.Fprintf(h.cfg.Log, "aitrack-bench: %5.0fs "+format+"\n", append([]any{time.Since(h.started).Seconds()}, args...)...)
}

// note adds a remark to the report, once however often it is made.
func (h *harness) note(format string, args ...any) {
	n := fmt.Sprintf(format, args...)
	if !slices.Contains(h.report.Notes, n) {
		h.report.Notes = append(h.report.Notes, n)
	}
}

func (h *harness) setup(ctx context.Context) error {
	var err error
	if h.root = h.cfg.Root; h.root == "" {
		if h.root, err = mlflowtest.RepoRoot(); err != nil {
			return err
		}
	}
	if h.work = h.cfg.Work; h.work == "" {
		if h.work, err = os.MkdirTemp("", "aitrack-bench-"); err != nil {
			return fmt.Errorf("scratch directory: %w", err)
		}
	} else if err := os.MkdirAll(h.work, 0o700); err != nil {
		return fmt.Errorf("scratch directory: %w", err)
	}
	if h.goBin, err = exec.LookPath("go"); err != nil {
		h.goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	if err := h.build(ctx); err != nil {
		return err
	}
	h.env = candidateEnv(os.Environ(), h.work)
	h.logf("generating a %d-byte file for the bulk test", h.cfg.BulkBytes)
	if h.bulk, err = writeBulkFile(filepath.Join(h.work, "bulk.b64"), h.cfg.BulkBytes); err != nil {
		return err
	}
	h.startMLflow(ctx)
	target := "http://127.0.0.1:9" // nothing listens: the daemon keeps the sessions and retries
	if h.mlflow != nil {
		target = h.mlflow.URI
	}
	if h.proxy, err = startProxy(target); err != nil {
		return err
	}
	h.logf("starting aitrackd")
	if h.main, err = h.startDaemon(ctx); err != nil {
		return err
	}
	return nil
}

func (h *harness) startMLflow(ctx context.Context) {
	if _, err := mlflowtest.Binary(); err != nil {
		h.note("MLflow is not installed (%v): the figures that need it (live sessions, end-to-end delay) are not measured.", err)
		return
	}
	h.logf("starting MLflow")
	dir := filepath.Join(h.work, "mlflow")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		h.note("MLflow not started: %v", err)
		return
	}
	s, err := mlflowtest.Start(ctx, dir)
	if err != nil {
		h.note("MLflow did not start (%v): the figures that need it are not measured.", err)
		return
	}
	client, err := mlflowclient.New(mlflowclient.Config{TrackingURI: s.URI})
	if err != nil {
		s.Stop()
		h.note("MLflow client: %v", err)
		return
	}
	h.mlflow, h.client = s, client
}

// startDaemon starts a fresh aitrackd in a directory of its own.
func (h *harness) startDaemon(ctx context.Context) (*daemonProc, error) {
	h.seq++
	return startDaemon(ctx, h.daemonBin, filepath.Join(h.work, fmt.Sprintf("daemon%d", h.seq)), h.proxy.url, experiment, h.env)
}

// quiet waits up to limit for d to finish the work earlier measurements
// left.
func (h *harness) quiet(ctx context.Context, d *daemonProc, limit time.Duration) {
	if h.mlflow == nil {
		return // without MLflow the daemon retries forever: never quiet
	}
	if err := d.waitQuiet(ctx, h.proxy, limit); err != nil {
		h.note("Waiting for aitrackd to go idle between measurements: %v; later figures may include its work.", err)
	}
}

func (h *harness) close() {
	if h.main != nil {
		if err := h.main.stop(); err != nil {
			h.note("%v", err)
		}
	}
	if h.proxy != nil {
		h.proxy.close()
	}
	if h.mlflow != nil {
		h.mlflow.Stop()
	}
	if h.cfg.Work == "" && h.work != "" {
		os.RemoveAll(h.work)
	}
}

// build compiles the binaries under test (unless Config.Bin has them) and
// the load generator.
func (h *harness) build(ctx context.Context) error {
	bin := filepath.Join(h.work, "bin")
	pkgs := []string{"./bench/cmd/aitrack-bench-gen"}
	h.genBin = filepath.Join(bin, "aitrack-bench-gen")
	if h.cfg.Bin != "" {
		h.daemonBin, h.wrapBin = filepath.Join(h.cfg.Bin, "aitrackd"), filepath.Join(h.cfg.Bin, "aitrack-wrap")
		for _, p := range []string{h.daemonBin, h.wrapBin} {
			if _, err := os.Stat(p); err != nil {
				return fmt.Errorf("prebuilt binary: %w (run `make build`, or leave -bin empty to build here)", err)
			}
		}
	} else {
		pkgs = append(pkgs, "./cmd/aitrackd", "./cmd/aitrack-wrap")
		h.daemonBin, h.wrapBin = filepath.Join(bin, "aitrackd"), filepath.Join(bin, "aitrack-wrap")
	}
	h.logf("building %s", strings.Join(pkgs, " "))
	cmd := exec.CommandContext(ctx, h.goBin, append([]string{"build", "-o", bin + "/"}, pkgs...)...)
	cmd.Dir = h.root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", strings.Join(pkgs, " "), err, out)
	}
	return nil
}

// candidateEnv is the environment every candidate runs with: the caller's,
// minus settings that would point aitrack or asciinema at the user's own
// setup or mark the run as already tracked, plus a common terminal.
func candidateEnv(base []string, work string) []string {
	var env []string
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "AITRACK_"), strings.HasPrefix(k, "MLFLOW_"), strings.HasPrefix(k, "ASCIINEMA_"),
			k == "TERM", k == "SHELL", k == "LANG", k == "LC_ALL":
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"TERM=xterm-256color",
		"SHELL=/bin/sh",
		"LANG=C.UTF-8",
		"AITRACK_CONFIG="+filepath.Join(work, "no-config.toml"),
		"ASCIINEMA_CONFIG_HOME="+filepath.Join(work, "asciinema-config"),
	)
}
