// Command aitrack-wrap runs a program in a PTY and records the session
// through aitrackd. Called through a link named NAME-with-tracking, it runs
// NAME with all its arguments.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/aitrack/aitrack/internal/config"
	"github.com/aitrack/aitrack/internal/flagkv"
	"github.com/aitrack/aitrack/internal/mlflowkey"
	"github.com/aitrack/aitrack/internal/wrapper"
)

const usage = `usage: aitrack-wrap [--provider NAME] [--param k=v]... [--tag k=v]... [--experiment E] [--capture-input] [--no-redact] [--] COMMAND [ARGS...]
       NAME-with-tracking [ARGS...]   (a link to aitrack-wrap: runs NAME ARGS...)

Runs COMMAND in a terminal of its own and records the session in MLflow
through aitrackd. The exit status is COMMAND's.
`

func main() {
	o := wrapper.Options{Getenv: os.Getenv, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}
	if provider, ok := wrapper.ProviderFromName(os.Args[0]); ok && provider != "" {
		// Every argument belongs to the wrapped CLI.
		cfg, err := config.Load(os.Getenv, nil)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", filepath.Base(os.Args[0]), err)
			os.Exit(2)
		}
		command, err := cfg.ProviderCommand(provider)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", filepath.Base(os.Args[0]), err)
			os.Exit(127)
		}
		o.Provider, o.Argv = provider, append(append([]string(nil), command...), os.Args[1:]...)
	} else {
		params, tags := flagkv.KV{}, flagkv.KV{}
		fs := flag.NewFlagSet("aitrack-wrap", flag.ContinueOnError)
		fs.Usage = func() { fmt.Fprint(os.Stderr, usage); fs.PrintDefaults() }
		fs.StringVar(&o.Provider, "provider", "", "the AI CLI's name (default: the command's name)")
		fs.StringVar(&o.Experiment, "experiment", "", "MLflow experiment (default: the daemon's)")
		fs.BoolVar(&o.CaptureInput, "capture-input", false, "also record what you type (it can contain passwords); by default only keystroke counts")
		noMarks := fs.Bool("no-shell-marks", false, "run an interactive bash, zsh or fish as it is, without the invisible prompt marks (OSC 133) that give each command's exact text and exit status")
		noRedact := fs.Bool("no-redact", false, "send this session to MLflow without removing secrets (recorded as tag aitrack.redaction=off)")
		fs.Var(params, "param", "a run param `k=v` (repeatable)")
		fs.Var(tags, "tag", "a run tag `k=v` (repeatable)")
		if err := fs.Parse(os.Args[1:]); err != nil {
			os.Exit(2)
		}
		if fs.NArg() == 0 {
			fs.Usage()
			os.Exit(2)
		}
		if *noRedact {
			tags["aitrack.redaction"] = "off"
		}
		o.Argv, o.Params, o.Tags, o.NoShellMarks = fs.Args(), params, tags, *noMarks
		// A key MLflow would refuse is refused here, before anything runs.
		if err := mlflowkey.ValidateLabels(params, tags); err != nil {
			fmt.Fprintln(os.Stderr, "aitrack-wrap:", err)
			os.Exit(2)
		}
	}
	os.Exit(wrapper.Run(context.Background(), o))
}
