package daemon

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	aitrackv1 "github.com/aitrack/aitrack/api/proto/aitrack/v1"
	"github.com/aitrack/aitrack/internal/ingest"
	"github.com/aitrack/aitrack/internal/ipc"
	"github.com/aitrack/aitrack/internal/mlflowclient"
	"github.com/aitrack/aitrack/internal/recorder"
	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// world runs a real daemon in-process. Its tracking server does not
// exist: these tests are about what the daemon stores, and the outbox
// simply keeps retrying.
type world struct {
	dir, socket, state string
	client             aitrackv1.RecorderClient
}

func startDaemon(t *testing.T, limits ingest.Limits) *world {
	t.Helper()
	dir, err := os.MkdirTemp("", "hostile")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	w := &world{dir: dir, socket: filepath.Join(dir, "d.sock"), state: filepath.Join(dir, "state")}
	w.run(t, Config{Limits: limits})
	return w
}

// run starts the daemon of w with cfg (filled in with w's socket and state
// directory) until the test ends or the returned stop is called.
func (w *world) run(t *testing.T, cfg Config) (stop func()) {
	t.Helper()
	cfg.Socket, cfg.StateDir, cfg.Experiment, cfg.Log = w.socket, w.state, "x", zaptest.NewLogger(t)
	cfg.MLflow = mlflowclient.Config{TrackingURI: "http://127.0.0.1:9"}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("daemon: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	conn, err := ipc.Dial(w.socket)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	w.client = aitrackv1.NewRecorderClient(conn)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := w.client.Hello(context.Background(), &aitrackv1.HelloRequest{}); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("daemon did not answer")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return stop
}

// healthy records a normal session through the real recorder and returns
// a check that it was stored whole.
func (w *world) healthy(t *testing.T, id string) func() {
	r := recorder.New(recorder.Config{
		Open:   &aitrackv1.Open{SessionId: id, Argv: []string{"healthy"}, StartUnixNano: time.Now().UnixNano(), WrapperPid: int64(os.Getpid())},
		Socket: w.socket, SpoolDir: filepath.Join(w.state, "spool"),
	})
	r.Start(context.Background())
	var want bytes.Buffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 500 {
			line := fmt.Sprintf("healthy line %d\r\n", i)
			want.WriteString(line)
			r.Output([]byte(line), time.Now())
			time.Sleep(time.Millisecond)
		}
		r.End(&aitrackv1.End{}, time.Now())
		if out := r.Close(10 * time.Second); !out.Delivered {
			t.Errorf("healthy session not delivered to the daemon: %+v", out)
		}
	}()
	return func() {
		<-done
		got, err := os.ReadFile(filepath.Join(w.state, "sessions", id, ingest.OutputFile))
		if err != nil || string(got) != want.String() {
			t.Errorf("healthy session stored %d bytes (%v), want %d", len(got), err, want.Len())
		}
	}
}

func open(id string, argv ...string) *aitrackv1.RecordRequest {
	return &aitrackv1.RecordRequest{Msg: &aitrackv1.RecordRequest_Open{Open: &aitrackv1.Open{SessionId: id, Argv: argv, StartUnixNano: 1}}}
}

func batch(recs ...*aitrackv1.Record) *aitrackv1.RecordRequest {
	return &aitrackv1.RecordRequest{Msg: &aitrackv1.RecordRequest_Batch{Batch: &aitrackv1.Batch{Records: recs}}}
}

func output(seq, off uint64, data []byte) *aitrackv1.Record {
	return &aitrackv1.Record{Seq: seq, Kind: &aitrackv1.Record_Output{Output: &aitrackv1.Output{Offset: off, Data: data}}}
}

// send plays a hostile client's messages and returns the status its stream
// ended with.
func (w *world) send(t *testing.T, msgs ...*aitrackv1.RecordRequest) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := w.client.Record(ctx)
	if err != nil {
		return err
	}
	for _, m := range msgs {
		if err := st.Send(m); err != nil {
			break
		}
	}
	st.CloseSend()
	for {
		if _, err := st.Recv(); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
	}
}

