package service

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Kind is a service manager.
type Kind string

const (
	// Systemd is a systemd user unit (Linux).
	Systemd Kind = "systemd"
	// Launchd is a launchd LaunchAgent (macOS).
	Launchd Kind = "launchd"
)

const (
	// UnitName is the systemd unit's name (aitrackd.service).
	UnitName = "aitrackd"
	// Label is the LaunchAgent's label and file name.
	Label = "dev.aitrack.aitrackd"

	description = "aitrack daemon: records AI coding sessions into MLflow"
)

// serviceName is kardianos' Config.Name: the file name without extension.
func (k Kind) serviceName() string {
	if k == Launchd {
		return Label
	}
	return UnitName
}

// File returns where the service file of kind lives for a user whose home
// directory is home.
func (k Kind) File(home string) string {
	if k == Launchd {
		return filepath.Join(home, "Library", "LaunchAgents", Label+".plist")
	}
	return filepath.Join(home, ".config", "systemd", "user", UnitName+".service")
}

// launchdLog is the LaunchAgent's stdout and stderr; launchd never rotates
// it, so the daemon keeps its own logs elsewhere and this catches crashes.
func launchdLog(home string) string {
	return filepath.Join(home, "Library", "Logs", "aitrack", "aitrackd.log")
}

// Render returns the service file of kind that runs cfg.Executable with
// cfg.Arguments and cfg.Env, for a user whose home directory is home. It is
// exactly what Control installs. cfg.Executable must be absolute; a systemd
// unit names it relative to %h when it is under home, so the unit does not
// depend on the user's name.
func Render(kind Kind, cfg Config, home string) (string, error) {
	if !filepath.IsAbs(cfg.Executable) {
		return "", fmt.Errorf("the service needs the absolute path of aitrackd, not %q", cfg.Executable)
	}
	for _, s := range append([]string{cfg.Executable, home}, cfg.Arguments...) {
		if !printable(s) {
			return "", fmt.Errorf("%q cannot go into a service file: it is not UTF-8 text without control characters", s)
		}
	}
	for k, v := range cfg.Env {
		if !envName.MatchString(k) || !printable(v) {
			return "", fmt.Errorf("environment variable %q=%q cannot go into a service file: want a name of letters, digits and _ and a value of UTF-8 text without control characters", k, v)
		}
	}
	var text string
	switch kind {
	case Systemd:
		text = renderSystemd(cfg, home)
	case Launchd:
		text = renderLaunchd(cfg, home)
	default:
		return "", fmt.Errorf("unknown service manager %q: want %q or %q", kind, Systemd, Launchd)
	}
	if strings.Contains(text, "{{") {
		// kardianos renders the file as a template, where "{{" starts an action.
		return "", errors.New(`"{{" cannot go into a service file: kardianos/service would read it as a template action`)
	}
	return text, nil
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// printable reports whether s survives both file formats unchanged: valid
// UTF-8 with no control characters but tab (a plist cannot hold most of
// them, a unit file no line breaks).
func printable(s string) bool {
	return utf8.ValidString(s) && strings.IndexFunc(s, func(r rune) bool {
		return r != '\t' && unicode.IsControl(r) || r == 0xFFFE || r == 0xFFFF
	}) < 0
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

const systemdHeader = `# aitrackd, aitrack's recording daemon, as a systemd user service.
# Written by ` + "`aitrackd service install`" + `; deploy/systemd/aitrackd.service is this
# file for the executable ~/.local/bin/aitrackd.
# By hand: copy it to ~/.config/systemd/user/, then
#   systemctl --user daemon-reload && systemctl --user enable --now aitrackd
# Logs go to the journal: journalctl --user -u aitrackd
# ` + "`loginctl enable-linger $USER`" + ` starts it at boot and keeps it running after logout.
[Unit]
Description=` + description + `
# Five failed starts within a minute and systemd gives up instead of looping.
StartLimitIntervalSec=60
StartLimitBurst=5

[Service]
`

const systemdFooter = `Restart=on-failure
RestartSec=2
# SIGTERM goes to aitrackd alone, which stops its MLflow child itself, in
# order; whatever is left gets SIGKILL after the timeout.
KillMode=mixed
TimeoutStopSec=30

[Install]
WantedBy=default.target
`

func renderSystemd(cfg Config, home string) string {
	var b strings.Builder
	b.WriteString(systemdHeader)
	exe := systemdEscape(cfg.Executable, true)
	if rel, err := filepath.Rel(home, cfg.Executable); err == nil && filepath.IsAbs(home) && rel != "." && rel != ".." && !strings.HasPrefix(rel, "../") {
		exe = "%h/" + systemdEscape(filepath.ToSlash(rel), true)
	}
	b.WriteString("ExecStart=" + systemdQuote(exe))
	for _, a := range cfg.Arguments {
		b.WriteString(" " + systemdQuote(systemdEscape(a, true)))
	}
	b.WriteString("\n")
	for _, k := range sortedKeys(cfg.Env) {
		b.WriteString("Environment=" + systemdQuoteAlways(k+"="+systemdEscape(cfg.Env[k], false)) + "\n")
	}
	b.WriteString(systemdFooter)
	return b.String()
}

// systemdEscape protects s from specifier expansion (%) and, in command
// lines, from environment variable expansion ($).
func systemdEscape(s string, command bool) string {
	s = strings.ReplaceAll(s, "%", "%%")
	if command {
		s = strings.ReplaceAll(s, "$", "$$")
	}
	return s
}

// systemdQuote makes s one word of a systemd command line.
func systemdQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\"'\\;") {
		return s
	}
	return systemdQuoteAlways(s)
}

