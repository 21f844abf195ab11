package sessionlog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strconv"
)

// adapter turns one line of its format into facts; it keeps whatever
// state pairing calls with results needs.
type adapter interface {
	line(b []byte, f *Facts)
}

// Reader accumulates the facts of one log fed line by line. It is not safe
// for concurrent use.
type Reader struct {
	ad    adapter
	facts Facts
}

// NewReader returns a Reader for format.
func NewReader(format Format) (*Reader, error) {
	r := &Reader{facts: Facts{Format: format}}
	switch format {
	case Claude:
		r.ad = &claudeAdapter{}
	case Codex:
		r.ad = &codexAdapter{}
	case Gemini:
		r.ad = &geminiAdapter{}
	default:
		return nil, fmt.Errorf("no session log format %q (known: claude, codex, gemini)", format)
	}
	return r, nil
}

// Line feeds one complete line (without its newline). Blank lines are
// ignored, lines that are not JSON objects counted as corrupt.
func (r *Reader) Line(b []byte) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return
	}
	if b[0] != '{' || !json.Valid(b) {
		r.facts.Corrupt++
		return
	}
	r.ad.line(b, &r.facts)
}

// Facts returns a copy of the facts so far.
func (r *Reader) Facts() Facts { return r.facts.clone() }

// ReadFile reads a whole log. A partial last line (a CLI still writing)
// is read as a line: the file is taken as complete.
func ReadFile(path string, format Format) (Facts, error) {
	r, err := NewReader(format)
	if err != nil {
		return Facts{}, err
	}
	f, err := os.Open(path)
	if err != nil {
		return Facts{}, fmt.Errorf("open session log: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	for sc.Scan() {
		r.Line(sc.Bytes())
	}
	if err := sc.Err(); err != nil {
		return r.Facts(), fmt.Errorf("read session log %s: %w", path, err)
	}
	return r.Facts(), nil
}

// maxLine bounds one log line: Claude stores whole file contents and API
// request bodies in single lines.
const maxLine = 64 << 20

// exitCodePatterns find a command's exit status in a tool result's text:
// Claude "Exit code N" (failures only), Codex "Process exited with code N"
// or "Exit code: N", Gemini "Exit Code: N" (non-zero only).
var exitCodePattern = regexp.MustCompile(`(?m)^(?:Exit [Cc]ode:? |Process exited with code )(-?\d+)\s*$`)

// exitCodeIn returns the exit status stated in text, or def.
func exitCodeIn(text string, def int) int {
	m := exitCodePattern.FindStringSubmatch(text)
	if m == nil {
		return def
	}
	n, err := strconv.Atoi(m[1])
	if err != nil {
		return def
	}
	return n
}

// textOf flattens a JSON value that is a string or a list of content
// blocks ({"type":"text","text":...} or {"text":...}) into its text.
func textOf(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var blocks []struct {
		Text string `json:"text"`
	}
	if json.Unmarshal(raw, &blocks) != nil {
		return ""
	}
	var b bytes.Buffer
	for _, bl := range blocks {
		if bl.Text == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(bl.Text)
	}
	return b.String()
}
