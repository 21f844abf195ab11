// Package outbox delivers sessions to MLflow and keeps at it until MLflow
// has all of each one: the run, its params and tags, live and final
// metrics, its artifacts and its final status.
//
// Why no separate queue (bbolt, a segment log): every byte a wrapper sends
// is already on disk, fsynced before it is acknowledged, in the session's
// directory (see ingest), and everything MLflow must receive — params, tags,
// metrics, artifacts, status — is derived from those files. A second copy in
// an embedded database would double every write for nothing. What the
// outbox adds is small and written atomically (temporary file, fsync,
// rename): delivery.json, what MLflow has confirmed (run id, labels digest,
// points sent, artifacts uploaded, done), and dead.json for a session MLflow
// refused. A restart re-reads both and carries on, so nothing is lost and
// nothing is sent as a second run: a run is found by its aitrack.session_id
// tag before one is created, params are write-once, and metric points carry
// capture times, so a re-send is an exact duplicate MLflow's SQL store
// ignores.
//
// It knows nothing of terminals or parsing: a Source describes each session.
package outbox

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/aitrack/aitrack/internal/mlflowclient"
	"github.com/aitrack/aitrack/internal/redact"
	"go.uber.org/zap"
)

// Artifact is a file to upload as a run artifact.
type Artifact struct {
	Name string // path inside the run's artifacts
	Path string // file on disk
	// Redacted says the file is redacted already (the cast, written from
	// the redacted output and command): it goes up as it is, its secrets
	// counted where they first were, in the raw transcript.
	Redacted bool
}

// Snapshot is what a session looks like now.
type Snapshot struct {
	ID         string
	Dir        string // the session's directory; the delivery file lives there
	Experiment string
	RunName    string
	Start      time.Time
	Tags       map[string]string
	Params     map[string]string
	// Metrics are the latest values; they are logged live while the
	// session runs and once more at its end.
	Metrics map[string]float64
	// Last is the capture time of the session's newest record. Live
	// points are stamped with it, not with the wall clock, so that a
	// session delivered late (from a spool, after an outage) never has a
	// live point later than its final one.
	Last time.Time
	// Points are metric points logged from inside the session, in order;
	// each is delivered once, with its own time and step.
	Points []mlflowclient.Metric
	// Raw is the session's raw transcript, uploaded as RawArtifact: in
	// parts while it grows, whole at the end. Empty: none.
	Raw    string
	Ended  bool
	End    time.Time
	Status mlflowclient.RunStatus
	// Artifacts are uploaded once the session has ended; LiveArtifacts as
	// soon as they appear.
	Artifacts     []Artifact
	LiveArtifacts []Artifact
}

// Source gives the current snapshot of a session.
type Source interface {
	Snapshot(id string) (Snapshot, bool)
}

// Config configures an Outbox.
type Config struct {
	Client *mlflowclient.Client
	Source Source
	Log    *zap.Logger
	// LiveInterval is the least time between two live metric writes for
	// one session (default 2s): a busy session costs at most one request
	// per interval, however fast it prints.
	LiveInterval time.Duration
	// MaxBackoff caps the wait between retries (default 30s).
	MaxBackoff time.Duration
	// OnDone, if set, is called when a session is fully delivered.
	OnDone func(id string)
	// Redactor removes secrets from everything sent: param and tag values
	// and artifact contents. Nil sends them as they are. A session tagged
	// aitrack.redaction=off (aitrack-wrap --no-redact) is sent as it is.
	Redactor *redact.Redactor
	// MaxInFlight bounds the sessions talking to MLflow at once (default
	// 4): a local MLflow has one worker and a small database pool, and
	// fifty sessions asking at once would exhaust it.
	MaxInFlight int
	// PartSize is the size of the parts the raw transcript goes up in
	// while its session runs (default 4 MiB); PartInterval is the least
	// time between two uploads of the growing last part, and the age a
	// session must reach before its first (default 5s).
	PartSize     int64
	PartInterval time.Duration
}

// Outbox delivers tracked sessions.
type Outbox struct {
	cfg Config

	inFlight chan struct{}

	mu       sync.Mutex
	sessions map[string]*delivery
	dead     map[string]DeadLetter
	expIDs   map[string]string
	lastErr  error
	lastOK   time.Time
	wg       sync.WaitGroup
}

