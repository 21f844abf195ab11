// Package recorder carries one session from the wrapper to the daemon
// without ever making the terminal wait.
//
// The wrapper's copy loop hands each chunk to Output, which only copies it
// into memory under a short lock. A sender goroutine streams the records to
// the daemon and forgets each one only when the daemon acknowledges it as
// durable. When the daemon goes away it reconnects with jittered backoff and
// resends what was not acknowledged. When the daemon cannot be reached in
// time, or unacknowledged records outgrow the memory limit, the rest of the
// session goes to a spool file that the daemon takes later. Nothing is
// dropped.
package recorder

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"time"

	aitrackv1 "github.com/aitrack/aitrack/api/proto/aitrack/v1"
	"github.com/aitrack/aitrack/internal/ipc"
	"github.com/aitrack/aitrack/internal/spool"
	"google.golang.org/grpc"
)

// Config configures a Recorder.
type Config struct {
	Open     *aitrackv1.Open
	Socket   string
	SpoolDir string
	// MemLimit is how much memory unacknowledged output may hold before
	// the session spills to its spool file (default 4 MiB: a tenth of a
	// second of bulk output; minutes of an AI CLI's). Spilling is the cheap
	// way through a burst: one write into the page cache, where streaming
	// costs the wrapper's encoding and the daemon's decoding, storing and
	// parsing while the burst still needs the CPU.
	MemLimit int
	// MaxBatch bounds the bytes in one message to the daemon (default 1 MiB).
	MaxBatch int
}

// Recorder streams one session. Its methods are safe for concurrent use.
type Recorder struct {
	cfg Config

	mu       sync.Mutex
	cond     *sync.Cond
	pending  []*aitrackv1.Record // unacknowledged, in seq order
	next     int                 // index in pending of the next record to send
	memBytes int                 // memory held by unacknowledged output
	unsent   int                 // output bytes in pending[next:]
	lastAt   time.Time           // when the last output or input was captured
	seq      uint64
	offset   uint64
	started  bool
	ended    bool
	broken   bool // the current stream failed
	// held: the daemon's store is full, so the session goes to the spool
	// rather than wait in memory for acknowledgements that will not come.
	held     bool
	spill    *spool.Writer
	spillErr error
	acked    uint64 // the daemon's committed seq
	// sending is the first seq of the batch the sender is encoding, 0 when
	// none: an acknowledgement may not recycle those records' memory yet.
	sending uint64
	// free holds output blocks whose records are gone, for the next ones.
	free     [][]byte
	everConn bool
	lastErr  error
	// tried is closed once the first attempt to reach the daemon has
	// succeeded or failed.
	tried     chan struct{}
	triedOnce sync.Once
	// cut cancels the current stream; Output calls it when memory passes
	// the limit, because a stalled daemon leaves the sender stuck in Send.
	cut    context.CancelFunc
	done   chan struct{}
	cancel context.CancelFunc
	endc   chan struct{} // closed by End: the sender stops lingering
	// full wakes a lingering sender when unsent output reaches half a
	// batch: a fast printer is sent in full batches, not per linger.
	full chan struct{}
	over chan struct{} // memory passed the limit
}

// New returns a Recorder for the session cfg.Open describes. Records are
// queued from now on; nothing is sent before Start.
func New(cfg Config) *Recorder {
	if cfg.MemLimit == 0 {
		cfg.MemLimit = 4 << 20
	}
	if cfg.MaxBatch == 0 {
		cfg.MaxBatch = 1 << 20
	}
	r := &Recorder{cfg: cfg, done: make(chan struct{}), tried: make(chan struct{}), endc: make(chan struct{}), full: make(chan struct{}, 1), over: make(chan struct{}, 1)}
	r.cond = sync.NewCond(&r.mu)
	return r
}

// Start begins streaming. Fields of the Open may be filled in until then.
func (r *Recorder) Start(ctx context.Context) {
	ctx, r.cancel = context.WithCancel(ctx)
	r.mu.Lock()
	r.started = true
	r.mu.Unlock()
	go r.run(ctx)
}

// Chunks of output read within coalesceWindow of the first are one record
// of at most coalesceMax bytes, while the sender has not taken it: a burst
// of small PTY reads costs the daemon one record, one cast event, one
// parser call, and replays with the same timing to a couple of
// milliseconds.
const (
	coalesceWindow = 2 * time.Millisecond
	coalesceMax    = 64 << 10
)

