// Package config resolves aitrack's settings from flags, environment
// variables, the config file and defaults, in that order of precedence, and
// remembers where each value came from so that `aitrack config` can say.
//
// The file is TOML ($AITRACK_CONFIG, else $XDG_CONFIG_HOME/aitrack/config.toml,
// else ~/.config/aitrack/config.toml): it has comments, reads well, and is
// what users of uv, cargo and Codex already write. Unknown keys and values of
// the wrong type are errors that name the key and the file's line.
package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/aitrack/aitrack/internal/paths"
)

// File is the config file's shape.
type File struct {
	Daemon struct {
		Socket      *string `toml:"socket"`
		StateDir    *string `toml:"state_dir"`
		TrackingURI *string `toml:"tracking_uri"`
		Experiment  *string `toml:"experiment"`
		MLflowUI    *bool   `toml:"mlflow_ui"`
		MLflowBin   *string `toml:"mlflow_bin"`
		LogLevel    *string `toml:"log_level"`
		// Limits on what one client can make the daemon do.
		MaxSessions           *int `toml:"max_sessions"`
		MaxSessionMBPerSecond *int `toml:"max_session_mb_per_second"`
		// KeepDays is how long delivered sessions stay on disk.
		KeepDays *int `toml:"keep_days"`
		// MaxStoreMB caps the session store.
		MaxStoreMB *int `toml:"max_store_mb"`
	} `toml:"daemon"`
	// Providers maps a provider (the NAME of NAME-with-tracking) to the
	// command it runs.
	Providers  map[string]Provider `toml:"providers"`
	Procedures struct {
		// Patterns turn an AI session's prompt into params: regular
		// expressions with named groups, tried before the defaults.
		Patterns []string `toml:"patterns"`
	} `toml:"procedures"`
	Redact struct {
		// Enabled turns secret redaction off for everything when false.
		Enabled *bool `toml:"enabled"`
		// Patterns add the user's own secrets to the built-in kinds.
		Patterns []RedactPattern `toml:"patterns"`
		// Allow lists values that are never redacted.
		Allow []string `toml:"allow"`
	} `toml:"redact"`
}

// RedactPattern is a user's secret pattern: Regex (RE2; a group named
// "secret" limits what is replaced) of a Kind shown in the marker.
type RedactPattern struct {
	Kind  string `toml:"kind"`
	Regex string `toml:"regex"`
}

// Provider says which command a provider's shim runs.
type Provider struct {
	Command []string `toml:"command"`
}

// Setting is one resolved value and where it came from.
type Setting struct {
	Key    string // e.g. "daemon.tracking_uri"
	Value  string
	Source string // "flag", "env", "file" or "default"
	Where  string // the flag, the variable, or file:line
}

// Config is the effective configuration.
type Config struct {
	Socket      string
	StateDir    string
	TrackingURI string
	Experiment  string
	MLflowUI    bool
	MLflowBin   string
	LogLevel    string
	// MaxSessions and MaxSessionMBPerSecond bound the streams (see
	// ingest.Limits).
	MaxSessions           int
	MaxSessionMBPerSecond int
	KeepDays              int
	MaxStoreMB            int
	Providers             map[string]Provider
	// ProcedurePatterns are the user's prompt patterns (see procfacts).
	ProcedurePatterns []string
	// Redact, RedactPatterns and RedactAllow configure secret redaction.
	Redact         bool
	RedactPatterns []RedactPattern
	RedactAllow    []string
	// Path is the config file read, or the one that would be read.
	Path     string
	settings []Setting
}

// Settings lists every setting with its source, in a stable order.
func (c *Config) Settings() []Setting { return slices.Clone(c.settings) }

// DefaultProviders are the CLIs aitrack knows; gpt has no single official
// CLI, so it has no default and must be configured.
var DefaultProviders = map[string]Provider{
	"claude": {Command: []string{"claude"}},
	"codex":  {Command: []string{"codex"}},
	"gemini": {Command: []string{"gemini"}},
	"aider":  {Command: []string{"aider"}},
	"gpt":    {},
}