// State is what MLflow has confirmed for a session; it is kept in the
// session's directory.
type State struct {
	ExperimentID string `json:"experiment_id,omitempty"`
	RunID        string `json:"run_id,omitempty"`
	ArtifactURI  string `json:"artifact_uri,omitempty"`
	// LabelsDigest identifies the params and tags MLflow has; they are
	// sent again only when they change.
	LabelsDigest string   `json:"labels_digest,omitempty"`
	PointsLogged int      `json:"points_logged,omitempty"`
	Uploaded     []string `json:"uploaded,omitempty"`
	// Redacted counts the secrets removed from the uploaded artifacts.
	Redacted redact.Counts `json:"redacted,omitempty"`
	// RawParts is the number of full parts of the raw transcript MLflow
	// has, RawPartLen how much of the next one; RawDone is set once the
	// whole transcript is up and the parts are gone.
	RawParts   int   `json:"raw_parts,omitempty"`
	RawPartLen int64 `json:"raw_part_len,omitempty"`
	RawDone    bool  `json:"raw_done,omitempty"`
	Done       bool  `json:"done,omitempty"`
}

func (st *State) rawUploaded() bool { return slices.Contains(st.Uploaded, RawArtifact) }

// StateFile is the delivery file's name in a session's directory.
const StateFile = "delivery.json"

// ReadState reads a session's delivery state; a missing file is a zero State.
func ReadState(dir string) (State, error) {
	var st State
	b, err := os.ReadFile(filepath.Join(dir, StateFile))
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	return st, json.Unmarshal(b, &st)
}

func writeState(dir string, st State) error {
	b, _ := json.Marshal(st)
	tmp := filepath.Join(dir, StateFile+".tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, StateFile))
}

type delivery struct {
	id     string
	nudge  chan struct{}
	runID  string
	since  time.Time // when delivery began
	synced bool      // the last step succeeded
	raw    *rawView  // the raw transcript as uploaded, once parts are due
}

// DeadLetter is a session MLflow refused for a reason retrying cannot fix
// (a validation error): it waits, with the error, until `aitrack retry`.
type DeadLetter struct {
	ID    string    `json:"id"`
	Dir   string    `json:"-"`
	Error string    `json:"error"`
	Time  time.Time `json:"time"`
}

// DeadFile marks a dead-lettered session in its directory.
const DeadFile = "dead.json"

// ReadDead reads a session's dead letter, if it has one.
func ReadDead(dir string) (DeadLetter, bool) {
	var dl DeadLetter
	b, err := os.ReadFile(filepath.Join(dir, DeadFile))
	if err != nil || json.Unmarshal(b, &dl) != nil {
		return dl, false
	}
	dl.Dir = dir
	return dl, true
}

// New returns an Outbox; Track starts delivering sessions.
func New(cfg Config) *Outbox {
	if cfg.LiveInterval == 0 {
		cfg.LiveInterval = 2 * time.Second
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	if cfg.MaxInFlight == 0 {
		cfg.MaxInFlight = 4
	}
	if cfg.PartSize == 0 {
		cfg.PartSize = 4 << 20
	}
	if cfg.PartInterval == 0 {
		cfg.PartInterval = 5 * time.Second
	}
	return &Outbox{cfg: cfg, inFlight: make(chan struct{}, cfg.MaxInFlight), sessions: make(map[string]*delivery), dead: make(map[string]DeadLetter), expIDs: make(map[string]string)}
}

// Track starts delivering a session, or nudges its delivery when it is
// already tracked (new data, an end). Delivery stops when ctx ends.
func (o *Outbox) Track(ctx context.Context, id string) {
	if ctx.Err() != nil {
		return // shutting down: the next start takes the session up again
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if d, ok := o.sessions[id]; ok {
		select {
		case d.nudge <- struct{}{}:
		default:
		}
		return
	}
	if _, ok := o.dead[id]; ok {
		return // waits for Requeue
	}
	d := &delivery{id: id, nudge: make(chan struct{}, 1), since: time.Now()}
	o.sessions[id] = d
	o.wg.Add(1)
	go func() {
		defer o.wg.Done()
		o.deliver(ctx, d)
	}()
}

// Wait waits for every delivery goroutine to stop (after ctx ends).
func (o *Outbox) Wait() { o.wg.Wait() }

// Pending is the number of sessions not yet fully delivered.
func (o *Outbox) Pending() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.sessions)
}

// Dead lists the dead letters, oldest first.
func (o *Outbox) Dead() []DeadLetter {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := slices.Collect(maps.Values(o.dead))
	slices.SortFunc(out, func(a, b DeadLetter) int { return a.Time.Compare(b.Time) })
	return out
}

// AddDead records a dead letter found on disk (at daemon start).
func (o *Outbox) AddDead(dl DeadLetter) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.dead[dl.ID] = dl
}

