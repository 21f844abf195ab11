package parse

import "unicode/utf8"

// Limits that keep the tokenizer's memory bounded whatever it is fed.
const (
	maxStringLen     = 4 << 10 // OSC and DCS payload kept; the rest is discarded
	maxCSIParams     = 32      // a sequence with more parameters is ignored
	maxParamValue    = 0xFFFF  // larger parameter values are clamped
	maxIntermediates = 2       // a sequence with more intermediates is ignored
)

// csiSeq is one control sequence as dispatched: ESC [ private params inter final.
type csiSeq struct {
	private byte // '?', '>', '<', '=' or 0
	params  [maxCSIParams]int
	nparams int
	inter   [maxIntermediates]byte
	ninter  int
	final   byte
}

// param returns parameter i, or def when it is absent or zero, which is how
// VT cursor and erase sequences treat their defaults.
func (c *csiSeq) param(i, def int) int {
	if i >= c.nparams || c.params[i] == 0 {
		return def
	}
	return c.params[i]
}

// performer receives what the tokenizer recognises; it gives the tokens
// meaning. The screen model implements it; tests record it.
type performer interface {
	print(r rune)                         // a printable character (U+FFFD for invalid UTF-8)
	printASCII(run []byte)                // printable ASCII characters, as print of each would
	execute(b byte)                       // a C0 control such as LF, CR, BS
	csiDispatch(c *csiSeq)                // a complete control sequence
	escDispatch(inter []byte, final byte) // ESC [inter...] final
	oscDispatch(data []byte)              // an operating system command, capped
	dcsDispatch(c *csiSeq, data []byte)   // a device control string, capped
}

type vtState uint8

const (
	stGround vtState = iota
	stEscape
	stEscapeInter
	stCSIEntry
	stCSIParam
	stCSIInter
	stCSIIgnore
	stDCSEntry
	stDCSParam
	stDCSInter
	stDCSPassthrough
	stDCSIgnore
	stOSC
	stSOSPMAPC
)

// tokenizer is Paul Williams' DEC ANSI parser (vt100.net/emu/dec_ansi_parser)
// over UTF-8: C1 controls are not recognised as single bytes, bytes >= 0x80
// in the ground state are decoded as UTF-8. All state survives between
// feed calls, so input may be split anywhere, even inside a sequence or a
// UTF-8 character.
type tokenizer struct {
	p     performer
	state vtState

	csi      csiSeq
	paramAcc int  // value of the parameter being read
	hasParam bool // a digit or separator was seen in the current sequence
	overflow bool // too many parameters or intermediates: ignore the sequence

	str []byte // OSC or DCS payload, capped at maxStringLen

	u8  [utf8.UTFMax]byte // pending bytes of an incomplete UTF-8 character
	u8n int
}

func newTokenizer(p performer) *tokenizer {
	return &tokenizer{p: p}
}

func (t *tokenizer) feed(data []byte) {
	for i := 0; i < len(data); i++ {
		b := data[i]
		if t.state == stGround && t.u8n == 0 && b >= 0x20 && b < 0x7F {
			// Fast path: a run of printable ASCII, most of any output.
			j := i + 1
			for j < len(data) && data[j] >= 0x20 && data[j] < 0x7F {
				j++
			}
			t.p.printASCII(data[i:j])
			if i = j; i == len(data) {
				return
			}
			b = data[i]
		}
		if b == 0x1B && i+1 < len(data) && data[i+1] == '[' && t.u8n == 0 && t.state != stOSC && t.state != stDCSPassthrough {
			// Fast path: CSI, as step would take ESC then '['.
			t.clear()
			t.state = stCSIEntry
			if i += 2; i == len(data) {
				return
			}
			b = data[i]
		}
		if (t.state == stCSIParam || t.state == stCSIEntry) && (b-'0' <= 9 || b == ';' || b == ':') {
			// Fast path: a control sequence's parameters (SGR colours).
			j := i
			for ; j < len(data) && (data[j]-'0' <= 9 || data[j] == ';' || data[j] == ':'); j++ {
				t.param(data[j])
			}
			t.state = stCSIParam
			if i = j; i == len(data) {
				return
			}
			b = data[i]
		}
		if t.state == stGround && t.u8n == 0 && b >= 0xC2 {
			// Fast path: a whole UTF-8 character (box drawing, bullets).
			// A partial or invalid one takes the byte-wise path.
			if r, size := utf8.DecodeRune(data[i:]); size > 1 {
				t.p.print(r)
				i += size - 1
				continue
			}
		}
		t.step(b)
	}
}

