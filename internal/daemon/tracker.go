package daemon

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	aitrackv1 "github.com/aitrack/aitrack/api/proto/aitrack/v1"
	"github.com/aitrack/aitrack/internal/asciicast"
	"github.com/aitrack/aitrack/internal/gitfacts"
	"github.com/aitrack/aitrack/internal/ingest"
	"github.com/aitrack/aitrack/internal/mlflowclient"
	"github.com/aitrack/aitrack/internal/outbox"
	"github.com/aitrack/aitrack/internal/parse"
	"github.com/aitrack/aitrack/internal/procfacts"
)

// Files the daemon derives from a session's raw bytes, beside them.
const (
	CleanFile  = "transcript.txt"
	EventsFile = "events.jsonl"
	CastFile   = "session.cast"
)

// tracker follows one session: it feeds the parser with what ingest stored
// and keeps the derived files and figures the outbox delivers.
type tracker struct {
	mu       sync.Mutex
	id, dir  string
	open     *aitrackv1.Open
	start    time.Time
	parser   *parse.Parser
	clean    *bufio.Writer
	cleanF   *os.File
	events   *bufio.Writer
	eventsF  *os.File
	cast     *asciicast.Writer
	castF    *os.File
	bytes    uint64
	keys     int               // keys typed (terminal replies excluded)
	facts    map[string]string // params derived from the prompt
	notes    []ingest.Annotation
	last     time.Time // capture time of the last record
	attached int
	ended    bool
	end      ingest.Rec
	// finalized is set once the end-of-session facts are gathered.
	finalized bool
	// redactCast: the cast that leaves is RedactedCastFile.
	redactCast bool
	git        gitfacts.Facts
	prs        []string
	// enrich follows the CLI's own session log; nil for other programs.
	enrich      *enricher
	firstPrompt string // as the terminal view read it, to pick the log
}

func newTracker(ss *ingest.Session, facts *procfacts.Extractor) (*tracker, error) {
	open := ss.Open()
	t := &tracker{id: ss.ID(), dir: ss.Dir(), open: open, start: time.Unix(0, open.GetStartUnixNano())}
	// A procedure says what it is; only an AI session's prompt needs reading.
	if open.GetTags()["type"] != "procedure" {
		t.facts = facts.Facts(open.GetArgv()[1:])
	}
	t.last = t.start
	if open.GetTags()["type"] != "procedure" {
		t.enrich = newEnricher(t.dir, open.GetProvider(), open.GetChildPid())
	}
	var err error
	if t.cleanF, err = os.OpenFile(filepath.Join(t.dir, CleanFile), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600); err != nil {
		return nil, err
	}
	if t.eventsF, err = os.OpenFile(filepath.Join(t.dir, EventsFile), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600); err != nil {
		t.cleanF.Close()
		return nil, err
	}
	if t.castF, err = os.OpenFile(filepath.Join(t.dir, CastFile), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600); err != nil {
		t.cleanF.Close()
		t.eventsF.Close()
		return nil, err
	}
	// Small buffers: they live as long as the session, and a session
	// writes a few KB/s of clean text and rare events, so bigger ones only
	// add to the daemon's memory per live session.
	t.clean = bufio.NewWriterSize(t.cleanF, 8<<10)
	t.events = bufio.NewWriter(t.eventsF)
	cols, rows := int(open.GetSize().GetCols()), int(open.GetSize().GetRows())
	t.cast, err = asciicast.NewWriter(t.castF, asciicast.Header{
		Width: max(cols, 1), Height: max(rows, 1), Command: shellJoin(open.GetArgv()),
		Env: map[string]string{"TERM": open.GetTerm()},
	}, t.start)
	if err != nil {
		t.close()
		return nil, err
	}
	t.parser = parse.New(parse.Options{
		Provider: open.GetProvider(),
		Start:    t.start,
		Clean:    t.clean,
		Cols:     cols,
		Rows:     rows,
		OnEvent:  t.writeEvent,
		// A wrapper in pipe mode (no terminal: CI, `cmd | aitrack-wrap`)
		// reports no size, and its output has bare line feeds.
		NewlineMode: cols == 0,
	})
	// Rebuild the derived state from what is already stored (a daemon
	// restart, a reconnecting wrapper): parsing is cheap and deterministic.
	err = ss.Replay(func(r ingest.Rec, data []byte) error {
		t.apply(r, data)
		return nil
	})
	if err != nil {
		t.close()
		return nil, fmt.Errorf("replay session %s: %w", t.id, err)
	}
	notes, err := ss.Annotations()
	if err != nil {
		t.close()
		return nil, fmt.Errorf("annotations of session %s: %w", t.id, err)
	}
	for _, a := range notes {
		t.annotate(a)
	}
	return t, nil
}

