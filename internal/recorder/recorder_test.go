package recorder

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	aitrackv1 "github.com/aitrack/aitrack/api/proto/aitrack/v1"
	"github.com/aitrack/aitrack/internal/ingest"
	"github.com/aitrack/aitrack/internal/ipc"
	"github.com/aitrack/aitrack/internal/spool"
	"go.uber.org/zap"
	"google.golang.org/grpc"
)

// nopObserver ignores what is stored.
type nopObserver struct{}

func (nopObserver) Attached(*ingest.Session)                    {}
func (nopObserver) Stored(*ingest.Session, []*aitrackv1.Record) {}
func (nopObserver) Detached(*ingest.Session, error)             {}

type ingestServer struct {
	aitrackv1.UnimplementedRecorderServer
	in *ingest.Ingester
}

func (s ingestServer) Record(st aitrackv1.Recorder_RecordServer) error { return s.in.Serve(st) }

// daemon is a real gRPC server with the real ingester behind it.
type daemon struct {
	srv   *grpc.Server
	store *ingest.Store
}

func startDaemon(t *testing.T, socket, storeDir string, svc func(*ingest.Ingester) aitrackv1.RecorderServer) *daemon {
	t.Helper()
	store, err := ingest.NewStore(storeDir)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := ipc.Listen(socket)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	aitrackv1.RegisterRecorderServer(srv, svc(ingest.New(store, nopObserver{}, zap.NewNop(), ingest.Limits{})))
	go srv.Serve(lis)
	d := &daemon{srv: srv, store: store}
	t.Cleanup(srv.Stop)
	return d
}

func real(in *ingest.Ingester) aitrackv1.RecorderServer { return ingestServer{in: in} }

type world struct {
	dir, socket, spoolDir, storeDir string
}

func newWorld(t *testing.T) world {
	dir, err := os.MkdirTemp("", "rec")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return world{dir: dir, socket: filepath.Join(dir, "d.sock"), spoolDir: filepath.Join(dir, "spool"), storeDir: filepath.Join(dir, "sessions")}
}

func (w world) recorder(id string, memLimit int) *Recorder {
	return New(Config{
		Open:     &aitrackv1.Open{SessionId: id, Argv: []string{"test"}},
		Socket:   w.socket,
		SpoolDir: w.spoolDir,
		MemLimit: memLimit,
	})
}

// stored returns the session's output as the daemon stored it.
func stored(t *testing.T, store *ingest.Store, id string) (string, bool) {
	t.Helper()
	ss, err := store.Load(id)
	if err != nil {
		t.Fatal(err)
	}
	defer ss.Close()
	var b bytes.Buffer
	ss.Replay(func(_ ingest.Rec, data []byte) error { b.Write(data); return nil })
	return b.String(), ss.Ended()
}

// ingestSpool hands a spool file to a fresh ingester, as the daemon does.
func ingestSpool(t *testing.T, store *ingest.Store, path string) {
	t.Helper()
	in := ingest.New(store, nopObserver{}, zap.NewNop(), ingest.Limits{})
	if _, _, err := in.IngestSpool(path, 0); err != nil {
		t.Fatal(err)
	}
}

func chunks(n int) (all string, parts []string) {
	var b bytes.Buffer
	for i := range n {
		p := fmt.Sprintf("line %05d %s\r\n", i, bytes.Repeat([]byte{'x'}, i%97))
		parts = append(parts, p)
		b.WriteString(p)
	}
	return b.String(), parts
}

func TestDelivered(t *testing.T) {
	w := newWorld(t)
	d := startDaemon(t, w.socket, w.storeDir, real)
	r := w.recorder("s1", 0)
	r.Start(context.Background())
	want, parts := chunks(2000)
	for _, p := range parts {
		r.Output([]byte(p), time.Now())
	}
	r.Resize(120, 40, time.Now())
	r.End(&aitrackv1.End{ExitCode: 0}, time.Now())
	out := r.Close(10 * time.Second)
	if !out.Delivered || out.SpoolPath != "" {
		t.Fatalf("outcome %+v, want delivered", out)
	}
	got, ended := stored(t, d.store, "s1")
	if got != want || !ended {
		t.Fatalf("stored %d bytes (ended %v), want %d", len(got), ended, len(want))
	}
}

