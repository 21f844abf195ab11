package cli

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	aitrackv1 "github.com/aitrack/aitrack/api/proto/aitrack/v1"
	"github.com/aitrack/aitrack/internal/parse"
	"github.com/aitrack/aitrack/internal/paths"
	"github.com/aitrack/aitrack/internal/recorder"
	"github.com/aitrack/aitrack/internal/recording"
	"github.com/aitrack/aitrack/internal/sessionlog"
)

// ParsedEvent is one event in `aitrack parse --json`.
type ParsedEvent struct {
	Kind   parse.Kind        `json:"kind"`
	Text   string            `json:"text"`
	Offset float64           `json:"offset_seconds"`
	Fields map[string]string `json:"fields,omitempty"`
}

// Parsed is `aitrack parse --json`'s object for one file.
type Parsed struct {
	File    string             `json:"file"`
	Format  string             `json:"format"`
	Metrics map[string]float64 `json:"metrics"`
	Events  []ParsedEvent      `json:"events"`
}

// ParseFile parses a recording offline, as the daemon would have.
func ParseFile(path, timing, provider string) (Parsed, error) {
	out := Parsed{File: path, Events: []ParsedEvent{}}
	var p *parse.Parser
	var start time.Time
	_, err := recording.Read(path, timing, func(info recording.Info) error {
		out.Format, start = info.Format, info.Start
		p = parse.New(parse.Options{Provider: provider, Start: start, Cols: info.Cols, Rows: info.Rows, OnEvent: func(e parse.Event) {
			out.Events = append(out.Events, ParsedEvent{Kind: e.Kind, Text: e.Text, Offset: e.Offset.Seconds(), Fields: e.Fields})
		}})
		return nil
	}, func(e recording.Event) error {
		switch e.Kind {
		case "o":
			p.Write(e.Data, start.Add(e.Time))
		case "r":
			p.Resize(e.Cols, e.Rows)
		}
		return nil
	})
	if err != nil {
		return out, fmt.Errorf("%s: %w", path, err)
	}
	p.Close()
	out.Metrics = p.Metrics().Map()
	return out, nil
}

// printedMetrics are the figures PrintParsed shows for every file.
var printedMetrics = []string{"commands_executed", "git_operations", "gh_operations", "tool_uses", "user_prompts", "errors_encountered", "files_touched", "output_lines"}

// ParseSessionLog reads an AI CLI's own session log (format "claude",
// "codex" or "gemini"; "" guesses it from the path) into the figures and
// events the daemon would merge into the session's run.
func ParseSessionLog(path, format string) (Parsed, error) {
	if format == "" {
		format = string(guessLogFormat(path))
	}
	f, err := sessionlog.ReadFile(path, sessionlog.Format(format))
	if err != nil {
		return Parsed{}, fmt.Errorf("%s: %w (name the CLI with --provider claude|codex|gemini)", path, err)
	}
	out := Parsed{File: path, Format: "session-log/" + format, Metrics: f.Metrics(), Events: []ParsedEvent{}}
	add := func(kind parse.Kind, text string, fields map[string]string) {
		out.Events = append(out.Events, ParsedEvent{Kind: kind, Text: text, Fields: fields})
	}
	for _, p := range f.Prompts {
		add(parse.KindUserPrompt, p, nil)
	}
	for _, c := range f.Commands {
		add(parse.KindCommand, c.Text, map[string]string{"exit_code": strconv.Itoa(c.ExitCode)})
	}
	for _, e := range f.Errors {
		add(parse.KindError, e.Text, map[string]string{"kind": e.Kind})
	}
	for _, name := range slices.Sorted(maps.Keys(f.Files)) {
		add(parse.KindFileTouched, name, map[string]string{"operation": f.Files[name]})
	}
	return out, nil
}

// guessLogFormat names a log's format from its first line: Codex opens
// with session_meta, Gemini with a header naming its projectHash.
func guessLogFormat(path string) sessionlog.Format {
	f, err := os.Open(path)
	if err != nil {
		return sessionlog.Claude // ReadFile reports the error
	}
	defer f.Close()
	head := make([]byte, 4096)
	n, _ := io.ReadFull(f, head)
	first, _, _ := strings.Cut(string(head[:n]), "\n")
	switch {
	case strings.Contains(first, `"session_meta"`):
		return sessionlog.Codex
	case strings.Contains(first, `"projectHash"`):
		return sessionlog.Gemini
	}
	return sessionlog.Claude
}

