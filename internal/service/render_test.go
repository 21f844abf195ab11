package service

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite deploy/ from the rendered files")

// The deploy/ files are the rendered files for these placeholder homes and
// the executable ~/.local/bin/aitrackd; the systemd unit names it %h/...,
// so the installer writes exactly this file for that executable.
var deployFiles = []struct {
	kind Kind
	path string
	home string
}{
	{Systemd, "../../deploy/systemd/aitrackd.service", "/home/USER"},
	{Launchd, "../../deploy/launchd/dev.aitrack.aitrackd.plist", "/Users/USER"},
}

func canonical(home string) Config {
	return Config{Executable: filepath.Join(home, ".local", "bin", "aitrackd"), Arguments: []string{"run"}}
}

func TestDeployFilesMatchRender(t *testing.T) {
	for _, tt := range deployFiles {
		t.Run(string(tt.kind), func(t *testing.T) {
			want, err := Render(tt.kind, canonical(tt.home), tt.home)
			if err != nil {
				t.Fatal(err)
			}
			if *update {
				if err := os.WriteFile(tt.path, []byte(want), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := os.ReadFile(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != want {
				t.Errorf("%s differs from what the installer writes (go test ./internal/service -run TestDeployFilesMatchRender -update rewrites it):\n--- file\n%s\n--- rendered\n%s", tt.path, got, want)
			}
		})
	}
}

func TestRenderSystemd(t *testing.T) {
	const home = "/home/ann"
	tests := []struct {
		name      string
		cfg       Config
		wantLines []string
	}{
		{"under home: %h", canonical(home), []string{"ExecStart=%h/.local/bin/aitrackd run"}},
		{"outside home: absolute", Config{Executable: "/usr/local/bin/aitrackd", Arguments: []string{"run"}},
			[]string{"ExecStart=/usr/local/bin/aitrackd run"}},
		{"a sibling of home is not under it", Config{Executable: "/home/anna/bin/aitrackd"},
			[]string{"ExecStart=/home/anna/bin/aitrackd"}},
		{"quoting and escapes", Config{Executable: "/opt/my tools/aitrackd", Arguments: []string{"run", "--experiment", `it's "50%" $HOME`, "", `a\b`, ";"}},
			[]string{`ExecStart="/opt/my tools/aitrackd" run --experiment "it's \"50%%\" $$HOME" "" "a\\b" ";"`}},
		{"environment, sorted and quoted", Config{Executable: "/usr/bin/aitrackd", Env: map[string]string{"PATH": "/home/ann/.local/bin:/usr/bin", "AITRACK_MLFLOW": `/x/"m" 100%`}},
			[]string{"ExecStart=/usr/bin/aitrackd", `Environment="AITRACK_MLFLOW=/x/\"m\" 100%%"`, `Environment="PATH=/home/ann/.local/bin:/usr/bin"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			unit, err := Render(Systemd, tt.cfg, home)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, l := range strings.Split(unit, "\n") {
				if strings.HasPrefix(l, "ExecStart=") || strings.HasPrefix(l, "Environment=") {
					got = append(got, l)
				}
			}
			if !slices.Equal(got, tt.wantLines) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.wantLines, "\n"))
			}
			for _, want := range []string{"\nWantedBy=default.target\n", "\nRestart=on-failure\n", "\nRestartSec=2\n"} {
				if !strings.Contains(unit, want) {
					t.Errorf("unit lacks %q", strings.TrimSpace(want))
				}
			}
			if strings.Contains(unit, "StandardOutput") || strings.Contains(unit, "/var/log") {
				t.Error("unit redirects output away from the journal")
			}
		})
	}
}

func TestRenderRejects(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"relative executable", Config{Executable: "bin/aitrackd"}},
		{"newline in an argument", Config{Executable: "/bin/aitrackd", Arguments: []string{"a\nExecStartPre=/bin/evil"}}},
		{"control character", Config{Executable: "/bin/aitrackd", Arguments: []string{"a\x01"}}},
		{"invalid UTF-8", Config{Executable: "/bin/aitrackd", Arguments: []string{"\xff"}}},
		{"bad variable name", Config{Executable: "/bin/aitrackd", Env: map[string]string{"A B": "x"}}},
		{"newline in a value", Config{Executable: "/bin/aitrackd", Env: map[string]string{"A": "x\ny"}}},
		{"template action", Config{Executable: "/bin/aitrackd", Arguments: []string{"{{Name}}"}}},
	}
	for _, tt := range tests {
		for _, kind := range []Kind{Systemd, Launchd} {
			t.Run(tt.name+"/"+string(kind), func(t *testing.T) {
				if text, err := Render(kind, tt.cfg, "/home/ann"); err == nil {
					t.Errorf("Render accepted it:\n%s", text)
				}
			})
		}
	}
	if _, err := Render("upstart", canonical("/home/ann"), "/home/ann"); err == nil {
		t.Error("Render accepted an unknown service manager")
	}
}

// TestSystemdUnitVerifies runs the units through systemd's own parser.
func TestSystemdUnitVerifies(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not found (Debian package systemd; scripts/install-test-deps.sh installs it): cannot verify the unit")
	}
	tests := []struct {
		name       string
		exe        string // relative to the test's home
		missing    bool   // exe is not created
		cfg        Config
		wantOutput string // "" = verify must pass silently
	}{
		{"canonical", ".local/bin/aitrackd", false, canonical(""), ""},
		{"quoted arguments and environment", "my bin/aitrackd", false,
			Config{Arguments: []string{"run", "--experiment", `it's "50%" $HOME`, "", `a\b`}, Env: map[string]string{"AITRACK_MLFLOW": `/x/"m" 100%`, "PATH": "/a:/b"}}, ""},
		{"missing executable is reported", ".local/bin/aitrackd", true, canonical(""), "is not executable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home, runtimeDir := t.TempDir(), t.TempDir()
			cfg := tt.cfg
			cfg.Executable = filepath.Join(home, filepath.FromSlash(tt.exe))
			if !tt.missing {
				writeExecutable(t, cfg.Executable)
			}
			unit, err := Render(Systemd, cfg, home)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), UnitName+".service")
			if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(analyze, "verify", "--user", path)
			cmd.Env = append(os.Environ(), "HOME="+home, "XDG_RUNTIME_DIR="+runtimeDir)
			out, err := cmd.CombinedOutput()
			if tt.wantOutput == "" && (err != nil || len(out) > 0) {
				// verify exits 0 on some parse errors: any output fails.
				t.Errorf("systemd-analyze verify: %v\n%s\nunit:\n%s", err, out, unit)
			}
			if tt.wantOutput != "" && !strings.Contains(string(out), tt.wantOutput) {
				t.Errorf("systemd-analyze verify: %v, output %q; want %q", err, out, tt.wantOutput)
			}
		})
	}
}

func writeExecutable(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
}

// TestPlistLoads reads the plist with Python's plistlib, a real plist
// parser, and compares what it finds.
func TestPlistLoads(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found: cannot check the plist with plistlib")
	}
	const home = "/Users/ann & co"
	tests := []struct {
		name string
		cfg  Config
		env  map[string]any // EnvironmentVariables; nil = absent
	}{
		{"canonical", canonical(home), nil},
		{"escaping", Config{Executable: "/Applications/a<b>/aitrackd", Arguments: []string{"run", `--x="'&'"`, "é ✓"},
			Env: map[string]string{"PATH": "/opt/homebrew/bin:/usr/bin", "AMP": "a&b<c>"}},
			map[string]any{"PATH": "/opt/homebrew/bin:/usr/bin", "AMP": "a&b<c>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text, err := Render(Launchd, tt.cfg, home)
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(python, "-c", "import json, plistlib, sys; print(json.dumps(plistlib.loads(sys.stdin.buffer.read())))")
			cmd.Stdin = strings.NewReader(text)
			cmd.Stderr = os.Stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("plistlib rejected the plist: %v\n%s", err, text)
			}
			var got map[string]any
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatal(err)
			}
			log := home + "/Library/Logs/aitrack/aitrackd.log"
			var args []any
			for _, a := range append([]string{tt.cfg.Executable}, tt.cfg.Arguments...) {
				args = append(args, a)
			}
			want := map[string]any{
				"Label":             Label,
				"ProgramArguments":  args,
				"RunAtLoad":         true,
				"KeepAlive":         map[string]any{"SuccessfulExit": false},
				"StandardOutPath":   log,
				"StandardErrorPath": log,
			}
			if tt.env != nil {
				want["EnvironmentVariables"] = tt.env
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("plistlib read\n%v\nwant\n%v", got, want)
			}
		})
	}
}