func TestDaemonAbsentSpools(t *testing.T) {
	w := newWorld(t)
	r := w.recorder("s2", 0)
	r.Start(context.Background())
	want, parts := chunks(300)
	for _, p := range parts {
		r.Output([]byte(p), time.Now())
	}
	r.End(&aitrackv1.End{ExitCode: 4}, time.Now())
	out := r.Close(10 * time.Second)
	if out.Delivered || out.Connected || out.SpoolPath != spool.Path(w.spoolDir, "s2") {
		t.Fatalf("outcome %+v", out)
	}
	store, _ := ingest.NewStore(w.storeDir)
	ingestSpool(t, store, out.SpoolPath)
	if got, ended := stored(t, store, "s2"); got != want || !ended {
		t.Fatalf("from the spool: %d bytes (ended %v), want %d", len(got), ended, len(want))
	}
	if _, err := os.Stat(out.SpoolPath); !os.IsNotExist(err) {
		t.Errorf("spool file of an ended session still there: %v", err)
	}
}

// A daemon that dies mid-session and comes back gets every byte once: the
// recorder resends exactly what was not acknowledged.
func TestDaemonRestartResumes(t *testing.T) {
	w := newWorld(t)
	d := startDaemon(t, w.socket, w.storeDir, real)
	r := w.recorder("s3", 0)
	r.Start(context.Background())
	want, parts := chunks(3000)
	output := func(parts []string) {
		for _, p := range parts {
			r.Output([]byte(p), time.Now())
		}
	}
	// Each step waits for the recorder: a loop of Output calls is over in
	// microseconds, before it has even connected.
	acked := func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.everConn && r.acked == r.seq
	}
	output(parts[:1000])
	waitUntil(t, "the first part acknowledged", acked)
	d.srv.Stop() // like SIGKILL: streams cut, nothing graceful
	output(parts[1000:2000])
	d = startDaemon(t, w.socket, w.storeDir, real)
	output(parts[2000:])
	waitUntil(t, "the rest acknowledged after the restart", acked)
	r.End(&aitrackv1.End{ExitCode: 0}, time.Now())
	out := r.Close(15 * time.Second)
	if !out.Delivered {
		t.Fatalf("outcome %+v, want delivered after the restart", out)
	}
	if got, ended := stored(t, d.store, "s3"); got != want || !ended {
		t.Fatalf("stored %d bytes (ended %v), want %d", len(got), ended, len(want))
	}
}

// stalled accepts the stream and then never reads it, like a daemon under
// SIGSTOP.
type stalled struct {
	aitrackv1.UnimplementedRecorderServer
	release chan struct{}
}

func (s stalled) Record(st aitrackv1.Recorder_RecordServer) error {
	st.Recv()
	st.Send(&aitrackv1.RecordResponse{Msg: &aitrackv1.RecordResponse_Opened{Opened: &aitrackv1.Opened{}}})
	<-s.release
	return nil
}

// Output never blocks, and a stalled daemon makes the session spill rather
// than grow memory without bound.
func TestStalledDaemonSpills(t *testing.T) {
	w := newWorld(t)
	release := make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	startDaemon(t, w.socket, w.storeDir, func(*ingest.Ingester) aitrackv1.RecorderServer { return stalled{release: release} })
	r := w.recorder("s4", 1<<20)
	r.Start(context.Background())
	want, parts := chunks(20000) // about 1.2 MB, past the limit
	for _, p := range parts {
		r.Output([]byte(p), time.Now())
	}
	r.End(&aitrackv1.End{ExitCode: 0}, time.Now())
	out := r.Close(2 * time.Second)
	once.Do(func() { close(release) })
	if out.Delivered || out.SpoolPath == "" || !out.Connected {
		t.Fatalf("outcome %+v, want spooled after connecting", out)
	}
	store, _ := ingest.NewStore(filepath.Join(w.dir, "other"))
	ingestSpool(t, store, out.SpoolPath)
	if got, ended := stored(t, store, "s4"); got != want || !ended {
		t.Fatalf("from the spool: %d bytes (ended %v), want %d", len(got), ended, len(want))
	}
}

