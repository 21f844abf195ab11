// Package daemon wires aitrackd together: the gRPC service on the Unix
// socket, the ingester that stores sessions, the trackers that parse them,
// the outbox that delivers them to MLflow, the spool and liveness sweeps,
// and the local MLflow server when one is wanted.
//
// It holds the daemon's lifecycle and its in-memory view of live sessions;
// each stage's logic lives in its own package.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	aitrackv1 "github.com/aitrack/aitrack/api/proto/aitrack/v1"
	"github.com/aitrack/aitrack/internal/ingest"
	"github.com/aitrack/aitrack/internal/ipc"
	"github.com/aitrack/aitrack/internal/mlflowclient"
	"github.com/aitrack/aitrack/internal/mlflowkey"
	"github.com/aitrack/aitrack/internal/mlflowui"
	"github.com/aitrack/aitrack/internal/outbox"
	"github.com/aitrack/aitrack/internal/paths"
	"github.com/aitrack/aitrack/internal/procfacts"
	"github.com/aitrack/aitrack/internal/redact"
	"github.com/aitrack/aitrack/internal/spool"
	"github.com/aitrack/aitrack/internal/version"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Config is the daemon's configuration.
type Config struct {
	Socket     string
	StateDir   string
	Experiment string
	MLflow     mlflowclient.Config
	// MLflowUI starts a local MLflow server when the tracking URI is on
	// this machine and nothing answers there.
	MLflowUI  bool
	MLflowBin string
	// Procedures derives params from AI sessions' prompts.
	Procedures *procfacts.Extractor
	// Limits bound what one client can make the daemon do.
	Limits ingest.Limits
	// Redactor removes secrets before anything leaves the machine; nil
	// when the user turned redaction off.
	Redactor *redact.Redactor
	Log      *zap.Logger
	// SweepInterval is how often spool files and dead wrappers are looked
	// for (default 2s).
	SweepInterval time.Duration
	// KeepDelivered is how long a session's files stay on disk once MLflow
	// has all of it (default 30 days): MLflow is the record, the local copy
	// is for a while.
	KeepDelivered time.Duration
	// MaxStoreBytes caps the session store (default 10 GiB): delivered
	// sessions are removed early to stay under it, and past it with
	// undelivered sessions alone, new output waits in the wrappers.
	MaxStoreBytes int64
}

// Daemon is a running aitrackd.
type Daemon struct {
	aitrackv1.UnimplementedRecorderServer

	cfg      Config
	log      *zap.Logger
	client   *mlflowclient.Client
	ingester *ingest.Ingester
	outbox   *outbox.Outbox
	ui       *mlflowui.Server
	started  time.Time
	ctx      context.Context

	finalizing sync.WaitGroup // finalize goroutines, waited for at shutdown

	mu       sync.Mutex
	trackers map[string]*tracker
	spools   map[string]spoolSeen // by spool file
	store    storeUsage           // at the last checkStore
}

