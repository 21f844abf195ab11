package daemon

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	aitrackv1 "github.com/aitrack/aitrack/api/proto/aitrack/v1"
	"github.com/aitrack/aitrack/internal/ingest"
	"github.com/aitrack/aitrack/internal/ipc"
	"github.com/aitrack/aitrack/internal/spool"
)

func TestSpoolLook(t *testing.T) {
	const mb = 1 << 20
	for _, c := range []struct {
		name string
		seen spoolSeen
		size int64
		take bool
	}{
		{"new and small", spoolSeen{}, 1000, true},
		{"new and past a burst: a wrapper spilling in bulk", spoolSeen{}, 3 * mb, false},
		{"the burst is over", spoolSeen{size: 3 * mb}, 3 * mb, true},
		{"grew a little since taken", spoolSeen{size: 5 * mb, done: 5 * mb}, 5*mb + 4000, true},
		{"grew by a burst since taken", spoolSeen{size: 5 * mb, done: 5 * mb}, 7 * mb, false},
		{"nothing new since taken", spoolSeen{size: 5 * mb, done: 5 * mb}, 5 * mb, false},
		{"failed and unchanged", spoolSeen{size: 1000, failed: true}, 1000, false},
		{"failed, then grew", spoolSeen{size: 1000, failed: true}, 2000, true},
		{"smaller than taken: a new file", spoolSeen{size: 5 * mb, done: 5 * mb}, 1000, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			next, take := c.seen.look(c.size)
			if take != c.take || next.size != c.size {
				t.Errorf("look(%d) from %+v = %+v, %v; want take %v", c.size, c.seen, next, take, c.take)
			}
		})
	}
}

// TestLiveSpoolTakenInSteps: the spool of a wrapper that still runs is
// stored as it grows, each sweep reading only what was added: a frame
// damaged after it was taken does not stop what follows it.
func TestLiveSpoolTakenInSteps(t *testing.T) {
	dir := t.TempDir()
	w := &world{dir: dir, socket: filepath.Join(dir, "d.sock"), state: filepath.Join(dir, "state")}
	w.run(t, Config{SweepInterval: 20 * time.Millisecond})
	spoolDir := filepath.Join(w.state, "spool")
	if err := ipc.PrivateDir(spoolDir); err != nil {
		t.Fatal(err)
	}
	sw, err := spool.Create(spoolDir, "live")
	if err != nil {
		t.Fatal(err)
	}
	defer sw.Close()
	open := &aitrackv1.Open{SessionId: "live", Argv: []string{"sh"}, StartUnixNano: time.Now().UnixNano(), WrapperPid: int64(os.Getpid())}
	var want bytes.Buffer
	seq := uint64(0)
	write := func(msgs ...*aitrackv1.RecordRequest) {
		t.Helper()
		for _, m := range msgs {
			if err := sw.Write(m); err != nil {
				t.Fatal(err)
			}
		}
		if err := sw.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	output := func(s string) *aitrackv1.RecordRequest {
		seq++
		rec := &aitrackv1.Record{Seq: seq, TimeUnixNano: time.Now().UnixNano(), Kind: &aitrackv1.Record_Output{Output: &aitrackv1.Output{Offset: uint64(want.Len()), Data: []byte(s)}}}
		want.WriteString(s)
		return &aitrackv1.RecordRequest{Msg: &aitrackv1.RecordRequest_Batch{Batch: &aitrackv1.Batch{Records: []*aitrackv1.Record{rec}}}}
	}
	stored := func() bool {
		got, _ := os.ReadFile(filepath.Join(w.state, "sessions", "live", ingest.OutputFile))
		return bytes.Equal(got, want.Bytes())
	}

	write(&aitrackv1.RecordRequest{Msg: &aitrackv1.RecordRequest_Open{Open: open}}, output("first part\r\n"))
	waitFor(t, "the first part stored while the wrapper runs", stored)

	// Damage the last byte of the frame already taken; a sweep that read
	// the file from its start again would stop there.
	path := spool.Path(spoolDir, "live")
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := f.Stat()
	if _, err := f.WriteAt([]byte{0xff}, fi.Size()-1); err != nil {
		t.Fatal(err)
	}
	f.Close()

	write(output("second part\r\n"))
	waitFor(t, "the second part stored after the first", stored)
	write(output("third part\r\n"), &aitrackv1.RecordRequest{Msg: &aitrackv1.RecordRequest_Batch{Batch: &aitrackv1.Batch{Records: []*aitrackv1.Record{
		{Seq: seq + 1, TimeUnixNano: time.Now().UnixNano(), Kind: &aitrackv1.Record_End{End: &aitrackv1.End{}}},
	}}}})
	waitFor(t, "the whole session stored and its spool removed", func() bool {
		_, err := os.Stat(path)
		return stored() && os.IsNotExist(err)
	})
}
