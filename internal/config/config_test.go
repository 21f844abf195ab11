package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func write(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func getenv(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func setting(t *testing.T, c *Config, key string) Setting {
	t.Helper()
	for _, s := range c.Settings() {
		if s.Key == key {
			return s
		}
	}
	t.Fatalf("no setting %s", key)
	return Setting{}
}

func TestPrecedence(t *testing.T) {
	path := write(t, `# mine
[daemon]
tracking_uri = "http://file:1"
experiment = "from-file"
mlflow_ui = false
log_level = "debug"

[providers.gpt]
command = ["sgpt", "--chat"]
`)
	env := map[string]string{
		"AITRACK_CONFIG":      path,
		"HOME":                "/home/u",
		"MLFLOW_TRACKING_URI": "http://env:2",
		"AITRACK_EXPERIMENT":  "from-env",
	}
	flags := map[string]string{"daemon.tracking_uri": "http://flag:3"}
	c, err := Load(getenv(env), flags)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		key, value, source, where string
	}{
		{"daemon.tracking_uri", "http://flag:3", "flag", "--tracking-uri"},
		{"daemon.experiment", "from-env", "env", "AITRACK_EXPERIMENT"},
		{"daemon.mlflow_ui", "false", "file", path + ":5"},
		{"daemon.log_level", "debug", "file", path + ":6"},
		{"daemon.mlflow_bin", "mlflow", "default", ""},
		{"daemon.state_dir", "/home/u/.local/state/aitrack", "default", ""},
		{"providers.gpt.command", "sgpt --chat", "file", path + ":9"},
		{"providers.claude.command", "claude", "default", ""},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			s := setting(t, c, tt.key)
			if s.Value != tt.value || s.Source != tt.source || s.Where != tt.where {
				t.Errorf("got %+v, want value %q from %s at %q", s, tt.value, tt.source, tt.where)
			}
		})
	}
	if c.TrackingURI != "http://flag:3" || c.MLflowUI || c.Experiment != "from-env" {
		t.Errorf("config %+v", c)
	}
	if cmd, err := c.ProviderCommand("gpt"); err != nil || strings.Join(cmd, " ") != "sgpt --chat" {
		t.Errorf("gpt command %v, %v", cmd, err)
	}
}

func TestNoFileIsDefaults(t *testing.T) {
	c, err := Load(getenv(map[string]string{"AITRACK_CONFIG": filepath.Join(t.TempDir(), "none.toml"), "HOME": "/h"}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.TrackingURI != "http://127.0.0.1:5000" || c.Experiment != "ai-sessions" || !c.MLflowUI {
		t.Errorf("defaults %+v", c)
	}
	if _, err := c.ProviderCommand("gpt"); err == nil || !strings.Contains(err.Error(), "[providers.gpt]") {
		t.Errorf("unset gpt command: %v", err)
	}
}

func TestBadFileNamesKeyAndLine(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"unknown key", "[daemon]\nexperiment = \"x\"\ntracking_url = \"http://x\"\n", `:3: unknown key "daemon.tracking_url"`},
		{"unknown section", "[daemons]\nsocket = \"/x\"\n", `:1: unknown key "daemons"`},
		{"wrong type", "[daemon]\n\nmlflow_ui = \"yes\"\n", `:3:`},
		{"bad level", "[daemon]\nlog_level = \"loud\"\n", `:2: daemon.log_level = "loud": want debug, info, warn or error`},
		{"syntax", "[daemon\n", `:2: expected '.' or ']'`},
		{"empty command", "[providers.gpt]\ncommand = []\n", `:2: providers.gpt.command must name a program`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := write(t, tt.body)
			_, err := Load(getenv(map[string]string{"AITRACK_CONFIG": path, "HOME": "/h"}), nil)
			if err == nil || !strings.Contains(err.Error(), path+tt.want) {
				t.Fatalf("error %v, want it to contain %q", err, path+tt.want)
			}
		})
	}
}