// Run runs the daemon until ctx ends, then shuts it down in order.
func Run(ctx context.Context, cfg Config) error {
	if cfg.SweepInterval == 0 {
		cfg.SweepInterval = 2 * time.Second
	}
	if cfg.KeepDelivered == 0 {
		cfg.KeepDelivered = 30 * 24 * time.Hour
	}
	if cfg.MaxStoreBytes == 0 {
		cfg.MaxStoreBytes = 10 << 30
	}
	if cfg.Procedures == nil {
		var err error
		if cfg.Procedures, err = procfacts.New(nil); err != nil {
			return err
		}
	}
	log := cfg.Log
	if err := ipc.PrivateDir(cfg.StateDir); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	lockf, err := lock(cfg.StateDir, cfg.Socket)
	if err != nil {
		return err
	}
	defer lockf.Close()
	client, err := mlflowclient.New(cfg.MLflow)
	if err != nil {
		return fmt.Errorf("tracking URI: %w", err)
	}
	store, err := ingest.NewStore(paths.SessionsDir(cfg.StateDir))
	if err != nil {
		return err
	}
	d := &Daemon{
		cfg:      cfg,
		log:      log,
		client:   client,
		started:  time.Now(),
		ctx:      ctx,
		trackers: make(map[string]*tracker),
		spools:   make(map[string]spoolSeen),
	}
	limits := cfg.Limits
	limits.ValidateOpen = func(o *aitrackv1.Open) error { return mlflowkey.ValidateLabels(o.GetParams(), o.GetTags()) }
	d.ingester = ingest.New(store, d, log.Named("ingest"), limits)
	d.outbox = outbox.New(outbox.Config{Client: client, Source: d, Log: log.Named("outbox"), OnDone: d.delivered, Redactor: cfg.Redactor})

	lis, err := ipc.Listen(cfg.Socket)
	if err != nil {
		return err
	}
	srv := grpc.NewServer(ipc.ServerOptions(func(uid, pid int, method string) {
		log.Warn("refused a connection from another user", zap.Int("uid", uid), zap.Int("pid", pid), zap.String("method", method))
	})...)
	aitrackv1.RegisterRecorderServer(srv, d)

	d.ui = mlflowui.New(mlflowui.Config{Binary: cfg.MLflowBin, TrackingURI: client.TrackingURI(), Dir: filepath.Join(cfg.StateDir, "mlflow"), Log: log.Named("mlflow")})
	if cfg.MLflowUI {
		if err := d.ui.Start(ctx); err != nil {
			log.Warn("local MLflow not started; sessions are kept until MLflow is reachable", zap.Error(err))
		} else if st := d.ui.Status(); st.State != mlflowui.StateRemote && st.State != mlflowui.StateExternal {
			log.Info("starting local MLflow UI", zap.String("url", st.URL), zap.String("log", st.LogPath))
		}
	}
	stopUI := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		d.ui.Stop(ctx)
	}

	if err := d.recover(); err != nil {
		lis.Close()
		stopUI()
		return err
	}
	log.Info("aitrackd ready", zap.String("socket", cfg.Socket), zap.String("state_dir", cfg.StateDir),
		zap.String("tracking_uri", client.TrackingURI()), zap.String("experiment", cfg.Experiment), zap.String("version", version.Version))

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(lis) }()
	sweepDone := make(chan struct{})
	go func() {
		defer close(sweepDone)
		d.sweepLoop(ctx)
	}()

	select {
	case <-ctx.Done():
	case err = <-serveErr:
	}
	// Shutdown, in the reverse order of startup. Streams are cut after a
	// moment: wrappers keep what is unacknowledged and resend it later.
	stopped := make(chan struct{})
	go func() { srv.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(3 * time.Second):
		srv.Stop()
	}
	<-sweepDone
	d.finalizing.Wait()
	d.outbox.Wait()
	d.mu.Lock()
	for _, t := range d.trackers {
		t.mu.Lock()
		t.close()
		t.mu.Unlock()
	}
	d.mu.Unlock()
	stopUI()
	log.Info("aitrackd stopped")
	return err
}

// recover takes up every stored session that MLflow does not have in full.
func (d *Daemon) recover() error {
	store := d.ingester.Store()
	ids, err := store.IDs()
	if err != nil {
		return fmt.Errorf("list stored sessions: %w", err)
	}
	for _, id := range ids {
		dir := filepath.Join(store.Dir(), id)
		if st, err := outbox.ReadState(dir); err == nil && st.Done {
			continue
		}
		if dl, ok := outbox.ReadDead(dir); ok {
			d.outbox.AddDead(dl)
			continue
		}
		ss, err := store.Load(id)
		if err != nil {
			d.log.Error("cannot load a stored session; leaving it on disk", zap.String("session", id), zap.Error(err))
			continue
		}
		_, _, err = d.ensure(ss)
		ss.Close()
		if err != nil {
			d.log.Error("cannot replay a stored session; leaving it on disk", zap.String("session", id), zap.Error(err))
		}
	}
	return nil
}