// annotate adds a fact logged from inside the session; t.mu is held or t
// is not shared yet.
func (t *tracker) annotate(a ingest.Annotation) {
	t.notes = append(t.notes, a)
	if a.Kind == "step" {
		t.writeEvent(parse.Event{Kind: "step", Text: a.Key, Offset: time.Unix(0, a.Time).Sub(t.start), Fields: map[string]string{"status": a.Status}})
	}
}

// checkParam refuses a param that would change a logged value: MLflow
// params are write-once, and a change would be refused much later.
func (t *tracker) checkParam(key, value string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if v, ok := t.params()[key]; ok && v != value {
		return fmt.Errorf("param %q is already %q; params cannot change (use set-tag for values that change)", key, v)
	}
	return nil
}

type eventLine struct {
	Kind   parse.Kind        `json:"kind"`
	Text   string            `json:"text"`
	Offset float64           `json:"offset_seconds"`
	Fields map[string]string `json:"fields,omitempty"`
}

func (t *tracker) writeEvent(e parse.Event) {
	if e.Kind == parse.KindUserPrompt && t.firstPrompt == "" {
		t.firstPrompt = e.Text
	}
	b, _ := json.Marshal(eventLine{Kind: e.Kind, Text: e.Text, Offset: e.Offset.Seconds(), Fields: e.Fields})
	t.events.Write(append(b, '\n'))
}

// apply feeds one stored record; t.mu is held or t is not shared yet.
func (t *tracker) apply(r ingest.Rec, data []byte) {
	if t.ended {
		return
	}
	t.last = r.At()
	switch r.Kind {
	case "o":
		t.bytes += uint64(len(data))
		t.parser.Write(data, r.At())
		t.cast.Output(r.At(), data)
	case "r":
		t.parser.Resize(int(r.Cols), int(r.Rows))
		t.cast.Resize(r.At(), int(r.Cols), int(r.Rows))
	case "i":
		if !r.Reply {
			t.keys += int(r.Keys)
		}
		if r.Data != nil {
			t.cast.Input(r.At(), r.Data)
		}
	case "e":
		t.ended, t.end = true, r
		t.parser.Close()
		t.cast.Marker(r.At(), fmt.Sprintf("exit %d", t.exitCode()))
		t.cast.Close(r.At())
		t.clean.Flush()
		t.events.Flush()
		t.cleanF.Sync()
		t.eventsF.Sync()
		t.castF.Sync()
	}
}

// store applies stored records and reports whether they ended the session.
func (t *tracker) store(recs []*aitrackv1.Record) (ended bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	was := t.ended
	for _, rec := range recs {
		r := ingest.Rec{Seq: rec.GetSeq(), Time: rec.GetTimeUnixNano()}
		var data []byte
		switch k := rec.Kind.(type) {
		case *aitrackv1.Record_Output:
			r.Kind, data = "o", k.Output.GetData()
		case *aitrackv1.Record_Resize:
			r.Kind, r.Cols, r.Rows = "r", k.Resize.GetSize().GetCols(), k.Resize.GetSize().GetRows()
		case *aitrackv1.Record_Input:
			r.Kind, r.Keys, r.Reply, r.Data = "i", k.Input.GetKeys(), k.Input.GetReply(), k.Input.GetData()
		case *aitrackv1.Record_End:
			r.Kind, r.Exit, r.Signal, r.Error = "e", k.End.GetExitCode(), k.End.GetSignal(), k.End.GetError()
		}
		t.apply(r, data)
	}
	return t.ended && !was
}

func (t *tracker) close() {
	t.clean.Flush()
	t.events.Flush()
	if t.cast != nil {
		t.cast.Close(t.last)
	}
	t.cleanF.Close()
	t.eventsF.Close()
	t.castF.Close()
	if t.enrich != nil {
		t.enrich.close()
	}
}

// exitCode is the session's exit code as a shell reports it.
func (t *tracker) exitCode() int {
	if t.end.Signal != 0 {
		return 128 + int(t.end.Signal)
	}
	return int(t.end.Exit)
}