// maxFree bounds the free blocks kept for reuse (4 MiB): enough for what
// arrives at several tens of MB/s while a batch lingers and waits for its
// acknowledgement. Without reuse a fast printer costs the wrapper a fresh
// page from the kernel for each 4 KiB it records: 36,000 page faults in a
// 130 MB cat, against 900 for the relay alone.
const maxFree = 64

// blockMin is the smallest chunk that starts a reused block: a full read
// from a PTY is up to 4 KiB.
const blockMin = 2 << 10

// A small batch waits at least linger before it is sent, then for a pause
// of quietGap in the terminal's traffic, but no longer than maxLinger.
// Each message costs the terminal: its sending and acknowledgement wake
// the wrapper's threads, and a keystroke that arrives meanwhile waits for
// them (at 100 messages a second the keystroke round trip's p99 doubled in
// `make bench`; at 10 it was still a fifth over script's). In a pause
// nobody waits. The End cuts the wait short, so an exit does not wait.
const (
	linger    = 100 * time.Millisecond
	quietGap  = 20 * time.Millisecond
	maxLinger = time.Second
)

// Output records a chunk of terminal output. It copies p and never blocks
// on the daemon.
func (r *Recorder) Output(p []byte, at time.Time) {
	r.mu.Lock()
	if r.ended {
		r.mu.Unlock()
		return
	}
	off := r.offset
	r.offset += uint64(len(p))
	if half := r.cfg.MaxBatch / 2; r.unsent < half && r.unsent+len(p) >= half {
		select {
		case r.full <- struct{}{}:
		default:
		}
	}
	r.unsent += len(p)
	r.lastAt = at
	if o := r.openOutput(at, len(p)); o != nil {
		held := cap(o.Data)
		o.Data = append(o.Data, p...)
		r.memBytes += cap(o.Data) - held
	} else {
		r.shrinkLast()
		data := append(r.block(len(p)), p...)
		r.memBytes += cap(data)
		r.add(at, &aitrackv1.Record_Output{Output: &aitrackv1.Output{Offset: off, Data: data}})
	}
	if r.memBytes > r.cfg.MemLimit {
		if r.cut != nil {
			r.cut()
			r.cut = nil
		}
		select { // wake the sender waiting to reconnect: it spills now
		case r.over <- struct{}{}:
		default:
		}
	}
	r.mu.Unlock()
}

// openOutput returns the last record if output of n more bytes captured at
// at may join it: an output record the sender has not taken, begun less
// than coalesceWindow before. r.mu is held.
func (r *Recorder) openOutput(at time.Time, n int) *aitrackv1.Output {
	if r.ended || r.next >= len(r.pending) {
		return nil
	}
	last := r.pending[len(r.pending)-1]
	o := last.GetOutput()
	if o == nil || len(o.Data)+n > coalesceMax || at.UnixNano()-last.GetTimeUnixNano() >= int64(coalesceWindow) {
		return nil
	}
	return o
}

// block returns an empty buffer for n bytes of output. A chunk of a fast
// stream gets a reused block of coalesceMax bytes, which the next chunks
// join without growing it; a small one (a keystroke's echo) gets a buffer
// of its size, or every keystroke would hold 64 KiB. r.mu is held.
func (r *Recorder) block(n int) []byte {
	if n < blockMin || n > coalesceMax {
		return make([]byte, 0, n)
	}
	if k := len(r.free); k > 0 {
		b := r.free[k-1]
		r.free = r.free[:k-1]
		return b
	}
	return make([]byte, 0, coalesceMax)
}

// shrinkLast moves the last record's output out of its block when it
// fills less than a quarter of it, and frees the block: output that comes
// in 4 KiB bursts a few milliseconds apart would otherwise hold 64 KiB per
// burst until the daemon acknowledges it. Only a record the sender has not
// taken is touched. r.mu is held.
func (r *Recorder) shrinkLast() {
	if r.next >= len(r.pending) {
		return
	}
	o := r.pending[len(r.pending)-1].GetOutput()
	if o == nil || cap(o.Data) != coalesceMax || len(o.Data) >= coalesceMax/4 {
		return
	}
	block := o.Data
	o.Data = bytes.Clone(block)
	r.memBytes += cap(o.Data) - cap(block)
	r.recycle(block)
}

// release keeps the output blocks of records that are gone for reuse.
// r.mu is held.
func (r *Recorder) release(recs []*aitrackv1.Record) {
	for _, rec := range recs {
		r.recycle(rec.GetOutput().GetData())
	}
}

// recycle keeps b for reuse if it is a block and fewer than maxFree are
// kept. r.mu is held.
func (r *Recorder) recycle(b []byte) {
	if cap(b) == coalesceMax && len(r.free) < maxFree {
		r.free = append(r.free, b[:0])
	}
}

