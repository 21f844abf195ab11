// Package ingest receives session streams from wrappers (and the spool files
// they leave when the daemon is away), stores every byte durably before
// acknowledging it, and tells an Observer what it stored, in order, so that
// the daemon can parse it and deliver it.
//
// It owns the on-disk session store: one directory per session with its
// Open, its raw output and a line per record. It knows nothing of parsing or
// of MLflow.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	aitrackv1 "github.com/aitrack/aitrack/api/proto/aitrack/v1"
	"github.com/aitrack/aitrack/internal/spool"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Observer learns what was stored. Its methods are called with the session's
// lock held, in record order, and must not block for long.
type Observer interface {
	// Attached is called when a wrapper's stream starts feeding a session,
	// with the session as stored so far.
	Attached(ss *Session)
	// Stored is called after records are durable, whether they came from a
	// stream, a spool file or Abandon.
	Stored(ss *Session, recs []*aitrackv1.Record)
	// Detached is called when a stream ends; err is nil after a clean end.
	Detached(ss *Session, err error)
}

// Limits bound what one client can make the daemon do, so that a broken or
// hostile client hurts only its own stream.
type Limits struct {
	// MaxSessions is how many sessions may stream at once (default 256).
	MaxSessions int
	// MaxBytesPerSecond is one session's output rate above which the
	// daemon slows its acknowledgements (back-pressure: the wrapper keeps
	// the data, then spools it); default 32 MiB/s.
	MaxBytesPerSecond int64
	// MaxBatchesPerSecond bounds one session's messages, each a disk
	// sync (default 500).
	MaxBatchesPerSecond int
	// MaxOpenBytes bounds an Open: argv, params, tags (default 1 MiB).
	MaxOpenBytes int
	// ValidateOpen, if set, refuses an Open the daemon could never deliver
	// (e.g. a param key MLflow rejects), with a message for the user.
	ValidateOpen func(*aitrackv1.Open) error
}

func (l *Limits) defaults() {
	if l.MaxSessions == 0 {
		l.MaxSessions = 256
	}
	if l.MaxBytesPerSecond == 0 {
		l.MaxBytesPerSecond = 32 << 20
	}
	if l.MaxBatchesPerSecond == 0 {
		l.MaxBatchesPerSecond = 500
	}
	if l.MaxOpenBytes == 0 {
		l.MaxOpenBytes = 1 << 20
	}
}

// Ingester accepts sessions into a Store.
type Ingester struct {
	store  *Store
	obs    Observer
	log    *zap.Logger
	limits Limits

	mu       sync.Mutex
	sessions map[string]*entry
	streams  int
	// held stops storing (see Hold).
	held atomic.Bool
}

type entry struct {
	mu      sync.Mutex // orders Append and the Observer calls
	ss      *Session
	streams int
}

// New returns an Ingester storing into store.
func New(store *Store, obs Observer, log *zap.Logger, limits Limits) *Ingester {
	limits.defaults()
	return &Ingester{store: store, obs: obs, log: log, limits: limits, sessions: make(map[string]*entry)}
}

// Hold stops (on) or resumes storing what streams send: while held, a
// stream's next batch waits unacknowledged and its wrapper is told
// (Ack.held), so that it spools the session instead of waiting. The daemon
// holds when its store is full.
func (in *Ingester) Hold(on bool) { in.held.Store(on) }

// Held reports whether the Ingester is held.
func (in *Ingester) Held() bool { return in.held.Load() }

// waitRoom returns once the Ingester is not held.
func (in *Ingester) waitRoom(ctx context.Context) error {
	for in.held.Load() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	return nil
}

// Store is the Ingester's session store.
func (in *Ingester) Store() *Store { return in.store }

func (in *Ingester) acquire(open *aitrackv1.Open) (*entry, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	e := in.sessions[open.GetSessionId()]
	if e == nil {
		ss, err := in.store.Create(open)
		if err != nil {
			return nil, err
		}
		e = &entry{ss: ss}
		in.sessions[open.GetSessionId()] = e
	}
	if !sameSession(e.ss.Open(), open) {
		if e.streams == 0 {
			delete(in.sessions, e.ss.ID())
			e.ss.Close()
		}
		return nil, fmt.Errorf("%w: session id %s belongs to another session", ErrCollision, open.GetSessionId())
	}
	e.streams++
	return e, nil
}

// ErrCollision means a client claimed another session's id.
var ErrCollision = errors.New("session id collision")

