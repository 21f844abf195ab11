package redact

import (
	"errors"
	"fmt"
	"io"
	"slices"
)

// Stream redacts raw terminal output on its way to an io.Writer.
//
// It matches on a text view of the bytes: escape sequences that only style
// text (SGR colours, modes, erase) vanish from it, so a token coloured in
// parts is still one token; cursor-forward (CSI n C, which Claude Code prints
// instead of spaces) reads as a space; other cursor movements, and the
// brackets of OSC/DCS strings, read as a line break. OSC and DCS payloads are
// text (a window title or hyperlink can hold a secret). A secret's raw bytes
// are replaced whole, escape sequences inside it included; those around it
// are kept.
//
// Output lags input by the text a secret could still be part of (16 KiB and
// a little) plus up to 16 KiB decided at a time; Close writes the rest.
// Memory is bounded: when escape sequences pile up (over 1 MiB of raw bytes
// behind the held-back text), the Stream stops holding back, which can let a
// secret split at that point through.
//
// A Stream is not safe for concurrent use.
type Stream struct {
	r *Redactor
	w io.Writer

	raw            []byte  // input not yet written
	text, lower    []byte  // text view: ctx bytes already written, then the text of raw
	rawFrom, rawTo []int32 // raw[rawFrom[i]:rawTo[i]] produced text[i], for i >= ctx
	ctx            int

	state    viewState
	seqStart int  // raw offset of the ESC that began the current sequence
	seqLen   int  // bytes of it so far
	private  bool // the control sequence has a private marker (CSI ? ...)
	osc      bool // the string is an OSC, which BEL also ends

	cands  []candidate
	carry  []candidate // decided last pass, their secret not yet written
	out    []byte
	counts Counts
	err    error // sticky: a write failed, or the Stream is closed
}

// viewState is where the text view's escape-sequence parser is.
type viewState uint8

const (
	inText      viewState = iota
	inEsc                 // after ESC
	inEscInter            // ESC and intermediate bytes (charset designation)
	inCSI                 // ESC [ ...
	inString              // OSC, DCS, SOS, PM or APC payload
	inStringEsc           // ESC inside a string: ST, or a new sequence
)

const (
	esc = 0x1b
	// holdBack is the text a match not yet decided may start in: a match
	// is decided once maxMatchLen+1 bytes follow its keyword, and starts at
	// most maxBefore bytes before it.
	holdBack      = maxMatchLen + maxBefore + 2
	decideBatch   = 16 << 10 // text decided per pass over the held text
	contextLen    = 256      // text kept after writing, read by the next pass: rules (maxBefore+2), insideMarker (+74)
	maxSeqLen     = 128      // a longer control sequence is abandoned
	maxPendingRaw = 1 << 20  // raw bytes behind the held-back text before holding back stops
)

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("redact: write to closed stream")

// NewStream returns a Stream writing the redacted form of its input to w.
// Close flushes it; it does not close w.
func (r *Redactor) NewStream(w io.Writer) *Stream {
	return &Stream{r: r, w: w, counts: Counts{}}
}

// Write redacts p, writing to the underlying writer what can no longer be
// part of a secret. It returns len(p) unless that writer fails.
func (s *Stream) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	for done := 0; done < len(p); {
		chunk := p[done:min(len(p), done+decideBatch)]
		base := len(s.raw)
		s.raw = append(s.raw, chunk...)
		for i := 0; i < len(chunk); i++ {
			if s.state == inText && chunk[i] != esc {
				// Fast path: a run of text up to the next escape.
				j := i + 1
				for j < len(chunk) && chunk[j] != esc {
					j++
				}
				s.emitRun(chunk[i:j], base+i)
				if i = j; i == len(chunk) {
					break
				}
			}
			s.step(chunk[i], base+i)
		}
		done += len(chunk)
		if len(s.text)-s.ctx >= holdBack+decideBatch || len(s.raw) >= maxPendingRaw {
			if err := s.flush(false); err != nil {
				return done, err
			}
		}
	}
	return len(p), nil
}

// Close redacts and writes everything held back. Later writes fail with
// ErrClosed.
func (s *Stream) Close() error {
	if s.err != nil {
		if s.err == ErrClosed {
			return nil
		}
		return s.err
	}
	if err := s.flush(true); err != nil {
		return err
	}
	s.err = ErrClosed
	return nil
}

