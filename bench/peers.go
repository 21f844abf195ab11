package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/aitrack/aitrack/internal/mlflowtest"
	"github.com/aitrack/aitrack/internal/paths"
)

// Candidate keys: stable names in BENCHMARKS.json.
const (
	keyDirect       = "direct"
	keyScript       = "script"
	keyScriptFile   = "script-file"
	keyAsciinema    = "asciinema"
	keyWrap         = "wrap"
	keyWrapStalled  = "wrap-stalled"
	keyWrapNoDaemon = "wrap-nodaemon"
)

// peer is one way of running a program on the terminal: directly, or under
// a recorder.
type peer struct {
	Key   string
	Label string
	// command returns the argv that runs child under this candidate and
	// what to delete once it ran.
	command func(child []string) (argv []string, cleanup func())
	env     []string
	// daemon is the aitrackd the wrapper records into, if any; stalled
	// stops it (SIGSTOP) once the wrapper has connected.
	daemon  *daemonProc
	stalled bool
}

// Tool is an external program the comparison uses.
type Tool struct {
	Name    string `json:"name"`
	Path    string `json:"path,omitempty"`
	Version string `json:"version,omitempty"`
}

func (h *harness) findTools(ctx context.Context) []Tool {
	_, errScript := exec.LookPath("script")
	_, errCast := exec.LookPath("asciinema")
	if (errScript != nil || errCast != nil) && h.cfg.InstallTools && os.Geteuid() == 0 {
		fmt.Fprintln(h.cfg.Log, "aitrack-bench: script or asciinema is missing; running apt-get install -y bsdutils asciinema")
		cmd := exec.CommandContext(ctx, "apt-get", "install", "-y", "bsdutils", "asciinema")
		cmd.Stdout, cmd.Stderr = h.cfg.Log, h.cfg.Log
		if err := cmd.Run(); err != nil {
			h.note("apt-get install -y bsdutils asciinema failed: %v", err)
		}
	}
	var tools []Tool
	for _, t := range []struct{ name, versionFlag string }{{"script", "--version"}, {"asciinema", "--version"}} {
		path, err := exec.LookPath(t.name)
		if err != nil {
			h.note("%s is not installed: it is left out of the comparison.", t.name)
			continue
		}
		tools = append(tools, Tool{Name: t.name, Path: path, Version: firstLine(commandOutput(ctx, h.work, path, t.versionFlag))})
	}
	if bin, err := mlflowtest.Binary(); err == nil {
		tools = append(tools, Tool{Name: "mlflow", Path: bin, Version: firstLine(commandOutput(ctx, h.work, bin, "--version"))})
	}
	return tools
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

func (h *harness) tool(name string) (Tool, bool) {
	for _, t := range h.report.Tools {
		if t.Name == name {
			return t, true
		}
	}
	return Tool{}, false
}

func (h *harness) buildPeers() []peer {
	nop := func() {}
	peers := []peer{{
		Key: keyDirect, Label: "direct (no recorder)", env: h.env,
		command: func(child []string) ([]string, func()) { return child, nop },
	}}
	if t, ok := h.tool("script"); ok {
		peers = append(peers, peer{
			Key: keyScript, Label: "script -q (" + t.Version + ")", env: h.env,
			command: func(child []string) ([]string, func()) {
				return []string{t.Path, "-q", "-c", shellJoin(child), "/dev/null"}, nop
			},
		}, peer{
			// The budgets compare with script writing to /dev/null, as the
			// issue asks; this one stores what it records, as aitrack
			// does, and shows what storing costs on this machine.
			Key: keyScriptFile, Label: "script -q, typescript to a file", env: h.env,
			command: func(child []string) ([]string, func()) {
				file, cleanup := h.recordingFile("typescripts", ".txt")
				return []string{t.Path, "-q", "-c", shellJoin(child), file}, cleanup
			},
		})
	}
	if t, ok := h.tool("asciinema"); ok {
		peers = append(peers, peer{
			Key: keyAsciinema, Label: "asciinema rec (" + t.Version + ")", env: h.env,
			command: func(child []string) ([]string, func()) {
				file, cleanup := h.recordingFile("casts", ".cast")
				return []string{t.Path, "rec", "-q", "-c", shellJoin(child), file}, cleanup
			},
		})
	}
	wrap := func(child []string) ([]string, func()) {
		return append([]string{h.wrapBin, "--"}, child...), nop
	}
	connected := append(h.env[:len(h.env):len(h.env)], h.main.env()...)
	noDaemonDir := filepath.Join(h.work, "no-daemon")
	os.MkdirAll(filepath.Join(noDaemonDir, "state"), 0o700)
	noDaemon := append(h.env[:len(h.env):len(h.env)],
		"AITRACK_SOCKET="+filepath.Join(noDaemonDir, "absent.sock"),
		"AITRACK_STATE_DIR="+filepath.Join(noDaemonDir, "state"))
	// With no daemon to take them, the spool files are removed after each
	// run, as script's typescripts are: no run writes beside the last
	// one's hundreds of megabytes.
	wrapNoDaemon := func(child []string) ([]string, func()) {
		argv, _ := wrap(child)
		return argv, func() { os.RemoveAll(paths.SpoolDir(filepath.Join(noDaemonDir, "state"))) }
	}
	return append(peers,
		peer{Key: keyWrap, Label: "aitrack-wrap, daemon connected", env: connected, command: wrap, daemon: h.main},
		peer{Key: keyWrapStalled, Label: "aitrack-wrap, daemon stalled (SIGSTOP)", env: connected, command: wrap, daemon: h.main, stalled: true},
		peer{Key: keyWrapNoDaemon, Label: "aitrack-wrap, no daemon", env: noDaemon, command: wrapNoDaemon},
	)
}

// recordingFile returns a new file name in the work directory's dir for a
// peer's recording, and a func that removes the file.
func (h *harness) recordingFile(dir, ext string) (string, func()) {
	h.seq++
	dir = filepath.Join(h.work, dir)
	os.MkdirAll(dir, 0o700)
	file := filepath.Join(dir, fmt.Sprintf("%d%s", h.seq, ext))
	return file, func() { os.Remove(file) }
}

// peersFor returns the candidates measured for a figure, in report order.
func (h *harness) peersFor(keys ...string) []peer {
	var out []peer
	for _, p := range h.peers {
		for _, k := range keys {
			if p.Key == k {
				out = append(out, p)
			}
		}
	}
	return out
}

// Command is the exact command line of one candidate for one figure.
type Command struct {
	Figure    string `json:"figure"`
	Candidate string `json:"candidate"`
	Command   string `json:"command"`
}

func (h *harness) commands() []Command {
	var out []Command
	for _, f := range []struct {
		figure string
		child  []string
	}{
		{"keystroke", keystrokeChild},
		{"bulk", []string{"cat", h.bulk.path}},
		{"startup", []string{"true"}},
	} {
		for _, p := range h.peers {
			if p.stalled && f.figure != "keystroke" {
				continue
			}
			argv, cleanup := p.command(f.child)
			cleanup()
			out = append(out, Command{Figure: f.figure, Candidate: p.Key, Command: shellJoin(argv)})
		}
	}
	return out
}

// shellJoin quotes argv for sh.
func shellJoin(argv []string) string {
	quoted := make([]string, len(argv))
	for i, a := range argv {
		if a != "" && strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%") == "" {
			quoted[i] = a
			continue
		}
		quoted[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(quoted, " ")
}
