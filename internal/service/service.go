// Package service installs aitrackd as a per-user service, a systemd user
// unit on Linux or a LaunchAgent on macOS, and controls it (install,
// uninstall, start, stop, restart, status) through
// github.com/kardianos/service.
//
// kardianos' built-in files are made for system services: WantedBy=
// multi-user.target, which a user manager never reaches (the unit would
// never start at login), a 120 s pause before each restart, logs under
// /var/log. So this package renders the whole file itself (Render) and
// gives kardianos the finished text as its custom template (SystemdScript,
// LaunchdConfig). Text without template actions renders to itself in
// kardianos v1.3.0's template engine, and would have in the text/template
// of earlier versions, so the installed file is byte for byte what Render
// returns and what deploy/ holds; kardianos places the file and runs
// systemctl --user or launchctl.
//
// On Linux a user service runs only while its user is logged in unless
// lingering is on: `loginctl enable-linger $USER` starts the user's
// services at boot and keeps them running after logout. Install says so.
// The service manager's PATH is short (/usr/bin:/bin and the like), so a
// daemon that needs to find mlflow gets its path, or PATH, through
// Config.Env.
//
// It does not run the daemon (cmd/aitrackd does) and installs no
// system-wide services.
package service

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"

	kservice "github.com/kardianos/service"
)

// Config says what the service runs.
type Config struct {
	// Executable is the absolute path of aitrackd; "" means the running
	// executable.
	Executable string
	// Arguments follow the executable, e.g. {"run"}.
	Arguments []string
	// Env is the daemon's environment beyond what the service manager
	// gives it.
	Env map[string]string
	// Out receives what the user should read (install hints, status);
	// nil means os.Stdout.
	Out io.Writer
}

// Control performs action on this machine's aitrackd user service:
// "install" writes the service file (enabling the systemd unit so that it
// starts at login) without starting it; "uninstall" stops the service and
// removes the file; "start", "stop" and "restart" ask the service manager;
// "status" prints whether the service is running, stopped or not installed.
func Control(action string, cfg Config) error {
	kind, sys, err := hostSystem()
	if err != nil {
		return err
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return fmt.Errorf("find your home directory: %w", err)
	}
	return control(action, cfg, kind, sys, home)
}

// hostSystem picks kardianos' backend for user services on this OS.
func hostSystem() (Kind, kservice.System, error) {
	var kind Kind
	var name string
	switch runtime.GOOS {
	case "linux":
		kind, name = Systemd, "linux-systemd"
	case "darwin":
		kind, name = Launchd, "darwin-launchd"
	default:
		return "", nil, fmt.Errorf("aitrackd can be installed as a service on Linux (systemd) and macOS (launchd), not on %s: run `aitrackd run` instead", runtime.GOOS)
	}
	sys, err := systemNamed(name)
	if err != nil {
		return "", nil, err
	}
	if !sys.Detect() {
		return "", nil, fmt.Errorf("systemd is not running on this machine, so aitrackd cannot be installed as a user service: run `aitrackd run` instead (e.g. from your shell profile)")
	}
	return kind, sys, nil
}

func systemNamed(name string) (kservice.System, error) {
	for _, sys := range kservice.AvailableSystems() {
		if sys.String() == name {
			return sys, nil
		}
	}
	return nil, fmt.Errorf("kardianos/service has no %s backend on this OS", name)
}

// control is Control for a given service manager backend and home
// directory; tests pass the systemd backend directly, with a fake
// systemctl on PATH.
func control(action string, cfg Config, kind Kind, sys kservice.System, home string) error {
	out := cfg.Out
	if out == nil {
		out = os.Stdout
	}
	file := kind.File(home)
	kcfg := &kservice.Config{
		Name:        kind.serviceName(),
		Description: description,
		Option:      kservice.KeyValue{"UserService": true},
	}
	installed := fileExists(file)
	if !installed && action != "install" && action != "status" {
		return fmt.Errorf("aitrackd is not installed as a user service (no %s): run `aitrackd service install` first", file)
	}
	switch action {
	case "install":
		if installed {
			return fmt.Errorf("aitrackd is already installed as a user service (%s): run `aitrackd service uninstall` first to reinstall it", file)
		}
		return install(out, cfg, kind, sys, kcfg, home)
	case "uninstall":
		svc, err := sys.New(noProgram{}, kcfg)
		if err != nil {
			return err
		}
		if kind == Systemd {
			_ = svc.Stop() // not running is fine; launchd's Uninstall stops it itself
		}
		if err := svc.Uninstall(); err != nil {
			return fmt.Errorf("uninstall the aitrackd user service: %w", err)
		}
		fmt.Fprintf(out, "Stopped and removed the aitrackd user service (%s).\n", file)
		return nil
	case "start", "stop", "restart":
		svc, err := sys.New(noProgram{}, kcfg)
		if err != nil {
			return err
		}
		do := map[string]func() error{"start": svc.Start, "stop": svc.Stop, "restart": svc.Restart}[action]
		if err := do(); err != nil {
			return fmt.Errorf("%s the aitrackd user service: %w%s", action, err, managerHint(kind))
		}
		fmt.Fprintf(out, "aitrackd: %s requested.\n", action)
		return nil
	case "status":
		return status(out, kind, sys, kcfg, file, installed)
	}
	return fmt.Errorf("unknown service action %q: want install, uninstall, start, stop, restart or status", action)
}

