package wrapper

import (
	"bytes"
	"unicode/utf8"
)

// classifyInput counts the keys in a chunk from the user's terminal and
// tells whether the chunk is the terminal answering a query rather than
// typing: a cursor position report (CSI r;c R), device attributes
// (CSI ? … c, CSI > … c), a mode report (CSI ? … $ y), a kitty keyboard
// report (CSI ? … u), focus reports (CSI I, CSI O), colour or other OSC
// replies, and DCS replies (XTVERSION). An escape sequence counts as one
// key (an arrow key); a bracketed paste counts as one.
func classifyInput(p []byte) (keys int, reply bool) {
	if len(p) > 1 && p[0] == 0x1b {
		switch p[1] {
		case ']', 'P': // OSC and DCS arrive from terminals only as replies
			return 0, true
		case '[':
			if isReport(p) {
				return 0, true
			}
		}
	}
	for len(p) > 0 {
		if bytes.HasPrefix(p, []byte("\x1b[200~")) {
			end := bytes.Index(p, []byte("\x1b[201~"))
			if end < 0 {
				return keys + 1, false
			}
			keys++
			p = p[end+6:]
			continue
		}
		if p[0] == 0x1b {
			p = p[escLen(p):]
			keys++
			continue
		}
		_, n := utf8.DecodeRune(p)
		p = p[n:]
		keys++
	}
	return keys, false
}

// escLen is the length of the escape sequence at the start of p.
func escLen(p []byte) int {
	if len(p) < 2 {
		return len(p)
	}
	switch p[1] {
	case '[':
		for i := 2; i < len(p); i++ {
			if p[i] >= 0x40 && p[i] <= 0x7e {
				return i + 1
			}
		}
		return len(p)
	case 'O': // SS3: F1–F4 and application-mode arrows
		return min(3, len(p))
	default: // Alt+key
		_, n := utf8.DecodeRune(p[1:])
		return 1 + n
	}
}

// isReport matches the CSI replies a terminal sends on its own.
func isReport(p []byte) bool {
	n := escLen(p)
	if n != len(p) || n < 3 {
		return false
	}
	body, final := p[2:n-1], p[n-1]
	private := len(body) > 0 && (body[0] == '?' || body[0] == '>')
	switch {
	case final == 'R': // cursor position: digits;digits
		return bytes.IndexByte(body, ';') > 0
	case final == 'c' && private, final == 'u' && private:
		return true
	case final == 'y' && bytes.HasSuffix(body, []byte("$")):
		return true
	case (final == 'I' || final == 'O') && len(body) == 0:
		return true
	}
	return false
}
