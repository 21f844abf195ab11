package parse

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// frame draws a full-screen program's frame: home, each line on its row,
// the rest of the screen erased.
func altFrame(lines ...string) string {
	var b strings.Builder
	for i, l := range lines {
		fmt.Fprintf(&b, "\x1b[%d;1H\x1b[2K%s", i+1, l)
	}
	fmt.Fprintf(&b, "\x1b[%d;1H\x1b[J", len(lines)+1)
	return b.String()
}

const (
	enterAlt = "\x1b[?1049h"
	leaveAlt = "\x1b[?1049l"
)

func TestAlternateScreenSnapshots(t *testing.T) {
	ms := time.Millisecond
	var spinner []step
	for i := range 30 { // a spinner frame every 100 ms for 3 s
		spinner = append(spinner, outAt(time.Duration(i)*100*ms, altFrame("• Ran make", fmt.Sprintf("⠋ Working (%ds)", i/10))))
	}
	tests := []struct {
		name  string
		steps []step
		want  []string
	}{
		{
			name: "a frame redrawn many times is committed once",
			steps: []step{
				outAt(0, enterAlt+altFrame("header", "• Ran git status", "composer")),
				outAt(600*ms, altFrame("header", "• Ran git status", "composer")),
				outAt(1200*ms, "\x1b[2J"+altFrame("header", "• Ran git status", "composer")),
				outAt(1800*ms, altFrame("header", "• Ran git status", "composer")+leaveAlt),
			},
			want: []string{"header", "• Ran git status", "composer"},
		},
		{
			name:  "a spinner replaced in place is not committed",
			steps: append(spinner, outAt(3500*ms, altFrame("• Ran make", "done")), outAt(4500*ms, leaveAlt)),
			want:  []string{"• Ran make", "done"},
		},
		{
			name: "scrolled lines stay committed, new ones are added",
			steps: []step{
				outAt(0, enterAlt+altFrame("one", "two", "three")),
				outAt(300*ms, altFrame("one", "two", "three")),
				outAt(600*ms, altFrame("two", "three", "four")),
				outAt(900*ms, altFrame("two", "three", "four")),
				outAt(1200*ms, altFrame("three", "four", "five")+leaveAlt),
			},
			want: []string{"one", "two", "three", "four", "five"},
		},
		{
			name: "a line gone before it was confirmed is kept",
			steps: []step{
				outAt(0, enterAlt+altFrame("prompt", "• Ran git status", "footer")),
				outAt(200*ms, altFrame("prompt", "footer")),
				outAt(400*ms, altFrame("prompt", "footer")+leaveAlt),
			},
			want: []string{"prompt", "• Ran git status", "footer"},
		},
		{
			name: "repeated lines are committed each time",
			steps: []step{
				outAt(0, enterAlt+altFrame("• Ran ls")),
				outAt(300*ms, altFrame("• Ran ls", "• Ran ls")),
				outAt(600*ms, altFrame("• Ran ls", "• Ran ls")+leaveAlt),
			},
			want: []string{"• Ran ls", "• Ran ls"},
		},
		{
			name: "a line hidden by an overlay and shown again is not committed again",
			steps: []step{
				outAt(0, enterAlt+altFrame("• Ran ls", "out")),
				outAt(300*ms, altFrame("• Ran ls", "out")),
				outAt(600*ms, altFrame("help overlay")),
				outAt(900*ms, altFrame("help overlay")),
				outAt(1200*ms, altFrame("• Ran ls", "out")),
				outAt(1500*ms, altFrame("• Ran ls", "out")+leaveAlt),
			},
			want: []string{"• Ran ls", "out", "help overlay"},
		},
		{
			name: "a clear before leaving keeps the last frame",
			steps: []step{
				outAt(0, enterAlt+altFrame("a", "b")),
				outAt(20*ms, altFrame("a", "b", "last words")+"\x1b[2J"+leaveAlt),
			},
			want: []string{"a", "b", "last words"},
		},
		{
			name: "the transcript printed again on the main screen is not committed twice",
			steps: []step{
				outAt(0, "before\r\n"+enterAlt+altFrame("│ ✓  Shell git status      │", "│ ✓  Shell echo a-very-long-command-cut…│")),
				outAt(300*ms, altFrame("│ ✓  Shell git status      │", "│ ✓  Shell echo a-very-long-command-cut…│")+leaveAlt),
				outAt(400*ms, "│ ✓  Shell git status            │\r\n│ ✓  Shell echo                  │\r\nafter\r\n"),
			},
			want: []string{"before", "│ ✓  Shell git status      │", "│ ✓  Shell echo a-very-long-command-cut…│", "after"},
		},
		{
			name: "the scrollbar thumb is not part of a line",
			steps: []step{
				{cols: 20, rows: 5},
				outAt(0, enterAlt+altFrame("abc"+strings.Repeat(" ", 16)+"█", "def")),
				outAt(300*ms, altFrame("abc", "def"+strings.Repeat(" ", 16)+"█")),
				outAt(600*ms, altFrame("abc", "def"+strings.Repeat(" ", 16)+"█")+leaveAlt),
			},
			want: []string{"abc", "def"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			equalLines(t, run(t, Options{Provider: "codex"}, tt.steps...), tt.want)
		})
	}
}

// TestAlternateScreenEvents checks that a full-screen renderer's commands
// become events once, as the settled frames show them.
func TestAlternateScreenEvents(t *testing.T) {
	var got []wantEvent
	p := New(Options{Provider: "codex", Start: t0, OnEvent: func(e Event) {
		got = append(got, wantEvent{Kind: e.Kind, Text: e.Text, Fields: e.Fields})
	}})
	frames := [][]string{
		{"› fix the build", "• Running make"},
		{"› fix the build", "• Ran make", "  └ ok"},
		{"› fix the build", "• Ran make", "  └ ok", "• Ran git status"},
		{"› fix the build", "• Ran make", "  └ ok", "• Ran git status"},
	}
	p.Write([]byte(enterAlt), t0)
	for i, f := range frames {
		p.Write([]byte(altFrame(f...)), t0.Add(time.Duration(i+1)*300*time.Millisecond))
	}
	p.Write([]byte(leaveAlt), t0.Add(2*time.Second))
	p.Close()
	compareEvents(t, got, []wantEvent{
		ev(KindUserPrompt, "fix the build"),
		ev(KindCommand, "make", "program", "make"),
		ev(KindCommand, "git status", "program", "git"),
		ev(KindGitOperation, "git status", "program", "git", "subcommand", "status"),
	})
}
