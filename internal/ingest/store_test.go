package ingest

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	aitrackv1 "github.com/aitrack/aitrack/api/proto/aitrack/v1"
)

func out(seq, off uint64, s string) *aitrackv1.Record {
	return &aitrackv1.Record{Seq: seq, TimeUnixNano: int64(seq) * 1e6, Kind: &aitrackv1.Record_Output{Output: &aitrackv1.Output{Offset: off, Data: []byte(s)}}}
}

func end(seq uint64, code int32) *aitrackv1.Record {
	return &aitrackv1.Record{Seq: seq, Kind: &aitrackv1.Record_End{End: &aitrackv1.End{ExitCode: code}}}
}

func newSession(t testing.TB) (*Store, *Session) {
	t.Helper()
	st, err := NewStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ss, err := st.Create(&aitrackv1.Open{SessionId: "s-1", Argv: []string{"sh"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ss.Close() })
	return st, ss
}

func replayed(t *testing.T, ss *Session) (string, []Rec) {
	t.Helper()
	var b bytes.Buffer
	var recs []Rec
	if err := ss.Replay(func(r Rec, data []byte) error {
		b.Write(data)
		recs = append(recs, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return b.String(), recs
}

func TestAppendSkipsResendsAndRefusesGaps(t *testing.T) {
	_, ss := newSession(t)
	stored, err := ss.Append([]*aitrackv1.Record{out(1, 0, "ab"), out(2, 2, "cd")})
	if err != nil || len(stored) != 2 {
		t.Fatalf("Append = %d, %v", len(stored), err)
	}
	// A wrapper resending after a reconnect: the old records are skipped.
	stored, err = ss.Append([]*aitrackv1.Record{out(2, 2, "cd"), out(3, 4, "ef")})
	if err != nil || len(stored) != 1 || stored[0].GetSeq() != 3 {
		t.Fatalf("resend: stored %v, %v", stored, err)
	}
	for name, recs := range map[string][]*aitrackv1.Record{
		"seq gap":    {out(5, 6, "x")},
		"offset gap": {out(4, 9, "x")},
	} {
		if _, err := ss.Append(recs); !errors.Is(err, ErrGap) {
			t.Errorf("%s: err = %v, want ErrGap", name, err)
		}
	}
	if _, err := ss.Append([]*aitrackv1.Record{end(4, 0), out(5, 6, "late")}); err == nil {
		t.Error("a record after the end was accepted")
	}
	if seq, off := ss.Committed(); seq != 4 || off != 6 || !ss.Ended() {
		t.Fatalf("Committed = %d, %d, ended %v", seq, off, ss.Ended())
	}
	if text, recs := replayed(t, ss); text != "abcdef" || len(recs) != 4 {
		t.Fatalf("replay = %q, %d records", text, len(recs))
	}
}

// A crash can leave a torn record line and output bytes no record points
// to; loading cuts both off and the session continues from the last whole
// record.
func TestLoadRecoversFromTornTail(t *testing.T) {
	st, ss := newSession(t)
	if _, err := ss.Append([]*aitrackv1.Record{out(1, 0, "hello "), out(2, 6, "world")}); err != nil {
		t.Fatal(err)
	}
	ss.Close()
	dir := filepath.Join(st.Dir(), "s-1")
	appendFile(t, filepath.Join(dir, OutputFile), "GARBAGE")
	appendFile(t, filepath.Join(dir, RecordsFile), `{"seq":3,"t":1,"k":"o","off":11,"n":7`)

	ss2, err := st.Load("s-1")
	if err != nil {
		t.Fatal(err)
	}
	defer ss2.Close()
	if seq, off := ss2.Committed(); seq != 2 || off != 11 {
		t.Fatalf("after recovery Committed = %d, %d; want 2, 11", seq, off)
	}
	if _, err := ss2.Append([]*aitrackv1.Record{out(3, 11, "!")}); err != nil {
		t.Fatal(err)
	}
	if text, _ := replayed(t, ss2); text != "hello world!" {
		t.Fatalf("replay = %q", text)
	}
}

func TestCreateRefusesBadIDs(t *testing.T) {
	st, err := NewStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"", "..", "../etc", "a/b", "x y"} {
		if _, err := st.Create(&aitrackv1.Open{SessionId: id, Argv: []string{"sh"}}); err == nil {
			t.Errorf("Create(%q) succeeded", id)
		}
	}
}

func TestFilesArePrivate(t *testing.T) {
	st, ss := newSession(t)
	ss.Append([]*aitrackv1.Record{out(1, 0, "x")})
	dir := filepath.Join(st.Dir(), "s-1")
	for _, p := range []string{dir, filepath.Join(dir, OpenFile), filepath.Join(dir, OutputFile), filepath.Join(dir, RecordsFile)} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %o: readable by others", p, fi.Mode().Perm())
		}
	}
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(s)
	f.Close()
}