func TestHostileClients(t *testing.T) {
	w := startDaemon(t, ingest.Limits{MaxBytesPerSecond: 1 << 20, MaxBatchesPerSecond: 200})
	huge := strings.Repeat("A", 2<<20)
	tests := []struct {
		name string
		msgs []*aitrackv1.RecordRequest
		want codes.Code
	}{
		{"batch before open", []*aitrackv1.RecordRequest{batch(output(1, 0, []byte("x")))}, codes.InvalidArgument},
		{"bad session id", []*aitrackv1.RecordRequest{open("../../etc", "sh")}, codes.InvalidArgument},
		{"no argv", []*aitrackv1.RecordRequest{open("noargv")}, codes.InvalidArgument},
		{"huge argv", []*aitrackv1.RecordRequest{open("huge", "sh", huge[:1<<20])}, codes.InvalidArgument},
		{"oversized message", []*aitrackv1.RecordRequest{open("big", "sh"), batch(output(1, 0, []byte(huge+huge+huge+huge+huge+huge+huge+huge+huge)))}, codes.ResourceExhausted},
		{"offset jumps", []*aitrackv1.RecordRequest{open("jump", "sh"), batch(output(1, 0, []byte("ab")), output(2, 7, []byte("c")))}, codes.InvalidArgument},
		{"seq goes back and skips", []*aitrackv1.RecordRequest{open("seq", "sh"), batch(output(1, 0, []byte("ab"))), batch(output(5, 2, []byte("c")))}, codes.InvalidArgument},
		{"bad param key", []*aitrackv1.RecordRequest{{Msg: &aitrackv1.RecordRequest_Open{Open: &aitrackv1.Open{SessionId: "badkey", Argv: []string{"sh"}, Params: map[string]string{"../x": "1"}}}}}, codes.InvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check := w.healthy(t, "healthy-"+strings.ReplaceAll(tt.name, " ", "-"))
			err := w.send(t, tt.msgs...)
			if status.Code(err) != tt.want {
				t.Errorf("stream ended with %v, want %v", err, tt.want)
			}
			check()
		})
	}

	t.Run("collision", func(t *testing.T) {
		if err := w.send(t, open("shared", "sh", "-c", "mine"), batch(output(1, 0, []byte("mine")))); err != nil {
			t.Fatal(err)
		}
		err := w.send(t, open("shared", "evil"), batch(output(2, 4, []byte("theirs"))))
		if status.Code(err) != codes.AlreadyExists {
			t.Errorf("a second session with the same id: %v", err)
		}
		if got, _ := os.ReadFile(filepath.Join(w.state, "sessions", "shared", ingest.OutputFile)); string(got) != "mine" {
			t.Errorf("the first session's bytes became %q", got)
		}
	})

	t.Run("garbage and a flood of tiny chunks", func(t *testing.T) {
		check := w.healthy(t, "healthy-flood")
		msgs := []*aitrackv1.RecordRequest{open("flood", "sh")}
		var off uint64
		for i := range 600 {
			b := []byte{byte(i), 0xff, 0x1b, '[', byte(i % 7)} // binary garbage and broken escapes
			msgs = append(msgs, batch(output(uint64(i+1), off, b)))
			off += uint64(len(b))
		}
		start := time.Now()
		if err := w.send(t, msgs...); err != nil {
			t.Fatalf("flood: %v", err)
		}
		// 600 messages at 200 per second are paced, not refused or dropped.
		if took := time.Since(start); took < 1500*time.Millisecond {
			t.Errorf("600 batches took %s: not paced to 200 per second", took)
		}
		if fi, err := os.Stat(filepath.Join(w.state, "sessions", "flood", ingest.OutputFile)); err != nil || uint64(fi.Size()) != off {
			t.Errorf("flood stored %v bytes, want %d", fi, off)
		}
		check()
	})

	t.Run("a stream that never ends", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		st, err := w.client.Record(ctx)
		if err != nil {
			t.Fatal(err)
		}
		st.Send(open("forever", "sh"))
		st.Recv()
		w.healthy(t, "healthy-forever")() // others go on; the daemon's shutdown (cleanup) must not hang on it
	})
}

// FuzzRecordStream feeds arbitrary message sequences to the stream
// handler: no panic, and the daemon goes on serving.
func FuzzRecordStream(f *testing.F) {
	f.Add([]byte{0x0a, 0x05, 0x0a, 0x01, 'x', 0x12, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		store, err := ingest.NewStore(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		in := ingest.New(store, nopObserver{}, zaptest.NewLogger(t), ingest.Limits{})
		in.Serve(&fakeStream{ctx: context.Background(), in: splitMessages(data)})
	})
}

// Delivered sessions leave the disk after the retention time; others stay.
func TestPruneDelivered(t *testing.T) {
	w := startDaemon(t, ingest.Limits{})
	w.healthy(t, "old-delivered")()
	w.healthy(t, "pending")()
	sessions := filepath.Join(w.state, "sessions")
	os.WriteFile(filepath.Join(sessions, "old-delivered", "delivery.json"), []byte(`{"run_id":"r","done":true}`), 0o600)
	old := time.Now().Add(-48 * time.Hour)
	os.Chtimes(filepath.Join(sessions, "old-delivered", "delivery.json"), old, old)
	d := &Daemon{ingester: ingest.New(mustStore(t, sessions), nopObserver{}, zaptest.NewLogger(t), ingest.Limits{}), trackers: map[string]*tracker{}, log: zaptest.NewLogger(t)}
	d.prune(time.Now().Add(-24 * time.Hour))
	if _, err := os.Stat(filepath.Join(sessions, "old-delivered")); !os.IsNotExist(err) {
		t.Errorf("old delivered session kept: %v", err)
	}
	if _, err := os.Stat(filepath.Join(sessions, "pending")); err != nil {
		t.Errorf("undelivered session removed: %v", err)
	}
}

func mustStore(t *testing.T, dir string) *ingest.Store {
	s, err := ingest.NewStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