// Shrink gives back the memory a pause in the input leaves unused: the
// buffers sized to the largest write are cut to what is held back. A
// stream kept open between writes for long (one per live session) calls it
// after each write.
func (s *Stream) Shrink() {
	s.raw = shrunk(s.raw)
	s.text = shrunk(s.text)
	s.lower = shrunk(s.lower)
	s.rawFrom = shrunk(s.rawFrom)
	s.rawTo = shrunk(s.rawTo)
	s.carry = shrunk(s.carry)
	s.cands, s.out = nil, nil // scratch, rebuilt by each pass
}

// shrunk is a copy of b in an array of its length (nil when empty), which
// lets b's array go.
func shrunk[T any](b []T) []T {
	if len(b) == 0 {
		return nil
	}
	return append(make([]T, 0, len(b)), b...)
}

// Counts returns the redactions written so far, per kind.
func (s *Stream) Counts() Counts {
	c := make(Counts, len(s.counts))
	c.Add(s.counts)
	return c
}

// flush writes the part of the input whose secrets are decided; at the end
// of input, all of it.
func (s *Stream) flush(final bool) error {
	n := len(s.text)
	s.cands = append(s.r.find(s.text, s.lower, s.ctx, s.cands), s.carry...)
	spans := merge(s.cands)

	cut, rawCut := n, len(s.raw) // text and raw bytes written by this pass
	if !final {
		// A match starting before n-holdBack is decided; one starting
		// later may still grow. The cut must not split a secret: it moves
		// back to the secret's start, unless the secret (a chain of
		// overlapping ones) fills the whole window, which is then
		// redacted in two parts.
		cut = n - holdBack
		for _, sp := range spans {
			if sp.start < cut && cut < sp.end && sp.start > s.ctx {
				cut = sp.start
				break
			}
		}
		switch {
		case cut > s.ctx:
			rawCut = int(s.rawFrom[cut])
		case n > s.ctx: // no text decided; escape sequences before it can go
			cut, rawCut = s.ctx, int(s.rawFrom[s.ctx])
		default:
			cut, rawCut = n, s.pendingRaw()
		}
		if len(s.raw)-rawCut >= maxPendingRaw {
			cut, rawCut = n, s.pendingRaw()
		}
	}

	// A decided match that starts before the cut and whose secret goes
	// past it may not be found again by the next pass (its keyword is
	// behind): carry what remains of it.
	carry := s.carry[:0]
	for _, c := range s.cands {
		if c.start < cut && c.secEnd > cut {
			c.secStart = max(c.secStart, cut)
			carry = append(carry, c)
		}
	}
	out, pos := s.out[:0], 0
	for _, sp := range spans {
		if sp.start >= cut {
			break
		}
		kind := s.r.kinds[sp.rank]
		out = append(out, s.raw[pos:s.rawFrom[sp.start]]...)
		out = append(out, marker(kind)...)
		s.counts[kind]++
		if sp.end > cut { // the rest is redacted by the next pass
			carry = append(carry, candidate{start: cut, end: sp.end, secStart: cut, secEnd: sp.end, rank: sp.rank})
			sp.end = cut
		}
		pos = int(s.rawTo[sp.end-1])
	}
	out = append(out, s.raw[pos:rawCut]...)
	s.out = out
	if len(out) > 0 {
		if _, err := s.w.Write(out); err != nil {
			s.err = fmt.Errorf("redact: writing redacted output: %w", err)
			return s.err
		}
	}

	// Keep the undecided text, after a little context.
	keep := min(cut, contextLen)
	drop := cut - keep
	s.text = s.text[:copy(s.text, s.text[drop:])]
	s.lower = s.lower[:copy(s.lower, s.lower[drop:])]
	s.rawFrom = s.rawFrom[:copy(s.rawFrom, s.rawFrom[drop:])]
	s.rawTo = s.rawTo[:copy(s.rawTo, s.rawTo[drop:])]
	for i := keep; i < len(s.rawFrom); i++ {
		s.rawFrom[i] -= int32(rawCut)
		s.rawTo[i] -= int32(rawCut)
	}
	s.ctx = keep
	for i := range carry {
		c := &carry[i]
		c.start, c.end = max(0, c.start-drop), c.end-drop
		c.secStart, c.secEnd = c.secStart-drop, c.secEnd-drop
	}
	s.carry = carry
	s.raw = s.raw[:copy(s.raw, s.raw[rawCut:])]
	s.seqStart -= rawCut
	return nil
}

