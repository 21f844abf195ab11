package parse

import (
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// Kind is the type of an Event.
type Kind string

// Event kinds.
const (
	KindCommand      Kind = "command"
	KindToolUse      Kind = "tool_use"
	KindGitOperation Kind = "git_operation"
	KindGhOperation  Kind = "gh_operation"
	KindUserPrompt   Kind = "user_prompt"
	KindError        Kind = "error"
	KindFileTouched  Kind = "file_touched"
)

// Event is something the session's screen showed, recognised once.
type Event struct {
	Kind   Kind
	Text   string        // e.g. the command text, the tool call, the error line
	Offset time.Duration // since the session start, when the line was committed
	// Fields are optional: "tool" (Bash, Read…), "program" (git),
	// "subcommand" (commit), "exit_code", "truncated" (the screen cut the
	// text short), "summary" (counted from a summary line such as "ran 2
	// shell commands", which is then Text: the screen shows no command text).
	// They are read-only: events with the same Fields may share the map.
	Fields map[string]string
}

// Metrics are a session's live counters.
type Metrics struct {
	CommandsExecuted, GitOperations, GhOperations, ToolUses, UserPrompts, ErrorsEncountered, FilesTouched int
	OutputBytes, OutputLines                                                                              int64
}

// Map returns the metrics under their MLflow keys: commands_executed,
// git_operations, gh_operations, tool_uses, user_prompts,
// errors_encountered, files_touched, output_bytes, output_lines.
func (m Metrics) Map() map[string]float64 {
	return map[string]float64{
		"commands_executed":  float64(m.CommandsExecuted),
		"git_operations":     float64(m.GitOperations),
		"gh_operations":      float64(m.GhOperations),
		"tool_uses":          float64(m.ToolUses),
		"user_prompts":       float64(m.UserPrompts),
		"errors_encountered": float64(m.ErrorsEncountered),
		"files_touched":      float64(m.FilesTouched),
		"output_bytes":       float64(m.OutputBytes),
		"output_lines":       float64(m.OutputLines),
	}
}

// Options configure a Parser.
type Options struct {
	// Provider is "claude", "codex", "gemini" or "" (generic; so is any
	// other value): it selects the per-CLI recognisers and whether a screen
	// clear is a TUI redraw or a new page of output (generic).
	Provider string
	Start    time.Time // session start, for Event.Offset (zero: the first Write's time)
	// Clean receives the clean transcript, one "line\n" per Write, as lines
	// are committed (may be nil). It is called synchronously and must not
	// block; its errors are ignored (the transcript is best effort, the raw
	// stream is the record).
	Clean io.Writer
	// OnEvent is called synchronously for each new event (may be nil). It
	// may call Metrics but no other Parser method.
	OnEvent    func(Event)
	Cols, Rows int // initial terminal size (80x24 if zero)
	// NewlineMode makes a line feed also return to column 0: output read
	// from a pipe never passed a terminal's ONLCR, so its lines end in a
	// bare "\n" that means "next line" to whoever reads it.
	NewlineMode bool
}

// Parser parses one session's output incrementally. Write, Resize and
// Close may be called from different goroutines; Metrics from any, any
// time.
type Parser struct {
	mu     sync.Mutex
	opts   Options
	start  time.Time
	last   time.Time
	tok    *tokenizer
	scr    *screen
	rec    *recogniser
	closed bool
	line   []byte // a committed line and its line feed, for Clean

	counts [numKinds]atomic.Int64
	bytes  atomic.Int64
	lines  atomic.Int64
}

// kinds are the event kinds, in the order of Parser.counts.
var kinds = [...]Kind{KindCommand, KindGitOperation, KindGhOperation, KindToolUse, KindUserPrompt, KindError, KindFileTouched}

const numKinds = len(kinds)

// kindIndex returns k's index in kinds, or -1 when k is no kind.
func kindIndex(k Kind) int {
	for i, kk := range kinds {
		if kk == k {
			return i
		}
	}
	return -1
}

// kindSet is a set of event kinds.
type kindSet uint8

func kindSetOf(ks ...Kind) kindSet {
	var s kindSet
	for _, k := range ks {
		s.add(k)
	}
	return s
}

func (s *kindSet) add(k Kind)           { *s |= 1 << uint(kindIndex(k)) }
func (s kindSet) has(k Kind) bool       { return s&(1<<uint(kindIndex(k))) != 0 }
func (s kindSet) hasAny(t kindSet) bool { return s&t != 0 }

// New returns a Parser for one session.
func New(opts Options) *Parser {
	p := &Parser{opts: opts, start: opts.Start, rec: newRecogniser(opts.Provider)}
	// Only the AI CLIs are known to redraw their screen after clearing it;
	// anywhere else a clear starts a new page of output.
	_, tui := providerRules[opts.Provider]
	p.scr = newScreen(opts.Cols, opts.Rows, !tui, p.commit)
	p.scr.newline = opts.NewlineMode
	p.scr.mark = func(kind byte, arg, prompt string) { p.emit(p.rec.mark(kind, arg, prompt)) }
	p.tok = newTokenizer(p.scr)
	return p
}

// Write feeds output the session produced at time at. It waits for nothing
// but a concurrent Write, Resize or Close, the Clean writer and OnEvent;
// it never panics and keeps its memory bounded whatever the input. Writes
// after Close are counted in OutputBytes and otherwise ignored.
func (p *Parser) Write(data []byte, at time.Time) {
	p.bytes.Add(int64(len(data)))
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	if p.start.IsZero() {
		p.start = at
	}
	p.last = at
	p.scr.setTime(at)
	p.tok.feed(data)
}

// Resize tells the parser the terminal's new size.
func (p *Parser) Resize(cols, rows int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.scr.resize(cols, rows)
	}
}

// Close ends the stream: what is still on screen is committed to Clean and
// the recognisers. Later calls do nothing.
func (p *Parser) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.closed = true
	p.tok.finish()
	p.scr.close()
	p.emit(p.rec.flush())
}

// Metrics returns the counters so far.
func (p *Parser) Metrics() Metrics {
	count := func(k Kind) int { return int(p.counts[kindIndex(k)].Load()) }
	return Metrics{
		CommandsExecuted:  count(KindCommand),
		GitOperations:     count(KindGitOperation),
		GhOperations:      count(KindGhOperation),
		ToolUses:          count(KindToolUse),
		UserPrompts:       count(KindUserPrompt),
		ErrorsEncountered: count(KindError),
		FilesTouched:      count(KindFileTouched),
		OutputBytes:       p.bytes.Load(),
		OutputLines:       p.lines.Load(),
	}
}

// commit receives a line from the screen, in pieces of at most
// maxLineBytes, and passes it on.
func (p *Parser) commit(text, below string, alt bool) {
	for {
		n := cutAt(text, maxLineBytes)
		p.commitPiece(lineCtx{text: text[:n], below: below, cols: p.scr.cols, alt: alt})
		if n == len(text) {
			return
		}
		text = text[n:]
	}
}

func (p *Parser) commitPiece(l lineCtx) {
	p.lines.Add(1)
	if p.opts.Clean != nil {
		p.line = append(append(p.line[:0], l.text...), '\n')
		_, _ = p.opts.Clean.Write(p.line)
	}
	p.emit(p.rec.line(l))
}

func (p *Parser) emit(events []Event) {
	if len(events) == 0 {
		return
	}
	offset := p.last.Sub(p.start)
	for _, ev := range events {
		ev.Offset = offset
		p.counts[kindIndex(ev.Kind)].Add(1)
		if p.opts.OnEvent != nil {
			p.opts.OnEvent(ev)
		}
	}
}