// finish flushes an incomplete UTF-8 character at end of stream.
func (t *tokenizer) finish() {
	t.flushUTF8()
}

func (t *tokenizer) step(b byte) {
	// "Anywhere" transitions, except inside a UTF-8 character which a
	// control byte interrupts: the partial character becomes U+FFFD first.
	if b < 0x80 && t.u8n > 0 {
		t.flushUTF8()
	}
	switch b {
	case 0x18, 0x1A: // CAN, SUB abort any sequence
		t.endString()
		t.p.execute(b)
		t.state = stGround
		return
	case 0x1B:
		t.endString()
		t.clear()
		t.state = stEscape
		return
	}

	switch t.state {
	case stGround:
		switch {
		case b < 0x20:
			t.p.execute(b)
		case b < 0x7F:
			t.p.print(rune(b))
		case b == 0x7F: // DEL is ignored
		default:
			t.utf8Byte(b)
		}

	case stEscape:
		switch {
		case b < 0x20:
			t.p.execute(b)
		case b < 0x30:
			t.collect(b)
			t.state = stEscapeInter
		case b == '[':
			t.state = stCSIEntry
		case b == ']':
			t.str = t.str[:0]
			t.state = stOSC
		case b == 'P':
			t.str = t.str[:0]
			t.state = stDCSEntry
		case b == 'X' || b == '^' || b == '_':
			t.state = stSOSPMAPC
		case b < 0x7F:
			t.p.escDispatch(nil, b)
			t.state = stGround
		case b >= 0x80: // not a sequence after all: back to text
			t.state = stGround
			t.utf8Byte(b)
		}

	case stEscapeInter:
		switch {
		case b < 0x20:
			t.p.execute(b)
		case b < 0x30:
			t.collect(b)
		case b < 0x7F:
			if !t.overflow {
				t.p.escDispatch(t.csi.inter[:t.csi.ninter], b)
			}
			t.state = stGround
		case b >= 0x80:
			t.state = stGround
			t.utf8Byte(b)
		}

	case stCSIEntry, stCSIParam, stCSIInter:
		t.csiByte(b)

	case stCSIIgnore:
		switch {
		case b < 0x20:
			t.p.execute(b)
		case b >= 0x40 && b < 0x7F:
			t.state = stGround
		}

	case stDCSEntry, stDCSParam, stDCSInter:
		t.dcsHeaderByte(b)

	case stDCSPassthrough:
		if b != 0x7F {
			t.put(b)
		}

	case stDCSIgnore, stSOSPMAPC:
		// Consumed until ESC (the start of ST), handled above.

	case stOSC:
		switch {
		case b == 0x07: // BEL terminates an OSC (xterm)
			t.p.oscDispatch(t.str)
			t.state = stGround
		case b >= 0x20:
			t.put(b)
		}
	}
}