// Path returns the config file's path.
func Path(getenv paths.Getenv) string {
	if p := getenv("AITRACK_CONFIG"); p != "" {
		return p
	}
	if d := getenv("XDG_CONFIG_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "aitrack", "config.toml")
	}
	home := getenv("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	return filepath.Join(home, ".config", "aitrack", "config.toml")
}

// Load resolves the configuration. flags holds the values of the flags the
// user set, keyed like Setting.Key; a missing config file is not an error.
func Load(getenv paths.Getenv, flags map[string]string) (*Config, error) {
	c := &Config{Path: Path(getenv)}
	f, lines, err := readFile(c.Path)
	if err != nil {
		return nil, err
	}
	stateDefault, err := paths.StateDir(func(k string) string {
		if k == "AITRACK_STATE_DIR" {
			return ""
		}
		return getenv(k)
	})
	if err != nil {
		return nil, err
	}
	r := resolver{c: c, getenv: getenv, flags: flags, lines: lines}
	socketDefault := paths.Socket(func(k string) string {
		if k == "AITRACK_SOCKET" {
			return ""
		}
		return getenv(k)
	})
	c.Socket = r.str("daemon.socket", "AITRACK_SOCKET", f.Daemon.Socket, socketDefault)
	c.StateDir = r.str("daemon.state_dir", "AITRACK_STATE_DIR", f.Daemon.StateDir, stateDefault)
	c.TrackingURI = r.str("daemon.tracking_uri", "MLFLOW_TRACKING_URI", f.Daemon.TrackingURI, "http://127.0.0.1:5000")
	c.Experiment = r.str("daemon.experiment", "AITRACK_EXPERIMENT", f.Daemon.Experiment, "ai-sessions")
	c.MLflowBin = r.str("daemon.mlflow_bin", "AITRACK_MLFLOW", f.Daemon.MLflowBin, "mlflow")
	c.LogLevel = r.str("daemon.log_level", "AITRACK_LOG_LEVEL", f.Daemon.LogLevel, "info")
	var ui *string
	if f.Daemon.MLflowUI != nil {
		s := strconv.FormatBool(*f.Daemon.MLflowUI)
		ui = &s
	}
	uiStr := r.str("daemon.mlflow_ui", "AITRACK_MLFLOW_UI", ui, "true")
	if c.MLflowUI, err = strconv.ParseBool(uiStr); err != nil {
		return nil, r.bad("daemon.mlflow_ui", uiStr, "true or false")
	}
	for _, lim := range []struct {
		key string
		v   *int
		def int
		out *int
	}{
		{"daemon.max_sessions", f.Daemon.MaxSessions, 256, &c.MaxSessions},
		{"daemon.max_session_mb_per_second", f.Daemon.MaxSessionMBPerSecond, 32, &c.MaxSessionMBPerSecond},
		{"daemon.keep_days", f.Daemon.KeepDays, 30, &c.KeepDays},
		{"daemon.max_store_mb", f.Daemon.MaxStoreMB, 10240, &c.MaxStoreMB},
	} {
		var fv *string
		if lim.v != nil {
			s := strconv.Itoa(*lim.v)
			fv = &s
		}
		v := r.str(lim.key, "", fv, strconv.Itoa(lim.def))
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, r.bad(lim.key, v, "a whole number of at least 1")
		}
		*lim.out = n
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return nil, r.bad("daemon.log_level", c.LogLevel, "debug, info, warn or error")
	}
	if c.StateDir, err = filepath.Abs(c.StateDir); err != nil {
		return nil, err
	}
	if r.err != nil {
		return nil, r.err
	}

	c.Providers = make(map[string]Provider)
	for name, p := range DefaultProviders {
		c.Providers[name] = p
	}
	names := make([]string, 0, len(f.Providers))
	for name := range f.Providers {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		p := f.Providers[name]
		if len(p.Command) == 0 || p.Command[0] == "" {
			return nil, fmt.Errorf("%s:%d: providers.%s.command must name a program", c.Path, lines.find("providers", name, "command"), name)
		}
		c.Providers[name] = p
	}
	c.Redact = f.Redact.Enabled == nil || *f.Redact.Enabled
	c.RedactPatterns, c.RedactAllow = f.Redact.Patterns, f.Redact.Allow
	if f.Redact.Enabled != nil {
		c.settings = append(c.settings, Setting{Key: "redact.enabled", Value: strconv.FormatBool(c.Redact), Source: "file",
			Where: fmt.Sprintf("%s:%d", c.Path, lines.find("redact", "", "enabled"))})
	}
	c.ProcedurePatterns = f.Procedures.Patterns
	if len(c.ProcedurePatterns) > 0 {
		c.settings = append(c.settings, Setting{Key: "procedures.patterns", Value: strings.Join(c.ProcedurePatterns, " | "), Source: "file",
			Where: fmt.Sprintf("%s:%d", c.Path, lines.find("procedures", "", "patterns"))})
	}
	names = names[:0]
	for name := range c.Providers {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		s := Setting{Key: "providers." + name + ".command", Value: strings.Join(c.Providers[name].Command, " "), Source: "default"}
		if _, ok := f.Providers[name]; ok {
			s.Source, s.Where = "file", fmt.Sprintf("%s:%d", c.Path, lines.find("providers", name, "command"))
		}
		c.settings = append(c.settings, s)
	}
	return c, nil
}