// FuzzRenderLaunchd checks that any accepted arguments come back out of the
// plist unchanged, read with encoding/xml.
func FuzzRenderLaunchd(f *testing.F) {
	f.Add("/usr/local/bin/aitrackd", "run", `--x=<&>"'`)
	f.Add("/a b/c", "é", "]]>")
	f.Fuzz(func(t *testing.T, exe, a1, a2 string) {
		cfg := Config{Executable: exe, Arguments: []string{a1, a2}}
		text, err := Render(Launchd, cfg, "/Users/x")
		if err != nil {
			return
		}
		got, err := plistArray(text)
		if err != nil {
			t.Fatalf("rendered plist is not XML: %v\n%s", err, text)
		}
		if want := []string{exe, a1, a2}; !slices.Equal(got, want) {
			t.Fatalf("ProgramArguments = %q, want %q", got, want)
		}
	})
}

// plistArray returns the strings of the plist's only <array>.
func plistArray(text string) ([]string, error) {
	d := xml.NewDecoder(strings.NewReader(text))
	var out []string
	inArray := false
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if tok.Name.Local == "array" {
				inArray = true
			}
			if inArray && tok.Name.Local == "string" {
				var s string
				if err := d.DecodeElement(&s, &tok); err != nil {
					return nil, err
				}
				out = append(out, s)
			}
		case xml.EndElement:
			if tok.Name.Local == "array" {
				inArray = false
			}
		}
	}
}
