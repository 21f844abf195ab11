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
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	aitrackv1 "github.com/aitrack/aitrack/api/proto/aitrack/v1"
	"github.com/aitrack/aitrack/internal/spool"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
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

// Ingester accepts sessions into a Store.
type Ingester struct {
	store *Store
	obs   Observer
	log   *zap.Logger

	mu       sync.Mutex
	sessions map[string]*entry
}

type entry struct {
	mu      sync.Mutex // orders Append and the Observer calls
	ss      *Session
	streams int
}

// New returns an Ingester storing into store.
func New(store *Store, obs Observer, log *zap.Logger) *Ingester {
	return &Ingester{store: store, obs: obs, log: log, sessions: make(map[string]*entry)}
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
	e.streams++
	return e, nil
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

func validOpen(o *aitrackv1.Open) error {
	switch {
	case o == nil:
		return errors.New("the first message must be an Open")
	case !spool.ValidID(o.GetSessionId()):
		return fmt.Errorf("invalid session id %q: want 1 to 64 of [A-Za-z0-9_-]", o.GetSessionId())
	case len(o.GetArgv()) == 0:
		return errors.New("the Open has no argv")
	}
	return nil
}

func (in *Ingester) append(e *entry, recs []*aitrackv1.Record) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	stored, err := e.ss.Append(recs)
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
	if err := validOpen(open); err != nil {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	e, err := in.acquire(open)
	if err != nil {
		in.log.Error("cannot store session", zap.String("session", open.GetSessionId()), zap.Error(err))
		return status.Errorf(codes.Internal, "store session: %v", err)
	}
	defer in.release(e)
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
		if err := in.append(e, batch.GetRecords()); err != nil {
			in.log.Warn("refused records", zap.String("session", e.ss.ID()), zap.Error(err))
			in.detach(e, err)
			if errors.Is(err, ErrGap) {
				return status.Error(codes.InvalidArgument, err.Error())
			}
			return status.Errorf(codes.Internal, "store records: %v", err)
		}
		seq, off := e.ss.Committed()
		if err := stream.Send(&aitrackv1.RecordResponse{Msg: &aitrackv1.RecordResponse_Ack{Ack: &aitrackv1.Ack{CommittedSeq: seq, CommittedOffset: off}}}); err != nil {
			in.detach(e, err)
			return err
		}
	}
}

func (in *Ingester) detach(e *entry, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	in.obs.Detached(e.ss, err)
}

// IngestSpool stores what a spool file holds and reports whether its session
// has ended, in which case the file is no longer needed and is removed.
func (in *Ingester) IngestSpool(path string) (ended bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
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
		err := in.append(e, pending)
		pending, size = pending[:0], 0
		return err
	}
	_, err = spool.Read(f, func(m *aitrackv1.RecordRequest) error {
		if e == nil {
			open := m.GetOpen()
			if err := validOpen(open); err != nil {
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
		return false, fmt.Errorf("ingest spool %s: %w", path, err)
	}
	defer in.release(e)
	if err != nil {
		return false, fmt.Errorf("ingest spool %s: %w", path, err)
	}
	ended = e.ss.Ended()
	if ended {
		os.Remove(path)
	}
	return ended, nil
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
	return in.append(e, []*aitrackv1.Record{end})
}
