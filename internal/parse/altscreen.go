package parse

import (
	"bytes"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Alternate-screen heuristics (see the package documentation).
const (
	// altFrameGap: a frame of the alternate screen is complete once the
	// program has written nothing for this long; snapshots are taken only
	// then, so no half-drawn frame is read.
	altFrameGap = 40 * time.Millisecond
	// altSnapshotEvery spaces snapshots: often enough to see the lines of
	// a fast turn, seldom enough to cost little.
	altSnapshotEvery = 100 * time.Millisecond
	// altVanishedTTL: how long a committed line that left the alternate
	// screen (scrolled away, hidden by an overlay) can come back without
	// being committed again.
	altVanishedTTL = 2 * time.Minute
)

// altScreen is the alternate screen of a full-screen program. Its text is
// not appended, it is redrawn: what the program shows is read from
// periodic snapshots of the settled frame. A line is committed once it has
// been on two consecutive snapshots unchanged (a spinner never is, its
// final state is), when it leaves the frame before that with nothing in
// its place (the view moved on faster than the snapshots), or when the
// program leaves the alternate screen. Lines
// are followed from one snapshot to the next by their longest common
// subsequence, so a line that moved (the view scrolled) stays committed; a
// committed line that vanished and comes back within altVanishedTTL is
// not committed again. Genuinely repeated lines are committed each time.
type altScreen struct {
	scr *screen                  // the grid, driven like the main screen; its own commits are discarded
	out func(text, below string) // receives the committed lines

	snapMods uint64        // scr.mods at the last snapshot
	snapAt   time.Duration // stream time of the last snapshot
	prev     []altLine
	unstable bool // the last snapshot has lines not committed yet
	vanished []vanishedLine
	// committed counts the lines (by lineKey) committed during this
	// alternate-screen session, bounded: a program may print its transcript
	// again on the main screen when it leaves (Gemini CLI does).
	committed      map[string]int
	committedBytes int

	lcs     []uint16 // reused dynamic-programming table
	buf     []byte
	next    []altLine
	match   []int // align's result, reused
	nextIdx []int // snapshot's map from the previous frame to the new one, reused
}

type altLine struct {
	text      string
	key       string // lineKey(text)
	committed bool
}

type vanishedLine struct {
	key string
	at  time.Duration
}

// lineKey is what identifies a line across redraws: its text with runs of
// spaces squashed and a right border dropped, since programs pad boxes to
// the terminal's width and a resize cuts them.
func lineKey(text string) string {
	return squashSpaces(strings.TrimRight(text, " │┃║"))
}

func newAltScreen(cols, rows int, now time.Duration, out func(text, below string)) *altScreen {
	scr := newScreen(cols, rows, false, func(string, string, bool) {})
	scr.started, scr.now = true, now
	return &altScreen{scr: scr, out: out, committed: map[string]int{}}
}

// due reports whether a snapshot should be taken now: the frame changed
// (or has lines waiting to be confirmed) and the program has paused.
func (a *altScreen) due(now time.Duration) bool {
	return (a.scr.mods != a.snapMods || a.unstable) && now-a.scr.lastMod >= altFrameGap && now-a.snapAt >= altSnapshotEvery
}

// snapshot reads the frame and commits its new settled lines; final
// commits every line not committed yet (the frame is going away).
func (a *altScreen) snapshot(now time.Duration, final bool) {
	a.snapMods, a.snapAt = a.scr.mods, now
	cur := a.lines()
	match := a.align(a.prev, cur)
	// next[i] is the line of cur that line i of prev became, or -1.
	next := slices.Grow(a.nextIdx[:0], len(a.prev))[:len(a.prev)]
	a.nextIdx = next
	for i := range next {
		next[i] = -1
	}
	for j, i := range match {
		if i >= 0 {
			next[i] = j
			cur[j].committed = a.prev[i].committed
		}
	}
	a.expire(now)
	a.unstable = false
	// In screen order: the lines of prev that left, each before the line
	// of cur that follows it.
	pi := 0
	for j := range cur {
		if i := match[j]; i >= 0 {
			for ; pi < i; pi++ {
				a.left(next, pi, len(cur), now)
			}
			pi = i + 1
		}
		a.settleLine(cur, j, match[j] >= 0, final)
	}
	for ; pi < len(a.prev); pi++ {
		a.left(next, pi, len(cur), now)
	}
	a.prev, a.next = cur, a.prev[:0]
}

func (a *altScreen) commit(l altLine, below string) {
	a.out(l.text, below)
	if a.committedBytes+len(l.key) <= maxAltCommittedBytes {
		a.committed[l.key]++
		a.committedBytes += len(l.key)
	}
}

// left handles line i of the previous frame when it is not on the new one.
func (a *altScreen) left(next []int, i, ncur int, now time.Duration) {
	l := a.prev[i]
	switch {
	case next[i] >= 0:
	case l.committed || a.claimVanished(l.key):
		a.vanish(l.key, now)
	case removed(next, i, ncur):
		// Shown on a settled frame, gone before the next without
		// anything in its place: the view moved on faster than the
		// snapshots (a fast turn), so it is kept. A line replaced in
		// place (a spinner, a progress line) is not.
		a.commit(l, "")
		a.vanish(l.key, now)
	}
}

// settleLine commits line j of the new frame if it is new and confirmed
// (it was on the previous frame too, stable) or final.
func (a *altScreen) settleLine(cur []altLine, j int, stable, final bool) {
	l := &cur[j]
	if l.committed {
		return
	}
	if !stable && !final {
		a.unstable = true
		return
	}
	l.committed = true
	if a.claimVanished(l.key) {
		return
	}
	below := ""
	if j+1 < len(cur) {
		below = cur[j+1].text
	}
	a.commit(*l, below)
}

// removed reports whether line i of the previous frame, which has no
// counterpart, left nothing in its place: the lines of the new frame
// between the counterparts of its nearest kept neighbours are none.
func removed(next []int, i, ncur int) bool {
	before, after := -1, ncur
	for k := i - 1; k >= 0; k-- {
		if next[k] >= 0 {
			before = next[k]
			break
		}
	}
	for k := i + 1; k < len(next); k++ {
		if next[k] >= 0 {
			after = next[k]
			break
		}
	}
	return after-before <= 1
}

// maxAltCommittedBytes bounds the text remembered for a reprint on exit.
const maxAltCommittedBytes = 1 << 20

// lines returns the frame's non-blank logical lines, top to bottom.
func (a *altScreen) lines() []altLine {
	s := a.scr
	out := a.next[:0]
	for h := 0; h < s.rows; {
		e := s.lineEnd(h)
		if r := s.grid[h]; e == h && r.lineCols == s.cols && r.lineGen == r.gen {
			if r.line.text != "" {
				out = append(out, r.line)
			}
			h++
			continue
		}
		b := a.buf[:0]
		for y := h; y <= e; y++ {
			b = append(b, rowText(s.grid[y])...)
		}
		if last := s.grid[e].cells; len(last) == s.cols && scrollbarGlyph(last[s.cols-1]) {
			b = b[:len(b)-utf8.RuneLen(last[s.cols-1])]
		}
		a.buf = b
		var l altLine
		if text := string(bytes.TrimRight(b, " ")); text != "" {
			l = altLine{text: text, key: lineKey(text)}
			out = append(out, l)
		}
		if e == h {
			r := s.grid[h]
			r.line, r.lineGen, r.lineCols = l, r.gen, s.cols
		}
		h = e + 1
	}
	return out
}

// rowText is the row's text, cells as spaces, computed again only when
// the row has changed since the last snapshot.
func rowText(r *row) []byte {
	if !r.textOK || r.textGen != r.gen {
		r.textCache = r.appendText(r.textCache[:0])
		r.textGen, r.textOK = r.gen, true
	}
	return r.textCache
}

// scrollbarGlyph: full-screen programs draw a scrollbar in the last
// column; its thumb moves as the view scrolls and is not the line's text.
func scrollbarGlyph(r rune) bool {
	switch r {
	case '█', '▐', '▕', '▌', '▓', '▒', '░', '┃', '║':
		return true
	}
	return false
}

// align returns, for each line of cur, the index of the line of prev it
// continues (a longest common subsequence of their texts), or -1.
func (a *altScreen) align(prev, cur []altLine) []int {
	n, m := len(prev), len(cur)
	match := slices.Grow(a.match[:0], m)[:m]
	a.match = match
	for j := range match {
		match[j] = -1
	}
	// Frames mostly differ in a few lines: match the common beginning and
	// end directly, and the middle by the table.
	lo := 0
	for lo < n && lo < m && prev[lo].key == cur[lo].key {
		match[lo] = lo
		lo++
	}
	for n > lo && m > lo && prev[n-1].key == cur[m-1].key {
		match[m-1] = n - 1
		n--
		m--
	}
	prev, cur = prev[lo:n], cur[lo:m]
	n, m = len(prev), len(cur)
	if n == 0 || m == 0 {
		return match
	}
	w := m + 1
	if need := (n + 1) * w; cap(a.lcs) < need {
		a.lcs = make([]uint16, need)
	} else {
		a.lcs = a.lcs[:need]
		clear(a.lcs)
	}
	t := a.lcs
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			switch {
			case prev[i].key == cur[j].key:
				t[i*w+j] = t[(i+1)*w+j+1] + 1
			case t[(i+1)*w+j] >= t[i*w+j+1]:
				t[i*w+j] = t[(i+1)*w+j]
			default:
				t[i*w+j] = t[i*w+j+1]
			}
		}
	}
	for i, j := 0, 0; i < n && j < m; {
		switch {
		case prev[i].key == cur[j].key:
			match[lo+j] = lo + i
			i++
			j++
		case t[(i+1)*w+j] >= t[i*w+j+1]:
			i++
		default:
			j++
		}
	}
	return match
}

func (a *altScreen) vanish(key string, now time.Duration) {
	a.vanished = append(a.vanished, vanishedLine{key: key, at: now})
	if limit := 4*a.scr.rows + 64; len(a.vanished) > limit {
		a.vanished = append(a.vanished[:0], a.vanished[len(a.vanished)-limit:]...)
	}
}

func (a *altScreen) expire(now time.Duration) {
	kept := a.vanished[:0]
	for _, v := range a.vanished {
		if now-v.at <= altVanishedTTL {
			kept = append(kept, v)
		}
	}
	a.vanished = kept
}

func (a *altScreen) claimVanished(key string) bool {
	for i, v := range a.vanished {
		if v.key == key {
			a.vanished = append(a.vanished[:i], a.vanished[i+1:]...)
			return true
		}
	}
	return false
}

// squashSpaces replaces each run of spaces by one.
func squashSpaces(s string) string {
	if !strings.Contains(s, "  ") {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' && len(b) > 0 && b[len(b)-1] == ' ' {
			continue
		}
		b = append(b, s[i])
	}
	return string(b)
}
