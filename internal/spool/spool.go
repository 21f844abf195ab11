// Package spool is the on-disk hand-over of a session between a wrapper that
// cannot reach the daemon and the daemon that later takes it.
//
// A spool file holds the session's Open followed by its records, as framed
// protobuf messages with a checksum each, so that a file cut short by a crash
// is read up to its last whole frame. The wrapper writes it; the daemon reads
// it and deletes it once every record is stored. It is not a general queue.
package spool

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"regexp"

	aitrackv1 "github.com/aitrack/aitrack/api/proto/aitrack/v1"
	"google.golang.org/protobuf/proto"
)

const (
	// Ext ends every spool file's name.
	Ext   = ".spool"
	magic = "aitrack-spool-1\n"
	// MaxFrame bounds one frame, so that a corrupt length cannot make the
	// reader allocate without limit.
	MaxFrame = 16 << 20
)

var (
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
	validID    = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
)

// ValidID reports whether id is usable as a session id and a file name.
func ValidID(id string) bool { return validID.MatchString(id) }

// Path is the spool file of a session.
func Path(dir, sessionID string) string { return filepath.Join(dir, sessionID+Ext) }

// Writer appends frames to a spool file.
type Writer struct {
	f   *os.File
	w   *bufio.Writer
	buf []byte // reused for each frame: a fast session spools many
}

// Create opens the session's spool file for appending, creating it (0600, in
// a directory the caller made private) with its header when new.
func Create(dir, sessionID string) (*Writer, error) {
	if !ValidID(sessionID) {
		return nil, fmt.Errorf("spool: invalid session id %q", sessionID)
	}
	f, err := os.OpenFile(Path(dir, sessionID), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	w := &Writer{f: f, w: bufio.NewWriterSize(f, 64<<10)}
	if fi, err := f.Stat(); err == nil && fi.Size() == 0 {
		w.w.WriteString(magic)
	}
	return w, nil
}

// Write appends one message.
func (w *Writer) Write(m *aitrackv1.RecordRequest) error {
	b, err := proto.MarshalOptions{}.MarshalAppend(w.buf[:0], m)
	w.buf = b
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	if len(b) > MaxFrame {
		return fmt.Errorf("spool: message of %d bytes exceeds the %d-byte frame limit", len(b), MaxFrame)
	}
	var hdr [8]byte
	binary.BigEndian.PutUint32(hdr[:4], uint32(len(b)))
	binary.BigEndian.PutUint32(hdr[4:], crc32.Checksum(b, castagnoli))
	w.w.Write(hdr[:])
	_, err = w.w.Write(b)
	return err
}

// Flush hands what was written to the file: the daemon can take it from
// there, and it survives the wrapper being killed.
func (w *Writer) Flush() error { return w.w.Flush() }

// Close flushes, syncs and closes the file.
func (w *Writer) Close() error {
	err := w.w.Flush()
	if serr := w.f.Sync(); err == nil {
		err = serr
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// ErrNotSpool means the file does not start with the spool header.
var ErrNotSpool = errors.New("spool: not a spool file")

// Read calls fn with the first frame of r (the session's Open) and then
// with each whole frame from offset from on, in order: from is 0 to read
// them all, or an end a previous Read returned for the same file to read
// only what was added since (the daemon takes a live spool in steps). A
// torn or corrupt tail ends the reading without an error: it is what a
// crash, or a wrapper still writing, leaves, and everything before it is
// good. It returns the offset after the last whole frame read.
func Read(r io.ReadSeeker, from int64, fn func(*aitrackv1.RecordRequest) error) (end int64, err error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head := make([]byte, len(magic))
	if _, err := io.ReadFull(br, head); err != nil || string(head) != magic {
		return 0, ErrNotSpool
	}
	end = int64(len(magic))
	var hdr [8]byte
	buf := make([]byte, 0, 64<<10)
	for first := true; ; first = false {
		if !first && from > end {
			if _, err := r.Seek(from, io.SeekStart); err != nil {
				return end, fmt.Errorf("spool: %w", err)
			}
			br.Reset(r)
			end = from
		}
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return end, nil
		}
		size := binary.BigEndian.Uint32(hdr[:4])
		if size > MaxFrame {
			return end, nil
		}
		if cap(buf) < int(size) {
			buf = make([]byte, size)
		}
		buf = buf[:size]
		if _, err := io.ReadFull(br, buf); err != nil {
			return end, nil
		}
		if crc32.Checksum(buf, castagnoli) != binary.BigEndian.Uint32(hdr[4:]) {
			return end, nil
		}
		m := new(aitrackv1.RecordRequest)
		if err := proto.Unmarshal(buf, m); err != nil {
			return end, nil
		}
		if err := fn(m); err != nil {
			return end, err
		}
		end += int64(len(hdr)) + int64(size)
	}
}