// Requeue forgets a dead letter so that Track delivers its session again.
func (o *Outbox) Requeue(id string) (DeadLetter, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	dl, ok := o.dead[id]
	if ok {
		os.Remove(filepath.Join(dl.Dir, DeadFile))
		delete(o.dead, id)
	}
	return dl, ok
}

// Oldest is when the longest-waiting delivery began (zero when none).
func (o *Outbox) Oldest() time.Time {
	o.mu.Lock()
	defer o.mu.Unlock()
	var t time.Time
	for _, d := range o.sessions {
		if t.IsZero() || d.since.Before(t) {
			t = d.since
		}
	}
	return t
}

// Synced reports whether a session's last delivery step succeeded, i.e.
// MLflow has everything the session had then.
func (o *Outbox) Synced(id string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	d := o.sessions[id]
	return d != nil && d.synced
}

// RunID is a tracked session's run id, once known.
func (o *Outbox) RunID(id string) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	if d := o.sessions[id]; d != nil {
		return d.runID
	}
	return ""
}

// LastError is the last delivery error and the time of the last success.
func (o *Outbox) LastError() (error, time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.lastErr, o.lastOK
}

func (o *Outbox) deliver(ctx context.Context, d *delivery) {
	defer func() {
		d.raw.close()
		o.mu.Lock()
		delete(o.sessions, d.id)
		o.mu.Unlock()
	}()
	log := o.cfg.Log.With(zap.String("session", d.id))
	var (
		live     map[string]float64 // metrics last logged live
		lastLive time.Time
		backoff  = 500 * time.Millisecond
		lastMsg  string // logged once per change, not per attempt
	)
	for {
		snap, ok := o.cfg.Source.Snapshot(d.id)
		if !ok {
			return
		}
		st, err := ReadState(snap.Dir)
		if err == nil && st.Done {
			if o.cfg.OnDone != nil {
				o.cfg.OnDone(d.id)
			}
			return
		}
		if err == nil {
			select {
			case o.inFlight <- struct{}{}:
			case <-ctx.Done():
				return
			}
			err = o.step(ctx, snap, &st, d, &live, &lastLive)
			<-o.inFlight
		}
		var wait time.Duration
		o.mu.Lock()
		d.synced = err == nil
		o.mu.Unlock()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			o.mu.Lock()
			o.lastErr = err
			o.mu.Unlock()
			if mlflowclient.IsPermanent(err) {
				o.deadLetter(snap.Dir, d.id, err)
				log.Error("MLflow refused this session; it waits in the dead letters until `aitrack retry`", zap.Error(err))
				return
			}
			if msg := err.Error(); msg != lastMsg {
				log.Warn("cannot deliver to MLflow yet; will retry", zap.Error(err))
				lastMsg = msg
			}
			wait = backoff/2 + rand.N(backoff)
			if ra, ok := mlflowclient.RetryAfter(err); ok && ra > wait {
				wait = ra
			}
			backoff = min(backoff*2, o.cfg.MaxBackoff)
			if !mlflowclient.IsRetryable(err) {
				backoff = o.cfg.MaxBackoff
			}
		} else {
			o.mu.Lock()
			o.lastErr, o.lastOK = nil, time.Now()
			o.mu.Unlock()
			if lastMsg != "" {
				log.Info("delivering to MLflow again")
				lastMsg = ""
			}
			backoff = 500 * time.Millisecond
			if st.Done {
				log.Info("session delivered", zap.String("run_id", st.RunID))
				if o.cfg.OnDone != nil {
					o.cfg.OnDone(d.id)
				}
				return
			}
			wait = o.cfg.LiveInterval
		}
		select {
		case <-ctx.Done():
			return
		case <-d.nudge:
			// An end is worth delivering at once; more live data waits
			// for the interval.
			if s, _ := o.cfg.Source.Snapshot(d.id); !s.Ended && err == nil {
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Until(lastLive.Add(o.cfg.LiveInterval))):
				}
			}
		case <-time.After(wait):
		}
	}
}

func (o *Outbox) deadLetter(dir, id string, err error) {
	dl := DeadLetter{ID: id, Dir: dir, Error: err.Error(), Time: time.Now()}
	b, _ := json.Marshal(dl)
	if werr := os.WriteFile(filepath.Join(dir, DeadFile), b, 0o600); werr != nil {
		o.cfg.Log.Error("cannot save a dead letter", zap.String("session", id), zap.Error(werr))
	}
	o.mu.Lock()
	o.dead[id] = dl
	o.mu.Unlock()
}

