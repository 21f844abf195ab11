package ingest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	aitrackv1 "github.com/aitrack/aitrack/api/proto/aitrack/v1"
	"github.com/aitrack/aitrack/internal/spool"
	"google.golang.org/protobuf/proto"
)

// File names inside a session's directory.
const (
	OpenFile    = "open.pb"
	OutputFile  = "output.raw"
	RecordsFile = "records.jsonl"
)

// Rec is one stored record. Output bytes live in OutputFile at
// [Offset, Offset+Len); everything else is in the record itself.
type Rec struct {
	Seq    uint64 `json:"seq"`
	Time   int64  `json:"t"`
	Kind   string `json:"k"` // "o" output, "r" resize, "i" input, "e" end
	Offset uint64 `json:"off,omitempty"`
	Len    int    `json:"n,omitempty"`
	Cols   uint32 `json:"cols,omitempty"`
	Rows   uint32 `json:"rows,omitempty"`
	Exit   int32  `json:"exit,omitempty"`
	Signal int32  `json:"sig,omitempty"`
	Error  string `json:"err,omitempty"`
	Keys   uint32 `json:"keys,omitempty"`
	Reply  bool   `json:"reply,omitempty"`
	// Data is captured input, present only with --capture-input.
	Data []byte `json:"data,omitempty"`
}

// At is the record's capture time.
func (r Rec) At() time.Time { return time.Unix(0, r.Time) }

// Store keeps every session under its own directory.
type Store struct {
	dir string
}

// NewStore uses dir (created 0700 when missing) for sessions.
func NewStore(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create session store: %w", err)
	}
	return &Store{dir: dir}, nil
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }

// IDs lists the stored sessions.
func (s *Store) IDs() ([]string, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range ents {
		if e.IsDir() && spool.ValidID(e.Name()) {
			ids = append(ids, e.Name())
		}
	}
	return ids, nil
}

// Session is one session's durable files. Its methods are safe for
// concurrent use.
type Session struct {
	dir  string
	open *aitrackv1.Open

	mu        sync.Mutex
	out, recs *os.File
	seq       uint64
	offset    uint64
	ended     bool
}

// Create stores a new session, or reopens it when it exists (a wrapper that
// reconnects, a spool file of a session the daemon already has).
func (s *Store) Create(open *aitrackv1.Open) (*Session, error) {
	if !spool.ValidID(open.GetSessionId()) {
		return nil, fmt.Errorf("invalid session id %q", open.GetSessionId())
	}
	dir := filepath.Join(s.dir, open.GetSessionId())
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("create session directory: %w", err)
	}
	openPath := filepath.Join(dir, OpenFile)
	if _, err := os.Stat(openPath); errors.Is(err, os.ErrNotExist) {
		b, err := proto.Marshal(open)
		if err != nil {
			return nil, err
		}
		if err := writeFileSync(openPath, func(w io.Writer) error { _, err := w.Write(b); return err }); err != nil {
			return nil, fmt.Errorf("store session: %w", err)
		}
	}
	return s.Load(open.GetSessionId())
}

// Load reopens a stored session, cutting off any torn tail a crash left.
func (s *Store) Load(id string) (*Session, error) {
	if !spool.ValidID(id) {
		return nil, fmt.Errorf("invalid session id %q", id)
	}
	dir := filepath.Join(s.dir, id)
	b, err := os.ReadFile(filepath.Join(dir, OpenFile))
	if err != nil {
		return nil, fmt.Errorf("load session %s: %w", id, err)
	}
	open := new(aitrackv1.Open)
	if err := proto.Unmarshal(b, open); err != nil {
		return nil, fmt.Errorf("load session %s: %w", id, err)
	}
	ss := &Session{dir: dir, open: open}
	if ss.recs, err = os.OpenFile(filepath.Join(dir, RecordsFile), os.O_CREATE|os.O_RDWR, 0o600); err != nil {
		return nil, err
	}
	if ss.out, err = os.OpenFile(filepath.Join(dir, OutputFile), os.O_CREATE|os.O_RDWR, 0o600); err != nil {
		ss.recs.Close()
		return nil, err
	}
	if err := ss.recover(); err != nil {
		ss.Close()
		return nil, fmt.Errorf("load session %s: %w", id, err)
	}
	return ss, nil
}

// recover finds the last whole record and truncates both files to it.
func (ss *Session) recover() error {
	var good int64
	err := scanRecords(ss.recs, func(r Rec, end int64) error {
		ss.seq = r.Seq
		if r.Kind == "o" {
			ss.offset = r.Offset + uint64(r.Len)
		}
		if r.Kind == "e" {
			ss.ended = true
		}
		good = end
		return nil
	})
	if err != nil {
		return err
	}
	if err := ss.recs.Truncate(good); err != nil {
		return err
	}
	if _, err := ss.recs.Seek(good, io.SeekStart); err != nil {
		return err
	}
	if err := ss.out.Truncate(int64(ss.offset)); err != nil {
		return err
	}
	_, err = ss.out.Seek(int64(ss.offset), io.SeekStart)
	return err
}

