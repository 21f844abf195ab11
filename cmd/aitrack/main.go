// Command aitrack is the user's window on aitrackd: status, doctor and
// config; shims; procedure runs and the hooks scripts call inside a
// session; retry of refused sessions; parse and import of old recordings.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/aitrack/aitrack/internal/cli"
	"github.com/aitrack/aitrack/internal/config"
	"github.com/aitrack/aitrack/internal/flagkv"
	"github.com/aitrack/aitrack/internal/logging"
	"github.com/aitrack/aitrack/internal/mlflowclient"
	"github.com/aitrack/aitrack/internal/mlflowkey"
	"github.com/aitrack/aitrack/internal/paths"
	"github.com/aitrack/aitrack/internal/version"
	"github.com/aitrack/aitrack/internal/wrapper"
	"golang.org/x/term"
)

const usage = `usage: aitrack COMMAND [flags]

Commands:
  status [--json] [--watch]   the daemon, its MLflow connection and the live sessions
  doctor            check the set-up and say how to fix what is wrong
  ui                print the MLflow UI's address and open it in a browser
  logs [-f]         show the daemon's log (when it runs as a service)
  version           the client's and the daemon's versions
  config            the effective configuration and where each value came from
  shims install [--dir DIR]   link claude-with-tracking, codex-with-tracking, ... to aitrack-wrap
  shims list [--dir DIR]      show the shims and whether each program is on PATH
  run --procedure NAME [--param k=v]... [--tag k=v]... [--experiment E] -- COMMAND [ARGS...]
                    run COMMAND as a tracked procedure (tags.type = "procedure")

  retry [SESSION...]  deliver again the sessions MLflow refused (all by default), once you fixed the cause
  parse [--provider NAME] [--json] [--timing FILE] FILE...
                    parse recordings (script typescripts, asciicasts) offline
  parse --session-log [--provider NAME] [--json] FILE...
                    read AI CLIs' own session logs (Claude, Codex, Gemini)
  import [--provider NAME] [--timing FILE] FILE...
                    record old recordings as runs, once per file

Inside a tracked session or procedure:
  step NAME [--status ok|failed]   record a completed step
  log-metric KEY VALUE             log a metric point
  log-param KEY VALUE              log a param (params cannot change once set)
  set-tag KEY VALUE                set a tag
  log-artifact PATH [--as NAME]    attach a file to the run

Example:
  aitrack status --json
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	switch os.Args[1] {
	case "status":
		os.Exit(status(os.Args[2:]))
	case "config":
		os.Exit(showConfig(os.Args[2:]))
	case "doctor":
		os.Exit(doctorCmd(os.Args[2:]))
	case "version":
		os.Exit(versionCmd(os.Args[2:]))
	case "ui":
		os.Exit(uiCmd(os.Args[2:]))
	case "logs":
		os.Exit(logsCmd(os.Args[2:]))
	case "shims":
		os.Exit(shimsCmd(os.Args[2:]))
	case "run":
		os.Exit(runCmd(os.Args[2:]))
	case "parse":
		os.Exit(parseCmd(os.Args[2:]))
	case "retry":
		os.Exit(retryCmd(os.Args[2:]))
	case "import":
		os.Exit(importCmd(os.Args[2:]))
	case "step", "log-metric", "log-param", "set-tag", "log-artifact":
		os.Exit(hookCmd(os.Args[1], os.Args[2:]))
	case "help", "-h", "--help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "aitrack: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
}

func status(args []string) int {
	fs := flag.NewFlagSet("aitrack status", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print JSON for scripts")
	watch := fs.Bool("watch", false, "refresh every two seconds until interrupted")
	fs.Usage = func() {
		fmt.Fprint(os.Stderr, "usage: aitrack status [--json]\n\nShows the daemon, its MLflow connection and the live sessions.\n\nExample:\n  aitrack status --json | jq '.sessions[].id'\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	socket := paths.Socket(os.Getenv)
	for {
		st, err := cli.FetchStatus(context.Background(), socket)
		if err != nil {
			var nd *cli.ErrNoDaemon
			if errors.As(err, &nd) {
				fmt.Fprintln(os.Stderr, "aitrack:", nd)
				return 3
			}
			fmt.Fprintln(os.Stderr, "aitrack: status:", err)
			return 1
		}
		width, _, err := term.GetSize(int(os.Stdout.Fd()))
		if err != nil {
			width = 0
		}
		if *watch {
			fmt.Print("\x1b[H\x1b[2J") // redraw in place
		}
		if err := cli.PrintStatus(os.Stdout, st, *asJSON, width, time.Now()); err != nil {
			fmt.Fprintln(os.Stderr, "aitrack:", err)
			return 1
		}
		if !*watch {
			return 0
		}
		time.Sleep(2 * time.Second)
	}
}

func doctorCmd(args []string) int {
	fs := flag.NewFlagSet("aitrack doctor", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(os.Stderr, "usage: aitrack doctor\n\nChecks that the daemon runs, its socket is private, MLflow is installed and\nreachable, the clock is sane, and the service and shims are installed; says\nhow to fix each problem, and exits non-zero when a required check fails.\n\nExample:\n  aitrack doctor\n")
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, err := config.Load(os.Getenv, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "aitrack:", err)
		return 2
	}
	if !cli.PrintChecks(os.Stdout, cli.Doctor(context.Background(), cfg, mlflowclient.ConfigFromEnv(os.Getenv))) {
		return 1
	}
	return 0
}

func versionCmd(args []string) int {
	fmt.Printf("aitrack %s (protocol %d)\n", version.Version, version.Protocol)
	v, err := cli.DaemonVersion(context.Background(), paths.Socket(os.Getenv))
	if err != nil {
		fmt.Println("aitrackd: not running")
		return 0
	}
	fmt.Printf("aitrackd %s (protocol %d)\n", v.GetDaemonVersion(), v.GetProtocol())
	if v.GetDaemonVersion() != version.Version {
		fmt.Fprintln(os.Stderr, "warning: the daemon's version differs from this client's; restart aitrackd after upgrading")
	}
	return 0
}

func uiCmd(args []string) int {
	st, err := cli.FetchStatus(context.Background(), paths.Socket(os.Getenv))
	url := ""
	if err == nil {
		url = st.GetTrackingUri()
	} else if cfg, cerr := config.Load(os.Getenv, nil); cerr == nil {
		url = cfg.TrackingURI
	}
	fmt.Println(url)
	cli.OpenBrowser(url)
	return 0
}

func logsCmd(args []string) int {
	fs := flag.NewFlagSet("aitrack logs", flag.ContinueOnError)
	follow := fs.Bool("f", false, "keep printing new lines")
	fs.Usage = func() {
		fmt.Fprint(os.Stderr, "usage: aitrack logs [-f]\n\nPrints the daemon's log file (written when aitrackd runs as a service; in\nthe foreground it logs to its terminal).\n\nExample:\n  aitrack logs -f\n")
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, err := config.Load(os.Getenv, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "aitrack:", err)
		return 2
	}
	if err := cli.TailLog(context.Background(), os.Stdout, filepath.Join(cfg.StateDir, logging.File), *follow); err != nil {
		fmt.Fprintln(os.Stderr, "aitrack logs:", err)
		return 1
	}
	return 0
}

func showConfig(args []string) int {
	fs := flag.NewFlagSet("aitrack config", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(os.Stderr, "usage: aitrack config\n\nPrints the effective configuration: each value and whether it came from a\nflag, the environment, the config file (with its line) or the default.\n\nExample:\n  AITRACK_EXPERIMENT=demo aitrack config\n")
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, err := config.Load(os.Getenv, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "aitrack:", err)
		return 2
	}
	cli.PrintConfig(os.Stdout, cfg)
	return 0
}

func shimsCmd(args []string) int {
	home, _ := os.UserHomeDir()
	fs := flag.NewFlagSet("aitrack shims", flag.ContinueOnError)
	dir := fs.String("dir", filepath.Join(home, ".local", "bin"), "where the shims go")
	fs.Usage = func() {
		fmt.Fprint(os.Stderr, "usage: aitrack shims install|list [--dir DIR]\n\nInstalls or lists the NAME-with-tracking links to aitrack-wrap, one per\nprovider in the configuration (claude, codex, gemini, gpt, aider, ...).\n\nExample:\n  aitrack shims install && claude-with-tracking \"fix the failing test\"\n\n")
		fs.PrintDefaults()
	}
	if len(args) == 0 || (args[0] != "install" && args[0] != "list") {
		fs.Usage()
		return 2
	}
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	cfg, err := config.Load(os.Getenv, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "aitrack:", err)
		return 2
	}
	if args[0] == "list" {
		cli.ListShims(os.Stdout, cfg, *dir)
		return 0
	}
	if err := cli.InstallShims(os.Stdout, cfg, *dir); err != nil {
		fmt.Fprintln(os.Stderr, "aitrack:", err)
		return 1
	}
	return 0
}

func runCmd(args []string) int {
	params, tags := flagkv.KV{}, flagkv.KV{}
	o := wrapper.Options{Getenv: os.Getenv, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}
	fs := flag.NewFlagSet("aitrack run", flag.ContinueOnError)
	procedure := fs.String("procedure", "", "the procedure's name (required), searchable as params.procedure_name")
	fs.Var(params, "param", "a run param `k=v` (repeatable)")
	fs.Var(tags, "tag", "a run tag `k=v` (repeatable)")
	fs.StringVar(&o.Experiment, "experiment", "", "MLflow experiment (default: the daemon's)")
	fs.Usage = func() {
		fmt.Fprint(os.Stderr, "usage: aitrack run --procedure NAME [--param k=v]... [--tag k=v]... [--experiment E] -- COMMAND [ARGS...]\n\nRuns COMMAND (interactive or not) and records it as a procedure run.\n\nExample:\n  aitrack run --procedure close-issue --param issue_number=123 -- ./close-issue.sh 123\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *procedure == "" || fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	if err := mlflowkey.ValidateLabels(params, tags); err != nil {
		fmt.Fprintln(os.Stderr, "aitrack run:", err)
		return 2
	}
	params["procedure_name"] = *procedure
	tags["type"] = "procedure"
	o.Argv, o.Params, o.Tags, o.Provider = fs.Args(), params, tags, "procedure"
	return wrapper.Run(context.Background(), o)
}

func hookCmd(name string, args []string) int {
	fs := flag.NewFlagSet("aitrack "+name, flag.ContinueOnError)
	stepStatus := fs.String("status", "ok", "ok or failed (step)")
	as := fs.String("as", "", "the artifact's name in the run (log-artifact; default: the file's name)")
	usages := map[string]string{
		"step":         "step NAME [--status ok|failed]\n\nRecords that a step of the procedure completed.\n\nExample:\n  aitrack step fetched-issue",
		"log-metric":   "log-metric KEY VALUE\n\nLogs a metric point on the session's run.\n\nExample:\n  aitrack log-metric frames_scanned 1200",
		"log-param":    "log-param KEY VALUE\n\nLogs a param (it cannot change once set).\n\nExample:\n  aitrack log-param issue_number 123",
		"set-tag":      "set-tag KEY VALUE\n\nSets a tag on the session's run.\n\nExample:\n  aitrack set-tag pr_url https://github.com/o/r/pull/7",
		"log-artifact": "log-artifact PATH [--as NAME]\n\nAttaches a copy of the file to the session's run.\n\nExample:\n  aitrack log-artifact pr-description.md",
	}
	fs.Usage = func() { fmt.Fprintf(os.Stderr, "usage: aitrack %s\n\n", usages[name]); fs.PrintDefaults() }
	// Flags may follow the positional arguments (aitrack step NAME --status failed).
	var pos []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	want := map[string]int{"step": 1, "log-metric": 2, "log-param": 2, "set-tag": 2, "log-artifact": 1}[name]
	if len(pos) != want {
		fs.Usage()
		return 2
	}
	var hook cli.Hook
	switch name {
	case "step":
		hook = cli.StepHook(pos[0], *stepStatus)
	case "log-metric":
		hook = cli.MetricHook(pos[0], pos[1])
	case "log-param":
		hook = cli.ParamHook(pos[0], pos[1])
	case "set-tag":
		hook = cli.TagHook(pos[0], pos[1])
	case "log-artifact":
		hook = cli.ArtifactHook(pos[0], *as)
	}
	if err := cli.Annotate(context.Background(), os.Getenv, paths.Socket(os.Getenv), hook); err != nil {
		fmt.Fprintf(os.Stderr, "aitrack %s: %v\n", name, err)
		return 1
	}
	return 0
}

func parseCmd(args []string) int {
	fs := flag.NewFlagSet("aitrack parse", flag.ContinueOnError)
	provider := fs.String("provider", "", "the CLI that made the recording (claude, codex, gemini); default: generic")
	asJSON := fs.Bool("json", false, "print an object with metrics and events per file, one per line")
	timing := fs.String("timing", "", "the typescript's timing file (script -t/-T)")
	sessionLog := fs.Bool("session-log", false, "FILEs are the CLI's own session logs (format from --provider, else guessed from the path)")
	fs.Usage = func() {
		fmt.Fprint(os.Stderr, "usage: aitrack parse [--provider NAME] [--json] [--timing FILE] FILE...\n       aitrack parse --session-log [--provider NAME] [--json] FILE...\n\nParses recordings offline — util-linux script typescripts (with or without\ntheir header and footer) and asciicast v2/v3 files — and prints what the\ndaemon would have recorded. With --session-log, reads the AI CLIs' own\nsession logs (Claude Code, Codex, Gemini CLI) instead.\n\nExamples:\n  aitrack parse --json --provider claude session.cast | jq .metrics\n  aitrack parse --session-log ~/.claude/projects/-home-me-repo/*.jsonl\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 || (*timing != "" && fs.NArg() > 1) {
		fs.Usage()
		return 2
	}
	code := 0
	for _, f := range fs.Args() {
		var p cli.Parsed
		var err error
		if *sessionLog {
			p, err = cli.ParseSessionLog(f, *provider)
		} else {
			p, err = cli.ParseFile(f, *timing, *provider)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "aitrack parse:", err)
			code = 1
			continue
		}
		cli.PrintParsed(os.Stdout, p, *asJSON)
	}
	return code
}

func importCmd(args []string) int {
	fs := flag.NewFlagSet("aitrack import", flag.ContinueOnError)
	provider := fs.String("provider", "", "the CLI that made the recording (default: the recorded command's name)")
	timing := fs.String("timing", "", "the typescript's timing file (script -t/-T)")
	fs.Usage = func() {
		fmt.Fprint(os.Stderr, "usage: aitrack import [--provider NAME] [--timing FILE] FILE...\n\nRecords existing recordings (script typescripts, asciicast v2/v3) as MLflow\nruns through aitrackd. Importing the same file twice makes one run.\n\nExample:\n  aitrack import --timing session.tm session.ts\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 || (*timing != "" && fs.NArg() > 1) {
		fs.Usage()
		return 2
	}
	code := 0
	for _, f := range fs.Args() {
		id, err := cli.Import(context.Background(), os.Getenv, f, *timing, *provider)
		if err != nil {
			fmt.Fprintln(os.Stderr, "aitrack import:", err)
			code = 1
			continue
		}
		fmt.Printf("%s: session %s\n", f, id)
	}
	return code
}

func retryCmd(args []string) int {
	fs := flag.NewFlagSet("aitrack retry", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(os.Stderr, "usage: aitrack retry [SESSION...]\n\nRe-queues sessions MLflow refused (the dead letters `aitrack status` lists),\nonce you have fixed the cause. Without arguments, all of them.\n\nExample:\n  aitrack retry\n")
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ids, err := cli.Retry(context.Background(), paths.Socket(os.Getenv), fs.Args())
	for _, id := range ids {
		fmt.Println("re-queued", id)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "aitrack retry:", err)
		return 1
	}
	if len(ids) == 0 {
		fmt.Println("no dead letters")
	}
	return 0
}
