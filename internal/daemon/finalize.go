package daemon

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/aitrack/aitrack/internal/gitfacts"
	"github.com/aitrack/aitrack/internal/outbox"
	"go.uber.org/zap"
)

// gitDir holds a session's git facts, beside its other files.
const gitDir = "git"

// finalize gathers what can only be known once a session has ended (its
// repository's state, the pull requests it opened), then lets the outbox
// finish the run. It runs off the ingest path: git can take a while.
func (d *Daemon) finalize(t *tracker) {
	out := filepath.Join(t.dir, gitDir)
	f, err := gitfacts.Load(out)
	if err != nil && t.open.GetGit() != nil {
		ctx, cancel := context.WithTimeout(d.ctx, time.Minute)
		f, err = gitfacts.Collect(ctx, t.open.GetCwd(), t.open.GetGit().GetCommit(), out)
		cancel()
		if err != nil {
			d.log.Warn("cannot read the session's git facts; the run will have none", zap.String("session", t.id), zap.Error(err))
		}
	}
	prs, err := gitfacts.PullRequests(filepath.Join(t.dir, CleanFile))
	if err != nil {
		d.log.Warn("cannot scan the transcript for pull requests", zap.String("session", t.id), zap.Error(err))
	}
	redactCast := d.cfg.Redactor != nil && t.open.GetTags()["aitrack.redaction"] != "off"
	if redactCast {
		if err := writeRedactedCast(d.ingester.Store(), t.id, d.cfg.Redactor); err != nil {
			// Without it the cast stays home: better no replay in MLflow
			// than a leaked secret.
			d.log.Warn("cannot write the redacted cast; the run will have none", zap.String("session", t.id), zap.Error(err))
		}
	}
	t.mu.Lock()
	t.git, t.prs, t.finalized, t.redactCast = f, prs, true, redactCast
	t.mu.Unlock()
	d.outbox.Track(d.ctx, t.id)
}

// finalFacts adds the end-of-session facts to a snapshot; t.mu is held.
func (t *tracker) finalFacts(snap *outbox.Snapshot) {
	if t.open.GetGit() != nil {
		if t.git.Commit != "" {
			snap.Tags["aitrack.git.end_commit"] = t.git.Commit
		}
		if t.git.Branch != "" {
			snap.Tags["aitrack.git.end_branch"] = t.git.Branch
		}
		snap.Metrics["git_commits_made"] = float64(len(t.git.Commits))
		for _, name := range t.git.Files {
			snap.Artifacts = append(snap.Artifacts, outbox.Artifact{Name: "git/" + name, Path: filepath.Join(t.dir, gitDir, name)})
		}
	}
	if len(t.prs) > 0 {
		snap.Tags["aitrack.pull_requests"] = strings.Join(t.prs, " ")
	}
	if t.redactCast {
		// The cast that leaves is the redacted one, under the usual name.
		for i, a := range snap.Artifacts {
			if a.Name == CastFile {
				snap.Artifacts[i].Path, snap.Artifacts[i].Redacted = filepath.Join(t.dir, RedactedCastFile), true
			}
		}
	}
	snap.Tags["mlflow.note.content"] = t.describe(snap)
}

// describe writes the run's description (MLflow shows it on the run page):
// what ran, how it ended, the figures that matter and where to look next.
func (t *tracker) describe(snap *outbox.Snapshot) string {
	var b strings.Builder
	m := snap.Metrics
	kind := "AI session"
	if snap.Tags["type"] == "procedure" {
		kind = "Procedure"
	}
	fmt.Fprintf(&b, "**%s** `%s`", kind, shellJoin(t.open.GetArgv()))
	if cwd := t.open.GetCwd(); cwd != "" {
		fmt.Fprintf(&b, " in `%s`", cwd)
	}
	b.WriteString("\n\n")
	fmt.Fprintf(&b, "%s after %s with exit code %d.\n\n", strings.ToLower(string(snap.Status)), time.Duration(m["duration_seconds"]*float64(time.Second)).Round(time.Second), int(m["exit_code"]))
	fmt.Fprintf(&b, "- %d commands (%d git, %d gh), %d tool uses, %d prompts\n", int(m["commands_executed"]), int(m["git_operations"]), int(m["gh_operations"]), int(m["tool_uses"]), int(m["user_prompts"]))
	fmt.Fprintf(&b, "- %d errors\n", int(m["errors_encountered"]))
	if n, ok := m["git_commits_made"]; ok {
		fmt.Fprintf(&b, "- %d commits made\n", int(n))
	}
	for _, pr := range t.prs {
		fmt.Fprintf(&b, "- pull request: %s\n", pr)
	}
	if len(t.open.GetArgv()) > 1 {
		prompt := strings.Join(t.open.GetArgv()[1:], " ")
		lines := strings.SplitN(prompt, "\n", 4)
		if len(lines) > 3 {
			lines = append(lines[:3], "…")
		}
		b.WriteString("\nPrompt / arguments:\n\n")
		for _, l := range lines {
			fmt.Fprintf(&b, "> %s\n", l)
		}
	}
	b.WriteString("\nArtifacts: `" + outbox.RawArtifact + "`")
	for _, a := range append(snap.Artifacts, snap.LiveArtifacts...) {
		fmt.Fprintf(&b, " `%s`", a.Name)
	}
	b.WriteString(" — replay with `asciinema play session.cast`.\n")
	return b.String()
}
