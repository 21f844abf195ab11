// Package wrapper is aitrack-wrap's logic: it runs the user's program in a
// PTY (ptyrun) and records the session (recorder), so that the terminal
// never waits for the daemon and the program's exit status is the
// wrapper's.
//
// It imports nothing of the daemon: it speaks to it only through the gRPC
// contract and the spool format.
package wrapper

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"time"

	aitrackv1 "github.com/aitrack/aitrack/api/proto/aitrack/v1"
	"github.com/aitrack/aitrack/internal/gitinfo"
	"github.com/aitrack/aitrack/internal/paths"
	"github.com/aitrack/aitrack/internal/ptyrun"
	"github.com/aitrack/aitrack/internal/recorder"
	"github.com/aitrack/aitrack/internal/shellmarks"
	"golang.org/x/term"
)

// EnvSession marks a tracked session in its programs' environment: nested
// wrappers see it and do not record twice, and in-session tools find their
// session with it.
const EnvSession = "AITRACK_SESSION"

// Options describe one wrapped run.
type Options struct {
	Argv     []string
	Provider string
	Params   map[string]string
	Tags     map[string]string
	// Experiment overrides the daemon's default experiment.
	Experiment string
	// CaptureInput records what the user types, not only how much: off by
	// default, because typed input can hold passwords.
	CaptureInput bool
	// NoShellMarks runs an interactive shell without its semantic prompt
	// marks (see shellmarks).
	NoShellMarks bool
	Getenv       paths.Getenv
	Stdin        *os.File
	Stdout       *os.File
	Stderr       io.Writer
	// FlushWait bounds how long the wrapper waits at exit for the daemon
	// to acknowledge the session before spooling the rest (default 5s;
	// shorter when the daemon was never reached).
	FlushWait time.Duration
}

// Run runs the program and returns the exit code the wrapper should exit
// with: the program's, 128+signal when it was killed, 127 when it could not
// be found.
func Run(ctx context.Context, o Options) int {
	if o.FlushWait == 0 {
		o.FlushWait = 5 * time.Second
	}
	if len(o.Argv) == 0 {
		fmt.Fprintln(o.Stderr, "aitrack-wrap: no command given")
		return 2
	}
	env := os.Environ()
	if o.Getenv(EnvSession) != "" {
		// Already inside a tracked session: run the program, record nothing.
		res, err := ptyrun.Run(ctx, ptyrun.Options{Argv: o.Argv, Env: env, Stdin: o.Stdin, Stdout: o.Stdout})
		return exitCode(o, res, err)
	}

	id := NewSessionID(time.Now())
	start := time.Now()
	open := newOpen(id, o, start)
	stateDir, err := paths.StateDir(o.Getenv)
	if err != nil {
		fmt.Fprintf(o.Stderr, "aitrack-wrap: %v; running %s without recording\n", err, o.Argv[0])
		res, err := ptyrun.Run(ctx, ptyrun.Options{Argv: o.Argv, Env: env, Stdin: o.Stdin, Stdout: o.Stdout})
		return exitCode(o, res, err)
	}
	launch := shellmarks.Launch{Argv: o.Argv, Env: env}
	if !o.NoShellMarks && term.IsTerminal(int(o.Stdin.Fd())) {
		var marked bool
		if launch, marked, err = shellmarks.Prepare(launch, filepath.Join(stateDir, "shell")); err != nil {
			fmt.Fprintf(o.Stderr, "aitrack-wrap: %v; running %s without prompt marks\n", err, o.Argv[0])
		} else if marked {
			open.Tags = maps.Clone(open.Tags)
			if open.Tags == nil {
				open.Tags = map[string]string{}
			}
			open.Tags["aitrack.shell_marks"] = "on"
		}
	}
	rec := recorder.New(recorder.Config{
		Open:     open,
		Socket:   paths.Socket(o.Getenv),
		SpoolDir: paths.SpoolDir(stateDir),
	})
	res, runErr := ptyrun.Run(ctx, ptyrun.Options{
		Argv:  launch.Argv,
		Env:   append(launch.Env, EnvSession+"="+id),
		Stdin: o.Stdin, Stdout: o.Stdout,
		OnStart: func(pid int, size ptyrun.Size) {
			open.ChildPid = int64(pid)
			open.Size = &aitrackv1.TermSize{Cols: uint32(size.Cols), Rows: uint32(size.Rows)}
			rec.Start(ctx)
		},
		OnOutput: rec.Output,
		OnResize: func(s ptyrun.Size, at time.Time) { rec.Resize(s.Cols, s.Rows, at) },
		OnInput: func(p []byte, at time.Time) {
			keys, reply := classifyInput(p)
			var data []byte
			if o.CaptureInput {
				data = p
			}
			rec.Input(keys, reply, data, at)
		},
	})
	end := &aitrackv1.End{ExitCode: int32(res.ExitCode), Signal: int32(res.Signal)}
	if runErr != nil {
		end.ExitCode, end.Error = 127, runErr.Error()
		if !errors.Is(runErr, exec.ErrNotFound) && !errors.Is(runErr, os.ErrNotExist) {
			end.ExitCode = 126
		}
	}
	rec.End(end, time.Now())
	out := rec.Close(o.FlushWait)
	switch {
	case out.Delivered:
	case out.SpoolPath != "" && !out.Connected:
		fmt.Fprintf(o.Stderr, "aitrack: daemon not reachable at %s; session saved to %s, recorded when aitrackd runs\n", paths.Socket(o.Getenv), out.SpoolPath)
	case out.SpoolPath != "":
		// The daemon was there but did not take everything in time; it
		// will take the rest from the spool, so there is nothing to say.
	default:
		fmt.Fprintf(o.Stderr, "aitrack: this session was not recorded: %v\n", out.Err)
	}
	return exitCode(o, res, runErr)
}

