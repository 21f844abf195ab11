package ptyrun

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestModeTrackerResets(t *testing.T) {
	tests := []struct {
		name   string
		output string
		want   string
	}{
		{"plain text", "hello\r\nworld", ""},
		{"alternate screen", "\x1b[?1049h", "\x1b[?1049l"},
		{"alternate screen left by the child", "\x1b[?1049hdraw\x1b[?1049l", ""},
		{"old alternate screens", "\x1b[?47h\x1b[?1047h", "\x1b[?1047l\x1b[?47l"},
		{"mouse modes in one sequence", "\x1b[?1000;1002;1006h", "\x1b[?1000l\x1b[?1002l\x1b[?1006l"},
		{"mouse all-motion and focus", "\x1b[?1003h\x1b[?1004h", "\x1b[?1003l\x1b[?1004l"},
		{"bracketed paste", "\x1b[?2004h", "\x1b[?2004l"},
		{"synchronized output first", "\x1b[?1049h\x1b[?2026h", "\x1b[?2026l\x1b[?1049l"},
		{"hidden cursor", "\x1b[?25l", "\x1b[?25h"},
		{"cursor shown again", "\x1b[?25l\x1b[?25h", ""},
		{"kitty push on main screen", "\x1b[>1u\x1b[>3u", "\x1b[<2u"},
		{"kitty push and pop", "\x1b[>1u\x1b[>3u\x1b[<u", "\x1b[<1u"},
		{"kitty pop several", "\x1b[>1u\x1b[>3u\x1b[<5u", ""},
		{"kitty on both screens", "\x1b[>1u\x1b[?1049h\x1b[>1u\x1b[>1u", "\x1b[<2u\x1b[?1049l\x1b[<1u"},
		{"kitty stack of a left alternate screen", "\x1b[?1049h\x1b[>1u\x1b[?1049l", ""},
		{"everything, in reset order", "\x1b[?25l\x1b[?1049h\x1b[?1000h\x1b[?2004h\x1b[>1u",
			"\x1b[?1000l\x1b[?2004l\x1b[<1u\x1b[?1049l\x1b[?25h"},
		{"full reset by the child", "\x1b[?1049h\x1b[?1000h\x1b[>1u\x1bc", ""},
		{"mode not tracked", "\x1b[?7l\x1b[?1h", ""},
		{"ANSI mode is not DEC", "\x1b[4h", ""},
		{"cancelled by CAN", "\x1b[?1049\x18h", ""},
		{"restarted by ESC", "\x1b[?10\x1b[?1049h", "\x1b[?1049l"},
		{"sub-parameters ignored", "\x1b[?1049:1h", ""},
		{"too long ignored", "\x1b[?" + string(bytes.Repeat([]byte("0"), 40)) + "1049h", ""},
		{"controls inside a sequence", "\x1b[?10\r49h", "\x1b[?1049l"},
		{"escape before ESC", "\x1b\x1b[?1049h", "\x1b[?1049l"},
		{"other sequences", "\x1b]0;title\x07\x1b[31mred\x1b[0m\x1b[2J\x1b[H", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Whole, and cut at every byte: chunk boundaries must not matter.
			for cut := 0; cut <= len(tt.output); cut++ {
				var m modeTracker
				m.scan([]byte(tt.output[:cut]))
				m.scan([]byte(tt.output[cut:]))
				if got := string(m.resets()); got != tt.want {
					t.Fatalf("cut at %d: resets() = %q, want %q", cut, got, tt.want)
				}
			}
		})
	}
}

// TestModeTrackerFixtures replays full-screen TUI output (hand-made in the
// shape of a ratatui app's: alternate screen, mouse, kitty keys, frames in
// synchronized-output blocks with titles and UTF-8) in odd-sized chunks: one
// cut short mid-frame (the child was killed), one that cleaned up itself.
func TestModeTrackerFixtures(t *testing.T) {
	tests := []struct {
		file string
		want string
	}{
		{"killed-tui.bin", "\x1b[?2026l\x1b[?1000l\x1b[?1002l\x1b[?1006l\x1b[?1004l\x1b[?2004l\x1b[<1u\x1b[?1049l\x1b[?25h"},
		{"clean-tui.bin", ""},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			var m modeTracker
			for chunk := range slices.Chunk(data, 7) {
				m.scan(chunk)
			}
			if got := string(m.resets()); got != tt.want {
				t.Errorf("resets() = %q, want %q", got, tt.want)
			}
		})
	}
}

func FuzzModeTracker(f *testing.F) {
	f.Add([]byte("\x1b[?1049h\x1b[?1000;1006h\x1b[>1u\x1b[?25l"), 3)
	f.Add([]byte("\x1b[?2026h\x1b[?2004h\x1b[<u\x1bc\x1b[?47h"), 0)
	f.Add([]byte("text \x1b[31m\x1b\x1b[?1004h\x18\x1b[?1003"), 9)
	f.Fuzz(func(t *testing.T, data []byte, cut int) {
		var whole, split modeTracker
		whole.scan(data)
		if len(data) > 0 {
			cut = int(uint(cut) % uint(len(data)+1))
		} else {
			cut = 0
		}
		split.scan(data[:cut])
		split.scan(data[cut:])
		if whole != split {
			t.Fatalf("state after one chunk %+v differs from after a cut at %d: %+v", whole, cut, split)
		}
		// The resets must switch everything off, wherever the child stopped.
		resets := whole.resets()
		whole.scan(resets)
		if again := whole.resets(); len(again) != 0 {
			t.Fatalf("after writing the resets %q, still to reset: %q", resets, again)
		}
	})
}

func BenchmarkModeTrackerScan(b *testing.B) {
	// Mostly text with SGR colours and cursor moves, like a TUI's redraws.
	frame := bytes.Repeat([]byte("\x1b[2K\x1b[1G\x1b[38;5;245m│\x1b[0m some output text in a line \x1b[1A"), 64)
	b.SetBytes(int64(len(frame)))
	var m modeTracker
	for b.Loop() {
		m.scan(frame)
	}
}
