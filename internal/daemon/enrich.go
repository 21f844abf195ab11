package daemon

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/aitrack/aitrack/internal/outbox"
	"github.com/aitrack/aitrack/internal/sessionlog"
)

// Files of the session-log enrichment, beside the session's other files.
const (
	// SessionLogCopy is the copy of the CLI's own log, read line by line.
	SessionLogCopy = "session-log.jsonl"
	// sessionLogState remembers which log and HOME belong to the session,
	// for a daemon restart (the CLI may be gone by then).
	sessionLogState = "session-log.json"
	// claimsDir (in the state directory) holds one file per claimed log,
	// so that two sessions never read the same log.
	claimsDir = "session-log-claims"
)

// findEvery bounds how often a session still without a log looks for one.
const findEvery = time.Second

// enricher finds and follows the CLI's own session log of one session;
// its methods run with the tracker's mu held.
type enricher struct {
	dir, claims string
	pid         int64 // the CLI's process, whose environment says where its logs are
	state       enrichState
	follower    *sessionlog.Follower
	copyF       *os.File
	copyW       *bufio.Writer
	lastFind    time.Time
	unreadable  error // the last search met a log directory it cannot read
	lost        error // the log disappeared after it was found
}

type enrichState struct {
	Format string            `json:"format"`
	Home   string            `json:"home"`
	Env    map[string]string `json:"env,omitempty"`
	Path   string            `json:"path,omitempty"`
}

// newEnricher prepares the enrichment of a session of provider; nil when
// the provider writes no log this package reads.
func newEnricher(dir, provider string, childPID int64) *enricher {
	if !slices.Contains(sessionlog.Formats, sessionlog.Format(provider)) {
		return nil
	}
	e := &enricher{dir: dir, claims: filepath.Join(filepath.Dir(filepath.Dir(dir)), claimsDir), pid: childPID}
	if b, err := os.ReadFile(filepath.Join(dir, sessionLogState)); err == nil && json.Unmarshal(b, &e.state) == nil {
		return e
	}
	e.state = enrichState{Format: provider}
	e.settleHome(false)
	return e
}

// settleHome sets the CLI's HOME (and the variables that move its logs)
// from its process's environment, which the daemon can read while it runs;
// false while that is not known yet. The session opens as the CLI starts,
// and /proc shows an empty environment for a moment while the CLI is in
// exec (twice for a script run through env): that read is tried again at
// the next look for the log. Only a process that is gone, or a session
// that is over, leaves the daemon's own HOME.
func (e *enricher) settleHome(ended bool) bool {
	if e.state.Home != "" {
		return true
	}
	env, err := processEnv(e.pid)
	if err == nil && len(env) == 0 && !ended {
		return false
	}
	e.state.Env = map[string]string{}
	for _, k := range []string{"CLAUDE_CONFIG_DIR", "CODEX_HOME", "GEMINI_CLI_HOME"} {
		if v := env[k]; v != "" {
			e.state.Env[k] = v
		}
	}
	if e.state.Home = env["HOME"]; e.state.Home == "" {
		e.state.Home, _ = os.UserHomeDir()
	}
	e.save()
	return true
}

// processEnv reads a running process's environment (Linux; same user).
func processEnv(pid int64) (map[string]string, error) {
	if pid <= 0 {
		return nil, errors.New("no process")
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		return nil, err
	}
	env := map[string]string{}
	for _, kv := range bytes.Split(b, []byte{0}) {
		if k, v, ok := strings.Cut(string(kv), "="); ok {
			env[k] = v
		}
	}
	return env, nil
}

func (e *enricher) save() {
	b, _ := json.Marshal(e.state)
	os.WriteFile(filepath.Join(e.dir, sessionLogState), b, 0o600)
}

// session is what discovery knows of the session from the terminal.
type session struct {
	cwd    string
	start  time.Time
	prompt string // the first prompt the terminal view read
	typed  bool   // keys were typed, or the session is over (claude -p takes its prompt in argv)
	ended  bool
}

// poll finds the log (once per findEvery until found) and reads what it
// gained; at the end a partial last line is read as complete.
func (e *enricher) poll(s session) {
	if e.lost != nil {
		return
	}
	if e.follower == nil && !e.find(s) {
		return
	}
	if err := e.follower.Poll(); err != nil {
		e.lost = err
	}
	if s.ended {
		e.follower.Finish()
	}
	e.copyW.Flush()
}

