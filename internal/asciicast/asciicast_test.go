package asciicast

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/term"
)

// chunks splits s at every given byte offset, UTF-8 sequences included.
func chunks(s string, size int) [][]byte {
	var out [][]byte
	for len(s) > 0 {
		n := min(size, len(s))
		out = append(out, []byte(s[:n]))
		s = s[n:]
	}
	return out
}

func record(t *testing.T, text string, size int) []byte {
	t.Helper()
	start := time.Unix(1_700_000_000, 0)
	var b bytes.Buffer
	w, err := NewWriter(&b, Header{Width: 80, Height: 24, Command: "sh"}, start)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range chunks(text, size) {
		w.Output(start.Add(time.Duration(i)*time.Millisecond), c)
	}
	w.Resize(start.Add(time.Second), 100, 30)
	w.Marker(start.Add(2*time.Second), "exit 3")
	if err := w.Close(start.Add(2 * time.Second)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestRoundTrip(t *testing.T) {
	text := "héllo wörld → 日本語 🎉\r\n\x1b[1;31mred\x1b[0m\r\n"
	for size := 1; size <= 7; size++ {
		cast := record(t, text, size)
		var got strings.Builder
		var codes []string
		rec, err := Read(bytes.NewReader(cast), nil, func(e Event) error {
			if e.Code == "o" {
				got.WriteString(e.Data)
			}
			codes = append(codes, e.Code)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if got.String() != text {
			t.Errorf("chunks of %d: output %q, want %q", size, got.String(), text)
		}
		if rec.Version != 2 || rec.Width != 80 || rec.Height != 24 || rec.Command != "sh" {
			t.Errorf("header %+v", rec)
		}
		if codes[len(codes)-2] != "r" || codes[len(codes)-1] != "m" {
			t.Errorf("codes %v", codes)
		}
	}
}

func TestInvalidUTF8BecomesReplacement(t *testing.T) {
	cast := record(t, "a\xffb\xe6", 64)
	var got strings.Builder
	Read(bytes.NewReader(cast), nil, func(e Event) error {
		if e.Code == "o" {
			got.WriteString(e.Data)
		}
		return nil
	})
	if got.String() != "a\uFFFDb\uFFFD" {
		t.Errorf("got %q", got.String())
	}
}

func TestReadV3(t *testing.T) {
	v3 := `{"version": 3, "term": {"cols": 120, "rows": 40}, "command": "bash"}
# a comment
[0.5, "o", "one"]
[0.25, "o", "two"]
[1.0, "x", "0"]
`
	var times []time.Duration
	rec, err := Read(strings.NewReader(v3), nil, func(e Event) error { times = append(times, e.Time); return nil })
	if err != nil || rec.Width != 120 || rec.Version != 3 {
		t.Fatalf("rec %+v, %v", rec, err)
	}
	if times[1] != 750*time.Millisecond || times[2] != 1750*time.Millisecond {
		t.Errorf("v3 intervals not summed: %v", times)
	}
}

func TestNotCast(t *testing.T) {
	for _, in := range []string{"", "Script started on 2026-11-25\n", `{"version": 1}` + "\n"} {
		if _, err := Read(strings.NewReader(in), nil, nil); err != ErrNotCast {
			t.Errorf("Read(%q) = %v", in, err)
		}
	}
}

// The real asciinema reproduces the session's output from our file.
func TestAsciinemaCat(t *testing.T) {
	bin, err := exec.LookPath("asciinema")
	if err != nil {
		t.Skip("asciinema not installed (make test installs it as root: scripts/install-test-deps.sh)")
	}
	text := "line one\r\n\x1b[32mgreen ✓\x1b[0m\r\nwide 日本\r\n"
	p := filepath.Join(t.TempDir(), "s.cast")
	os.WriteFile(p, record(t, text, 3), 0o600)
	// asciinema 2.x's cat opens /dev/tty: run it in a raw PTY, so that the
	// line discipline passes its bytes through unchanged.
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	if _, err := term.MakeRaw(int(tty.Fd())); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "cat", p)
	cmd.Env = append(os.Environ(), "LANG=C.UTF-8", "LC_ALL=C.UTF-8")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close()
	out, _ := io.ReadAll(ptmx) // ends with EIO when asciinema exits
	if err := cmd.Wait(); err != nil {
		t.Fatalf("asciinema cat: %v\n%s", err, out)
	}
	if string(out) != text {
		t.Errorf("asciinema cat = %q, want %q", out, text)
	}
}

func FuzzRead(f *testing.F) {
	f.Add([]byte(`{"version": 2, "width": 80, "height": 24}` + "\n[0.1, \"o\", \"x\"]\n"))
	f.Add([]byte(`{"version": 3, "term": {"cols": 1, "rows": 1}}` + "\n[1e308, \"o\", 5]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		Read(bytes.NewReader(b), nil, func(Event) error { return nil })
	})
}

// FuzzAppendString: any bytes are written as the JSON string of their
// valid UTF-8 form, invalid bytes as U+FFFD.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "a\xffb\xe6", "\x1b[1;31mred\x1b[0m\r\n\t\"q\" \\ <&>", "日本語 🎉 \u2028", "\x00\x07\x7f\xc0\x80\xed\xa0\x80"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		enc := appendString([]byte("x"), data)
		if enc[0] != 'x' {
			t.Fatalf("the prefix was overwritten: %q", enc)
		}
		var got string
		if err := json.Unmarshal(enc[1:], &got); err != nil {
			t.Fatalf("%q encodes as %q, no JSON string: %v", data, enc[1:], err)
		}
		if want := strings.ToValidUTF8(string(data), "\uFFFD"); got != want {
			t.Fatalf("%q decodes as %q, want %q", data, got, want)
		}
	})
}

func BenchmarkOutput(b *testing.B) {
	chunk := bytes.Repeat([]byte("\x1b[1;31mred\x1b[0m text → 日本語, \"quoted\"\r\n"), 2000)[:64<<10]
	b.SetBytes(int64(len(chunk)))
	w, err := NewWriter(io.Discard, Header{Width: 80, Height: 24}, time.Unix(0, 0))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		w.Output(time.Unix(1, 0), chunk)
	}
}