func systemdQuoteAlways(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

const launchdHeader = `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<!-- aitrackd, aitrack's recording daemon, as a LaunchAgent. Written by
     ` + "`aitrackd service install`" + `; deploy/launchd/dev.aitrack.aitrackd.plist is this
     file for HOME=/Users/USER and the executable ~/.local/bin/aitrackd.
     By hand: replace USER with your user name, copy the file to
     ~/Library/LaunchAgents/, mkdir -p ~/Library/Logs/aitrack, then
     launchctl bootstrap gui/$(id -u) ~/Library/LaunchAgents/dev.aitrack.aitrackd.plist -->
<plist version="1.0">
<dict>
	<key>Label</key>
	<string>` + Label + `</string>
`

// KeepAlive restarts aitrackd when it crashes but not after a clean exit,
// like systemd's Restart=on-failure (a plain <true/> would relaunch it
// every 10 s after it exits cleanly, e.g. because another one runs).
const launchdFooter = `	<key>RunAtLoad</key>
	<true/>
	<key>KeepAlive</key>
	<dict>
		<key>SuccessfulExit</key>
		<false/>
	</dict>
`

func renderLaunchd(cfg Config, home string) string {
	var b strings.Builder
	b.WriteString(launchdHeader)
	b.WriteString("\t<key>ProgramArguments</key>\n\t<array>\n")
	for _, a := range append([]string{cfg.Executable}, cfg.Arguments...) {
		b.WriteString("\t\t<string>" + xmlEscape(a) + "</string>\n")
	}
	b.WriteString("\t</array>\n")
	if len(cfg.Env) > 0 {
		b.WriteString("\t<key>EnvironmentVariables</key>\n\t<dict>\n")
		for _, k := range sortedKeys(cfg.Env) {
			b.WriteString("\t\t<key>" + xmlEscape(k) + "</key>\n\t\t<string>" + xmlEscape(cfg.Env[k]) + "</string>\n")
		}
		b.WriteString("\t</dict>\n")
	}
	b.WriteString(launchdFooter)
	log := xmlEscape(launchdLog(home))
	b.WriteString("\t<key>StandardOutPath</key>\n\t<string>" + log + "</string>\n")
	b.WriteString("\t<key>StandardErrorPath</key>\n\t<string>" + log + "</string>\n")
	b.WriteString("</dict>\n</plist>\n")
	return b.String()
}

func xmlEscape(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s)) // writes to memory: cannot fail
	return b.String()
}