// step does the next piece of delivery work and saves what MLflow confirmed.
func (o *Outbox) step(ctx context.Context, snap Snapshot, st *State, d *delivery, live *map[string]float64, lastLive *time.Time) error {
	c := o.cfg.Client
	if st.RunID == "" {
		expID, err := o.experiment(ctx, snap.Experiment)
		if err != nil {
			return err
		}
		run, err := c.FindRunByTag(ctx, expID, TagSessionID, snap.ID)
		if err != nil {
			return fmt.Errorf("look up the session's run: %w", err)
		}
		var info mlflowclient.RunInfo
		if run != nil {
			info = run.Info
		} else {
			_, tags, _ := redactLabels(o.redactorFor(snap), nil, snap.Tags)
			tags[TagSessionID] = snap.ID
			tags["mlflow.runName"] = runName(o.redactorFor(snap), snap.RunName)
			if info, err = c.CreateRun(ctx, mlflowclient.CreateRun{ExperimentID: expID, RunName: tags["mlflow.runName"], StartTime: snap.Start, Tags: tags}); err != nil {
				return fmt.Errorf("create run: %w", err)
			}
		}
		st.ExperimentID, st.RunID, st.ArtifactURI = expID, info.RunID, info.ArtifactURI
		if err := writeState(snap.Dir, *st); err != nil {
			return fmt.Errorf("save delivery state: %w", err)
		}
		o.mu.Lock()
		d.runID = st.RunID
		o.mu.Unlock()
	} else if d.runID == "" {
		o.mu.Lock()
		d.runID = st.RunID
		o.mu.Unlock()
	}
	// One request carries whatever changed: params and tags, new points,
	// and the metrics (live while running, final at the end).
	b := mlflowclient.Batch{}
	red := o.redactorFor(snap)
	params, tags, labelCounts := redactLabels(red, snap.Params, snap.Tags)
	if _, ok := tags["mlflow.runName"]; ok {
		tags["mlflow.runName"] = runName(red, snap.RunName)
	}
	digest := labelsDigest(params, tags)
	if digest != st.LabelsDigest {
		for _, k := range slices.Sorted(maps.Keys(params)) {
			b.Params = append(b.Params, mlflowclient.Param{Key: k, Value: params[k]})
		}
		for _, k := range slices.Sorted(maps.Keys(tags)) {
			b.Tags = append(b.Tags, mlflowclient.Tag{Key: k, Value: tags[k]})
		}
	}
	points := snap.Points[min(st.PointsLogged, len(snap.Points)):]
	b.Metrics = append(b.Metrics, points...)
	metricsChanged := !maps.Equal(*live, snap.Metrics)
	if !snap.Ended && metricsChanged {
		b.Metrics = append(b.Metrics, metricBatch(snap.Metrics, snap.Last, snap.Start)...)
	}
	if len(b.Params)+len(b.Tags)+len(b.Metrics) > 0 {
		if err := c.LogBatch(ctx, st.RunID, b); err != nil {
			return fmt.Errorf("log to run %s: %w", st.RunID, err)
		}
		if !snap.Ended && metricsChanged {
			*live, *lastLive = maps.Clone(snap.Metrics), time.Now()
		}
		if digest != st.LabelsDigest || len(points) > 0 {
			st.LabelsDigest, st.PointsLogged = digest, len(snap.Points)
			if err := writeState(snap.Dir, *st); err != nil {
				return fmt.Errorf("save delivery state: %w", err)
			}
		}
	}
	if err := o.syncRaw(ctx, snap, st, d, red); err != nil {
		return err
	}
	uploads := snap.LiveArtifacts
	if snap.Ended {
		uploads = append(slices.Clone(uploads), snap.Artifacts...)
	}
	for _, a := range uploads {
		if slices.Contains(st.Uploaded, a.Name) {
			continue
		}
		counts, err := upload(ctx, c, st.ArtifactURI, a, red)
		if err != nil {
			return err
		}
		if st.Redacted == nil {
			st.Redacted = redact.Counts{}
		}
		st.Redacted.Add(counts)
		st.Uploaded = append(st.Uploaded, a.Name)
		if err := writeState(snap.Dir, *st); err != nil {
			return fmt.Errorf("save delivery state: %w", err)
		}
	}
	if !snap.Ended {
		return nil
	}
	// The final metrics, with the redaction counts, once the artifacts are
	// up. They carry the end time, so a re-send after a crash is an exact
	// duplicate that MLflow's SQL store ignores.
	final := maps.Clone(snap.Metrics)
	if red != nil {
		counts := redact.Counts{}
		counts.Add(st.Redacted)
		counts.Add(labelCounts)
		total := 0
		for kind, n := range counts {
			final["redactions."+kind] = float64(n)
			total += n
		}
		final["redactions"] = float64(total)
	}
	if err := c.LogBatch(ctx, st.RunID, mlflowclient.Batch{Metrics: metricBatch(final, snap.End, snap.Start)}); err != nil {
		return fmt.Errorf("log final metrics to run %s: %w", st.RunID, err)
	}
	if err := c.UpdateRun(ctx, st.RunID, snap.Status, snap.End); err != nil {
		return fmt.Errorf("finish run: %w", err)
	}
	st.Done = true
	return writeState(snap.Dir, *st)
}