// ProviderCommand is the command a provider's shim runs.
func (c *Config) ProviderCommand(provider string) ([]string, error) {
	p, ok := c.Providers[provider]
	if !ok {
		return []string{provider}, nil
	}
	if len(p.Command) == 0 {
		return nil, fmt.Errorf("no command is configured for %q: add to %s:\n\n[providers.%s]\ncommand = [\"your-cli\"]", provider, c.Path, provider)
	}
	return p.Command, nil
}

type resolver struct {
	c      *Config
	getenv paths.Getenv
	flags  map[string]string
	lines  fileLines
	err    error
}

func (r *resolver) str(key, env string, file *string, def string) string {
	s := Setting{Key: key}
	switch {
	case r.flags[key] != "":
		s.Value, s.Source, s.Where = r.flags[key], "flag", "--"+flagName(key)
	case env != "" && r.getenv(env) != "":
		s.Value, s.Source, s.Where = r.getenv(env), "env", env
	case file != nil:
		section, name, _ := strings.Cut(key, ".")
		s.Value, s.Source, s.Where = *file, "file", fmt.Sprintf("%s:%d", r.c.Path, r.lines.find(section, "", name))
	default:
		s.Value, s.Source = def, "default"
	}
	r.c.settings = append(r.c.settings, s)
	return s.Value
}

func (r *resolver) bad(key, value, want string) error {
	for _, s := range r.c.settings {
		if s.Key == key {
			return fmt.Errorf("%s: %s = %q: want %s", s.Where, key, value, want)
		}
	}
	return fmt.Errorf("%s = %q: want %s", key, value, want)
}

// flagName maps a setting key to its flag: daemon.tracking_uri → tracking-uri.
func flagName(key string) string {
	_, name, _ := strings.Cut(key, ".")
	return strings.ReplaceAll(name, "_", "-")
}

// FlagKey maps a flag name back to its setting key.
func FlagKey(flag string) string { return "daemon." + strings.ReplaceAll(flag, "-", "_") }

var lineRE = regexp.MustCompile(`toml: line (\d+)`)

func readFile(path string) (File, fileLines, error) {
	var f File
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return f, nil, nil
	}
	if err != nil {
		return f, nil, fmt.Errorf("read config: %w", err)
	}
	lines := fileLines(strings.Split(string(b), "\n"))
	md, err := toml.Decode(string(b), &f)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return f, nil, fmt.Errorf("%s:%d: %s", path, pe.Position.Line, pe.Message)
		}
		msg := err.Error()
		if m := lineRE.FindStringSubmatch(msg); m != nil {
			return f, nil, fmt.Errorf("%s:%s: %s", path, m[1], strings.TrimPrefix(msg[len(m[0]):], " "))
		}
		return f, nil, fmt.Errorf("%s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		k := und[0]
		var line int
		switch len(k) {
		case 1: // a key at the top, or a whole unknown table
			if line = lines.find("", "", k[0]); line == 0 {
				line = lines.find(k[0], "", "")
			}
		case 2:
			line = lines.find(k[0], "", k[1])
		default:
			line = lines.find(k[0], k[1], k[len(k)-1])
		}
		return f, nil, fmt.Errorf("%s:%d: unknown key %q", path, line, k.String())
	}
	return f, lines, nil
}

// fileLines finds where a key is defined, for error messages.
type fileLines []string

// find returns the 1-based line defining name inside [section] or
// [section.sub] (sub may be empty), or 0 when it cannot tell.
func (fl fileLines) find(section, sub, name string) int {
	header := section
	if sub != "" {
		header += "." + sub
	}
	cur := ""
	for i, l := range fl {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "[") {
			cur = strings.Trim(t, "[] ")
			if name == "" && cur == header {
				return i + 1
			}
			continue
		}
		k, _, ok := strings.Cut(t, "=")
		if ok && cur == header && strings.Trim(strings.TrimSpace(k), `"`) == name {
			return i + 1
		}
	}
	if name != "" && header != "" {
		return fl.find(section, sub, "")
	}
	return 0
}