// PrintParsed writes the result as JSON or as readable text.
func PrintParsed(w io.Writer, p Parsed, asJSON bool) error {
	if asJSON {
		return json.NewEncoder(w).Encode(p)
	}
	fmt.Fprintf(w, "%s (%s)\n", p.File, p.Format)
	for _, k := range printedMetrics {
		fmt.Fprintf(w, "  %-20s %g\n", k, p.Metrics[k])
	}
	if strings.HasPrefix(p.Format, "session-log/") {
		for _, k := range slices.Sorted(maps.Keys(p.Metrics)) {
			if !slices.Contains(printedMetrics, k) {
				fmt.Fprintf(w, "  %-20s %g\n", k, p.Metrics[k])
			}
		}
	}
	for _, e := range p.Events {
		fmt.Fprintf(w, "  %8.1fs  %-14s %s\n", e.Offset, e.Kind, e.Text)
	}
	return nil
}

// Import hands a recording to the daemon as a finished session. Its
// session id is derived from the file's content, so importing the same
// file again adds nothing: the daemon already holds every record.
func Import(ctx context.Context, getenv paths.Getenv, path, timing, provider string) (string, error) {
	id, err := importID(path, timing)
	if err != nil {
		return "", err
	}
	stateDir, err := paths.StateDir(getenv)
	if err != nil {
		return "", err
	}
	abs, _ := filepath.Abs(path)
	host, _ := os.Hostname()
	open := &aitrackv1.Open{
		SessionId:  id,
		Provider:   provider,
		Hostname:   host,
		User:       getenv("USER"),
		WrapperPid: int64(os.Getpid()),
		Tags:       map[string]string{"aitrack.imported_from": abs},
	}
	rec := recorder.New(recorder.Config{Open: open, Socket: paths.Socket(getenv), SpoolDir: paths.SpoolDir(stateDir)})
	var start time.Time
	res, err := recording.Read(path, timing, func(info recording.Info) error {
		start = info.Start
		if start.IsZero() {
			start = time.Now()
		}
		open.StartUnixNano = start.UnixNano()
		open.Size = &aitrackv1.TermSize{Cols: uint32(max(info.Cols, 1)), Rows: uint32(max(info.Rows, 1))}
		open.Argv = strings.Fields(info.Command)
		if len(open.Argv) == 0 {
			open.Argv = []string{filepath.Base(path)}
		}
		if open.Provider == "" {
			open.Provider = filepath.Base(open.Argv[0])
		}
		rec.Start(ctx)
		return nil
	}, func(e recording.Event) error {
		at := start.Add(e.Time)
		switch e.Kind {
		case "o":
			rec.Output(e.Data, at)
		case "i":
			rec.Input(len([]rune(string(e.Data))), false, e.Data, at)
		case "r":
			rec.Resize(uint16(e.Cols), uint16(e.Rows), at)
		}
		return nil
	})
	if err != nil {
		rec.Close(0)
		return "", fmt.Errorf("%s: %w", path, err)
	}
	end := &aitrackv1.End{}
	if res.ExitCode != nil {
		end.ExitCode = int32(*res.ExitCode)
	}
	rec.End(end, time.Now())
	out := rec.Close(5 * time.Minute)
	if !out.Delivered {
		if out.SpoolPath != "" && !out.Connected {
			return id, &ErrNoDaemon{Socket: paths.Socket(getenv), Err: out.Err}
		}
		if out.SpoolPath == "" {
			return id, fmt.Errorf("import %s: %w", path, out.Err)
		}
	}
	return id, nil
}

// importID names an imported session after its content.
func importID(path, timing string) (string, error) {
	h := sha256.New()
	for _, p := range []string{path, timing} {
		if p == "" {
			continue
		}
		f, err := os.Open(p)
		if err != nil {
			return "", err
		}
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return "", err
		}
	}
	return fmt.Sprintf("import-%x", h.Sum(nil)[:16]), nil
}
