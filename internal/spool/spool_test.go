package spool

import (
	"bytes"
	"os"
	"testing"

	aitrackv1 "github.com/aitrack/aitrack/api/proto/aitrack/v1"
	"google.golang.org/protobuf/proto"
)

func sample() []*aitrackv1.RecordRequest {
	open := &aitrackv1.RecordRequest{Msg: &aitrackv1.RecordRequest_Open{Open: &aitrackv1.Open{SessionId: "s1", Argv: []string{"sh"}}}}
	batch := &aitrackv1.RecordRequest{Msg: &aitrackv1.RecordRequest_Batch{Batch: &aitrackv1.Batch{Records: []*aitrackv1.Record{
		{Seq: 1, Kind: &aitrackv1.Record_Output{Output: &aitrackv1.Output{Offset: 0, Data: []byte("hello\r\n")}}},
		{Seq: 2, Kind: &aitrackv1.Record_End{End: &aitrackv1.End{ExitCode: 3}}},
	}}}}
	return []*aitrackv1.RecordRequest{open, batch}
}

func writeSpool(t *testing.T, msgs []*aitrackv1.RecordRequest) []byte {
	t.Helper()
	dir := t.TempDir()
	w, err := Create(dir, "s1")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if err := w.Write(m); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(Path(dir, "s1"))
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("spool mode %o, want 600", fi.Mode().Perm())
	}
	b, err := os.ReadFile(Path(dir, "s1"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readAll reads b from offset from; it returns the frames and the end.
func readAll(t *testing.T, b []byte, from int64) ([]*aitrackv1.RecordRequest, int64) {
	t.Helper()
	var got []*aitrackv1.RecordRequest
	end, err := Read(bytes.NewReader(b), from, func(m *aitrackv1.RecordRequest) error { got = append(got, m); return nil })
	if err != nil {
		t.Fatalf("Read from %d: %v", from, err)
	}
	return got, end
}

func TestRoundTripAndTornTail(t *testing.T) {
	msgs := sample()
	b := writeSpool(t, msgs)
	got, end := readAll(t, b, 0)
	if len(got) != len(msgs) || end != int64(len(b)) {
		t.Fatalf("Read = %d frames to %d; want %d frames to %d", len(got), end, len(msgs), len(b))
	}
	for i := range msgs {
		if !proto.Equal(got[i], msgs[i]) {
			t.Errorf("frame %d = %v, want %v", i, got[i], msgs[i])
		}
	}
	// Every cut inside the last frame yields exactly the first frame.
	first := int64(len(magic) + 8 + proto.Size(msgs[0]))
	for cut := first; cut < int64(len(b)); cut++ {
		if got, end := readAll(t, b[:cut], 0); len(got) != 1 || end != first {
			t.Fatalf("cut at %d: Read = %d frames to %d; want 1 to %d", cut, len(got), end, first)
		}
	}
	// A flipped byte in the payload is caught by the checksum.
	bad := bytes.Clone(b)
	bad[len(bad)-1] ^= 0xff
	if got, _ := readAll(t, bad, 0); len(got) != 1 {
		t.Fatalf("corrupt tail: read %d frames, want 1", len(got))
	}
}

// TestReadFrom: a spool read in steps, each from where the last ended,
// yields its Open every time and every other frame exactly once, also
// when a step ends in a frame still being written.
func TestReadFrom(t *testing.T) {
	var msgs []*aitrackv1.RecordRequest
	msgs = append(msgs, sample()[0])
	for i := range 20 {
		msgs = append(msgs, &aitrackv1.RecordRequest{Msg: &aitrackv1.RecordRequest_Batch{Batch: &aitrackv1.Batch{Records: []*aitrackv1.Record{
			{Seq: uint64(i + 1), Kind: &aitrackv1.Record_Output{Output: &aitrackv1.Output{Data: bytes.Repeat([]byte{'a' + byte(i)}, 1000*i)}}},
		}}}})
	}
	b := writeSpool(t, msgs)
	var seen []*aitrackv1.RecordRequest
	var end int64
	for cut := len(magic); ; cut = min(cut+3001, len(b)) {
		got, next := readAll(t, b[:cut], end)
		if len(got) == 0 {
			continue // the Open itself is not complete yet
		}
		if !proto.Equal(got[0], msgs[0]) {
			t.Fatalf("cut at %d: first frame %v, want the Open", cut, got[0])
		}
		if end == 0 {
			seen = append(seen, got[0])
		}
		seen, end = append(seen, got[1:]...), next
		if cut == len(b) {
			break
		}
	}
	if len(seen) != len(msgs) || end != int64(len(b)) {
		t.Fatalf("read %d frames to %d in steps, want %d to %d", len(seen), end, len(msgs), len(b))
	}
	for i := range msgs {
		if !proto.Equal(seen[i], msgs[i]) {
			t.Errorf("frame %d differs", i)
		}
	}
}

func TestNotSpool(t *testing.T) {
	if _, err := Read(bytes.NewReader([]byte("garbage")), 0, nil); err != ErrNotSpool {
		t.Fatalf("Read(garbage) = %v, want ErrNotSpool", err)
	}
}

func TestCreateRejectsBadID(t *testing.T) {
	for _, id := range []string{"", "../x", "a/b", string(make([]byte, 65))} {
		if _, err := Create(t.TempDir(), id); err == nil {
			t.Errorf("Create(%q) succeeded", id)
		}
	}
}

func FuzzRead(f *testing.F) {
	f.Add([]byte(magic), int64(0))
	f.Add([]byte("garbage"), int64(40))
	f.Fuzz(func(t *testing.T, b []byte, from int64) {
		Read(bytes.NewReader(append([]byte(magic), b...)), from, func(*aitrackv1.RecordRequest) error { return nil })
	})
}
