package parse

import (
	"bytes"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits that keep the screen's memory bounded.
const (
	maxCols      = 2048
	maxRows      = 1024
	maxLineBytes = 64 << 10 // longer logical lines are committed in pieces
	maxCombining = 8        // combining marks kept per cell
)

// Redraw heuristics (see the package documentation).
const (
	// settleDelay: a line that was rewritten after being committed, or that
	// the cursor left without a line feed, is committed once it has not
	// changed for this long (in stream time, checked at each Write).
	settleDelay = 2 * time.Second
	// displacedTTL: how long the old text of a rewritten line can still
	// match a line committed elsewhere (a redraw that shifted it), counted
	// from its displacement or the last erase of its line.
	displacedTTL = 5 * time.Second
)

// wideTail marks the second cell of a wide character.
const wideTail rune = -1

// row is one terminal row. A logical line is a row plus the rows it
// autowrapped onto; its commit state lives on its first row.
type row struct {
	cells   []rune         // 0 = never written, reads as a space
	comb    map[int][]rune // combining marks by column, rarely used
	wrapped bool           // autowrap continued this row's text on the next row
	gen     uint64         // the screen's modification count when the row last changed

	// The alternate screen's snapshots cache the row's text, and the
	// line it is when it is a line of one row, most are.
	textCache []byte
	textGen   uint64
	textOK    bool
	line      altLine
	lineGen   uint64
	lineCols  int // 0: not cached

	// Logical-line state, meaningful on a line's first row.
	settled bool          // the line's text has been committed (or matched a redraw)
	dirty   bool          // modified since it settled
	emitted string        // text committed when it last settled
	modAt   time.Duration // stream time of the last modification of any of its rows
	entry   *displaced    // its old text, while dirty
}

func (r *row) reset() {
	r.cells = r.cells[:0]
	r.comb = nil
	r.wrapped = false
	r.settled = false
	r.dirty = false
	r.emitted = ""
	r.modAt = 0
	r.entry = nil
}

func (r *row) blank() bool {
	for _, c := range r.cells {
		if c != 0 && c != ' ' {
			return false
		}
	}
	return len(r.comb) == 0
}

func (r *row) appendText(b []byte) []byte {
	for x, c := range r.cells {
		switch {
		case c > 0 && c < utf8.RuneSelf:
			b = append(b, byte(c))
		case c == wideTail:
			continue
		case c == 0:
			b = append(b, ' ')
		default:
			b = utf8.AppendRune(b, c)
		}
		if r.comb != nil {
			for _, m := range r.comb[x] {
				b = utf8.AppendRune(b, m)
			}
		}
	}
	return b
}

func (r *row) text() string {
	return strings.TrimRight(string(r.appendText(nil)), " ")
}

// put writes r of width w (1 or 2) at column x, repairing wide characters
// it overwrites half of.
func (r *row) put(x int, c rune, w int) {
	if x == len(r.cells) && w == 1 && r.comb == nil { // appending: the common case
		r.cells = append(r.cells, c)
		return
	}
	for len(r.cells) < x+w {
		r.cells = append(r.cells, 0)
	}
	r.unsplit(x, x+w)
	r.cells[x] = c
	if w == 2 {
		r.cells[x+1] = wideTail
	}
	if r.comb != nil {
		delete(r.comb, x)
	}
}

// putASCII writes single-width characters from column x.
func (r *row) putASCII(x int, run []byte) {
	if x != len(r.cells) || r.comb != nil {
		for i, c := range run {
			r.put(x+i, rune(c), 1)
		}
		return
	}
	for _, c := range run { // appending: the common case
		r.cells = append(r.cells, rune(c))
	}
}

// unsplit blanks the halves of wide characters cut by the range [from, to).
func (r *row) unsplit(from, to int) {
	if from > 0 && from < len(r.cells) && r.cells[from] == wideTail {
		r.cells[from-1] = 0
	}
	if to > 0 && to < len(r.cells) && r.cells[to] == wideTail {
		r.cells[to] = 0
	}
}

// clear blanks columns [from, to).
func (r *row) clear(from, to int) {
	if to > len(r.cells) {
		to = len(r.cells)
	}
	if from >= to {
		return
	}
	r.unsplit(from, to)
	for x := from; x < to; x++ {
		r.cells[x] = 0
		if r.comb != nil {
			delete(r.comb, x)
		}
	}
	if to == len(r.cells) {
		r.cells = r.cells[:from]
	}
}

// displaced is the committed text of a line that has since been rewritten.
// A line later committed with the same text is the same content redrawn
// (possibly on another row), so it claims the entry instead of being
// committed again.
type displaced struct {
	text  string
	at    time.Duration // when displaced, refreshed when its line is erased again (a TUI redrawing it)
	owner *row          // the rewritten line, until it settles again
}

type cursorState struct {
	x, y        int
	wrapPending bool
}

// screen is the main screen of a terminal: a grid of rows and a cursor,
// driven by the tokenizer. Lines leave it through commit, in the order
// they become final:
//   - a line the cursor leaves with a line feed, written for the first time;
//   - a line scrolling off the top of the screen;
//   - a line that has not changed for settleDelay (rewritten lines, lines
//     the cursor left by moving), except the cursor's own line;
//   - everything still on screen, at close.
//
// Rewritten content that matches text committed shortly before (a TUI
// redraw) is not committed again. While the alternate screen is active,
// output goes to it (altscreen.go).
type screen struct {
	// newPage: the output is a shell's. A full clear (ED 2, RIS) starts a
	// new page whose lines are new output, as after `clear`, and what is
	// printed after leaving the alternate screen is new output (`cat` of
	// the file just edited in vim). Otherwise (TUIs) a full clear is the
	// start of a redraw of what was on screen, and lines printed after
	// leaving the alternate screen may be its transcript again.
	newPage bool
	// newline: a line feed also returns to column 0 (see
	// Options.NewlineMode).
	newline bool

	cols, rows int
	grid       []*row
	// ring is grid's backing array, twice its height, grid starting at
	// off: scrolling the whole screen slides grid along it (see slide).
	ring     []*row
	off      int
	cur      cursorState
	saved    cursorState
	autowrap bool
	top, bot int        // scroll region, inclusive
	alt      *altScreen // the alternate screen, while it is active

	// mods counts modifications and lastMod is the stream time of the
	// latest; the alternate screen's snapshots use them.
	mods    uint64
	lastMod time.Duration

	// reprint holds the lines (by lineKey) committed from the alternate
	// screen just left, until reprintUntil: a program printing them again on the main
	// screen as it leaves is not committing new lines.
	reprint      map[string]int
	reprintUntil time.Duration

	// Stream time, since the first write; plain durations rather than
	// time.Time keep the per-character bookkeeping free of pointers.
	epoch    time.Time
	started  bool
	now      time.Duration
	lastScan time.Duration

	carry   []byte       // start of a logical line that scrolled off before it ended
	pool    []*displaced // oldest first
	buf     []byte
	scratch []*row // rows being moved by a scroll

	headY, headOf int // cache: the logical line containing row headY starts at headOf
	headOK        bool

	// commit receives the committed lines; alt says a line was read from
	// the alternate screen.
	commit func(text, below string, alt bool)
	// mark receives the shell's semantic prompt marks (OSC 133): kind A,
	// B, C or D, its argument (D's exit status), and for B the prompt, the
	// text before the cursor on its row.
	mark func(kind byte, arg, prompt string)
}

func newScreen(cols, rows int, newPage bool, commit func(text, below string, alt bool)) *screen {
	s := &screen{newPage: newPage, autowrap: true, commit: commit}
	s.cols, s.rows = clampSize(cols, 80, maxCols), clampSize(rows, 24, maxRows)
	block, grid := make([]row, s.rows), make([]*row, s.rows) // the rows, allocated together: they live together
	for i := range grid {
		grid[i] = &block[i]
	}
	s.setGrid(grid)
	s.bot = s.rows - 1
	return s
}

// setGrid makes rows the grid, at the start of a new ring.
func (s *screen) setGrid(rows []*row) {
	s.ring = make([]*row, 2*len(rows))
	copy(s.ring, rows)
	s.off = 0
	s.grid = s.ring[:len(rows):len(rows)]
}

// slide scrolls the whole grid up by n rows (n <= rows): the rows leaving
// the top become the bottom ones. Moving grid along the ring rewrites n
// row pointers, and all of them once per screenful, rather than all of
// them at every scroll: a shell's output scrolls once per line.
func (s *screen) slide(n int) {
	if s.off+len(s.grid)+n > len(s.ring) {
		copy(s.ring, s.grid)
		s.off = 0
	}
	copy(s.ring[s.off+len(s.grid):], s.ring[s.off:s.off+n])
	s.off += n
	s.grid = s.ring[s.off : s.off+len(s.grid) : s.off+len(s.grid)]
}

func clampSize(n, def, max int) int {
	switch {
	case n <= 0:
		return def
	case n > max:
		return max
	}
	return n
}

// setTime advances the stream clock and commits lines that have settled.
func (s *screen) setTime(at time.Time) {
	if !s.started {
		s.epoch, s.started = at, true
	}
	s.now = at.Sub(s.epoch)
	if s.alt != nil {
		s.alt.scr.now = s.now
		if s.alt.due(s.now) {
			s.alt.snapshot(s.now, false)
		}
	}
	if s.now-s.lastScan < settleDelay/4 {
		return
	}
	s.lastScan = s.now
	s.settlePending(s.lineHead(s.cur.y), false)
	s.expireDisplaced()
}

// close commits everything still on screen.
func (s *screen) close() {
	s.leaveAlt()
	s.settlePending(-1, true)
	s.flushCarry()
}

// enterAlt switches to a blank alternate screen.
func (s *screen) enterAlt() {
	if s.alt == nil {
		s.alt = newAltScreen(s.cols, s.rows, s.now, func(text, below string) { s.commit(text, below, true) })
	}
}

// leaveAlt commits what the alternate screen still shows and returns to
// the main screen.
func (s *screen) leaveAlt() {
	if s.alt == nil {
		return
	}
	s.alt.snapshot(s.now, true)
	if !s.newPage {
		s.reprint, s.reprintUntil = s.alt.committed, s.now+displacedTTL
	}
	s.alt = nil
}

// settlePending commits, top to bottom, the pending lines that have been
// still for settleDelay (or all of them), except the line starting at row skip.
func (s *screen) settlePending(skip int, all bool) {
	for h := 0; h < s.rows; {
		e := s.lineEnd(h)
		if h != skip && s.pending(h, e) && (all || s.now-s.grid[h].modAt >= settleDelay) {
			s.settle(h, e, false)
		}
		h = e + 1
	}
}

// pending reports whether the line h..e has content not yet committed.
func (s *screen) pending(h, e int) bool {
	hr := s.grid[h]
	if hr.dirty {
		return true
	}
	if hr.settled {
		return false
	}
	if h == 0 && len(s.carry) > 0 {
		return true
	}
	for y := h; y <= e; y++ {
		if !s.grid[y].blank() {
			return true
		}
	}
	return false
}

// settle decides whether the line h..e is committed: a blank line is only
// committed when a line feed ends it (keepBlank) and it was never committed
// before; a line matching displaced text is a redraw. A line starting on
// row 0 begins with the carried text of its rows that scrolled off.
func (s *screen) settle(h, e int, keepBlank bool) {
	s.settleLine(h, e, keepBlank, h == 0)
}

func (s *screen) settleLine(h, e int, keepBlank, withCarry bool) {
	b := s.buf[:0]
	if withCarry {
		b = append(b, s.carry...)
		s.carry = s.carry[:0]
	}
	for y := h; y <= e; y++ {
		b = s.grid[y].appendText(b)
	}
	s.buf = b
	text := strings.TrimRight(string(b), " ")
	hr := s.grid[h]
	switch {
	case text == "" && (hr.settled || !keepBlank):
	case s.claim(hr, text):
	default:
		below := ""
		if e+1 < s.rows {
			below = s.grid[e+1].text()
		}
		s.commit(text, below, false)
	}
	if hr.entry != nil {
		hr.entry.owner = nil // stays in the pool: the old text may reappear elsewhere
		hr.entry = nil
	}
	hr.settled, hr.dirty, hr.emitted = true, false, text
	for y := h + 1; y <= e; y++ {
		r := s.grid[y]
		r.settled, r.dirty, r.emitted = true, false, ""
	}
}

// claim consumes a live displaced entry with this text, the line's own first.
// Liveness is judged when the line settled (settleDelay after its last
// change), not when a later write noticed it: a redraw followed by a long
// pause is still a redraw.
func (s *screen) claim(hr *row, text string) bool {
	at := min(s.now, hr.modAt+settleDelay)
	if len(s.reprint) > 0 && s.now <= s.reprintUntil && s.claimReprint(text) {
		return true
	}
	if e := hr.entry; e != nil && e.text == text && liveAt(e, at) {
		s.dropDisplaced(e)
		return true
	}
	for _, e := range s.pool {
		if e.text == text && liveAt(e, at) {
			s.dropDisplaced(e)
			return true
		}
	}
	return false
}

// claimReprint consumes a line committed from the alternate screen that
// text reprints. At another width a long line may be cut differently, so
// a line that begins one (at a word's end, and long enough to mean
// something) is the same line too.
func (s *screen) claimReprint(text string) bool {
	key := lineKey(text)
	if s.reprint[key] > 0 {
		s.reprint[key]--
		return true
	}
	if len(key) < minReprintPrefix {
		return false
	}
	for k, n := range s.reprint {
		if n > 0 && len(k) > len(key) && k[len(key)] == ' ' && strings.HasPrefix(k, key) {
			s.reprint[k]--
			return true
		}
	}
	return false
}

// minReprintPrefix is the shortest line claimed as the start of a reprinted one.
const minReprintPrefix = 12

func (s *screen) live(e *displaced) bool { return liveAt(e, s.now) }

func liveAt(e *displaced, at time.Duration) bool { return at-e.at <= displacedTTL }

func (s *screen) displace(hr *row) {
	e := &displaced{text: hr.emitted, at: s.now, owner: hr}
	hr.entry = e
	s.pool = append(s.pool, e)
	if limit := 2*s.rows + 16; len(s.pool) > limit {
		s.dropDisplaced(s.pool[0])
	}
}

func (s *screen) dropDisplaced(e *displaced) {
	for i, p := range s.pool {
		if p == e {
			s.pool = append(s.pool[:i], s.pool[i+1:]...)
			break
		}
	}
	if e.owner != nil {
		e.owner.entry = nil
		e.owner = nil
	}
}

func (s *screen) expireDisplaced() {
	kept := s.pool[:0]
	for _, e := range s.pool {
		if s.live(e) {
			kept = append(kept, e)
		} else if e.owner != nil {
			e.owner.entry = nil
		}
	}
	clear(s.pool[len(kept):])
	s.pool = kept
}

// touch records a modification of row y; erase tells an erase from a write.
func (s *screen) touch(y int, erase bool) {
	s.mods++
	s.lastMod = s.now
	s.grid[y].gen = s.mods
	hr := s.grid[s.lineHead(y)]
	hr.modAt = s.now
	if hr.settled && !hr.dirty {
		hr.dirty = true
		s.displace(hr)
	} else if erase && hr.entry != nil {
		hr.entry.at = s.now
	}
}

// lineHead returns the first row of the logical line containing row y.
func (s *screen) lineHead(y int) int {
	if s.headOK && s.headY == y {
		return s.headOf
	}
	h := y
	for h > 0 && s.grid[h-1].wrapped {
		h--
	}
	s.headY, s.headOf, s.headOK = y, h, true
	return h
}

func (s *screen) lineEnd(h int) int {
	for h < s.rows-1 && s.grid[h].wrapped {
		h++
	}
	return h
}

func (s *screen) setWrapped(y int, v bool) {
	if s.grid[y].wrapped != v {
		s.grid[y].wrapped = v
		s.headOK = false
	}
}

// --- performer ---

func (s *screen) print(r rune) {
	if s.alt != nil {
		s.alt.scr.print(r)
		return
	}
	w := runeWidth(r)
	if w == 0 {
		s.combine(r)
		return
	}
	if w == 2 && s.cols < 2 {
		w = 1
	}
	if s.cur.wrapPending {
		s.wrap()
	}
	if w == 2 && s.cur.x == s.cols-1 {
		if !s.autowrap {
			return
		}
		s.wrap()
	}
	s.cursorRow().put(s.cur.x, r, w)
	s.touch(s.cur.y, false)
	s.advance(w)
}

// printASCII prints a run of single-width characters a row at a time.
func (s *screen) printASCII(run []byte) {
	if s.alt != nil {
		s.alt.scr.printASCII(run)
		return
	}
	for len(run) > 0 {
		if s.cur.wrapPending {
			s.wrap()
		}
		n := min(len(run), s.cols-s.cur.x)
		if !s.autowrap && n < len(run) {
			// Without autowrap the characters that do not fit overwrite the
			// last column in turn: the run's last one stays.
			run = append(run[:n-1:n-1], run[len(run)-1])
		}
		s.cursorRow().putASCII(s.cur.x, run[:n])
		s.touch(s.cur.y, false)
		s.advance(n)
		run = run[n:]
	}
}

// cursorRow returns the cursor's row, ready to be written.
func (s *screen) cursorRow() *row {
	rw := s.grid[s.cur.y]
	if cap(rw.cells) == 0 {
		// Sized once for the usual line rather than grown cell by cell;
		// longer ones grow.
		rw.cells = make([]rune, 0, min(s.cols, rowCells))
	}
	return rw
}

// rowCells is the capacity a row's cells start with.
const rowCells = 160

// advance moves the cursor past n cells just written.
func (s *screen) advance(n int) {
	if s.cur.x+n >= s.cols {
		s.cur.x = s.cols - 1
		s.cur.wrapPending = s.autowrap
	} else {
		s.cur.x += n
	}
}

// combine attaches a zero-width character to the cell before the cursor.
func (s *screen) combine(r rune) {
	x := s.cur.x - 1
	if s.cur.wrapPending {
		x = s.cur.x
	}
	rw := s.grid[s.cur.y]
	if x >= 0 && x < len(rw.cells) && rw.cells[x] == wideTail {
		x--
	}
	if x < 0 || x >= len(rw.cells) || rw.cells[x] == 0 {
		return
	}
	if rw.comb == nil {
		rw.comb = make(map[int][]rune)
	}
	if len(rw.comb[x]) < maxCombining {
		rw.comb[x] = append(rw.comb[x], r)
		s.touch(s.cur.y, false)
	}
}

func (s *screen) wrap() {
	y := s.cur.y
	head := s.lineHead(y)
	s.cur.x, s.cur.wrapPending = 0, false
	if y != s.bot && y == s.rows-1 {
		return // below the scroll region there is no next row: xterm rewrites this one
	}
	s.setWrapped(y, true)
	s.index()
	if y == s.bot { // scrolled: the line moved up a row
		head = max(head-1, 0)
	}
	s.headY, s.headOf, s.headOK = s.cur.y, head, true
}

func (s *screen) execute(b byte) {
	if s.alt != nil {
		s.alt.scr.execute(b)
		return
	}
	switch b {
	case '\n', '\v', '\f':
		s.lineFeed()
		if s.newline {
			s.cur.x = 0
		}
	case '\r':
		s.cur.x, s.cur.wrapPending = 0, false
	case '\b':
		s.cur.wrapPending = false
		if s.cur.x > 0 {
			s.cur.x--
		}
	case '\t':
		s.tab(1)
	}
}

// lineFeed ends the cursor's line: a line written for the first time is
// committed now, which keeps a plain shell session's events live.
func (s *screen) lineFeed() {
	s.cur.wrapPending = false
	if y := s.cur.y; !s.grid[y].wrapped {
		if h := s.lineHead(y); !s.grid[h].settled {
			s.settle(h, y, true)
		}
	}
	s.index()
}

// index moves the cursor down a row, scrolling at the bottom margin.
func (s *screen) index() {
	switch {
	case s.cur.y == s.bot:
		s.scrollUp(s.top, s.bot, 1, true)
	case s.cur.y < s.rows-1:
		s.cur.y++
	}
}

func (s *screen) reverseIndex() {
	switch {
	case s.cur.y == s.top:
		s.scrollDown(s.top, s.bot, 1)
	case s.cur.y > 0:
		s.cur.y--
	}
}

func (s *screen) tab(n int) {
	for ; n > 0 && s.cur.x < s.cols-1; n-- {
		s.cur.x = min((s.cur.x/8+1)*8, s.cols-1)
	}
	s.cur.wrapPending = false
}

// scrollUp scrolls rows top..bot up by n. Rows leaving the top of the
// screen go to scrollback (committed) when toScrollback, like a terminal's
// history; rows leaving a region below the top are lost, as in xterm.
func (s *screen) scrollUp(top, bot, n int, toScrollback bool) {
	n = min(n, bot-top+1)
	if n <= 0 {
		return
	}
	if top == 0 && toScrollback {
		for k := 0; k < n; k++ {
			if s.scrollOff(k) && k+1 <= bot { // row k+1 carries on a line whose start is in carry
				r := s.grid[k+1]
				r.settled, r.dirty, r.modAt = false, false, s.now
			}
		}
	} else if top == 0 {
		s.flushCarry()
	}
	if top == 0 && bot == len(s.grid)-1 {
		s.slide(n)
		s.blank(s.grid[len(s.grid)-n:])
		return
	}
	region := s.grid[top : bot+1]
	gone := append(s.scratch[:0], region[:n]...)
	copy(region, region[n:])
	copy(region[len(region)-n:], gone)
	s.blank(gone)
	s.scratch = gone
}

func (s *screen) scrollDown(top, bot int, n int) {
	n = min(n, bot-top+1)
	if n <= 0 {
		return
	}
	if top == 0 {
		s.flushCarry()
	}
	region := s.grid[top : bot+1]
	gone := append(s.scratch[:0], region[len(region)-n:]...)
	copy(region[n:], region[:len(region)-n])
	copy(region, gone)
	s.blank(gone)
	s.scratch = gone
	if top > 0 {
		s.setWrapped(top-1, false)
	}
}

// blank resets rows that left the screen and came back as blank ones.
func (s *screen) blank(rows []*row) {
	s.mods++
	s.lastMod = s.now
	for _, r := range rows {
		s.forget(r)
		r.reset()
		r.gen = s.mods
	}
	s.headOK = false
}

// forget detaches a row that leaves the screen from the displaced pool; its
// text, if displaced, stays matchable until it expires.
func (s *screen) forget(r *row) {
	if r.entry != nil {
		r.entry.owner = nil
		r.entry = nil
	}
}

// scrollOff handles row k leaving the top of the screen into scrollback,
// the rows above it having left already. It reports whether the row's
// logical line continues, its start kept in carry.
func (s *screen) scrollOff(k int) bool {
	r0 := s.grid[k]
	pending := r0.dirty || !r0.settled
	if !r0.wrapped {
		if pending {
			s.settleLine(k, k, false, true)
		}
		return false
	}
	if !pending {
		return false
	}
	s.carry = r0.appendText(s.carry)
	for len(s.carry) >= maxLineBytes {
		n := cutAt(s.carry, maxLineBytes)
		s.commit(string(s.carry[:n]), "", false)
		s.carry = s.carry[:copy(s.carry, s.carry[n:])]
	}
	return true
}

func (s *screen) flushCarry() {
	if len(s.carry) == 0 {
		return
	}
	text := strings.TrimRight(string(s.carry), " ")
	s.carry = s.carry[:0]
	if text != "" {
		s.commit(text, "", false)
	}
}

// cutAt returns a length <= max that ends on a UTF-8 character boundary.
func cutAt[T string | []byte](b T, max int) int {
	if len(b) <= max {
		return len(b)
	}
	n := max
	for n > 0 && !utf8.RuneStart(b[n]) {
		n--
	}
	if n == 0 {
		return max
	}
	return n
}

func (s *screen) escDispatch(inter []byte, final byte) {
	if len(inter) > 0 {
		return // charset designations and the like: no effect on text
	}
	if s.alt != nil && final != 'c' {
		s.alt.scr.escDispatch(inter, final)
		return
	}
	switch final {
	case '7':
		s.saved = s.cur
	case '8':
		s.restoreCursor()
	case 'D':
		s.lineFeed()
	case 'E':
		s.cur.x = 0
		s.lineFeed()
	case 'M':
		s.cur.wrapPending = false
		s.reverseIndex()
	case 'c':
		s.reset()
	}
}

// reset is RIS: the screen is cleared (what was on it stays committed or
// is committed as a redraw candidate), modes and margins reset.
func (s *screen) reset() {
	s.leaveAlt()
	s.autowrap = true
	s.top, s.bot = 0, s.rows-1
	s.eraseDisplay(2)
	s.cur = cursorState{}
	s.saved = cursorState{}
}

func (s *screen) restoreCursor() {
	s.cur = s.saved
	s.cur.x = min(s.cur.x, s.cols-1)
	s.cur.y = min(s.cur.y, s.rows-1)
}

// oscDispatch passes on the shell's prompt marks; other strings (titles,
// links, clipboard) are not transcript text.
func (s *screen) oscDispatch(data []byte) {
	rest, ok := bytes.CutPrefix(data, []byte("133;"))
	if !ok || len(rest) == 0 || s.mark == nil || s.alt != nil {
		return
	}
	kind, arg := rest[0], ""
	if a, ok := bytes.CutPrefix(rest[1:], []byte(";")); ok {
		arg, _, _ = strings.Cut(string(a), ";") // D;status[;…]: the status
	}
	if kind == 'A' && s.cur.x == 0 && s.cur.y > 0 {
		// A prompt starts a line of its own, even when the shell got to
		// column 0 by filling the line before (zsh's PROMPT_SP after
		// output with no newline at its end).
		s.setWrapped(s.cur.y-1, false)
	}
	prompt := ""
	if kind == 'B' && (s.cur.y == 0 || !s.grid[s.cur.y-1].wrapped) {
		rw := s.grid[s.cur.y]
		cells := rw.cells[:min(s.cur.x, len(rw.cells))]
		prompt = string((&row{cells: cells, comb: rw.comb}).appendText(nil))
	}
	s.mark(kind, arg, prompt)
}
func (s *screen) dcsDispatch(*csiSeq, []byte) {} // device control strings: no text

func (s *screen) csiDispatch(c *csiSeq) {
	if c.ninter > 0 {
		return // DECSCUSR, DECSTR and other sequences with intermediates
	}
	if c.private == '?' && (c.final == 'h' || c.final == 'l') {
		s.setPrivateModes(c, c.final == 'h')
		return
	}
	if s.alt != nil {
		if c.final == 'J' && c.private == 0 && c.param(0, 0) >= 2 {
			// A full clear starts a new frame or ends the program: what
			// the last frame showed is final.
			s.alt.snapshot(s.now, true)
		}
		s.alt.scr.csiDispatch(c)
		return
	}
	if c.private != 0 && !(c.private == '?' && (c.final == 'J' || c.final == 'K')) {
		return // private sequences are queries and modes (CSI ? u, CSI > 1 u), except DECSED/DECSEL
	}
	n := c.param(0, 1)
	switch c.final {
	case '@':
		s.insertChars(n)
	case 'A':
		s.moveUp(n)
	case 'B', 'e':
		s.moveDown(n)
	case 'C', 'a':
		s.moveTo(s.cur.x+n, s.cur.y)
	case 'D':
		s.moveTo(s.cur.x-n, s.cur.y)
	case 'E':
		s.moveDown(n)
		s.cur.x = 0
	case 'F':
		s.moveUp(n)
		s.cur.x = 0
	case 'G', '`':
		s.moveTo(n-1, s.cur.y)
	case 'H', 'f':
		s.moveTo(c.param(1, 1)-1, n-1)
	case 'I':
		s.tab(n)
	case 'J':
		s.eraseDisplay(c.param(0, 0))
	case 'K':
		s.eraseLine(c.param(0, 0))
	case 'L':
		if s.cur.y >= s.top && s.cur.y <= s.bot {
			s.scrollDown(s.cur.y, s.bot, n)
			s.cur.x = 0
		}
	case 'M':
		if s.cur.y >= s.top && s.cur.y <= s.bot {
			s.scrollUp(s.cur.y, s.bot, n, false)
			s.cur.x = 0
		}
	case 'P':
		s.deleteChars(n)
	case 'S':
		s.scrollUp(s.top, s.bot, n, true)
	case 'T':
		s.scrollDown(s.top, s.bot, n)
	case 'X':
		s.grid[s.cur.y].clear(s.cur.x, s.cur.x+n)
		s.touch(s.cur.y, true)
	case 'Z':
		for ; n > 0 && s.cur.x > 0; n-- {
			s.cur.x = (s.cur.x - 1) / 8 * 8
		}
	case 'd':
		s.moveTo(s.cur.x, n-1)
	case 'r':
		s.setMargins(c.param(0, 1)-1, c.param(1, s.rows)-1)
	case 's':
		if c.nparams == 0 {
			s.saved = s.cur
		}
	case 'u':
		s.restoreCursor()
	}
}

func (s *screen) setPrivateModes(c *csiSeq, on bool) {
	for i := 0; i < c.nparams; i++ {
		switch c.params[i] {
		case 7:
			target := s
			if s.alt != nil {
				target = s.alt.scr
			}
			target.autowrap = on
			if !on {
				target.cur.wrapPending = false
			}
		case 47, 1047:
			if on {
				s.enterAlt()
			} else {
				s.leaveAlt()
			}
		case 1049: // alternate screen, saving the main screen's cursor
			if on && s.alt == nil {
				s.saved = s.cur
				s.enterAlt()
			} else if !on && s.alt != nil {
				s.leaveAlt()
				s.restoreCursor()
			}
		}
	}
}

func (s *screen) moveTo(x, y int) {
	s.cur.x = max(0, min(x, s.cols-1))
	s.cur.y = max(0, min(y, s.rows-1))
	s.cur.wrapPending = false
}

func (s *screen) moveUp(n int) {
	limit := 0
	if s.cur.y >= s.top {
		limit = s.top
	}
	s.moveTo(s.cur.x, max(s.cur.y-n, limit))
}

func (s *screen) moveDown(n int) {
	limit := s.rows - 1
	if s.cur.y <= s.bot {
		limit = s.bot
	}
	s.moveTo(s.cur.x, min(s.cur.y+n, limit))
}

func (s *screen) setMargins(top, bot int) {
	bot = min(bot, s.rows-1)
	if top < 0 || top >= bot {
		return
	}
	s.top, s.bot = top, bot
	s.moveTo(0, 0)
}

func (s *screen) eraseLine(mode int) {
	y := s.cur.y
	rw := s.grid[y]
	if len(rw.cells) == 0 && !rw.wrapped {
		return // nothing visible changes
	}
	switch mode {
	case 0:
		rw.clear(s.cur.x, len(rw.cells))
		s.setWrapped(y, false)
	case 1:
		rw.clear(0, s.cur.x+1)
	case 2:
		rw.clear(0, len(rw.cells))
		s.setWrapped(y, false)
	default:
		return
	}
	if y == 0 {
		s.flushCarry()
	}
	s.touch(y, true)
}

func (s *screen) eraseDisplay(mode int) {
	var from, to int // rows cleared entirely
	switch mode {
	case 0:
		s.eraseLine(0)
		from, to = s.cur.y+1, s.rows
	case 1:
		s.eraseLine(1)
		from, to = 0, s.cur.y
	case 2:
		from, to = 0, s.rows
	default: // 3 erases scrollback only: what was committed stays committed
		return
	}
	newPage := mode == 2 && s.newPage
	if newPage {
		// Rewritten lines the page showed are final. Fresh lines are either
		// committed already (ended by a line feed) or the command being
		// typed, which the shell redraws on the new page (Ctrl-L).
		for h := 0; h < s.rows; {
			e := s.lineEnd(h)
			if s.grid[h].dirty {
				s.settle(h, e, false)
			}
			h = e + 1
		}
	}
	if from == 0 && to > 0 {
		s.flushCarry()
	}
	for y := from; y < to; y++ {
		rw := s.grid[y]
		if newPage {
			s.forget(rw)
			rw.reset()
			continue
		}
		if len(rw.cells) == 0 && !rw.wrapped {
			continue // nothing visible changes
		}
		rw.clear(0, len(rw.cells))
		s.setWrapped(y, false)
		s.touch(y, true)
	}
	s.headOK = false
}

func (s *screen) insertChars(n int) {
	rw := s.grid[s.cur.y]
	x := s.cur.x
	if x >= len(rw.cells) {
		return
	}
	rw.unsplit(x, x)
	n = min(n, s.cols-x)
	rw.cells = append(rw.cells, make([]rune, n)...)
	copy(rw.cells[x+n:], rw.cells[x:])
	clear(rw.cells[x : x+n])
	if len(rw.cells) > s.cols {
		rw.cells = rw.cells[:s.cols]
		rw.unsplit(s.cols, s.cols)
		if last := len(rw.cells) - 1; rw.cells[last] != wideTail && runeWidth(rw.cells[last]) == 2 {
			rw.cells[last] = 0
		}
	}
	rw.comb = nil
	s.touch(s.cur.y, true)
}

func (s *screen) deleteChars(n int) {
	rw := s.grid[s.cur.y]
	x := s.cur.x
	if x >= len(rw.cells) {
		return
	}
	n = min(n, len(rw.cells)-x)
	rw.unsplit(x, x+n)
	rw.cells = append(rw.cells[:x], rw.cells[x+n:]...)
	if x < len(rw.cells) && rw.cells[x] == wideTail {
		rw.cells[x] = 0
	}
	rw.comb = nil
	s.touch(s.cur.y, true)
}

// resize changes the screen size. Rows above the cursor that no longer fit
// scroll off into scrollback; rows below it are committed and dropped.
// Rows are truncated to the new width, not reflowed.
func (s *screen) resize(cols, rows int) {
	cols, rows = clampSize(cols, s.cols, maxCols), clampSize(rows, s.rows, maxRows)
	if s.alt != nil {
		s.alt.scr.resize(cols, rows)
	}
	if rows < s.rows {
		if shift := s.cur.y - (rows - 1); shift > 0 {
			s.scrollUp(0, s.rows-1, shift, true)
			s.cur.y -= shift
			s.saved.y = max(s.saved.y-shift, 0)
		}
		for h := rows; h < s.rows; {
			e := s.lineEnd(h)
			if s.pending(h, e) {
				s.settle(h, e, false)
			}
			h = e + 1
		}
		for _, r := range s.grid[rows:] {
			s.forget(r)
		}
		s.grid = s.grid[:rows]
		s.setWrapped(rows-1, false)
	}
	if rows != s.rows {
		grid := s.grid
		for len(grid) < rows {
			grid = append(grid, &row{})
		}
		s.setGrid(grid)
	}
	if cols < s.cols {
		for y, r := range s.grid {
			if len(r.cells) > cols {
				r.clear(cols, len(r.cells))
				r.cells = r.cells[:min(len(r.cells), cols)]
				s.touch(y, true)
			}
		}
	}
	s.cols, s.rows = cols, rows
	s.top, s.bot = 0, rows-1
	s.headOK = false
	s.moveTo(s.cur.x, s.cur.y)
	s.saved.x, s.saved.y = min(s.saved.x, cols-1), min(s.saved.y, rows-1)
}