func exitCode(o Options, res ptyrun.Result, err error) int {
	if err == nil {
		return res.ExitCode
	}
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(o.Stderr, "%s: command not found\n", o.Argv[0])
		return 127
	}
	fmt.Fprintf(o.Stderr, "aitrack-wrap: %v\n", err)
	return 126
}

func newOpen(id string, o Options, start time.Time) *aitrackv1.Open {
	cwd, _ := os.Getwd()
	host, _ := os.Hostname()
	open := &aitrackv1.Open{
		SessionId:     id,
		Argv:          o.Argv,
		Provider:      o.Provider,
		Cwd:           cwd,
		StartUnixNano: start.UnixNano(),
		Params:        o.Params,
		Tags:          o.Tags,
		Hostname:      host,
		User:          userName(o.Getenv),
		WrapperPid:    int64(os.Getpid()),
		Term:          o.Getenv("TERM"),
		Experiment:    o.Experiment,
	}
	if open.Provider == "" {
		open.Provider = filepath.Base(o.Argv[0])
	}
	if g, ok := gitinfo.Lookup(cwd); ok {
		open.Git = &aitrackv1.GitInfo{Root: g.Root, Branch: g.Branch, Commit: g.Commit, RepoUrl: g.RepoURL}
	}
	return open
}

func userName(getenv paths.Getenv) string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return getenv("USER")
}

// NewSessionID returns a UUIDv7: time-ordered, so that session directories
// list in the order they started, and random enough never to collide.
func NewSessionID(now time.Time) string {
	var b [16]byte
	rand.Read(b[:])
	ms := uint64(now.UnixMilli())
	binary.BigEndian.PutUint16(b[4:], uint16(ms))
	binary.BigEndian.PutUint32(b[0:], uint32(ms>>16))
	b[6] = b[6]&0x0f | 0x70
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// ProviderFromName maps the name the wrapper was called by to a provider:
// "codex-with-tracking" → "codex". ok is false for any other name.
func ProviderFromName(arg0 string) (provider string, ok bool) {
	return strings.CutSuffix(filepath.Base(arg0), "-with-tracking")
}
