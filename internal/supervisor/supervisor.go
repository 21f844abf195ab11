// Package supervisor keeps one child process running: it starts the command
// in its own process group with its output appended to a log file, polls a
// health check, and restarts the child when it exits or turns unhealthy,
// with a doubling pause between attempts and a cap on restarts per window
// after which it gives up (state FAILED) and keeps the last log lines for
// whoever has to find out why.
//
// On Linux the child gets a parent-death signal (SIGTERM), so it does not
// outlive a supervisor that is killed outright; macOS has no equivalent.
//
// It knows nothing about what it runs: the health check, the command and the
// log location come from the caller (see mlflowui). It is not a process
// manager for many children and never daemonizes anything.
package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"
)

// State is where the child is in its life cycle.
type State string

const (
	// StateStarting: the child runs but has not yet answered the health check.
	StateStarting State = "starting"
	// StateRunning: the child answered the health check (or there is none).
	StateRunning State = "running"
	// StateBackoff: the child ended; the supervisor waits before restarting it.
	StateBackoff State = "backoff"
	// StateFailed: too many restarts in the window; the supervisor gave up.
	StateFailed State = "failed"
	// StateStopped: Stop was called and the child's group is gone.
	StateStopped State = "stopped"
)

// Clock is the supervisor's time source: every pause, grace period and
// window is measured with it, so tests can run time faster.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

// SystemClock is real time.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// After returns time.After(d).
func (SystemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Config says what to run and how to judge it. Zero durations and counts
// take the defaults documented on each field.
type Config struct {
	// Name identifies the child in errors and logs, e.g. "mlflow".
	Name string
	// Path is the executable; Args are its arguments (without argv[0]).
	Path string
	Args []string
	// Dir is the child's working directory ("" = the supervisor's).
	Dir string
	// Env is the child's environment (nil = the supervisor's).
	Env []string
	// LogPath receives the child's stdout and stderr, appended, one line at
	// a time; it is rotated to LogPath+".1" when it exceeds MaxLogBytes.
	LogPath string
	// MaxLineBytes caps one log line (default 8 KiB); the rest of a longer
	// line is dropped and the line marked as truncated.
	MaxLineBytes int
	// MaxLogBytes is the log size that triggers rotation (default 10 MiB).
	MaxLogBytes int64
	// TailLines is how many recent lines Status keeps (default 20).
	TailLines int

	// Health reports whether the child is serving; nil means it is running
	// as soon as it has started.
	Health func(ctx context.Context) error
	// HealthInterval is the pause between checks (default 1s) and
	// HealthTimeout bounds one check (default 5s).
	HealthInterval time.Duration
	HealthTimeout  time.Duration
	// StartGrace is how long a new child may take to answer its first
	// health check before it is restarted (default 60s).
	StartGrace time.Duration
	// HealthFailures is how many failed checks in a row restart a child
	// that was healthy before (default 3): one slow answer is not a crash.
	HealthFailures int

	// StopGrace is the wait between SIGTERM and SIGKILL (default 10s).
	StopGrace time.Duration

	// MinPause is the first pause before a restart (default 1s); each
	// restart doubles it up to MaxPause (default 60s). A child that ran
	// for StableAfter (default 5m) resets the pause to MinPause.
	MinPause    time.Duration
	MaxPause    time.Duration
	StableAfter time.Duration
	// MaxRestarts restarts within RestartWindow (defaults 5 and 1m) are
	// allowed; the next exit leaves the supervisor FAILED.
	MaxRestarts   int
	RestartWindow time.Duration

	// Clock defaults to the system clock; Log to a no-op logger.
	Clock Clock
	Log   *zap.Logger
}

func (c *Config) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.HealthInterval, time.Second)
	def(&c.HealthTimeout, 5*time.Second)
	def(&c.StartGrace, time.Minute)
	def(&c.StopGrace, 10*time.Second)
	def(&c.MinPause, time.Second)
	def(&c.MaxPause, time.Minute)
	def(&c.StableAfter, 5*time.Minute)
	def(&c.RestartWindow, time.Minute)
	if c.MaxLineBytes <= 0 {
		c.MaxLineBytes = 8 << 10
	}
	if c.MaxLogBytes <= 0 {
		c.MaxLogBytes = 10 << 20
	}
	if c.TailLines <= 0 {
		c.TailLines = 20
	}
	if c.HealthFailures <= 0 {
		c.HealthFailures = 3
	}
	if c.MaxRestarts <= 0 {
		c.MaxRestarts = 5
	}
	if c.Clock == nil {
		c.Clock = SystemClock{}
	}
	if c.Log == nil {
		c.Log = zap.NewNop()
	}
}

// Status is a snapshot of the supervisor.
type Status struct {
	State State
	// PID is the running child's pid, which is also its process group id;
	// 0 when no child runs.
	PID int
	// Restarts counts the restarts since Start.
	Restarts int
	// LastError says why the last child ended or was restarted, or why the
	// supervisor gave up; "" while the first child is fine.
	LastError string
	// LastLines are the most recent lines of the child's output, oldest
	// first, across restarts.
	LastLines []string
	// Since is when State was entered.
	Since time.Time
}