// sameSession tells a reconnecting wrapper (or a re-imported recording)
// from a different session that claims the same id.
func sameSession(stored, open *aitrackv1.Open) bool {
	return stored.GetStartUnixNano() == open.GetStartUnixNano() &&
		stored.GetProvider() == open.GetProvider() &&
		slices.Equal(stored.GetArgv(), open.GetArgv())
}

func (in *Ingester) release(e *entry) {
	in.mu.Lock()
	defer in.mu.Unlock()
	e.streams--
	if e.streams == 0 {
		delete(in.sessions, e.ss.ID())
		e.ss.Close()
	}
}

func (in *Ingester) validOpen(o *aitrackv1.Open) error {
	switch {
	case o != nil && proto.Size(o) > in.limits.MaxOpenBytes:
		return fmt.Errorf("the Open is %d bytes, more than the %d allowed", proto.Size(o), in.limits.MaxOpenBytes)
	case o == nil:
		return errors.New("the first message must be an Open")
	case !spool.ValidID(o.GetSessionId()):
		return fmt.Errorf("invalid session id %q: want 1 to 64 of [A-Za-z0-9_-]", o.GetSessionId())
	case len(o.GetArgv()) == 0:
		return errors.New("the Open has no argv")
	case len(o.GetParams()) > 100 || len(o.GetTags()) > 100:
		return fmt.Errorf("%d params and %d tags: at most 100 of each", len(o.GetParams()), len(o.GetTags()))
	}
	if in.limits.ValidateOpen != nil {
		return in.limits.ValidateOpen(o)
	}
	return nil
}

// append stores recs durably, calls durable (if set) once they are, then
// tells the Observer: a wrapper's acknowledgement waits for the disk, not
// for the parsing.
func (in *Ingester) append(e *entry, recs []*aitrackv1.Record, durable func() error) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	stored, err := e.ss.Append(recs)
	if err == nil && durable != nil {
		err = durable()
	}
	if len(stored) > 0 {
		in.obs.Stored(e.ss, stored)
	}
	return err
}

// Serve handles one Record stream until the wrapper closes it.
func (in *Ingester) Serve(stream aitrackv1.Recorder_RecordServer) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	open := first.GetOpen()
	if err := in.validOpen(open); err != nil {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	in.mu.Lock()
	full := in.streams >= in.limits.MaxSessions
	if !full {
		in.streams++
	}
	in.mu.Unlock()
	if full {
		return status.Errorf(codes.ResourceExhausted, "%d sessions are streaming already, the limit: this one will be spooled and taken later", in.limits.MaxSessions)
	}
	defer func() {
		in.mu.Lock()
		in.streams--
		in.mu.Unlock()
	}()
	e, err := in.acquire(open)
	if errors.Is(err, ErrCollision) {
		in.log.Warn("refused a session claiming another's id", zap.String("session", open.GetSessionId()))
		return status.Error(codes.AlreadyExists, err.Error())
	}
	if err != nil {
		in.log.Error("cannot store session", zap.String("session", open.GetSessionId()), zap.Error(err))
		return status.Errorf(codes.Internal, "store session: %v", err)
	}
	defer in.release(e)
	pace := newPacer(in.limits.MaxBytesPerSecond, in.limits.MaxBatchesPerSecond)
	sendAck := func(held bool) error {
		seq, off := e.ss.Committed()
		return stream.Send(&aitrackv1.RecordResponse{Msg: &aitrackv1.RecordResponse_Ack{Ack: &aitrackv1.Ack{CommittedSeq: seq, CommittedOffset: off, Held: held}}})
	}
	e.mu.Lock()
	seq, off := e.ss.Committed()
	in.obs.Attached(e.ss)
	e.mu.Unlock()
	if err := stream.Send(&aitrackv1.RecordResponse{Msg: &aitrackv1.RecordResponse_Opened{Opened: &aitrackv1.Opened{CommittedSeq: seq, CommittedOffset: off}}}); err != nil {
		in.detach(e, err)
		return err
	}
	for {
		req, err := stream.Recv()
		if err == io.EOF {
			in.detach(e, nil)
			return nil
		}
		if err != nil {
			in.detach(e, err)
			return err
		}
		batch := req.GetBatch()
		if batch == nil {
			err := status.Error(codes.InvalidArgument, "after the Open, only Batch messages are allowed")
			in.detach(e, err)
			return err
		}
		if in.Held() {
			// The wrapper would wait for an acknowledgement that comes
			// only once there is room; told, it spools instead.
			if err := sendAck(true); err != nil {
				in.detach(e, err)
				return err
			}
			if err := in.waitRoom(stream.Context()); err != nil {
				in.detach(e, err)
				return err
			}
		}
		if err := pace.wait(stream.Context(), batch); err != nil {
			in.detach(e, err)
			return err
		}
		var sendErr error
		ack := func() error {
			sendErr = sendAck(false)
			return sendErr
		}
		if err := in.append(e, batch.GetRecords(), ack); sendErr != nil {
			in.detach(e, sendErr)
			return sendErr
		} else if err != nil {
			in.log.Warn("refused records", zap.String("session", e.ss.ID()), zap.Error(err))
			in.detach(e, err)
			if errors.Is(err, ErrGap) {
				return status.Error(codes.InvalidArgument, err.Error())
			}
			return status.Errorf(codes.Internal, "store records: %v", err)
		}
	}
}