// csiByte handles the csi_entry, csi_param and csi_intermediate states.
func (t *tokenizer) csiByte(b byte) {
	switch {
	case b < 0x20:
		t.p.execute(b)
	case b < 0x30: // intermediate
		t.collect(b)
		t.state = stCSIInter
	case t.state == stCSIInter && b < 0x40:
		t.state = stCSIIgnore
	case b <= '9' || b == ';' || b == ':':
		// ':' separates sub-parameters (SGR colours); flattened here.
		t.param(b)
		t.state = stCSIParam
	case b < 0x40: // '<' '=' '>' '?': private marker, only first
		if t.state != stCSIEntry {
			t.state = stCSIIgnore
			return
		}
		t.csi.private = b
		t.state = stCSIParam
	case b < 0x7F:
		t.endParams()
		t.state = stGround
		if t.overflow {
			return
		}
		t.csi.final = b
		t.p.csiDispatch(&t.csi)
	}
}

// dcsHeaderByte handles dcs_entry, dcs_param and dcs_intermediate: the
// parameters and final byte before the payload.
func (t *tokenizer) dcsHeaderByte(b byte) {
	switch {
	case b < 0x20: // ignored in a DCS header
	case b < 0x30:
		t.collect(b)
		t.state = stDCSInter
	case t.state == stDCSInter && b < 0x40:
		t.state = stDCSIgnore
	case b <= '9' || b == ';' || b == ':':
		t.param(b)
		t.state = stDCSParam
	case b < 0x40:
		if t.state != stDCSEntry {
			t.state = stDCSIgnore
			return
		}
		t.csi.private = b
		t.state = stDCSParam
	case b < 0x7F:
		t.endParams()
		t.csi.final = b
		t.state = stDCSPassthrough
		if t.overflow {
			t.state = stDCSIgnore
		}
	}
}

// endString dispatches an OSC or DCS string cut short by ESC, CAN or SUB.
// Williams' parser dispatches on any exit from these states; ST is ESC \.
func (t *tokenizer) endString() {
	switch t.state {
	case stOSC:
		t.p.oscDispatch(t.str)
	case stDCSPassthrough:
		t.p.dcsDispatch(&t.csi, t.str)
	}
}

func (t *tokenizer) clear() {
	t.csi.private = 0
	t.csi.nparams = 0
	t.csi.ninter = 0
	t.csi.final = 0
	t.paramAcc = 0
	t.hasParam = false
	t.overflow = false
}

func (t *tokenizer) collect(b byte) {
	if t.csi.ninter == maxIntermediates {
		t.overflow = true
		return
	}
	t.csi.inter[t.csi.ninter] = b
	t.csi.ninter++
}

func (t *tokenizer) param(b byte) {
	t.hasParam = true
	if b == ';' || b == ':' {
		t.pushParam()
		return
	}
	t.paramAcc = t.paramAcc*10 + int(b-'0')
	if t.paramAcc > maxParamValue {
		t.paramAcc = maxParamValue
	}
}

func (t *tokenizer) pushParam() {
	if t.csi.nparams == maxCSIParams {
		t.overflow = true
	} else {
		t.csi.params[t.csi.nparams] = t.paramAcc
		t.csi.nparams++
	}
	t.paramAcc = 0
}

func (t *tokenizer) endParams() {
	if t.hasParam {
		t.pushParam()
	}
}

func (t *tokenizer) put(b byte) {
	if len(t.str) < maxStringLen {
		t.str = append(t.str, b)
	}
}

// utf8Byte accumulates a multi-byte character; an invalid or interrupted
// sequence is printed as U+FFFD, the way utf8.DecodeRune reports it.
func (t *tokenizer) utf8Byte(b byte) {
	t.u8[t.u8n] = b
	t.u8n++
	for t.u8n > 0 && utf8.FullRune(t.u8[:t.u8n]) {
		r, size := utf8.DecodeRune(t.u8[:t.u8n])
		t.p.print(r)
		t.u8n = copy(t.u8[:], t.u8[size:t.u8n])
	}
}

func (t *tokenizer) flushUTF8() {
	for t.u8n > 0 {
		r, size := utf8.DecodeRune(t.u8[:t.u8n])
		t.p.print(r)
		t.u8n = copy(t.u8[:], t.u8[size:t.u8n])
	}
}
