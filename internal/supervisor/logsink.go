package supervisor

import (
	"bufio"
	"errors"
	"io"
	"os"
	"sync"
)

// truncatedMark ends a log line that was longer than the cap.
const truncatedMark = " …[line truncated]"

// logSink appends lines to a log file, rotating it at a size cap, and
// remembers the most recent lines for Status.
type logSink struct {
	mu       sync.Mutex
	path     string
	f        *os.File // nil if reopening failed: lines then only reach the tail
	size     int64
	maxBytes int64
	recent   []string // ring buffer
	next     int
	full     bool
}

func openLogSink(path string, maxBytes int64, tailLines int) (*logSink, error) {
	l := &logSink{path: path, maxBytes: maxBytes, recent: make([]string, tailLines)}
	if err := l.open(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *logSink) open() error {
	f, err := os.OpenFile(l.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	l.f, l.size = f, fi.Size()
	return nil
}

// line records one line of the child's output (without its newline).
func (l *logSink) line(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recent[l.next] = s
	l.next = (l.next + 1) % len(l.recent)
	l.full = l.full || l.next == 0
	l.write(s)
}

// note writes a supervisor remark to the file only, so the tail stays the
// child's own words.
func (l *logSink) note(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.write(s)
}

func (l *logSink) write(s string) {
	if l.f != nil && l.size > 0 && l.size+int64(len(s))+1 > l.maxBytes {
		// One old generation is enough to see what led up to a failure.
		l.f.Close()
		l.f = nil
		_ = os.Rename(l.path, l.path+".1")
		_ = l.open()
	}
	if l.f == nil {
		return
	}
	n, _ := l.f.WriteString(s + "\n")
	l.size += int64(n)
}

// tail returns the remembered lines, oldest first.
func (l *logSink) tail() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.full {
		return append([]string(nil), l.recent[:l.next]...)
	}
	return append(append([]string(nil), l.recent[l.next:]...), l.recent[:l.next]...)
}

func (l *logSink) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f != nil {
		l.f.Close()
		l.f = nil
	}
}

// pumpLines reads r to EOF and hands each line to emit without its line
// ending; a line longer than maxLine bytes is cut there and marked, and the
// rest of it is skipped. A final line without a newline is emitted too.
func pumpLines(r io.Reader, maxLine int, emit func(string)) {
	br := bufio.NewReaderSize(r, maxLine+1)
	skipping := false
	for {
		b, err := br.ReadSlice('\n')
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			if !skipping {
				emit(string(b[:maxLine]) + truncatedMark)
			}
			skipping = true
			continue
		case skipping:
			skipping = false // b is the tail of the cut line
		case len(b) > 0:
			b = trimEOL(b)
			if len(b) > maxLine {
				emit(string(b[:maxLine]) + truncatedMark)
			} else {
				emit(string(b))
			}
		}
		if err != nil {
			return
		}
	}
}

func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
	}
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	return b
}
