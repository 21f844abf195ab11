package service

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fakeSystemctl puts a systemctl on PATH that records its arguments and
// keeps a unit state (active/inactive) in a file; it returns the log path.
// The real kardianos systemd backend runs it exactly as it would run the
// real one.
func fakeSystemctl(t *testing.T) (logPath string) {
	t.Helper()
	dir := t.TempDir()
	logPath = filepath.Join(dir, "calls")
	state := filepath.Join(dir, "state")
	script := `#!/bin/sh
echo "$*" >> '` + logPath + `'
case "$1" in
start|restart) echo active > '` + state + `' ;;
stop) echo inactive > '` + state + `' ;;
is-active) s=$(cat '` + state + `' 2>/dev/null || echo inactive); echo "$s"; [ "$s" = active ] || exit 3 ;;
list-unit-files) echo "aitrackd.service enabled enabled" ;;
esac
`
	if err := os.WriteFile(filepath.Join(dir, "systemctl"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return logPath
}

func calls(t *testing.T, logPath string) []string {
	t.Helper()
	b, err := os.ReadFile(logPath)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	os.Remove(logPath)
	return strings.Fields(strings.ReplaceAll(strings.TrimSpace(string(b)), " ", "_"))
}

// TestControl installs, drives and uninstalls the service in a temporary
// HOME through kardianos' systemd backend; only systemctl is fake.
func TestControl(t *testing.T) {
	sys, err := systemNamed("linux-systemd")
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	t.Setenv("HOME", home) // kardianos finds the unit directory through $HOME
	log := fakeSystemctl(t)
	exe := filepath.Join(home, ".local", "bin", "aitrackd")
	writeExecutable(t, exe)
	unit := filepath.Join(home, ".config", "systemd", "user", "aitrackd.service")

	steps := []struct {
		action    string
		cfg       Config
		wantErr   string
		wantOut   []string
		wantCalls []string // "_" for spaces
	}{
		{action: "status", wantOut: []string{"not installed"}},
		{action: "start", wantErr: "not installed as a user service"},
		{action: "install", cfg: Config{Executable: filepath.Join(home, "nope")}, wantErr: "not an executable file"},
		{action: "install", cfg: canonical(home),
			wantOut:   []string{"Installed the aitrackd user service: " + unit, "loginctl enable-linger", "journalctl --user -u aitrackd"},
			wantCalls: []string{"enable_--user_aitrackd.service", "daemon-reload_--user"}},
		{action: "install", cfg: canonical(home), wantErr: "already installed"},
		{action: "status", wantOut: []string{"aitrackd: stopped"}, wantCalls: []string{"is-active_aitrackd.service_--user", "list-unit-files_-t_service_aitrackd.service_--user"}},
		{action: "start", wantOut: []string{"start requested"}, wantCalls: []string{"start_--user_aitrackd.service"}},
		{action: "status", wantOut: []string{"aitrackd: running (" + unit + ")"}, wantCalls: []string{"is-active_aitrackd.service_--user"}},
		{action: "restart", wantCalls: []string{"restart_--user_aitrackd.service"}},
		{action: "stop", wantCalls: []string{"stop_--user_aitrackd.service"}},
		{action: "enable", wantErr: "unknown service action"},
		{action: "uninstall", wantOut: []string{"removed the aitrackd user service"},
			wantCalls: []string{"stop_--user_aitrackd.service", "disable_--user_aitrackd.service", "daemon-reload_--user"}},
		{action: "uninstall", wantErr: "not installed"},
	}
	for i, st := range steps {
		var out bytes.Buffer
		st.cfg.Out = &out
		err := control(st.action, st.cfg, Systemd, sys, home)
		switch {
		case st.wantErr == "" && err != nil:
			t.Fatalf("step %d %s: %v", i, st.action, err)
		case st.wantErr != "" && (err == nil || !strings.Contains(err.Error(), st.wantErr)):
			t.Fatalf("step %d %s: error %v, want %q", i, st.action, err, st.wantErr)
		}
		for _, want := range st.wantOut {
			if !strings.Contains(out.String(), want) {
				t.Errorf("step %d %s: output %q lacks %q", i, st.action, out.String(), want)
			}
		}
		if got := calls(t, log); !slices.Equal(got, st.wantCalls) {
			t.Errorf("step %d %s: systemctl calls %q, want %q", i, st.action, got, st.wantCalls)
		}
		if st.action == "install" && err == nil {
			// Written by the installer for ~/.local/bin/aitrackd: the deploy file, byte for byte.
			got, err := os.ReadFile(unit)
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(deployFiles[0].path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("installed unit differs from %s:\n%s", deployFiles[0].path, got)
			}
		}
	}
	if _, err := os.Stat(unit); !os.IsNotExist(err) {
		t.Errorf("unit file still there after uninstall: %v", err)
	}
}

// TestInstallFailureLeavesNothing: when systemctl fails (no user manager),
// the unit file kardianos already wrote is removed again.
func TestInstallFailureLeavesNothing(t *testing.T) {
	sys, err := systemNamed("linux-systemd")
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	dir := t.TempDir()
	failing := "#!/bin/sh\necho 'Failed to connect to bus: No medium found' >&2\nexit 1\n"
	if err := os.WriteFile(filepath.Join(dir, "systemctl"), []byte(failing), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	cfg := canonical(home)
	writeExecutable(t, cfg.Executable)
	err = control("install", cfg, Systemd, sys, home)
	if err == nil || !strings.Contains(err.Error(), "systemctl --user needs your user's systemd instance") {
		t.Fatalf("install error = %v, want a hint about the user manager", err)
	}
	if _, err := os.Stat(Systemd.File(home)); !os.IsNotExist(err) {
		t.Errorf("unit file left behind after a failed install: %v", err)
	}
}