func (t *tracker) snapshot(defaultExperiment string) outbox.Snapshot {
	t.mu.Lock()
	defer t.mu.Unlock()
	o := t.open
	metrics := t.parser.Metrics().Map()
	metrics["duration_seconds"] = t.last.Sub(t.start).Seconds()
	metrics["keystrokes"] = float64(t.keys)
	snap := outbox.Snapshot{
		ID:         t.id,
		Dir:        t.dir,
		Experiment: o.GetExperiment(),
		RunName:    runName(o, t.start),
		Start:      t.start,
		Tags:       runTags(o),
		Params:     t.params(),
		Metrics:    metrics,
		Last:       t.last,
		Raw:        filepath.Join(t.dir, ingest.OutputFile),
		Ended:      t.ended && t.finalized,
	}
	if snap.Experiment == "" {
		snap.Experiment = defaultExperiment
	}
	steps := map[string]int{}
	perKey := map[string]int64{}
	for _, a := range t.notes {
		switch a.Kind {
		case "tag":
			snap.Tags[a.Key] = a.Value
		case "metric":
			// Each logged point keeps its time; its step counts the
			// points of its key, so the newest is MLflow's latest.
			snap.Points = append(snap.Points, mlflowclient.Metric{Key: a.Key, Value: a.Number, Timestamp: time.Unix(0, a.Time), Step: perKey[a.Key]})
			perKey[a.Key]++
		case "step":
			steps[a.Status]++
		case "artifact":
			snap.LiveArtifacts = append(snap.LiveArtifacts, outbox.Artifact{Name: a.Key, Path: filepath.Join(t.dir, a.File)})
		}
	}
	if len(steps) > 0 {
		metrics["steps_completed"] = float64(steps["ok"])
		metrics["steps_failed"] = float64(steps["failed"])
	}
	if t.enrich != nil {
		t.enrich.poll(session{cwd: t.open.GetCwd(), start: t.start, prompt: t.firstPrompt, typed: t.keys > 0 || t.ended, ended: t.ended})
		t.enrich.merge(&snap)
	}
	if snap.Ended {
		snap.End = t.end.At()
		code := t.exitCode()
		metrics["exit_code"] = float64(code)
		metrics["success"] = 0
		switch {
		case t.end.Signal != 0:
			snap.Status = mlflowclient.StatusKilled
		case code == 0 && t.end.Error == "":
			snap.Status = mlflowclient.StatusFinished
			metrics["success"] = 1
		default:
			snap.Status = mlflowclient.StatusFailed
		}
		snap.Artifacts = []outbox.Artifact{
			{Name: "transcript.txt", Path: filepath.Join(t.dir, CleanFile)},
			{Name: "events.jsonl", Path: filepath.Join(t.dir, EventsFile)},
			{Name: "session.cast", Path: filepath.Join(t.dir, CastFile)},
		}
		if t.enrich != nil {
			snap.Artifacts = append(snap.Artifacts, t.enrich.artifacts()...)
		}
		t.finalFacts(&snap)
	}
	return snap
}

// params are the run's params: the session's own, those derived from its
// prompt, then those logged from inside it, each only where no earlier one
// set the key; t.mu is held.
func (t *tracker) params() map[string]string {
	p := runParams(t.open)
	for k, v := range t.facts {
		if _, ok := p[k]; !ok {
			p[k] = v
		}
	}
	for _, a := range t.notes {
		if a.Kind == "param" {
			if _, ok := p[a.Key]; !ok {
				p[a.Key] = a.Value
			}
		}
	}
	return p
}

func runTags(o *aitrackv1.Open) map[string]string {
	tags := map[string]string{
		"type":               "ai_session",
		"provider":           o.GetProvider(),
		"mlflow.source.name": filepath.Base(o.GetArgv()[0]),
		"mlflow.source.type": "LOCAL",
		"mlflow.user":        o.GetUser(),
	}
	if g := o.GetGit(); g != nil {
		set := func(k, v string) {
			if v != "" {
				tags[k] = v
			}
		}
		set("mlflow.source.git.commit", g.GetCommit())
		set("mlflow.source.git.branch", g.GetBranch())
		set("mlflow.source.git.repoURL", g.GetRepoUrl())
	}
	for k, v := range o.GetTags() {
		tags[k] = v
	}
	tags["mlflow.runName"] = runName(o, time.Unix(0, o.GetStartUnixNano()))
	return tags
}

func runParams(o *aitrackv1.Open) map[string]string {
	p := map[string]string{
		"provider": o.GetProvider(),
		"command":  shellJoin(o.GetArgv()),
		"cwd":      o.GetCwd(),
		"hostname": o.GetHostname(),
	}
	for k, v := range o.GetParams() {
		p[k] = v
	}
	return p
}

// runName reads like "claude · close-issue 583 · 2026-11-25 19:40": the
// provider (or the procedure), a slice of the prompt or arguments, and the
// local start time.
func runName(o *aitrackv1.Open, start time.Time) string {
	name := o.GetProvider()
	if p := o.GetParams()["procedure_name"]; p != "" {
		name = p
	}
	if name == "" {
		name = filepath.Base(o.GetArgv()[0])
	}
	// Not cut here: the outbox redacts the whole name, then shortens it
	// (a secret cut in half could no longer be recognised).
	if args := strings.Join(strings.Fields(strings.Join(o.GetArgv()[1:], " ")), " "); args != "" {
		name += " · " + args
	}
	return name + " · " + start.Local().Format("2006-01-02 15:04")
}

// shellJoin quotes argv so that it reads as the command a user would type.
func shellJoin(argv []string) string {
	parts := make([]string, len(argv))
	for i, a := range argv {
		if a != "" && strings.IndexFunc(a, func(r rune) bool {
			return !(r == '-' || r == '_' || r == '.' || r == '/' || r == '=' || r == ':' || r == ',' || r == '@' || r == '+' ||
				'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9')
		}) < 0 {
			parts[i] = a
			continue
		}
		parts[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(parts, " ")
}