// scanRecords calls fn with each whole record and the file offset after it,
// stopping silently at the first torn or unreadable line.
func scanRecords(f *os.File, fn func(Rec, int64) error) error {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	br := bufio.NewReader(f)
	var pos int64
	var want uint64 = 1
	for {
		line, err := br.ReadBytes('\n')
		if err != nil {
			return nil // EOF or a torn last line
		}
		var r Rec
		if json.Unmarshal(bytes.TrimSpace(line), &r) != nil || r.Seq != want {
			return nil
		}
		pos += int64(len(line))
		want++
		if err := fn(r, pos); err != nil {
			return err
		}
	}
}

// ID is the session id.
func (ss *Session) ID() string { return ss.open.GetSessionId() }

// Dir is the session's directory.
func (ss *Session) Dir() string { return ss.dir }

// Open is the session's opening message.
func (ss *Session) Open() *aitrackv1.Open { return ss.open }

// Committed returns the last durable seq and the durable output length.
func (ss *Session) Committed() (seq, offset uint64) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.seq, ss.offset
}

// Ended reports whether the session's End record is stored.
func (ss *Session) Ended() bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.ended
}

// ErrGap means records arrived out of order: a client bug or a hostile one.
var ErrGap = errors.New("record sequence gap")

// Append stores the records not stored yet and makes them durable before it
// returns. Records at or below the committed seq are skipped (resends); a
// record after the End, a seq gap or an output offset that does not follow
// on is refused. It returns the records it stored.
func (ss *Session) Append(recs []*aitrackv1.Record) ([]*aitrackv1.Record, error) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	var stored []*aitrackv1.Record
	var lines []byte
	refused := ss.accept(recs, &stored, &lines)
	if len(stored) == 0 {
		return nil, refused
	}
	// Output first: a crash between the two leaves extra output bytes that
	// recover truncates, never a record pointing past the output.
	if err := ss.out.Sync(); err != nil {
		return nil, fmt.Errorf("sync output: %w", err)
	}
	if _, err := ss.recs.Write(lines); err != nil {
		return nil, fmt.Errorf("store records: %w", err)
	}
	if err := ss.recs.Sync(); err != nil {
		return nil, fmt.Errorf("sync records: %w", err)
	}
	return stored, refused
}

// accept writes the output of each acceptable record and encodes its line,
// stopping at the first record it refuses; ss.mu is held.
func (ss *Session) accept(recs []*aitrackv1.Record, stored *[]*aitrackv1.Record, lines *[]byte) error {
	for _, r := range recs {
		if r.GetSeq() <= ss.seq {
			continue
		}
		if ss.ended {
			return fmt.Errorf("record %d after the session's end", r.GetSeq())
		}
		if r.GetSeq() != ss.seq+1 {
			return fmt.Errorf("%w: got seq %d after %d", ErrGap, r.GetSeq(), ss.seq)
		}
		rec := Rec{Seq: r.GetSeq(), Time: r.GetTimeUnixNano()}
		switch k := r.Kind.(type) {
		case *aitrackv1.Record_Output:
			if k.Output.GetOffset() != ss.offset {
				return fmt.Errorf("%w: output at offset %d, expected %d", ErrGap, k.Output.GetOffset(), ss.offset)
			}
			if _, err := ss.out.Write(k.Output.GetData()); err != nil {
				return fmt.Errorf("store output: %w", err)
			}
			rec.Kind, rec.Offset, rec.Len = "o", ss.offset, len(k.Output.GetData())
			ss.offset += uint64(rec.Len)
		case *aitrackv1.Record_Resize:
			rec.Kind, rec.Cols, rec.Rows = "r", k.Resize.GetSize().GetCols(), k.Resize.GetSize().GetRows()
		case *aitrackv1.Record_Input:
			rec.Kind, rec.Keys, rec.Reply, rec.Data = "i", k.Input.GetKeys(), k.Input.GetReply(), k.Input.GetData()
		case *aitrackv1.Record_End:
			rec.Kind, rec.Exit, rec.Signal, rec.Error = "e", k.End.GetExitCode(), k.End.GetSignal(), k.End.GetError()
			ss.ended = true
		default:
			return fmt.Errorf("record %d has no known kind", r.GetSeq())
		}
		b, _ := json.Marshal(rec)
		*lines = append(append(*lines, b...), '\n')
		ss.seq = rec.Seq
		*stored = append(*stored, r)
	}
	return nil
}

// Replay calls fn with every stored record in order, and for output records
// with their bytes.
func (ss *Session) Replay(fn func(r Rec, data []byte) error) error {
	recs, err := os.Open(filepath.Join(ss.dir, RecordsFile))
	if err != nil {
		return err
	}
	defer recs.Close()
	out, err := os.Open(filepath.Join(ss.dir, OutputFile))
	if err != nil {
		return err
	}
	defer out.Close()
	var buf []byte
	return scanRecords(recs, func(r Rec, _ int64) error {
		var data []byte
		if r.Kind == "o" {
			if cap(buf) < r.Len {
				buf = make([]byte, r.Len)
			}
			data = buf[:r.Len]
			if _, err := out.ReadAt(data, int64(r.Offset)); err != nil {
				return fmt.Errorf("read output of record %d: %w", r.Seq, err)
			}
		}
		return fn(r, data)
	})
}

// Close closes the session's files.
func (ss *Session) Close() error {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	err := ss.out.Close()
	if e := ss.recs.Close(); err == nil {
		err = e
	}
	return err
}

// writeFileSync writes a file whole or not at all: into a temporary file,
// synced, then renamed over path.
func writeFileSync(path string, write func(io.Writer) error) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
