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

func TestRoundTripAndTornTail(t *testing.T) {
	msgs := sample()
	b := writeSpool(t, msgs)
	var got []*aitrackv1.RecordRequest
	n, err := Read(bytes.NewReader(b), func(m *aitrackv1.RecordRequest) error { got = append(got, m); return nil })
	if err != nil || n != len(msgs) {
		t.Fatalf("Read = %d, %v; want %d frames", n, err, len(msgs))
	}
	for i := range msgs {
		if !proto.Equal(got[i], msgs[i]) {
			t.Errorf("frame %d = %v, want %v", i, got[i], msgs[i])
		}
	}
	// Every cut inside the last frame yields exactly the first frame.
	first := len(magic) + 8 + proto.Size(msgs[0])
	for cut := first; cut < len(b); cut++ {
		n, err := Read(bytes.NewReader(b[:cut]), func(*aitrackv1.RecordRequest) error { return nil })
		if err != nil || n != 1 {
			t.Fatalf("cut at %d: Read = %d, %v; want 1 frame", cut, n, err)
		}
	}
	// A flipped byte in the payload is caught by the checksum.
	bad := bytes.Clone(b)
	bad[len(bad)-1] ^= 0xff
	if n, _ := Read(bytes.NewReader(bad), func(*aitrackv1.RecordRequest) error { return nil }); n != 1 {
		t.Fatalf("corrupt tail: read %d frames, want 1", n)
	}
}

func TestNotSpool(t *testing.T) {
	if _, err := Read(bytes.NewReader([]byte("garbage")), nil); err != ErrNotSpool {
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
	f.Add([]byte(magic))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, b []byte) {
		Read(bytes.NewReader(append([]byte(magic), b...)), func(*aitrackv1.RecordRequest) error { return nil })
	})
}