// ensure returns the session's tracker, creating it (by replaying the
// stored session) when there is none; fresh says so.
func (d *Daemon) ensure(ss *ingest.Session) (t *tracker, fresh bool, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if t := d.trackers[ss.ID()]; t != nil {
		return t, false, nil
	}
	t, err = newTracker(ss, d.cfg.Procedures)
	if err != nil {
		return nil, false, err
	}
	d.trackers[ss.ID()] = t
	if t.ended {
		d.goFinalize(t)
	}
	d.outbox.Track(d.ctx, ss.ID())
	return t, true, nil
}

// goFinalize finalizes a session that has just ended, off the ingest path.
func (d *Daemon) goFinalize(t *tracker) {
	d.finalizing.Add(1)
	go func() {
		defer d.finalizing.Done()
		d.finalize(t)
	}()
}

// Attached implements ingest.Observer.
func (d *Daemon) Attached(ss *ingest.Session) {
	t, _, err := d.ensure(ss)
	if err != nil {
		d.log.Error("cannot track session", zap.String("session", ss.ID()), zap.Error(err))
		return
	}
	t.mu.Lock()
	t.attached++
	t.mu.Unlock()
	d.log.Info("session attached", zap.String("session", ss.ID()), zap.Strings("argv", ss.Open().GetArgv()))
}

// Stored implements ingest.Observer.
func (d *Daemon) Stored(ss *ingest.Session, recs []*aitrackv1.Record) {
	t, fresh, err := d.ensure(ss)
	if err != nil {
		d.log.Error("cannot track session", zap.String("session", ss.ID()), zap.Error(err))
		return
	}
	if !fresh { // a fresh tracker replayed these records (and finalizes)
		if t.store(recs) {
			d.goFinalize(t)
		}
	}
}

// Detached implements ingest.Observer.
func (d *Daemon) Detached(ss *ingest.Session, err error) {
	d.mu.Lock()
	t := d.trackers[ss.ID()]
	d.mu.Unlock()
	if t == nil {
		return
	}
	t.mu.Lock()
	t.attached--
	t.mu.Unlock()
	if err != nil && !ss.Ended() {
		d.log.Info("session stream broke; waiting for the wrapper to come back", zap.String("session", ss.ID()), zap.Error(err))
	}
}

// Snapshot implements outbox.Source.
func (d *Daemon) Snapshot(id string) (outbox.Snapshot, bool) {
	d.mu.Lock()
	t := d.trackers[id]
	d.mu.Unlock()
	if t == nil {
		return outbox.Snapshot{}, false
	}
	return t.snapshot(d.cfg.Experiment), true
}

// delivered forgets a session MLflow has in full.
func (d *Daemon) delivered(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	t := d.trackers[id]
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ended && t.attached == 0 {
		t.close()
		delete(d.trackers, id)
	}
}

