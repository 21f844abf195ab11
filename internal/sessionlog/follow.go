package sessionlog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
)

// ErrGone says a followed log disappeared, shrank or was replaced after it
// had been read: what was read stays, but the log no longer covers the
// session.
var ErrGone = errors.New("session log deleted, truncated or replaced while followed")

// Follower reads a log that its CLI is still writing: each Poll reads the
// complete lines appended since the last one and keeps a partial last line
// for later. A log that does not exist yet is not an error.
type Follower struct {
	path   string
	reader *Reader
	// f is the log, held open from the first Poll that finds it until
	// Close: a file that replaces it then cannot reuse its inode, so a
	// replacement is always told from the log growing.
	f       *os.File
	off     int64
	partial []byte
	copyTo  io.Writer
	gone    bool
}

// NewFollower follows path in format; every complete line read is also
// written to copyTo (if not nil), which makes a copy that outlives the CLI's
// own retention. Close it when done.
func NewFollower(path string, format Format, copyTo io.Writer) (*Follower, error) {
	r, err := NewReader(format)
	if err != nil {
		return nil, err
	}
	return &Follower{path: path, reader: r, copyTo: copyTo}, nil
}

// Path is the followed file.
func (fl *Follower) Path() string { return fl.path }

// Poll reads what was appended. It returns ErrGone (wrapped) once a log
// that was there is deleted, truncated or replaced by another file (a CLI
// that appends by path makes a new one after a deletion), and from then on.
func (fl *Follower) Poll() error {
	if fl.gone {
		return fmt.Errorf("%s: %w", fl.path, ErrGone)
	}
	if fl.f == nil {
		f, err := os.Open(fl.path)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("open session log: %w", err)
		}
		fl.f = f
	}
	if err := fl.check(); err != nil {
		if errors.Is(err, ErrGone) {
			fl.gone = true
			fl.Close()
		}
		return err
	}
	buf := make([]byte, 256<<10)
	for {
		n, err := fl.f.ReadAt(buf, fl.off)
		fl.off += int64(n)
		fl.feed(buf[:n])
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read session log: %w", err)
		}
	}
}

// check reports whether the file at the path is still the one held open,
// and no shorter than what was read of it.
func (fl *Follower) check() error {
	st, err := os.Stat(fl.path)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s: %w", fl.path, ErrGone)
	}
	if err != nil {
		return fmt.Errorf("stat session log: %w", err)
	}
	held, err := fl.f.Stat()
	if err != nil {
		return fmt.Errorf("stat session log: %w", err)
	}
	if !os.SameFile(held, st) {
		return fmt.Errorf("%s was replaced by another file: %w", fl.path, ErrGone)
	}
	if st.Size() < fl.off {
		return fmt.Errorf("%s shrank from %d to %d bytes: %w", fl.path, fl.off, st.Size(), ErrGone)
	}
	return nil
}

// Close releases the log; the Follower is not polled after it, but its
// Facts stay.
func (fl *Follower) Close() error {
	if fl.f == nil {
		return nil
	}
	err := fl.f.Close()
	fl.f = nil
	return err
}

func (fl *Follower) feed(b []byte) {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			if len(fl.partial)+len(b) > maxLine { // not a log line; drop it
				fl.partial = fl.partial[:0]
				fl.reader.facts.Corrupt++
				return
			}
			fl.partial = append(fl.partial, b...)
			return
		}
		line := b[:i]
		if len(fl.partial) > 0 {
			line = append(fl.partial, line...)
			fl.partial = fl.partial[:0]
		}
		fl.line(line)
		b = b[i+1:]
	}
}

func (fl *Follower) line(l []byte) {
	fl.reader.Line(l)
	if fl.copyTo != nil {
		fl.copyTo.Write(append(l, '\n'))
	}
}

// Finish reads a partial last line as complete: the CLI has exited, so
// nothing will complete it.
func (fl *Follower) Finish() {
	if len(fl.partial) > 0 {
		fl.line(fl.partial)
		fl.partial = nil
	}
}

// Facts returns the facts read so far.
func (fl *Follower) Facts() Facts { return fl.reader.Facts() }
