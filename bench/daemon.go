package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// daemonProc is a private aitrackd: its own socket and state directory,
// talking to MLflow through the harness's counting proxy.
type daemonProc struct {
	cmd      *exec.Cmd
	socket   string
	stateDir string
	logPath  string
	done     chan struct{}
}

// startDaemon starts aitrackd under dir and waits until its socket accepts
// connections.
func startDaemon(ctx context.Context, bin, dir, trackingURI, experiment string, env []string) (*daemonProc, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("daemon directory: %w", err)
	}
	d := &daemonProc{
		socket:   filepath.Join(dir, "aitrackd.sock"),
		stateDir: filepath.Join(dir, "state"),
		logPath:  filepath.Join(dir, "aitrackd.log"),
		done:     make(chan struct{}),
	}
	logf, err := os.Create(d.logPath)
	if err != nil {
		return nil, fmt.Errorf("daemon log: %w", err)
	}
	d.cmd = exec.Command(bin, "--mlflow-ui=false", "--tracking-uri", trackingURI, "--experiment", experiment, "--log-level", "warn")
	d.cmd.Env = append(env[:len(env):len(env)], "AITRACK_SOCKET="+d.socket, "AITRACK_STATE_DIR="+d.stateDir)
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := d.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start aitrackd: %w", err)
	}
	go func() {
		d.cmd.Wait()
		logf.Close()
		close(d.done)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if c, err := net.Dial("unix", d.socket); err == nil {
			c.Close()
			return d, nil
		}
		select {
		case <-d.done:
			return nil, fmt.Errorf("aitrackd exited before it listened; see %s:\n%s", d.logPath, d.logTail())
		case <-ctx.Done():
			d.stop()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			d.stop()
			return nil, fmt.Errorf("aitrackd did not listen on %s within 30s; see %s", d.socket, d.logPath)
		}
	}
}

func (d *daemonProc) pid() int { return d.cmd.Process.Pid }

// env is what a wrapper needs to find this daemon.
func (d *daemonProc) env() []string {
	return []string{"AITRACK_SOCKET=" + d.socket, "AITRACK_STATE_DIR=" + d.stateDir}
}

// sessions counts the sessions the daemon has stored.
func (d *daemonProc) sessions() int {
	entries, _ := os.ReadDir(filepath.Join(d.stateDir, "sessions"))
	return len(entries)
}

// waitSessions waits until the daemon has stored more than n sessions: a
// wrapper started after counting n has then connected.
func (d *daemonProc) waitSessions(ctx context.Context, n int, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for d.sessions() <= n {
		select {
		case <-ctx.Done():
			return fmt.Errorf("the wrapper did not reach aitrackd within %s (sessions stay at %d)", limit, n)
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}

func (d *daemonProc) stall() error  { return d.cmd.Process.Signal(syscall.SIGSTOP) }
func (d *daemonProc) resume() error { return d.cmd.Process.Signal(syscall.SIGCONT) }

func (d *daemonProc) cpu() (time.Duration, error) {
	st, err := readProcStat(d.pid())
	if err != nil {
		return 0, fmt.Errorf("aitrackd CPU: %w", err)
	}
	return st.CPU(), nil
}

func (d *daemonProc) rss() (int64, error) {
	rss, err := readRSS(d.pid())
	if err != nil {
		return 0, fmt.Errorf("aitrackd RSS: %w", err)
	}
	return rss, nil
}

// waitQuiet waits until the daemon has finished the work measurements left
// behind: no CPU for a second and no MLflow request in flight or started in
// that second. Measurements taken while it still worked would be charged
// for work that is not theirs.
func (d *daemonProc) waitQuiet(ctx context.Context, proxy *countingProxy, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	const window = time.Second
	last, err := d.cpu()
	if err != nil {
		return err
	}
	quietSince := time.Now()
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("aitrackd still busy after %s", limit)
		case <-time.After(100 * time.Millisecond):
		}
		now, err := d.cpu()
		if err != nil {
			return err
		}
		busy := now-last > ticksToDuration(1)
		if proxy != nil {
			inflight, lastStart := proxy.activity()
			busy = busy || inflight > 0 || time.Since(lastStart) < window
		}
		if busy {
			last, quietSince = now, time.Now()
			continue
		}
		if time.Since(quietSince) >= window {
			return nil
		}
	}
}

// stop ends the daemon as a service manager would: SIGTERM, then SIGKILL.
func (d *daemonProc) stop() error {
	d.resume() // a stalled daemon cannot handle SIGTERM
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
		return nil
	case <-time.After(30 * time.Second):
		syscall.Kill(-d.pid(), syscall.SIGKILL)
		<-d.done
		return errors.New("aitrackd ignored SIGTERM for 30s and was killed")
	}
}

func (d *daemonProc) logTail() string {
	b, _ := os.ReadFile(d.logPath)
	return string(truncateTail(b, 2000))
}

func truncateTail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