func (d *Daemon) sweepLoop(ctx context.Context) {
	tick := time.NewTicker(d.cfg.SweepInterval)
	defer tick.Stop()
	var pruned time.Time
	for n := 0; ; n++ {
		// Measuring the store walks every session: often enough to hold
		// the ingester before the store overshoots much, and at every
		// sweep while held, to let go as soon as there is room.
		if n%5 == 0 || d.ingester.Held() {
			d.checkStore()
		}
		d.sweep()
		if time.Since(pruned) > time.Hour {
			d.prune(time.Now().Add(-d.cfg.KeepDelivered))
			pruned = time.Now()
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// spoolSeen is what the sweeps know of a spool file.
type spoolSeen struct {
	size   int64 // at the last sweep
	done   int64 // ingested up to here
	failed bool  // the last ingestion failed at this size
}

// spoolBurst is how much a spool file may grow between two sweeps and
// still be taken at once.
const spoolBurst = 1 << 20

// look decides, from the file's size now, whether this sweep takes what
// was added to a spool file since the last.
func (s spoolSeen) look(size int64) (next spoolSeen, take bool) {
	if size < s.done { // a new file under the old name
		s = spoolSeen{}
	}
	grew := size - s.size
	s.size = size
	switch {
	case size == s.done, s.failed && grew == 0:
		return s, false // nothing new, or nothing new since it failed
	case grew > spoolBurst:
		// A wrapper spills in bulk when output comes faster than it can
		// hand it over; taking it now would compete with that output for
		// the CPU. Its turn comes when it slows down or ends.
		return s, false
	}
	return s, true
}

// sweep takes spool files the wrappers left, and closes sessions whose
// wrapper died without ending them.
func (d *Daemon) sweep() {
	if d.ingester.Held() {
		return // spools and orphans wait for room in the store
	}
	dir := paths.SpoolDir(d.cfg.StateDir)
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), spool.Ext) {
			continue
		}
		path := filepath.Join(dir, e.Name())
		fi, err := e.Info()
		if err != nil {
			continue
		}
		seen, take := d.spools[path].look(fi.Size())
		if !take {
			d.spools[path] = seen
			continue
		}
		end, ended, err := d.ingester.IngestSpool(path, seen.done)
		if err != nil {
			d.log.Warn("cannot ingest spool file", zap.String("path", path), zap.Error(err))
		}
		switch {
		case ended:
			delete(d.spools, path)
			d.log.Info("ingested spooled session", zap.String("path", path))
		case err != nil:
			seen.failed = true // not retried until it changes
			d.spools[path] = seen
		default:
			seen.done, seen.failed = end, false
			d.spools[path] = seen
		}
	}

	d.mu.Lock()
	var orphans []*tracker
	for _, t := range d.trackers {
		t.mu.Lock()
		if !t.ended && t.attached == 0 && !alive(t.open.GetWrapperPid()) {
			orphans = append(orphans, t)
		}
		t.mu.Unlock()
	}
	d.mu.Unlock()
	for _, t := range orphans {
		// What the wrapper spooled before it died comes first.
		if p := spool.Path(dir, t.id); fileExists(p) {
			if _, _, err := d.ingester.IngestSpool(p, d.spools[p].done); err != nil {
				d.log.Warn("cannot ingest spool file", zap.String("path", p), zap.Error(err))
			}
		}
		t.mu.Lock()
		last := t.last
		t.mu.Unlock()
		if err := d.ingester.Abandon(t.id, last.UnixNano(), "the wrapper exited without ending the session"); err != nil {
			d.log.Error("cannot close an abandoned session", zap.String("session", t.id), zap.Error(err))
			continue
		}
		os.Remove(spool.Path(dir, t.id))
		delete(d.spools, spool.Path(dir, t.id))
		d.log.Warn("wrapper gone; session closed as killed", zap.String("session", t.id))
	}
}

// prune removes the files of sessions MLflow has had in full since before
// cutoff, so that the state directory does not grow forever.
func (d *Daemon) prune(cutoff time.Time) {
	store := d.ingester.Store()
	ids, err := store.IDs()
	if err != nil {
		return
	}
	for _, id := range ids {
		dir := filepath.Join(store.Dir(), id)
		st, err := outbox.ReadState(dir)
		fi, serr := os.Stat(filepath.Join(dir, outbox.StateFile))
		if err != nil || serr != nil || !st.Done || fi.ModTime().After(cutoff) {
			continue
		}
		d.removeDelivered(id)
	}
}

