package e2e

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A program that prints numbered lines for a while: every byte of it must
// reach MLflow once, whatever happens to the daemon meanwhile.
const counter = `i=0; while [ $i -lt %d ]; do i=$((i+1)); echo "line $i of the session"; sleep %s; done; echo END-MARKER`

func (e *env) storedOutput(id string) string {
	b, err := os.ReadFile(filepath.Join(e.stateDir, "sessions", id, "output.raw"))
	if err != nil {
		e.t.Fatal(err)
	}
	return string(b)
}

func TestDaemonKilledMidSessionAndRestarted(t *testing.T) {
	e := newEnv(t)
	d := e.startDaemon()
	prog := fmt.Sprintf(counter, 60, "0.05")
	s := e.startPTY(e.dir, e.bin("aitrack-wrap"), "--param", "scenario=daemon-killed", "--", "sh", "-c", prog)
	e.eventually(10*time.Second, "session under way", func() error {
		if !strings.Contains(s.out.String(), "line 10 ") {
			return fmt.Errorf("output so far %q", s.out.String())
		}
		return nil
	})
	d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.done
	time.Sleep(500 * time.Millisecond) // the session goes on without a daemon
	e.startDaemon()
	out, code := s.wait(t, 30*time.Second)
	if code != 0 || !strings.HasSuffix(out, "END-MARKER\r\n") {
		t.Fatalf("exit %d, output tail %q", code, out[max(len(out)-80, 0):])
	}
	run := e.finishedRun(`params.scenario = "daemon-killed"`, 60*time.Second)
	raw := e.artifact(run, "transcript.raw")
	if raw != out {
		t.Fatalf("transcript (%d bytes) is not what the terminal showed (%d bytes)", len(raw), len(out))
	}
	if run.Info.Status != "FINISHED" {
		t.Errorf("status %s", run.Info.Status)
	}
}

// A daemon that stops answering (SIGSTOP) must not slow or cut the
// terminal; the session is complete in MLflow once it wakes up.
func TestStalledDaemon(t *testing.T) {
	e := newEnv(t)
	d := e.startDaemon()
	// 20 MB of base64 text once the test says go, then a marker.
	prog := `read go; head -c 15000000 /dev/urandom | base64; echo STALL-END`
	s := e.startPTY(e.dir, e.bin("aitrack-wrap"), "--param", "scenario=stalled", "--", "sh", "-c", prog)
	e.eventually(10*time.Second, "session attached", func() error {
		if len(e.status().Sessions) != 1 {
			return fmt.Errorf("no live session")
		}
		return nil
	})
	d.cmd.Process.Signal(syscall.SIGSTOP)
	stopped := time.Now()
	s.pty.Write([]byte("go\r"))
	out, code := s.wait(t, 60*time.Second)
	printed := time.Since(stopped)
	if code != 0 || !strings.HasSuffix(out, "STALL-END\r\n") || len(out) < 20_000_000 {
		t.Fatalf("exit %d, %d bytes, tail %q", code, len(out), out[max(len(out)-40, 0):])
	}
	if wait := 10*time.Second - printed; wait > 0 {
		time.Sleep(wait) // the daemon stays stalled for 10 s in all
	}
	d.cmd.Process.Signal(syscall.SIGCONT)
	run := e.finishedRun(`params.scenario = "stalled"`, 180*time.Second)
	raw := e.artifact(run, "transcript.raw")
	if sha256.Sum256([]byte(raw)) != sha256.Sum256([]byte(out)) {
		t.Fatalf("transcript (%d bytes) differs from the terminal's %d bytes", len(raw), len(out))
	}
}

// A wrapper killed with SIGKILL cannot end its session: the daemon notices
// and closes it as KILLED with everything it had received.
func TestWrapperKilled(t *testing.T) {
	e := newEnv(t)
	e.startDaemon()
	s := e.startPTY(e.dir, e.bin("aitrack-wrap"), "--param", "scenario=wrapper-killed", "--", "sh", "-c", "echo before-the-kill; sleep 60")
	var id string
	e.eventually(10*time.Second, "session live with output", func() error {
		for _, ss := range e.status().Sessions {
			if ss.BytesReceived > 0 {
				id = ss.ID
				return nil
			}
		}
		return fmt.Errorf("no live session with output yet")
	})
	s.cmd.Process.Signal(syscall.SIGKILL)
	run := e.finishedRun(`params.scenario = "wrapper-killed"`, 30*time.Second)
	if run.Info.Status != "KILLED" {
		t.Errorf("status %s, want KILLED", run.Info.Status)
	}
	if raw := e.artifact(run, "transcript.raw"); !strings.Contains(raw, "before-the-kill") {
		t.Errorf("transcript %q lacks what was printed before the kill", raw)
	}
	if sid, _ := run.Tag("aitrack.session_id"); sid != id {
		t.Errorf("run of session %q, want %q", sid, id)
	}
}

// Every byte, in order: 50 MB through the wrapper are the same bytes on the
// terminal and in the daemon's store.
func TestByteExact50MB(t *testing.T) {
	e := newEnv(t)
	e.startDaemon()
	prog := `head -c 37500000 /dev/urandom | base64 -w 0 | fold -w 4000; echo; echo BYTES-END`
	s := e.startPTY(e.dir, e.bin("aitrack-wrap"), "--param", "scenario=50mb", "--", "sh", "-c", prog)
	out, code := s.wait(t, 120*time.Second)
	if code != 0 || !strings.HasSuffix(out, "BYTES-END\r\n") || len(out) < 50_000_000 {
		t.Fatalf("exit %d, %d bytes", code, len(out))
	}
	run := e.finishedRun(`params.scenario = "50mb"`, 180*time.Second)
	sid, _ := run.Tag("aitrack.session_id")
	if stored := e.storedOutput(sid); sha256.Sum256([]byte(stored)) != sha256.Sum256([]byte(out)) {
		t.Fatalf("stored %d bytes, terminal %d bytes: not the same bytes", len(stored), len(out))
	}
}