// TestCoalescing: chunks read within coalesceWindow of a record's first are
// stored as that record, with its time; later chunks start a new one; no
// byte moves or is lost.
func TestCoalescing(t *testing.T) {
	w := newWorld(t)
	d := startDaemon(t, w.socket, w.storeDir, real)
	r := w.recorder("c1", 0)
	t0 := time.Now()
	// Not started yet: nothing is taken by the sender, so the grouping
	// depends on the capture times alone.
	steps := []struct {
		data string
		at   time.Duration
	}{
		{"a", 0}, {"b", time.Millisecond}, {"c", coalesceWindow - time.Microsecond}, // one record
		{"d", coalesceWindow}, // a new one: too late for the first
		{string(bytes.Repeat([]byte{'e'}, coalesceMax)), coalesceWindow + time.Microsecond}, // too big to join
		{"f", 10 * time.Millisecond},
	}
	for _, s := range steps {
		r.Output([]byte(s.data), t0.Add(s.at))
	}
	r.End(&aitrackv1.End{}, t0.Add(20*time.Millisecond))
	r.Start(context.Background())
	if out := r.Close(10 * time.Second); !out.Delivered {
		t.Fatalf("outcome %+v", out)
	}
	ss, err := d.store.Load("c1")
	if err != nil {
		t.Fatal(err)
	}
	defer ss.Close()
	type rec struct {
		data string
		at   time.Duration
	}
	var got []rec
	ss.Replay(func(rc ingest.Rec, data []byte) error {
		if data != nil {
			got = append(got, rec{string(data), rc.At().Sub(t0)})
		}
		return nil
	})
	want := []rec{{"abc", 0}, {"d", coalesceWindow}, {strings.Repeat("e", coalesceMax), coalesceWindow + time.Microsecond}, {"f", 10 * time.Millisecond}}
	if len(got) != len(want) {
		t.Fatalf("%d output records, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i].data != want[i].data || got[i].at.Round(time.Microsecond) != want[i].at {
			t.Errorf("record %d: %.20q at %v, want %.20q at %v", i, got[i].data, got[i].at, want[i].data, want[i].at)
		}
	}
}

// slowToOpen is a daemon that takes its time before it takes a stream, as
// a busy, low-priority aitrackd does.
type slowToOpen struct {
	ingestServer
	delay time.Duration
}

func (s slowToOpen) Record(st aitrackv1.Recorder_RecordServer) error {
	time.Sleep(s.delay)
	return s.ingestServer.Record(st)
}

// A session that ends before a slow daemon has answered its Open is still
// delivered, not spooled as if no daemon were there.
func TestSlowDaemonStillDelivered(t *testing.T) {
	w := newWorld(t)
	d := startDaemon(t, w.socket, w.storeDir, func(in *ingest.Ingester) aitrackv1.RecorderServer {
		return slowToOpen{ingestServer{in: in}, 200 * time.Millisecond}
	})
	r := w.recorder("slow", 0)
	r.Start(context.Background())
	r.Output([]byte("quick\r\n"), time.Now())
	r.End(&aitrackv1.End{}, time.Now())
	if out := r.Close(10 * time.Second); !out.Delivered || !out.Connected {
		t.Fatalf("outcome %+v, want delivered", out)
	}
	if got, ended := stored(t, d.store, "slow"); got != "quick\r\n" || !ended {
		t.Fatalf("stored %q (ended %v)", got, ended)
	}
}