func alive(pid int64) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(int(pid), 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// Retry re-queues dead letters after the user fixed their cause.
func (d *Daemon) Retry(ctx context.Context, req *aitrackv1.RetryRequest) (*aitrackv1.RetryResponse, error) {
	ids := req.GetSessionIds()
	if len(ids) == 0 {
		for _, dl := range d.outbox.Dead() {
			ids = append(ids, dl.ID)
		}
	}
	resp := &aitrackv1.RetryResponse{}
	for _, id := range ids {
		if _, ok := d.outbox.Requeue(id); !ok {
			return resp, status.Errorf(codes.NotFound, "session %s is not a dead letter", id)
		}
		ss, err := d.ingester.Store().Load(id)
		if err != nil {
			return resp, status.Errorf(codes.Internal, "load session %s: %v", id, err)
		}
		t, fresh, err := d.ensure(ss)
		ss.Close()
		if err != nil {
			return resp, status.Errorf(codes.Internal, "replay session %s: %v", id, err)
		}
		if !fresh {
			d.outbox.Track(d.ctx, t.id)
		}
		resp.Requeued = append(resp.Requeued, id)
		d.log.Info("dead letter re-queued", zap.String("session", id))
	}
	return resp, nil
}

// Hello implements the handshake.
func (d *Daemon) Hello(ctx context.Context, req *aitrackv1.HelloRequest) (*aitrackv1.HelloResponse, error) {
	return &aitrackv1.HelloResponse{DaemonVersion: version.Version, Protocol: version.Protocol, MinProtocol: version.MinProtocol, Pid: int64(os.Getpid())}, nil
}

// Record implements the session stream.
func (d *Daemon) Record(stream aitrackv1.Recorder_RecordServer) error {
	return d.ingester.Serve(stream)
}

// Status reports the daemon and its live sessions.
func (d *Daemon) Status(ctx context.Context, req *aitrackv1.StatusRequest) (*aitrackv1.StatusResponse, error) {
	resp := &aitrackv1.StatusResponse{
		DaemonVersion:   version.Version,
		Pid:             int64(os.Getpid()),
		StartUnixNano:   d.started.UnixNano(),
		TrackingUri:     d.client.TrackingURI(),
		Experiment:      d.cfg.Experiment,
		Socket:          d.cfg.Socket,
		StateDir:        d.cfg.StateDir,
		PendingSessions: uint32(d.outbox.Pending()),
	}
	hctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := d.client.Health(hctx); err != nil {
		resp.TrackingError = err.Error()
	} else {
		resp.TrackingReachable = true
	}
	if err, _ := d.outbox.LastError(); err != nil && resp.TrackingReachable {
		resp.TrackingError = "last delivery failed: " + err.Error()
	}
	for _, dl := range d.outbox.Dead() {
		resp.DeadLetters = append(resp.DeadLetters, &aitrackv1.DeadLetter{SessionId: dl.ID, Error: dl.Error, TimeUnixNano: dl.Time.UnixNano()})
	}
	if t := d.outbox.Oldest(); !t.IsZero() {
		resp.OldestPendingUnixNano = t.UnixNano()
	}
	if _, last := d.outbox.LastError(); !last.IsZero() {
		resp.LastDeliveryUnixNano = last.UnixNano()
	}
	u := d.usage()
	resp.StoreBytes, resp.PendingBytes, resp.StoreLimitBytes, resp.StoreFull = u.Total, u.Pending, d.cfg.MaxStoreBytes, u.Full
	ui := d.ui.Status()
	resp.MlflowUi = &aitrackv1.MLflowUI{State: string(ui.State), Url: ui.URL, Pid: int64(ui.PID), Restarts: uint32(ui.Restarts),
		LastError: ui.LastError, LastLines: ui.LastLines, LogPath: ui.LogPath}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, t := range d.trackers {
		t.mu.Lock()
		if !t.ended {
			resp.Sessions = append(resp.Sessions, &aitrackv1.LiveSession{
				SessionId:     t.id,
				Provider:      t.open.GetProvider(),
				Argv:          t.open.GetArgv(),
				ChildPid:      t.open.GetChildPid(),
				StartUnixNano: t.open.GetStartUnixNano(),
				BytesReceived: t.bytes,
				Commands:      uint64(t.parser.Metrics().CommandsExecuted),
				RunId:         d.outbox.RunID(t.id),
				Cwd:           t.open.GetCwd(),
				Synced:        d.outbox.Synced(t.id),
			})
		}
		t.mu.Unlock()
	}
	return resp, nil
}