// Resize records a terminal size change.
func (r *Recorder) Resize(cols, rows uint16, at time.Time) {
	r.mu.Lock()
	r.add(at, &aitrackv1.Record_Resize{Resize: &aitrackv1.Resize{Size: &aitrackv1.TermSize{Cols: uint32(cols), Rows: uint32(rows)}}})
	r.mu.Unlock()
}

// Input records a chunk from the user's terminal: the keys typed, or that
// it was a terminal reply; data is kept only when non-nil (input capture).
func (r *Recorder) Input(keys int, reply bool, data []byte, at time.Time) {
	in := &aitrackv1.Input{Keys: uint32(keys), Reply: reply}
	if data != nil {
		in.Data = append([]byte(nil), data...)
	}
	r.mu.Lock()
	r.lastAt = at
	r.add(at, &aitrackv1.Record_Input{Input: in})
	r.mu.Unlock()
}

// End records the end of the session; later records are ignored.
func (r *Recorder) End(end *aitrackv1.End, at time.Time) {
	r.mu.Lock()
	r.add(at, &aitrackv1.Record_End{End: end})
	if !r.ended {
		r.ended = true
		close(r.endc)
	}
	r.mu.Unlock()
}

// add appends a record; r.mu is held.
func (r *Recorder) add(at time.Time, kind any) {
	if r.ended {
		return
	}
	r.seq++
	rec := &aitrackv1.Record{Seq: r.seq, TimeUnixNano: at.UnixNano()}
	switch k := kind.(type) {
	case *aitrackv1.Record_Output:
		rec.Kind = k
	case *aitrackv1.Record_Resize:
		rec.Kind = k
	case *aitrackv1.Record_Input:
		rec.Kind = k
	case *aitrackv1.Record_End:
		rec.Kind = k
	}
	r.pending = append(r.pending, rec)
	r.cond.Broadcast()
}

// Outcome says where a finished session went.
type Outcome struct {
	// Delivered is true when the daemon acknowledged the whole session.
	Delivered bool
	// SpoolPath is set when (part of) the session was left in a spool file.
	SpoolPath string
	// Connected is true when the daemon was reached at least once.
	Connected bool
	// Err is the last error seen talking to the daemon, if any.
	Err error
}

// Close waits for the daemon to acknowledge the whole session (End must
// have been recorded), then spools whatever is left. It waits at most wait,
// and gives up sooner when acknowledgements stop coming (a stalled daemon)
// or the daemon was never reached: the user's shell must not wait on us.
func (r *Recorder) Close(wait time.Duration) Outcome {
	if !r.started {
		r.Start(context.Background())
	}
	const stall = 500 * time.Millisecond
	if !r.connected() {
		// Not connected yet: the first attempt may still be under way (a
		// busy daemon answering the Open); it gets as long as a stalled
		// acknowledgement would. None once it failed: no daemon listens.
		select {
		case <-r.tried:
		case <-time.After(min(wait, stall)):
		}
		if !r.connected() {
			wait = 0
		}
	}
	deadline := time.After(wait)
	tick := time.NewTicker(stall)
	defer tick.Stop()
	last := ^uint64(0)
wait:
	for {
		select {
		case <-r.done:
			break wait
		case <-deadline:
			break wait
		case <-tick.C:
			r.mu.Lock()
			acked := r.acked
			r.mu.Unlock()
			if acked == last {
				break wait
			}
			last = acked
		}
	}
	r.cancel()
	r.mu.Lock()
	r.cond.Broadcast()
	r.mu.Unlock()
	<-r.done // the sender stops promptly once cancelled
	r.mu.Lock()
	defer r.mu.Unlock()
	out := Outcome{Connected: r.everConn, Err: r.lastErr}
	if r.spill == nil && len(r.pending) == 0 && r.ended {
		out.Delivered = true
		return out
	}
	r.spillPending()
	if r.spill != nil {
		if err := r.spill.Close(); err != nil && r.spillErr == nil {
			r.spillErr = err
		}
		r.spill = nil
	}
	out.SpoolPath = spool.Path(r.cfg.SpoolDir, r.cfg.Open.GetSessionId())
	if r.spillErr != nil {
		out.Err = fmt.Errorf("spool %s: %w", out.SpoolPath, r.spillErr)
		out.SpoolPath = ""
	}
	return out
}