// pendingRaw is where the raw bytes not yet in the text view begin: the
// start of an unfinished escape sequence, or the end.
func (s *Stream) pendingRaw() int {
	switch s.state {
	case inEsc, inEscInter, inCSI, inStringEsc:
		return s.seqStart
	}
	return len(s.raw)
}

// emit appends c to the text view as produced by raw[from:to].
func (s *Stream) emit(c byte, from, to int) {
	s.text = append(s.text, c)
	if 'A' <= c && c <= 'Z' {
		c += 'a' - 'A'
	}
	s.lower = append(s.lower, c)
	s.rawFrom = append(s.rawFrom, int32(from))
	s.rawTo = append(s.rawTo, int32(to))
}

// emitRun emits text that is its own raw bytes, from raw offset off on,
// as emit of each byte would.
func (s *Stream) emitRun(run []byte, off int) {
	s.text = append(s.text, run...)
	s.lower = appendLower(s.lower, run)
	n := len(s.rawFrom)
	s.rawFrom = slices.Grow(s.rawFrom, len(run))[:n+len(run)]
	s.rawTo = slices.Grow(s.rawTo, len(run))[:n+len(run)]
	from, to, o := s.rawFrom[n:], s.rawTo[n:n+len(run)], int32(off)
	for i := range from {
		from[i] = o
		o++
		to[i] = o
	}
}

// Final bytes of sequences that move the cursor elsewhere: what follows is
// not next to what preceded.
var (
	csiMoves = newSet("ABDEFGHILMSTZadefjkrsu`")
	escMoves = newSet("8DEMc") // restore cursor, index, next line, reverse index, reset
)

// step feeds raw[off] = b through the escape-sequence parser (after Paul
// Williams' DEC parser, reduced to what the text view needs) and emits the
// text it stands for.
func (s *Stream) step(b byte, off int) {
	for {
		switch s.state {
		case inText:
			if b == esc {
				s.state, s.seqStart, s.seqLen = inEsc, off, 1
				return
			}
			s.emit(b, off, off+1)
			return

		case inEsc:
			s.seqLen++
			switch {
			case b == '[':
				s.state, s.private = inCSI, false
				return
			case b == ']' || b == 'P' || b == 'X' || b == '^' || b == '_':
				s.emit('\n', s.seqStart, off+1)
				s.state, s.osc = inString, b == ']'
				return
			case 0x20 <= b && b <= 0x2f:
				s.state = inEscInter
				return
			case 0x30 <= b && b <= 0x7e:
				if escMoves[b] {
					s.emit('\n', s.seqStart, off+1)
				}
				s.state = inText
				return
			case b == esc:
				s.seqStart, s.seqLen = off, 1
				return
			}
			s.state = inText // abandoned: b stands on its own

		case inEscInter:
			s.seqLen++
			switch {
			case 0x20 <= b && b <= 0x2f && s.seqLen <= maxSeqLen:
				return
			case 0x30 <= b && b <= 0x7e:
				s.state = inText
				return
			case b == esc:
				s.state, s.seqStart, s.seqLen = inEsc, off, 1
				return
			}
			s.state = inText

		case inCSI:
			s.seqLen++
			switch {
			case 0x20 <= b && b <= 0x3f && s.seqLen <= maxSeqLen:
				if s.seqLen == 3 && b >= '<' {
					s.private = true
				}
				return
			case 0x40 <= b && b <= 0x7e:
				switch {
				case b == 'C':
					s.emit(' ', s.seqStart, off+1)
				case csiMoves[b] || s.private && (b == 'h' || b == 'l'):
					s.emit('\n', s.seqStart, off+1)
				}
				s.state = inText
				return
			case b == esc:
				s.state, s.seqStart, s.seqLen = inEsc, off, 1
				return
			}
			s.state = inText

		case inString:
			switch {
			case b == 0x07 && s.osc:
				s.emit('\n', off, off+1)
				s.state = inText
			case b == esc:
				s.state, s.seqStart = inStringEsc, off
			case b == 0x18 || b == 0x1a: // CAN, SUB: string cancelled
				s.emit(b, off, off+1)
				s.state = inText
			default:
				s.emit(b, off, off+1)
			}
			return

		case inStringEsc:
			if b == '\\' {
				s.emit('\n', s.seqStart, off+1)
				s.state = inText
				return
			}
			// The ESC ends the string, as a break, and starts a sequence.
			s.emit('\n', s.seqStart, s.seqStart)
			s.state, s.seqLen = inEsc, 1
		}
	}
}