// Supervisor runs one child; see the package doc. Its methods are safe for
// concurrent use.
type Supervisor struct {
	cfg    Config
	log    *logSink
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	status Status
}

// Start starts the child and supervises it until Stop. The child's life
// does not depend on any context, so the caller decides when it ends
// relative to its other shutdown steps. An error means the first start
// failed (missing executable, unwritable log): restarting would not help.
func Start(cfg Config) (*Supervisor, error) {
	if cfg.Path == "" {
		return nil, errors.New("supervisor: no executable to run")
	}
	if cfg.LogPath == "" {
		return nil, fmt.Errorf("supervisor: no log file for %s", cfg.Name)
	}
	cfg.setDefaults()
	sink, err := openLogSink(cfg.LogPath, cfg.MaxLogBytes, cfg.TailLines)
	if err != nil {
		return nil, fmt.Errorf("open the log of %s: %w", cfg.Name, err)
	}
	s := &Supervisor{cfg: cfg, log: sink, done: make(chan struct{})}
	first, err := s.spawn()
	if err != nil {
		sink.close()
		return nil, err
	}
	s.setState(s.startState(), first.pid, nil)
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go s.run(ctx, first)
	return s, nil
}

// Status returns a snapshot of the supervisor's state.
func (s *Supervisor) Status() Status {
	s.mu.Lock()
	st := s.status
	s.mu.Unlock()
	st.LastLines = s.log.tail()
	return st
}

// Stop stops the child's process group (SIGTERM, then SIGKILL after
// StopGrace) and waits until it is gone and the supervisor has finished.
// If ctx ends first, Stop returns its error and the group is still killed
// in the background.
func (s *Supervisor) Stop(ctx context.Context) error {
	s.cancel()
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop %s: %w", s.cfg.Name, ctx.Err())
	}
}

// Done is closed when the supervisor has finished: after Stop, or when it
// gave up (StateFailed).
func (s *Supervisor) Done() <-chan struct{} { return s.done }

func (s *Supervisor) setState(state State, pid int, reason error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status.State, s.status.PID, s.status.Since = state, pid, s.cfg.Clock.Now()
	if reason != nil {
		s.status.LastError = reason.Error()
	}
}

func (s *Supervisor) run(ctx context.Context, c *child) {
	defer close(s.done)
	defer s.log.close()
	restarts := newRestartPolicy(s.cfg)
	var spawnErr error
	for {
		startedAt := s.cfg.Clock.Now()
		var reason error
		if c != nil {
			reason = s.watch(ctx, c)
		} else {
			reason = spawnErr
		}
		if ctx.Err() != nil {
			s.setState(StateStopped, 0, nil)
			s.cfg.Log.Info("stopped", zap.String("child", s.cfg.Name))
			return
		}
		now := s.cfg.Clock.Now()
		pause, ok := restarts.next(now, now.Sub(startedAt))
		if !ok {
			err := fmt.Errorf("gave up after %d restarts within %s: %w", s.cfg.MaxRestarts, s.cfg.RestartWindow, reason)
			s.setState(StateFailed, 0, err)
			s.cfg.Log.Error("child keeps failing; not restarting it", zap.String("child", s.cfg.Name),
				zap.Error(err), zap.String("log", s.cfg.LogPath))
			return
		}
		s.setState(StateBackoff, 0, reason)
		s.cfg.Log.Warn("child ended; restarting", zap.String("child", s.cfg.Name),
			zap.Error(reason), zap.Duration("pause", pause))
		select {
		case <-ctx.Done():
			s.setState(StateStopped, 0, nil)
			return
		case <-s.cfg.Clock.After(pause):
		}
		s.mu.Lock()
		s.status.Restarts++
		s.mu.Unlock()
		c, spawnErr = s.spawn()
	}
}

// watch follows one child until it exits, fails its health check or ctx
// ends. It returns why the child ended (nil when ctx ended) and only after
// the child's group has been killed and its output drained.
func (s *Supervisor) watch(ctx context.Context, c *child) error {
	s.setState(s.startState(), c.pid, nil)
	if s.cfg.Health == nil {
		select {
		case <-c.exited:
			return s.reap(c)
		case <-ctx.Done():
			s.terminate(c)
			return nil
		}
	}
	started := s.cfg.Clock.Now()
	healthy, failures := false, 0
	for {
		select {
		case <-c.exited:
			return s.reap(c)
		case <-ctx.Done():
			s.terminate(c)
			return nil
		case <-s.cfg.Clock.After(s.cfg.HealthInterval):
		}
		hctx, cancel := context.WithTimeout(ctx, s.cfg.HealthTimeout)
		err := s.cfg.Health(hctx)
		cancel()
		if ctx.Err() != nil {
			continue
		}
		select {
		case <-c.exited: // a dead child fails its check: report the exit instead
			return s.reap(c)
		default:
		}
		switch {
		case err == nil:
			failures = 0
			if !healthy {
				healthy = true
				s.setState(StateRunning, c.pid, nil)
				s.cfg.Log.Info("child is healthy", zap.String("child", s.cfg.Name), zap.Int("pid", c.pid))
			}
		case healthy:
			failures++
			if failures >= s.cfg.HealthFailures {
				s.terminate(c)
				return fmt.Errorf("%s failed %d health checks in a row: %w", s.cfg.Name, failures, err)
			}
		case s.cfg.Clock.Now().Sub(started) >= s.cfg.StartGrace:
			s.terminate(c)
			return fmt.Errorf("%s was not healthy within %s: %w", s.cfg.Name, s.cfg.StartGrace, err)
		}
	}
}