// Output blocks are reused once their records are acknowledged or spooled;
// a block handed out again too early would overwrite bytes not yet sent.
// Every byte of a fast session must arrive as it was printed.
func TestReusedBlocksIntact(t *testing.T) {
	for _, tc := range []struct {
		name   string
		daemon bool
	}{
		{"acknowledged", true},
		{"spooled", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			store, err := ingest.NewStore(w.storeDir)
			if err != nil {
				t.Fatal(err)
			}
			// With the daemon, room for the whole session: a daemon slow to
			// acknowledge on a loaded machine must not make it spill.
			limit := 4 << 20
			if tc.daemon {
				store = startDaemon(t, w.socket, w.storeDir, real).store
				limit = 64 << 20
			}
			r := w.recorder("reuse", limit)
			r.Start(context.Background())
			var want bytes.Buffer
			chunk := make([]byte, 4096)
			for i := range 4096 { // 16 MiB, several times the blocks kept
				for j := range chunk {
					chunk[j] = byte(i*7 + j*13)
				}
				want.Write(chunk)
				r.Output(chunk, time.Now())
				if i%512 == 0 {
					time.Sleep(20 * time.Millisecond) // let acknowledgements come
				}
			}
			r.End(&aitrackv1.End{}, time.Now())
			out := r.Close(20 * time.Second)
			if tc.daemon != out.Delivered {
				t.Fatalf("outcome %+v", out)
			}
			if !tc.daemon {
				ingestSpool(t, store, out.SpoolPath)
			}
			got, ended := stored(t, store, "reuse")
			if got != want.String() || !ended {
				t.Fatalf("stored %d bytes (ended %v), differing from what was printed (%d bytes)", len(got), ended, want.Len())
			}
			r.mu.Lock()
			free := len(r.free)
			r.mu.Unlock()
			if free == 0 {
				t.Error("no output block came back for reuse")
			}
		})
	}
}

// A small batch goes once it has waited linger and the terminal pauses,
// or after maxLinger however busy the terminal is.
func TestHoldFor(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		name          string
		age, activity time.Duration // of the first unsent record; since the last capture
		size          int
		ended         bool
		want          time.Duration
	}{
		{"young", 30 * time.Millisecond, time.Millisecond, 100, false, linger - 30*time.Millisecond},
		{"typing", linger, 5 * time.Millisecond, 100, false, quietGap - 5*time.Millisecond},
		{"pause", linger, quietGap, 100, false, 0},
		{"busy too long", maxLinger, 0, 100, false, 0},
		{"half a batch", 0, 0, 512 << 10, false, 0},
		{"ended", 0, 0, 100, true, 0},
		{"clock set back", -time.Hour, -time.Hour, 100, false, linger},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := New(Config{})
			r.pending = []*aitrackv1.Record{{Seq: 1, TimeUnixNano: now.Add(-tc.age).UnixNano()}}
			r.lastAt, r.ended = now.Add(-tc.activity), tc.ended
			if got := r.holdFor(tc.size, now); got != tc.want {
				t.Errorf("holdFor = %v, want %v", got, tc.want)
			}
		})
	}
}

// Echoes of single keystrokes, each its own record, hold about their own
// size: not a 64 KiB block each, which would fill the memory limit after
// 500 keystrokes with the daemon away.
func TestSmallOutputHoldsLittle(t *testing.T) {
	r := newWorld(t).recorder("keys", 0) // never started: nothing is taken
	t0 := time.Now()
	for i := range 1000 {
		r.Output([]byte{'k'}, t0.Add(time.Duration(i)*(coalesceWindow+time.Millisecond)))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.pending) != 1000 {
		t.Fatalf("%d records, want one per keystroke", len(r.pending))
	}
	if r.memBytes > 16<<10 {
		t.Errorf("1000 one-byte records hold %d bytes", r.memBytes)
	}
}

// Output in 4 KiB bursts a few milliseconds apart, each burst its own
// record, holds about what it printed, not a 64 KiB block per burst.
func TestBurstsHoldTheirSize(t *testing.T) {
	r := newWorld(t).recorder("bursts", 0) // never started: nothing is taken
	t0 := time.Now()
	burst := bytes.Repeat([]byte{'b'}, 4096)
	for i := range 100 {
		r.Output(burst, t0.Add(time.Duration(i)*(coalesceWindow+time.Millisecond)))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.pending) != 100 {
		t.Fatalf("%d records, want one per burst", len(r.pending))
	}
	// The last record keeps its block until the next one starts.
	if max := 100*4096*5/4 + coalesceMax; r.memBytes > max {
		t.Errorf("100 bursts of 4 KiB hold %d bytes, want at most %d", r.memBytes, max)
	}
}