func (in *Ingester) detach(e *entry, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	in.obs.Detached(e.ss, err)
}

// IngestSpool stores what a spool file holds from offset from on (0, or an
// end it returned before for the same file: a wrapper may still be adding
// to it) and returns where it stopped, and whether the session has ended,
// in which case the file is no longer needed and is removed.
func (in *Ingester) IngestSpool(path string, from int64) (end int64, ended bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false, err
	}
	defer f.Close()
	var (
		e       *entry
		pending []*aitrackv1.Record
		size    int
	)
	// A spilling wrapper writes many small frames; storing them in groups
	// costs one sync per group instead of one per frame.
	flush := func() error {
		err := in.append(e, pending, nil)
		pending, size = pending[:0], 0
		return err
	}
	end, err = spool.Read(f, from, func(m *aitrackv1.RecordRequest) error {
		if e == nil {
			open := m.GetOpen()
			if err := in.validOpen(open); err != nil {
				return err
			}
			e, err = in.acquire(open)
			return err
		}
		for _, r := range m.GetBatch().GetRecords() {
			pending = append(pending, r)
			size += len(r.GetOutput().GetData()) + 32
		}
		if size >= 1<<20 {
			return flush()
		}
		return nil
	})
	if e != nil && err == nil && len(pending) > 0 {
		err = flush()
	}
	if e == nil {
		if err == nil {
			err = errors.New("spool file has no Open")
		}
		return from, false, fmt.Errorf("ingest spool %s: %w", path, err)
	}
	defer in.release(e)
	if err != nil {
		return from, false, fmt.Errorf("ingest spool %s: %w", path, err)
	}
	ended = e.ss.Ended()
	if ended {
		os.Remove(path)
	}
	return end, ended, nil
}

// Abandon closes a session whose wrapper died without an End, by storing an
// End on its behalf. It is a no-op for a session that has ended.
func (in *Ingester) Abandon(id string, at int64, reason string) error {
	ss, err := in.store.Load(id)
	if err != nil {
		return err
	}
	e, err := in.acquire(ss.Open())
	ss.Close()
	if err != nil {
		return err
	}
	defer in.release(e)
	if e.ss.Ended() {
		return nil
	}
	seq, _ := e.ss.Committed()
	end := &aitrackv1.Record{Seq: seq + 1, TimeUnixNano: at, Kind: &aitrackv1.Record_End{End: &aitrackv1.End{ExitCode: -1, Signal: 9, Error: reason}}}
	return in.append(e, []*aitrackv1.Record{end}, nil)
}

// pacer holds one stream to its byte and message budgets by delaying it:
// the wrapper then waits for acknowledgements and, past its memory limit,
// spools. Nothing is dropped.
type pacer struct {
	bytesPerSec, batchesPerSec float64
	start                      time.Time
	bytes, batches             float64
}

func newPacer(bytesPerSec int64, batchesPerSec int) *pacer {
	return &pacer{bytesPerSec: float64(bytesPerSec), batchesPerSec: float64(batchesPerSec), start: time.Now()}
}

func (p *pacer) wait(ctx context.Context, b *aitrackv1.Batch) error {
	for _, r := range b.GetRecords() {
		p.bytes += float64(len(r.GetOutput().GetData()))
	}
	p.batches++
	// Each budget allows a second's worth of burst.
	due := max(p.bytes/p.bytesPerSec, p.batches/p.batchesPerSec) - 1
	if d := time.Duration(due*float64(time.Second)) - time.Since(p.start); d > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
		}
	}
	return nil
}