// spillPending moves every pending record to the spool file. r.mu is held,
// and released while the file is written: Output never waits on the disk.
// Only the sender, or Close once the sender is done, spills.
func (r *Recorder) spillPending() {
	if r.spillErr != nil {
		return
	}
	recs := r.pending
	r.pending, r.next, r.memBytes, r.unsent = nil, 0, 0, 0
	r.mu.Unlock()
	written, err := r.writeSpool(recs)
	r.mu.Lock()
	r.release(recs[:written])
	if err != nil {
		r.spillErr = err
		r.pending = append(recs[written:], r.pending...)
	}
}

// writeSpool appends recs to the spool file, opening it (with the Open
// first) when needed, and returns how many it wrote.
func (r *Recorder) writeSpool(recs []*aitrackv1.Record) (int, error) {
	if r.spill == nil {
		if err := ipc.PrivateDir(r.cfg.SpoolDir); err != nil {
			return 0, err
		}
		w, err := spool.Create(r.cfg.SpoolDir, r.cfg.Open.GetSessionId())
		if err != nil {
			return 0, err
		}
		r.spill = w
		if err := w.Write(&aitrackv1.RecordRequest{Msg: &aitrackv1.RecordRequest_Open{Open: r.cfg.Open}}); err != nil {
			return 0, err
		}
	}
	written := 0
	for written < len(recs) {
		n, _ := batchEnd(recs[written:], r.cfg.MaxBatch)
		msg := &aitrackv1.RecordRequest{Msg: &aitrackv1.RecordRequest_Batch{Batch: &aitrackv1.Batch{Records: recs[written : written+n]}}}
		if err := r.spill.Write(msg); err != nil {
			return written, err
		}
		written += n
	}
	return written, r.spill.Flush()
}

// batchEnd returns how many records from the start of recs fit one batch
// of maxSize bytes (at least one), and their size.
func batchEnd(recs []*aitrackv1.Record, maxSize int) (n, size int) {
	for _, rec := range recs {
		s := len(rec.GetOutput().GetData()) + 32
		if n > 0 && size+s > maxSize {
			break
		}
		n++
		size += s
	}
	return n, size
}

func (r *Recorder) run(ctx context.Context) {
	defer close(r.done)
	var conn *grpc.ClientConn
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	backoff := 50 * time.Millisecond
	for {
		if r.spilling(ctx) {
			return
		}
		if conn == nil {
			var err error
			if conn, err = ipc.Dial(r.cfg.Socket); err != nil {
				r.setErr(err)
				return
			}
		}
		err := r.stream(ctx, aitrackv1.NewRecorderClient(conn))
		if err == nil {
			return // the whole session is acknowledged
		}
		r.setErr(err)
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, errSpilled) {
			continue // the spool takes the session from now on
		}
		// Jittered exponential backoff, capped: a daemon restart should be
		// noticed within a couple of seconds.
		d := backoff/2 + rand.N(backoff)
		backoff = min(backoff*2, 2*time.Second)
		select {
		case <-ctx.Done():
			return
		case <-time.After(d):
		case <-r.over:
		}
	}
}

// spilling moves new records to the spool once the session has spilled, or
// spills when memory is over the limit. It reports true when the session is
// complete in the spool.
func (r *Recorder) spilling(ctx context.Context) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.spill == nil && !r.held && r.memBytes <= r.cfg.MemLimit {
		return false
	}
	for {
		r.spillPending()
		if r.spillErr != nil || (r.ended && len(r.pending) == 0) || ctx.Err() != nil {
			return true
		}
		for len(r.pending) == 0 && !r.ended && ctx.Err() == nil {
			r.cond.Wait()
		}
		// One write for what a burst prints, not one per chunk.
		r.mu.Unlock()
		r.wait(ctx, linger)
		r.mu.Lock()
	}
}

// wait lets a small batch grow for d; the End, a batch's worth of output
// or ctx cut it short.
func (r *Recorder) wait(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.endc:
	case <-r.full:
	case <-ctx.Done():
	}
}

func (r *Recorder) setErr(err error) {
	r.mu.Lock()
	r.lastErr = err
	r.mu.Unlock()
	r.triedOnce.Do(func() { close(r.tried) })
}

func (r *Recorder) connected() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.everConn
}

var errSpilled = errors.New("session spilled to the spool")

