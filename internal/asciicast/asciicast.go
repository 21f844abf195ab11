// Package asciicast writes and reads asciinema recordings (asciicast v2,
// and v3 for reading), so that a session replays with `asciinema play`
// exactly as the user saw it, and old recordings can be imported.
//
// Output is raw bytes but asciicast events are JSON strings: the writer
// decodes UTF-8 incrementally, carrying a sequence split across chunks to
// the next event, and writes invalid bytes as U+FFFD, as asciinema does.
package asciicast

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Header is a v2 header line.
type Header struct {
	Version   int               `json:"version"`
	Width     int               `json:"width"`
	Height    int               `json:"height"`
	Timestamp int64             `json:"timestamp,omitempty"`
	Duration  float64           `json:"duration,omitempty"`
	Command   string            `json:"command,omitempty"`
	Title     string            `json:"title,omitempty"`
	Env       map[string]string `json:"env,omitempty"`
}

// Writer writes a v2 recording.
type Writer struct {
	w     *bufio.Writer
	start time.Time
	carry []byte // an incomplete UTF-8 sequence from the last chunk
	line  []byte // the event being written, reused
	err   error
}

// NewWriter writes the header; event times are relative to start.
func NewWriter(w io.Writer, h Header, start time.Time) (*Writer, error) {
	h.Version = 2
	if h.Timestamp == 0 {
		h.Timestamp = start.Unix()
	}
	cw := &Writer{w: bufio.NewWriterSize(w, 8<<10), start: start}
	b, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	cw.w.Write(append(b, '\n'))
	return cw, nil
}

func (cw *Writer) event(at time.Time, code string, data []byte) {
	if cw.err != nil {
		return
	}
	t := max(at.Sub(cw.start), 0).Seconds()
	line := append(cw.line[:0], '[')
	line = strconv.AppendFloat(line, t, 'f', 6, 64)
	line = append(line, `, "`...)
	line = append(line, code...)
	line = append(line, `", `...)
	line = appendString(line, data)
	line = append(line, "]\n"...)
	cw.line = line
	_, cw.err = cw.w.Write(line)
}

// appendString appends data as a JSON string, invalid UTF-8 as U+FFFD:
// what json.Marshal(strings.ToValidUTF8(data, "\uFFFD")) writes, less the
// HTML escapes, without its copies (the cast of a busy session is written
// as fast as it prints).
func appendString(dst, data []byte) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	invalid := false // the last byte was invalid: a run of them is one U+FFFD
	for i := 0; i < len(data); {
		c := data[i]
		if c >= 0x20 && c < utf8.RuneSelf && c != '"' && c != '\\' {
			j := i + 1
			for j < len(data) && data[j] >= 0x20 && data[j] < utf8.RuneSelf && data[j] != '"' && data[j] != '\\' {
				j++
			}
			dst = append(dst, data[i:j]...)
			i, invalid = j, false
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRune(data[i:])
			switch {
			case r != utf8.RuneError || size > 1:
				dst = append(dst, data[i:i+size]...)
				invalid = false
			case !invalid:
				dst = append(dst, "\uFFFD"...)
				invalid = true
			}
			i += size
			continue
		}
		invalid = false
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
		}
		i++
	}
	return append(dst, '"')
}

// Output records a chunk of output.
func (cw *Writer) Output(at time.Time, p []byte) {
	buf := p
	if len(cw.carry) > 0 {
		buf = append(cw.carry, p...)
	}
	// Hold back a trailing sequence that may complete in the next chunk.
	cut := len(buf)
	for i := 1; i <= utf8.UTFMax-1 && i <= len(buf); i++ {
		c := buf[len(buf)-i]
		if c < 0x80 {
			break
		}
		if utf8.RuneStart(c) {
			if !utf8.FullRune(buf[len(buf)-i:]) {
				cut = len(buf) - i
			}
			break
		}
	}
	if cut > 0 {
		cw.event(at, "o", buf[:cut])
	}
	cw.carry = append(cw.carry[:0], buf[cut:]...)
}

// Resize records a terminal size change.
func (cw *Writer) Resize(at time.Time, cols, rows int) {
	cw.event(at, "r", fmt.Appendf(nil, "%dx%d", cols, rows))
}

// Input records captured input (asciicast "i" events).
func (cw *Writer) Input(at time.Time, p []byte) {
	cw.event(at, "i", p)
}

// Marker records a marker, e.g. the exit status.
func (cw *Writer) Marker(at time.Time, label string) { cw.event(at, "m", []byte(label)) }

// Close flushes what is buffered, including a dangling partial sequence.
func (cw *Writer) Close(at time.Time) error {
	if len(cw.carry) > 0 {
		cw.event(at, "o", cw.carry)
		cw.carry = nil
	}
	if err := cw.w.Flush(); cw.err == nil {
		cw.err = err
	}
	return cw.err
}

// Event is one event read from a recording, with absolute time since the
// start (v3's intervals are summed).
type Event struct {
	Time time.Duration
	Code string
	Data string
}

// Recording is a parsed recording's header facts.
type Recording struct {
	Version   int
	Width     int
	Height    int
	Timestamp int64
	Command   string
}

// ErrNotCast means the input does not start with an asciicast header.
var ErrNotCast = errors.New("not an asciicast v2 or v3 recording")

// Read parses a v2 or v3 recording, calling onHeader (if not nil) once the
// header is read, then fn for each event.
func Read(r io.Reader, onHeader func(Recording) error, fn func(Event) error) (Recording, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	first, err := br.ReadBytes('\n')
	if err != nil && len(first) == 0 {
		return Recording{}, ErrNotCast
	}
	var h struct {
		Version   int    `json:"version"`
		Width     int    `json:"width"`
		Height    int    `json:"height"`
		Timestamp int64  `json:"timestamp"`
		Command   string `json:"command"`
		Term      struct {
			Cols int `json:"cols"`
			Rows int `json:"rows"`
		} `json:"term"`
	}
	if json.Unmarshal(first, &h) != nil || (h.Version != 2 && h.Version != 3) {
		return Recording{}, ErrNotCast
	}
	rec := Recording{Version: h.Version, Width: h.Width, Height: h.Height, Timestamp: h.Timestamp, Command: h.Command}
	if h.Version == 3 {
		rec.Width, rec.Height = h.Term.Cols, h.Term.Rows
	}
	if onHeader != nil {
		if err := onHeader(rec); err != nil {
			return rec, err
		}
	}
	var now time.Duration
	for lineNo := 2; ; lineNo++ {
		line, err := br.ReadBytes('\n')
		if len(strings.TrimSpace(string(line))) > 0 && line[0] != '#' {
			var raw [3]json.RawMessage
			var t float64
			var e Event
			if json.Unmarshal(line, &raw) != nil || json.Unmarshal(raw[0], &t) != nil ||
				json.Unmarshal(raw[1], &e.Code) != nil || json.Unmarshal(raw[2], &e.Data) != nil {
				return rec, fmt.Errorf("line %d: not an asciicast event: %.60q", lineNo, line)
			}
			d := time.Duration(t * float64(time.Second))
			if h.Version == 3 {
				now += d
			} else {
				now = d
			}
			e.Time = now
			if ferr := fn(e); ferr != nil {
				return rec, ferr
			}
		}
		if err == io.EOF {
			return rec, nil
		}
		if err != nil {
			return rec, err
		}
	}
}
