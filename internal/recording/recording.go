// Package recording reads terminal recordings made by other tools — util-
// linux `script` typescripts (with or without a timing file, classic or
// advanced format) and asciinema casts (v2, v3) — as a stream of timed
// events, for `aitrack parse` and `aitrack import`.
//
// It reads; it never writes recordings (see asciicast for that).
package recording

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/aitrack/aitrack/internal/asciicast"
)

// Info describes a recording, as far as its format tells.
type Info struct {
	Format  string // "asciicast" or "typescript"
	Start   time.Time
	Cols    int
	Rows    int
	Command string
}

// Event is one timed event; Time is since the start.
type Event struct {
	Time       time.Duration
	Kind       string // "o" output, "i" input, "r" resize
	Data       []byte
	Cols, Rows int
}

// Result is what is known only at the end.
type Result struct {
	// ExitCode is nil when the recording does not say.
	ExitCode *int
}

var (
	scriptHeader = regexp.MustCompile(`^Script started on (\S+ \S+(?: \S+)?|\S+)(?: \[(.*)\])?\r?\n$`)
	scriptFooter = regexp.MustCompile(`\r?\n?Script done on [^\n]*?(?:\[COMMAND_EXIT_CODE="(\d+)"\])?\r?\n$`)
	headerAttr   = regexp.MustCompile(`(\w+)="([^"]*)"`)
	exitMarker   = regexp.MustCompile(`^exit (-?\d+)$`)
)

// Read reads the recording at path (with timingPath for a typescript's
// timing file, or "") and calls onInfo once, then onEvent for each event.
func Read(path, timingPath string, onInfo func(Info) error, onEvent func(Event) error) (Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return Result{}, err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 256<<10)
	first, _ := br.Peek(64)
	if bytes.HasPrefix(bytes.TrimSpace(first), []byte("{")) {
		return readCast(br, onInfo, onEvent)
	}
	return readTypescript(br, path, timingPath, onInfo, onEvent)
}

func readCast(r io.Reader, onInfo func(Info) error, onEvent func(Event) error) (Result, error) {
	var res Result
	_, err := asciicast.Read(r, func(h asciicast.Recording) error {
		info := Info{Format: "asciicast", Cols: h.Width, Rows: h.Height, Command: h.Command}
		if h.Timestamp > 0 {
			info.Start = time.Unix(h.Timestamp, 0)
		}
		return onInfo(info)
	}, func(e asciicast.Event) error {
		switch e.Code {
		case "o", "i":
			return onEvent(Event{Time: e.Time, Kind: e.Code, Data: []byte(e.Data)})
		case "r":
			var c, r int
			if _, err := fmt.Sscanf(e.Data, "%dx%d", &c, &r); err == nil {
				return onEvent(Event{Time: e.Time, Kind: "r", Cols: c, Rows: r})
			}
		case "x": // v3's exit status
			if n, err := strconv.Atoi(strings.TrimSpace(e.Data)); err == nil {
				res.ExitCode = &n
			}
		case "m": // aitrack's own casts mark the exit status
			if m := exitMarker.FindStringSubmatch(e.Data); m != nil {
				n, _ := strconv.Atoi(m[1])
				res.ExitCode = &n
			}
		}
		return nil
	})
	return res, err
}

func readTypescript(br *bufio.Reader, path, timingPath string, onInfo func(Info) error, onEvent func(Event) error) (Result, error) {
	var res Result
	info := Info{Format: "typescript", Cols: 80, Rows: 24}
	if fi, err := os.Stat(path); err == nil {
		info.Start = fi.ModTime()
	}
	// The header line is `script`'s, not the session's output.
	if line, err := br.Peek(4096); err == nil || len(line) > 0 {
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			if m := scriptHeader.FindSubmatch(line[:i+1]); m != nil {
				if t, err := parseScriptTime(string(m[1])); err == nil {
					info.Start = t
				}
				for _, a := range headerAttr.FindAllStringSubmatch(string(m[2]), -1) {
					switch a[1] {
					case "COLUMNS":
						info.Cols, _ = strconv.Atoi(a[2])
					case "LINES":
						info.Rows, _ = strconv.Atoi(a[2])
					case "COMMAND":
						info.Command = a[2]
					}
				}
				br.Discard(i + 1)
			}
		}
	}
	if err := onInfo(info); err != nil {
		return res, err
	}
	body, err := io.ReadAll(br)
	if err != nil {
		return res, err
	}
	if m := scriptFooter.FindSubmatchIndex(body); m != nil && m[1] == len(body) {
		if m[2] >= 0 {
			n, _ := strconv.Atoi(string(body[m[2]:m[3]]))
			res.ExitCode = &n
		}
		body = body[:m[0]]
	}
	if timingPath == "" {
		return res, onEvent(Event{Kind: "o", Data: body})
	}
	return res, replayTiming(body, timingPath, onEvent)
}

// replayTiming cuts body into the chunks the timing file describes: classic
// "<delay> <bytes>" lines, or the advanced format's O/I/S/H lines.
func replayTiming(body []byte, timingPath string, onEvent func(Event) error) error {
	f, err := os.Open(timingPath)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var now time.Duration
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		kind := "o"
		if len(fields) > 0 && len(fields[0]) == 1 && strings.Contains("OISH", fields[0]) {
			kind, fields = fields[0], fields[1:]
		}
		if len(fields) < 2 {
			continue
		}
		delay, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return fmt.Errorf("timing file %s: %q is not a delay", timingPath, fields[0])
		}
		switch kind {
		case "H":
			continue
		case "S":
			now += time.Duration(delay * float64(time.Second))
			var rows, cols int
			for _, kv := range fields[2:] {
				if v, ok := strings.CutPrefix(kv, "ROWS="); ok {
					rows, _ = strconv.Atoi(v)
				}
				if v, ok := strings.CutPrefix(kv, "COLS="); ok {
					cols, _ = strconv.Atoi(v)
				}
			}
			if rows > 0 && cols > 0 {
				if err := onEvent(Event{Time: now, Kind: "r", Cols: cols, Rows: rows}); err != nil {
					return err
				}
			}
			continue
		case "I":
			// Input lives in another file; only its timing is here.
			now += time.Duration(delay * float64(time.Second))
			continue
		}
		n, err := strconv.Atoi(fields[1])
		if err != nil || n < 0 {
			return fmt.Errorf("timing file %s: %q is not a byte count", timingPath, fields[1])
		}
		now += time.Duration(delay * float64(time.Second))
		n = min(n, len(body))
		if err := onEvent(Event{Time: now, Kind: "o", Data: body[:n]}); err != nil {
			return err
		}
		body = body[n:]
	}
	if len(body) > 0 {
		return onEvent(Event{Time: now, Kind: "o", Data: body})
	}
	return sc.Err()
}

func parseScriptTime(s string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02 15:04:05-07:00", "2006-01-02 15:04:05Z07:00", time.RFC3339, "Mon 02 Jan 2006 03:04:05 PM MST", "Mon Jan _2 15:04:05 2006"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errors.New("unknown time format")
}
