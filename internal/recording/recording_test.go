package recording

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
)

type collected struct {
	info   Info
	out    bytes.Buffer
	resize int
	times  []time.Duration
}

func read(t *testing.T, path, timing string) (*collected, Result) {
	t.Helper()
	c := &collected{}
	res, err := Read(path, timing, func(i Info) error { c.info = i; return nil }, func(e Event) error {
		switch e.Kind {
		case "o":
			c.out.Write(e.Data)
			c.times = append(c.times, e.Time)
		case "r":
			c.resize++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return c, res
}

// runInPTY runs a recorder in a PTY, as a user would, and waits for it.
func runInPTY(t *testing.T, dir string, argv ...string) {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LANG=C.UTF-8", "TERM=xterm")
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: 90, Rows: 20})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		var b [4096]byte
		for {
			if _, err := f.Read(b[:]); err != nil {
				return
			}
		}
	}()
	if err := cmd.Wait(); err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatal(err)
		}
	}
	f.Close()
}

func TestScriptTypescripts(t *testing.T) {
	if _, err := exec.LookPath("script"); err != nil {
		t.Skip("util-linux script not installed")
	}
	dir := t.TempDir()
	prog := "echo first; sleep 0.2; echo second; exit 3"
	for _, tc := range []struct {
		name string
		args []string
		out  string
		tim  string
	}{
		{"plain", []string{"-q", "-e", "-c", prog, "plain.ts"}, "plain.ts", ""},
		{"classic timing", []string{"-q", "-e", "-c", prog, "-t" + filepath.Join(dir, "classic.tm"), "classic.ts"}, "classic.ts", "classic.tm"},
		{"advanced timing", []string{"-q", "-e", "-c", prog, "-T", "adv.tm", "-m", "advanced", "-O", "adv.ts"}, "adv.ts", "adv.tm"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runInPTY(t, dir, append([]string{"script"}, tc.args...)...)
			timing := ""
			if tc.tim != "" {
				timing = filepath.Join(dir, tc.tim)
			}
			c, res := read(t, filepath.Join(dir, tc.out), timing)
			if got := c.out.String(); got != "first\r\nsecond\r\n" {
				t.Errorf("output %q", got)
			}
			if res.ExitCode == nil || *res.ExitCode != 3 {
				t.Errorf("exit code %v", res.ExitCode)
			}
			if c.info.Format != "typescript" || c.info.Start.IsZero() || time.Since(c.info.Start) > time.Hour {
				t.Errorf("info %+v", c.info)
			}
			if timing != "" && (len(c.times) < 2 || c.times[len(c.times)-1] < 150*time.Millisecond) {
				t.Errorf("timing not applied: %v", c.times)
			}
		})
	}
}

func TestAsciinemaCast(t *testing.T) {
	if _, err := exec.LookPath("asciinema"); err != nil {
		t.Skip("asciinema not installed (make test installs it as root)")
	}
	dir := t.TempDir()
	runInPTY(t, dir, "asciinema", "rec", "-q", "-c", "echo héllo; echo bye", filepath.Join(dir, "s.cast"))
	c, _ := read(t, filepath.Join(dir, "s.cast"), "")
	if c.info.Format != "asciicast" || c.info.Cols != 90 || c.info.Rows != 20 {
		t.Errorf("info %+v", c.info)
	}
	if !strings.Contains(c.out.String(), "héllo\r\nbye\r\n") {
		t.Errorf("output %q", c.out.String())
	}
}

func FuzzRead(f *testing.F) {
	f.Add([]byte("Script started on 2026-11-25 10:00:00+00:00 [COLUMNS=\"80\" LINES=\"24\"]\nhi\nScript done on 2026-11-25 10:00:01+00:00 [COMMAND_EXIT_CODE=\"0\"]\n"), []byte("0.1 3\n"))
	f.Add([]byte(`{"version": 2, "width": 80, "height": 24}`+"\n[0.1, \"o\", \"x\"]\n"), []byte(""))
	f.Fuzz(func(t *testing.T, body, timing []byte) {
		dir := t.TempDir()
		p, tp := filepath.Join(dir, "r"), filepath.Join(dir, "t")
		os.WriteFile(p, body, 0o600)
		os.WriteFile(tp, timing, 0o600)
		for _, tm := range []string{"", tp} {
			Read(p, tm, func(Info) error { return nil }, func(Event) error { return nil })
		}
	})
}