func (e *enricher) find(s session) bool {
	if e.state.Path == "" {
		if !s.ended && time.Since(e.lastFind) < findEvery {
			return false
		}
		e.lastFind = time.Now()
		if !e.settleHome(s.ended) {
			return false
		}
		cands, err := sessionlog.Candidates(sessionlog.Query{
			Format: sessionlog.Format(e.state.Format), Home: e.state.Home, Env: e.state.Env,
			Cwd: s.cwd, Start: s.start, Prompt: s.prompt, Typed: s.typed,
		})
		e.unreadable = err
		for _, c := range cands {
			if e.claim(c.Path) {
				e.state.Path = c.Path
				e.save()
				break
			}
		}
		if e.state.Path == "" {
			return false
		}
	}
	f, err := os.OpenFile(filepath.Join(e.dir, SessionLogCopy), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		e.lost = err
		return false
	}
	e.copyF, e.copyW = f, bufio.NewWriterSize(f, 8<<10) // flushed at every poll
	e.follower, _ = sessionlog.NewFollower(e.state.Path, sessionlog.Format(e.state.Format), e.copyW)
	return true
}

// claim takes path for this session; false when another session has it.
func (e *enricher) claim(path string) bool {
	sum := sha256.Sum256([]byte(path))
	name := filepath.Join(e.claims, hex.EncodeToString(sum[:16]))
	if err := os.MkdirAll(e.claims, 0o700); err != nil {
		return false
	}
	f, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		owner, _ := os.ReadFile(name)
		return string(owner) == e.dir // ours, from before a restart
	}
	f.WriteString(e.dir)
	return f.Close() == nil
}

func (e *enricher) close() {
	if e.follower != nil {
		e.follower.Close()
	}
	if e.copyF != nil {
		e.copyW.Flush()
		e.copyF.Close()
	}
}

// merge makes the log authoritative for what it covers: the figures the
// terminal view guesses are replaced by the log's, and the log's own are
// added. Without a log (none found, or lost) the terminal view stays and
// the tags say why.
func (e *enricher) merge(snap *outbox.Snapshot) {
	snap.Tags["aitrack.sources"] = "terminal"
	switch {
	case e.lost != nil:
		snap.Tags["aitrack.session_log"] = "lost: " + e.lost.Error() + "; figures from the terminal view, the log's own (tokens, turns, tools) up to the loss"
		// What only the log tells stays, as it was when the log went:
		// true, if partial, where the terminal has nothing to say.
		if e.follower == nil {
			return // lost before it was read
		}
		f := e.follower.Facts()
		for k, v := range f.Metrics() {
			if _, ok := snap.Metrics[k]; !ok {
				snap.Metrics[k] = v
			}
		}
		return
	case e.follower == nil && e.unreadable != nil:
		snap.Tags["aitrack.session_log"] = "not found: " + e.unreadable.Error() + "; figures from the terminal view"
		return
	case e.follower == nil:
		snap.Tags["aitrack.session_log"] = "not found"
		return
	}
	f := e.follower.Facts()
	terminalCommands := snap.Metrics["commands_executed"]
	for k, v := range f.Metrics() {
		snap.Metrics[k] = v
	}
	snap.Metrics["commands_terminal_minus_log"] = terminalCommands - float64(len(f.Commands))
	snap.Tags["aitrack.sources"] = "terminal+log"
	snap.Tags["aitrack.session_log"] = e.state.Path
	if f.SessionID != "" {
		snap.Tags["aitrack.cli_session_id"] = f.SessionID
	}
	if len(f.Models) > 0 {
		snap.Tags["aitrack.models"] = strings.Join(f.Models, ",")
	}
	// A param cannot change, so the model is one once the session is over.
	if _, set := snap.Params["model"]; snap.Ended && !set && len(f.Models) > 0 {
		snap.Params["model"] = f.Models[0]
	}
}

// artifacts are the enrichment's files for an ended session's run.
func (e *enricher) artifacts() []outbox.Artifact {
	if e.follower == nil {
		return nil
	}
	return []outbox.Artifact{{Name: SessionLogCopy, Path: filepath.Join(e.dir, SessionLogCopy)}}
}