// TagSessionID tags every run with its session, which makes run creation
// idempotent.
const TagSessionID = "aitrack.session_id"

func (o *Outbox) experiment(ctx context.Context, name string) (string, error) {
	o.mu.Lock()
	id, ok := o.expIDs[name]
	o.mu.Unlock()
	if ok {
		return id, nil
	}
	id, err := o.cfg.Client.GetOrCreateExperiment(ctx, name)
	if err != nil {
		return "", fmt.Errorf("experiment %q: %w", name, err)
	}
	o.mu.Lock()
	o.expIDs[name] = id
	o.mu.Unlock()
	return id, nil
}

// metricBatch stamps every metric with the time and its step: whole seconds
// since the start, so that the final point is always the latest.
func metricBatch(m map[string]float64, at, start time.Time) []mlflowclient.Metric {
	step := int64(max(at.Sub(start), 0) / time.Second)
	out := make([]mlflowclient.Metric, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, mlflowclient.Metric{Key: k, Value: m[k], Timestamp: at, Step: step})
	}
	return out
}

// labelsDigest identifies a set of params and tags.
func labelsDigest(params, tags map[string]string) string {
	h := sha256.New()
	for _, m := range []map[string]string{params, tags} {
		for _, k := range slices.Sorted(maps.Keys(m)) {
			fmt.Fprintf(h, "%q=%q\n", k, m[k])
		}
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// upload sends a file as an artifact, through the redactor when there is
// one and the file is not redacted already (the length then is not known
// in advance), and returns what it redacted.
func upload(ctx context.Context, c *mlflowclient.Client, artifactURI string, a Artifact, red *redact.Redactor) (redact.Counts, error) {
	f, err := os.Open(a.Path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("artifact %s: %w", a.Name, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("artifact %s: %w", a.Name, err)
	}
	if red == nil || a.Redacted {
		if err := c.UploadArtifact(ctx, artifactURI, a.Name, f, fi.Size()); err != nil {
			return nil, fmt.Errorf("upload %s: %w", a.Name, err)
		}
		return nil, nil
	}
	pr, pw := io.Pipe()
	stream := red.NewStream(pw)
	go func() {
		_, err := io.Copy(stream, f)
		if cerr := stream.Close(); err == nil {
			err = cerr
		}
		pw.CloseWithError(err)
	}()
	err = c.UploadArtifact(ctx, artifactURI, a.Name, pr, -1)
	pr.CloseWithError(io.ErrClosedPipe) // stops the copy if the upload gave up
	if err != nil {
		return nil, fmt.Errorf("upload %s: %w", a.Name, err)
	}
	return stream.Counts(), nil
}

// redactorFor is the redactor for a session: none when the session was
// recorded with --no-redact.
func (o *Outbox) redactorFor(snap Snapshot) *redact.Redactor {
	if snap.Tags[TagRedaction] == "off" {
		return nil
	}
	return o.cfg.Redactor
}

// runName redacts a run's name, then shortens it to what the MLflow UI
// shows well, keeping its end (the start time).
func runName(red *redact.Redactor, name string) string {
	if red != nil {
		name, _ = red.String(name)
	}
	if r := []rune(name); len(r) > 100 {
		name = string(r[:79]) + "…" + string(r[len(r)-20:])
	}
	return name
}

// TagRedaction records on a run that the user turned redaction off.
const TagRedaction = "aitrack.redaction"

// redactLabels returns params and tags with secrets removed from their
// values, and what was removed.
func redactLabels(red *redact.Redactor, params, tags map[string]string) (map[string]string, map[string]string, redact.Counts) {
	if red == nil {
		return params, tags, nil
	}
	counts := redact.Counts{}
	clean := func(m map[string]string) map[string]string {
		out := make(map[string]string, len(m))
		for k, v := range m {
			var c redact.Counts
			out[k], c = red.String(v)
			counts.Add(c)
		}
		return out
	}
	return clean(params), clean(tags), counts
}