func install(out io.Writer, cfg Config, kind Kind, sys kservice.System, kcfg *kservice.Config, home string) error {
	if cfg.Executable == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("find the aitrackd executable (give its path instead): %w", err)
		}
		cfg.Executable = exe
	}
	if fi, err := os.Stat(cfg.Executable); err != nil || fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("the service would run %s, which is not an executable file (%v)", cfg.Executable, err)
	}
	text, err := Render(kind, cfg, home)
	if err != nil {
		return err
	}
	if kind == Launchd {
		// launchd does not create the directory of StandardOutPath.
		if err := os.MkdirAll(filepath.Dir(launchdLog(home)), 0o700); err != nil {
			return fmt.Errorf("create the log directory: %w", err)
		}
	}
	kcfg.Executable = cfg.Executable
	kcfg.Option["SystemdScript"] = text
	kcfg.Option["LaunchdConfig"] = text
	svc, err := sys.New(noProgram{}, kcfg)
	if err != nil {
		return err
	}
	file := kind.File(home)
	if err := svc.Install(); err != nil {
		// kardianos writes the file before enabling the unit: take it back,
		// so that the next install starts clean.
		os.Remove(file)
		return fmt.Errorf("install the aitrackd user service: %w%s", err, managerHint(kind))
	}
	fmt.Fprintf(out, "Installed the aitrackd user service: %s\n", file)
	fmt.Fprintln(out, "It starts when you log in; to start it now: aitrackd service start")
	if kind == Launchd {
		fmt.Fprintf(out, "Its output goes to %s\n", launchdLog(home))
		return nil
	}
	fmt.Fprintln(out, "Its output goes to the journal: journalctl --user -u "+UnitName)
	fmt.Fprintln(out, "A user service stops when you log out and does not start at boot unless")
	fmt.Fprintln(out, "lingering is on for your user; to turn it on: loginctl enable-linger $USER")
	return nil
}

func status(out io.Writer, kind Kind, sys kservice.System, kcfg *kservice.Config, file string, installed bool) error {
	if !installed {
		fmt.Fprintln(out, "aitrackd: not installed as a user service (aitrackd service install)")
		return nil
	}
	svc, err := sys.New(noProgram{}, kcfg)
	if err != nil {
		return err
	}
	st, err := svc.Status()
	switch {
	case errors.Is(err, kservice.ErrNotInstalled):
		fmt.Fprintf(out, "aitrackd: installed (%s) but unknown to the service manager%s\n", file, managerHint(kind))
	case err != nil:
		fmt.Fprintf(out, "aitrackd: %v (%s)\n", err, file)
	case st == kservice.StatusRunning:
		fmt.Fprintf(out, "aitrackd: running (%s)\n", file)
	default:
		fmt.Fprintf(out, "aitrackd: stopped (%s); start it with: aitrackd service start\n", file)
	}
	return nil
}

// managerHint says what usually goes wrong when talking to the manager.
func managerHint(kind Kind) string {
	if kind == Systemd {
		return " (systemctl --user needs your user's systemd instance: log in directly, not through `su` or `sudo`, or use `machinectl shell $USER@`)"
	}
	return ""
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// noProgram satisfies kardianos' Interface, which only its Run uses;
// Control never runs the daemon.
type noProgram struct{}

func (noProgram) Start(kservice.Service) error { return nil }
func (noProgram) Stop(kservice.Service) error  { return nil }