// stream runs one connection: Open, resend what is unacknowledged, then
// follow new records until the End is acknowledged (nil) or the stream
// fails.
func (r *Recorder) stream(ctx context.Context, client aitrackv1.RecorderClient) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := client.Record(ctx)
	if err != nil {
		return err
	}
	if err := st.Send(&aitrackv1.RecordRequest{Msg: &aitrackv1.RecordRequest_Open{Open: r.cfg.Open}}); err != nil {
		return err
	}
	resp, err := st.Recv()
	if err != nil {
		return err
	}
	opened := resp.GetOpened()
	if opened == nil {
		return errors.New("daemon did not answer the Open")
	}
	r.mu.Lock()
	r.everConn = true
	r.broken = false
	r.next = 0
	r.cut = cancel
	r.ackLocked(opened.GetCommittedSeq())
	r.unsent = outputBytes(r.pending) // everything left is sent again
	r.mu.Unlock()
	// After everConn: Close, woken by tried, must see the connection.
	r.triedOnce.Do(func() { close(r.tried) })
	defer func() {
		r.mu.Lock()
		r.cut = nil
		r.mu.Unlock()
	}()

	// Context cancellation (Close's deadline) must wake the sender.
	stop := context.AfterFunc(ctx, func() {
		r.mu.Lock()
		r.broken = true
		r.cond.Broadcast()
		r.mu.Unlock()
	})
	defer stop()
	recvErr := make(chan error, 1)
	go func() {
		for {
			resp, err := st.Recv()
			if err != nil {
				r.mu.Lock()
				r.broken = true
				r.cond.Broadcast()
				r.mu.Unlock()
				recvErr <- err
				return
			}
			if ack := resp.GetAck(); ack != nil {
				r.mu.Lock()
				if ack.GetHeld() && !r.held {
					r.held = true
					cancel() // wakes a sender stuck in Send on a full window
				}
				r.ackLocked(ack.GetCommittedSeq())
				r.mu.Unlock()
			}
		}
	}()

	for {
		r.mu.Lock()
		for !r.broken && !r.held && r.next == len(r.pending) && !(r.ended && len(r.pending) == 0) && r.memBytes <= r.cfg.MemLimit {
			r.cond.Wait()
		}
		switch {
		case r.held || r.memBytes > r.cfg.MemLimit:
			r.mu.Unlock()
			return errSpilled
		case r.broken:
			r.mu.Unlock()
			cancel()
			if err := <-recvErr; err != io.EOF {
				return err
			}
			return errors.New("daemon closed the stream")
		case r.ended && len(r.pending) == 0:
			r.mu.Unlock()
			st.CloseSend()
			return nil
		}
		n, size := batchEnd(r.pending[r.next:], r.cfg.MaxBatch)
		if d := r.holdFor(size, time.Now()); d > 0 {
			// Keystrokes and their echoes, a burst of redraws: one
			// message, one disk sync at the daemon, sent while the user
			// is not waiting for the terminal.
			r.mu.Unlock()
			r.wait(ctx, d)
			continue
		}
		batch := &aitrackv1.Batch{Records: append([]*aitrackv1.Record(nil), r.pending[r.next:r.next+n]...)}
		r.next += n
		r.unsent -= outputBytes(batch.Records)
		r.sending = batch.Records[0].GetSeq()
		r.mu.Unlock()
		err := st.Send(&aitrackv1.RecordRequest{Msg: &aitrackv1.RecordRequest_Batch{Batch: batch}})
		r.mu.Lock()
		r.sending = 0
		r.broken = r.broken || err != nil
		r.mu.Unlock()
	}
}

// holdFor is how much longer the unsent records, size bytes, should wait
// at now (0: send them). r.mu is held.
func (r *Recorder) holdFor(size int, now time.Time) time.Duration {
	if r.ended || size >= r.cfg.MaxBatch/2 {
		return 0
	}
	first := time.Unix(0, r.pending[r.next].GetTimeUnixNano())
	if d := first.Add(linger).Sub(now); d > 0 {
		return min(d, linger) // min: a clock set back must not hold it
	}
	if now.Sub(first) >= maxLinger {
		return 0
	}
	return min(max(r.lastAt.Add(quietGap).Sub(now), 0), quietGap)
}

func outputBytes(recs []*aitrackv1.Record) int {
	n := 0
	for _, rec := range recs {
		n += len(rec.GetOutput().GetData())
	}
	return n
}

// ackLocked forgets the records the daemon holds durably. r.mu is held.
func (r *Recorder) ackLocked(seq uint64) {
	if seq > r.acked {
		r.acked = seq
	}
	n, reusable := 0, 0
	for n < len(r.pending) && r.pending[n].GetSeq() <= seq {
		r.memBytes -= cap(r.pending[n].GetOutput().GetData())
		if r.sending == 0 || r.pending[n].GetSeq() < r.sending {
			reusable++
		}
		n++
	}
	r.release(r.pending[:reusable])
	r.pending = r.pending[n:]
	r.next = max(r.next-n, 0)
	r.cond.Broadcast()
}