// Output never waits on the disk: while the spool file cannot be written
// (here a FIFO nobody reads, so opening it blocks), the terminal's output
// is still taken at once.
func TestOutputNeverWaitsForTheSpool(t *testing.T) {
	w := newWorld(t)
	if err := os.MkdirAll(w.spoolDir, 0o700); err != nil {
		t.Fatal(err)
	}
	fifo := spool.Path(w.spoolDir, "slowdisk")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	r := w.recorder("slowdisk", 64<<10) // no daemon: past 64 KiB it spills
	r.Start(context.Background())
	chunk := bytes.Repeat([]byte{'x'}, 4096)
	var want bytes.Buffer
	took := make(chan struct{})
	go func() {
		defer close(took)
		for range 256 { // 1 MiB while the spooler is stuck opening the FIFO
			r.Output(chunk, time.Now())
			want.Write(chunk)
			time.Sleep(time.Millisecond)
		}
	}()
	select {
	case <-took:
	case <-time.After(30 * time.Second):
		t.Fatal("Output blocked while the spool file could not be opened")
	}
	// Let the spooler through: read the FIFO to its end.
	got := make(chan []byte)
	go func() {
		f, err := os.Open(fifo)
		if err != nil {
			got <- nil
			return
		}
		defer f.Close()
		b, _ := io.ReadAll(f)
		got <- b
	}()
	r.End(&aitrackv1.End{}, time.Now())
	r.Close(10 * time.Second) // its error is the FIFO's: it cannot be synced
	if n := bytes.Count(<-got, []byte{'x'}); n < want.Len() {
		t.Errorf("spooled %d bytes of output, want the %d printed", n, want.Len())
	}
}

// TestSpooledBeforeClose: once a session spills, what the spooler took is
// in the file while the session still runs, not in a buffer that a SIGKILL
// loses and the daemon cannot see.
func TestSpooledBeforeClose(t *testing.T) {
	w := newWorld(t)
	r := w.recorder("live", 1<<10) // no daemon: past 1 KiB it spills
	r.Start(context.Background())
	line := []byte("a line of output\r\n")
	for range 100 {
		r.Output(line, time.Now())
	}
	path := spool.Path(w.spoolDir, "live")
	want := 100 * len(line)
	waitUntil(t, "the spooled output in the file", func() bool { return spooledOutput(path) == want })
	r.End(&aitrackv1.End{}, time.Now())
	r.Close(time.Second)
}

// TestHeldDaemonSpools: a daemon whose store is full says so instead of
// acknowledging, and the wrapper spools the session at once: while it
// runs, its output is in the file (not in memory, which a SIGKILL loses),
// so Close has nothing left to wait for (its time is logged: about 1 s
// when the wrapper waited for acknowledgements that could not come).
func TestHeldDaemonSpools(t *testing.T) {
	w := newWorld(t)
	startDaemon(t, w.socket, w.storeDir, func(in *ingest.Ingester) aitrackv1.RecorderServer {
		in.Hold(true)
		return ingestServer{in: in}
	})
	r := w.recorder("held", 0) // the default memory limit: far above this output
	r.Start(context.Background())
	want, parts := chunks(200)
	for _, p := range parts {
		r.Output([]byte(p), time.Now())
	}
	path := spool.Path(w.spoolDir, "held")
	waitUntil(t, "the output spooled while the session runs", func() bool { return spooledOutput(path) == len(want) })
	r.End(&aitrackv1.End{ExitCode: 3}, time.Now())
	start := time.Now()
	out := r.Close(time.Minute)
	t.Logf("Close took %v", time.Since(start))
	if out.Delivered || !out.Connected || out.SpoolPath != path {
		t.Fatalf("outcome %+v, want spooled to %s after connecting", out, path)
	}
	store, _ := ingest.NewStore(filepath.Join(w.dir, "other"))
	ingestSpool(t, store, out.SpoolPath)
	if got, ended := stored(t, store, "held"); got != want || !ended {
		t.Fatalf("from the spool: %d bytes (ended %v), want %d", len(got), ended, len(want))
	}
}

// spooledOutput counts the output bytes in the whole frames of a spool
// file (0 when there is none yet).
func spooledOutput(path string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	spool.Read(f, 0, func(m *aitrackv1.RecordRequest) error {
		for _, rec := range m.GetBatch().GetRecords() {
			n += len(rec.GetOutput().GetData())
		}
		return nil
	})
	return n
}

func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
