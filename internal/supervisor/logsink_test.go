package supervisor

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

func TestPumpLines(t *testing.T) {
	const max = 20
	long := strings.Repeat("x", 50)
	tests := []struct {
		name, in string
		want     []string
	}{
		{"lines", "a\nb\n", []string{"a", "b"}},
		{"last line without newline", "a\nb", []string{"a", "b"}},
		{"empty lines kept", "\n\na\n", []string{"", "", "a"}},
		{"crlf", "a\r\nb\r\n", []string{"a", "b"}},
		{"exactly the cap", strings.Repeat("y", max) + "\nz\n", []string{strings.Repeat("y", max), "z"}},
		{"long line cut and marked", long + "\nnext\n", []string{long[:max] + truncatedMark, "next"}},
		{"long last line", "a\n" + long, []string{"a", long[:max] + truncatedMark}},
		{"nothing", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			// One byte per read: lines must not depend on how the pipe splits them.
			pumpLines(iotest.OneByteReader(strings.NewReader(tt.in)), max, func(s string) { got = append(got, s) })
			if !slices.Equal(got, tt.want) {
				t.Errorf("lines = %q, want %q", got, tt.want)
			}
		})
	}
}

func FuzzPumpLines(f *testing.F) {
	f.Add([]byte("a\nb\r\n\nlast"), 4)
	f.Add([]byte(strings.Repeat("z", 100)+"\n"), 16)
	f.Fuzz(func(t *testing.T, in []byte, max int) {
		if max < 1 || max > 1<<12 {
			return
		}
		var got []string
		pumpLines(strings.NewReader(string(in)), max, func(s string) { got = append(got, s) })
		for _, l := range got {
			if strings.Contains(l, "\n") {
				t.Fatalf("line %q contains a newline", l)
			}
			if len(strings.TrimSuffix(l, truncatedMark)) > max {
				t.Fatalf("line of %d bytes exceeds the cap %d", len(l), max)
			}
		}
		// Input whose lines all fit comes out unchanged.
		lines := strings.Split(strings.TrimSuffix(string(in), "\n"), "\n")
		fits := !strings.Contains(string(in), "\r")
		for _, l := range lines {
			fits = fits && len(l) < max
		}
		if fits && len(in) > 0 && !slices.Equal(got, lines) {
			t.Fatalf("lines = %q, want %q", got, lines)
		}
	})
}

func TestLogSink(t *testing.T) {
	path := filepath.Join(t.TempDir(), "child.log")
	if err := os.WriteFile(path, []byte("from an earlier run\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := openLogSink(path, 64, 3)
	if err != nil {
		t.Fatal(err)
	}
	l.note("--- started")
	for _, s := range []string{"one", "two", "three", "four"} {
		l.line(s)
	}
	if got, want := l.tail(), []string{"two", "three", "four"}; !slices.Equal(got, want) {
		t.Errorf("tail = %q, want %q (notes stay out of it)", got, want)
	}
	// 20+12+4+4+6+5 = 51 bytes so far; the next line crosses 64 and rotates.
	l.line(strings.Repeat("r", 20))
	l.close()

	old, err := os.ReadFile(path + ".1")
	if err != nil {
		t.Fatal(err)
	}
	if want := "from an earlier run\n--- started\none\ntwo\nthree\nfour\n"; string(old) != want {
		t.Errorf("rotated log = %q, want %q (appended to, not truncated)", old, want)
	}
	cur, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Repeat("r", 20) + "\n"; string(cur) != want {
		t.Errorf("current log = %q, want %q", cur, want)
	}
}
