package ptyrun

import (
	"bytes"
	"strconv"
)

// modeTracker follows the terminal modes the child switches on that make a
// terminal unusable when left on (a killed TUI leaves the shell on the
// alternate screen, typing mouse reports), so that they can be reset after
// the child is gone. It runs on the output path, so it only looks at escape
// sequences (skipping text with IndexByte), keeps at most maxSeqLen bytes of
// a sequence cut by a chunk boundary, and ignores longer ones.
type modeTracker struct {
	state   scanState
	seq     [maxSeqLen]byte // parameter and intermediate bytes of the CSI being read
	n       int
	tooLong bool

	on [len(decModes)]bool
	// kitty counts the kitty keyboard protocol's pushes (CSI > flags u) not
	// yet popped, for the main [0] and alternate [1] screens, which keep
	// separate stacks.
	kitty [2]int
}

type scanState uint8

const (
	scanGround scanState = iota
	scanEscape
	scanCSI
)

const (
	maxSeqLen = 32
	// maxKittyPushes bounds the counters; terminals bound the stack too,
	// and popping more than was pushed is harmless.
	maxKittyPushes = 1024
)

type modeKind uint8

const (
	modeFeature modeKind = iota // reset before leaving the alternate screen
	modeScreen                  // an alternate screen
	modeCursor                  // "on" means hidden
)

// decModes are the DEC private modes tracked, in reset order.
var decModes = [...]struct {
	number int
	kind   modeKind
}{
	{2026, modeFeature}, // synchronized output: the terminal holds frames until it ends
	{1000, modeFeature}, // mouse: clicks
	{1002, modeFeature}, // mouse: drags
	{1003, modeFeature}, // mouse: all motion
	{1006, modeFeature}, // mouse: SGR encoding
	{1004, modeFeature}, // focus in/out reports
	{2004, modeFeature}, // bracketed paste
	{1049, modeScreen},
	{1047, modeScreen},
	{47, modeScreen},
	{25, modeCursor}, // DECTCEM; 25l hides the cursor
}

const esc = 0x1b

// scan feeds the tracker the next chunk of output.
func (m *modeTracker) scan(p []byte) {
	for len(p) > 0 {
		switch m.state {
		case scanGround:
			i := bytes.IndexByte(p, esc)
			if i < 0 {
				return
			}
			p = p[i+1:]
			m.state = scanEscape
		case scanEscape:
			c := p[0]
			p = p[1:]
			switch c {
			case '[':
				m.state, m.n, m.tooLong = scanCSI, 0, false
			case 'c': // RIS: the terminal resets everything itself
				*m = modeTracker{}
			case esc:
			default:
				m.state = scanGround
			}
		case scanCSI:
			c := p[0]
			p = p[1:]
			switch {
			case c >= 0x40 && c <= 0x7e:
				m.state = scanGround
				if !m.tooLong {
					m.dispatch(m.seq[:m.n], c)
				}
			case c >= 0x20 && c <= 0x3f:
				if m.n == len(m.seq) {
					m.tooLong = true
				} else {
					m.seq[m.n] = c
					m.n++
				}
			case c == esc:
				m.state = scanEscape
			case c == 0x18 || c == 0x1a: // CAN, SUB cancel the sequence
				m.state = scanGround
			}
			// Other C0 controls are executed by terminals without ending the
			// sequence; so are they here.
		}
	}
}

// dispatch handles a complete CSI sequence: body is what lies between
// "ESC [" and the final byte.
func (m *modeTracker) dispatch(body []byte, final byte) {
	if len(body) == 0 {
		return
	}
	prefix, params := body[0], body[1:]
	switch {
	case prefix == '?' && (final == 'h' || final == 'l'):
		for field := range bytes.SplitSeq(params, []byte{';'}) {
			n, err := strconv.Atoi(string(field))
			if err != nil {
				return // not a mode list (sub-parameters, intermediates)
			}
			m.setDEC(n, final == 'h')
		}
	case prefix == '>' && final == 'u':
		screen := m.screen()
		m.kitty[screen] = min(m.kitty[screen]+1, maxKittyPushes)
	case prefix == '<' && final == 'u':
		n := 1
		if len(params) > 0 {
			var err error
			if n, err = strconv.Atoi(string(params)); err != nil {
				return
			}
		}
		screen := m.screen()
		m.kitty[screen] = max(m.kitty[screen]-max(n, 1), 0)
	}
}

func (m *modeTracker) setDEC(number int, set bool) {
	for i, mode := range decModes {
		if mode.number != number {
			continue
		}
		wasAlt := m.screen() == 1
		m.on[i] = set != (mode.kind == modeCursor)
		if wasAlt && m.screen() == 0 {
			m.kitty[1] = 0 // the alternate screen's stack goes with it
		}
		return
	}
}

// screen is 1 on an alternate screen, 0 on the main one.
func (m *modeTracker) screen() int {
	for i, mode := range decModes {
		if mode.kind == modeScreen && m.on[i] {
			return 1
		}
	}
	return 0
}

// resets returns the sequences that switch off the modes still on, nil
// when there are none.
func (m *modeTracker) resets() []byte {
	var b []byte
	decReset := func(kind modeKind) {
		for i, mode := range decModes {
			if mode.kind != kind || !m.on[i] {
				continue
			}
			final := byte('l')
			if kind == modeCursor {
				final = 'h'
			}
			b = append(b, esc, '[', '?')
			b = strconv.AppendInt(b, int64(mode.number), 10)
			b = append(b, final)
		}
	}
	popKitty := func(n int) {
		if n > 0 {
			b = append(b, esc, '[', '<')
			b = strconv.AppendInt(b, int64(n), 10)
			b = append(b, 'u')
		}
	}
	decReset(modeFeature)
	if m.screen() == 1 {
		popKitty(m.kitty[1])
	}
	decReset(modeScreen)
	popKitty(m.kitty[0])
	decReset(modeCursor)
	return b
}