// startState is the state of a child that has just started.
func (s *Supervisor) startState() State {
	if s.cfg.Health == nil {
		return StateRunning
	}
	return StateStarting
}

// child is one started process.
type child struct {
	pid      int
	exited   chan struct{} // closed after the process has been reaped
	waitErr  error         // valid after exited is closed
	logsDone chan struct{} // closed when its output reached EOF
}

// spawn starts the command in a new process group with its output piped
// into the log sink.
func (s *Supervisor) spawn() (*child, error) {
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", s.cfg.Name, err)
	}
	cmd := exec.Command(s.cfg.Path, s.cfg.Args...)
	cmd.Dir, cmd.Env = s.cfg.Dir, s.cfg.Env
	cmd.Stdout, cmd.Stderr = pw, pw
	cmd.SysProcAttr = sysProcAttr()
	c := &child{exited: make(chan struct{}), logsDone: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		// Pdeathsig fires when the thread that forked the child exits, not
		// the process (golang/go#27505): this goroutine keeps its thread
		// until the child is gone.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		c.waitErr = cmd.Wait()
		close(c.exited)
	}()
	err = <-started
	pw.Close()
	if err != nil {
		pr.Close()
		return nil, fmt.Errorf("start %s: %w", s.cfg.Name, err)
	}
	c.pid = cmd.Process.Pid
	s.log.note(fmt.Sprintf("--- %s started %s (pid %d): %s", s.cfg.Clock.Now().Format(time.RFC3339),
		s.cfg.Name, c.pid, strings.Join(append([]string{s.cfg.Path}, s.cfg.Args...), " ")))
	go func() {
		defer close(c.logsDone)
		defer pr.Close()
		pumpLines(pr, s.cfg.MaxLineBytes, s.log.line)
	}()
	s.cfg.Log.Info("started", zap.String("child", s.cfg.Name), zap.Int("pid", c.pid))
	return c, nil
}

// terminate stops a live child: SIGTERM to its group, SIGKILL after
// StopGrace, then reap.
func (s *Supervisor) terminate(c *child) {
	signalGroup(c.pid, syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-s.cfg.Clock.After(s.cfg.StopGrace):
		s.cfg.Log.Warn("child ignored SIGTERM; killing it", zap.String("child", s.cfg.Name), zap.Int("pid", c.pid))
		signalGroup(c.pid, syscall.SIGKILL)
		<-c.exited
	}
	s.reap(c)
}

// reap finishes off an exited child: whatever is left of its group is
// killed (so no orphan keeps its port or its output pipe) and its output is
// drained into the log. It returns why the child ended.
func (s *Supervisor) reap(c *child) error {
	signalGroup(c.pid, syscall.SIGKILL)
	select {
	case <-c.logsDone:
	case <-time.After(2 * time.Second): // a process outside the group holds the pipe
	}
	reason := fmt.Errorf("%s exited: %v", s.cfg.Name, c.waitErr)
	if c.waitErr == nil {
		reason = fmt.Errorf("%s exited with status 0", s.cfg.Name)
	}
	s.log.note(fmt.Sprintf("--- %s %v", s.cfg.Clock.Now().Format(time.RFC3339), reason))
	return reason
}

// signalGroup signals the process group led by pid; a group that is
// already gone is not an error.
func signalGroup(pid int, sig syscall.Signal) {
	if pid > 0 {
		_ = syscall.Kill(-pid, sig)
	}
}

// restartPolicy decides, each time a child ends, whether and after what
// pause to start the next one.
type restartPolicy struct {
	minPause, maxPause, stableAfter time.Duration
	max                             int
	window                          time.Duration

	pause  time.Duration
	recent []time.Time // restarts within the window
}

func newRestartPolicy(cfg Config) *restartPolicy {
	return &restartPolicy{
		minPause: cfg.MinPause, maxPause: cfg.MaxPause, stableAfter: cfg.StableAfter,
		max: cfg.MaxRestarts, window: cfg.RestartWindow,
	}
}

// next is called when a child that ran for ran ended at now. It returns
// the pause before the restart, or false when the restart cap is reached.
func (p *restartPolicy) next(now time.Time, ran time.Duration) (time.Duration, bool) {
	if ran >= p.stableAfter || p.pause == 0 {
		p.pause = p.minPause
	}
	kept := p.recent[:0]
	for _, t := range p.recent {
		if now.Sub(t) < p.window {
			kept = append(kept, t)
		}
	}
	p.recent = kept
	if len(p.recent) >= p.max {
		return 0, false
	}
	p.recent = append(p.recent, now)
	pause := p.pause
	p.pause = min(2*p.pause, p.maxPause)
	return pause, true
}
