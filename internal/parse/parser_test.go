package parse

import (
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestMetrics(t *testing.T) {
	var log eventLog
	p := New(log.options("claude"))
	input := "❯ run the tests\r\n\r\n" +
		"● Bash(cd app && git pull && gh pr view 7)\r\n" +
		"  ⎿  Error: Exit code 1\r\n" +
		"● Read(app/main.go)\r\n" +
		"● Update(app/main.go)\r\n" +
		"$ ls /nope" // no line feed: committed at Close
	p.Write([]byte(input), t0)
	p.Close()

	counts := map[Kind]int{}
	for _, ev := range log.events {
		counts[ev.Kind]++
	}
	want := Metrics{
		CommandsExecuted: 2, GitOperations: 1, GhOperations: 1, ToolUses: 3,
		UserPrompts: 1, ErrorsEncountered: 1, FilesTouched: 2,
		OutputBytes: int64(len(input)), OutputLines: 7,
	}
	got := p.Metrics()
	if got != want {
		t.Errorf("Metrics() = %+v\nwant %+v", got, want)
	}
	fromEvents := Metrics{
		CommandsExecuted: counts[KindCommand], GitOperations: counts[KindGitOperation], GhOperations: counts[KindGhOperation],
		ToolUses: counts[KindToolUse], UserPrompts: counts[KindUserPrompt], ErrorsEncountered: counts[KindError],
		FilesTouched: counts[KindFileTouched], OutputBytes: got.OutputBytes, OutputLines: got.OutputLines,
	}
	if got != fromEvents {
		t.Errorf("Metrics() = %+v, but the events count %+v", got, fromEvents)
	}

	m := got.Map()
	wantKeys := []string{"commands_executed", "errors_encountered", "files_touched", "gh_operations",
		"git_operations", "output_bytes", "output_lines", "tool_uses", "user_prompts"}
	if keys := slices.Sorted(maps.Keys(m)); !slices.Equal(keys, wantKeys) {
		t.Errorf("Map keys = %v, want %v", keys, wantKeys)
	}
	if m["tool_uses"] != 3 || m["output_bytes"] != float64(len(input)) || m["files_touched"] != 2 {
		t.Errorf("Map() = %v", m)
	}
}

func TestEventOffsets(t *testing.T) {
	tests := []struct {
		name  string
		start time.Time
		want  []time.Duration
	}{
		{"from Options.Start", t0.Add(-time.Minute), []time.Duration{time.Minute + time.Second, time.Minute + 3*time.Second}},
		{"from the first write without Start", time.Time{}, []time.Duration{time.Second, 3 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var offsets []time.Duration
			p := New(Options{Start: tt.start, OnEvent: func(ev Event) { offsets = append(offsets, ev.Offset) }})
			p.Write([]byte("$ "), t0)
			p.Write([]byte("ls\r\n"), t0.Add(time.Second))
			p.Write([]byte("$ pwd\r\n"), t0.Add(3*time.Second))
			p.Close()
			if !slices.Equal(offsets, tt.want) {
				t.Errorf("offsets %v, want %v", offsets, tt.want)
			}
		})
	}
}

// TestClaudeSessionThroughRedraws scripts a Claude Code screen the way its
// Ink renderer draws it (claudeless v2.1.29 captures, ai-cli-output.md §5):
// a live region redrawn every frame below static history, words placed with
// cursor moves, a spinner, a placeholder replaced by the result. Each event
// must come out once, however many frames repeat it.
func TestClaudeSessionThroughRedraws(t *testing.T) {
	rule := strings.Repeat("─", 80)
	var frames []string
	prev := 0
	// frame erases the previous live region and draws history lines
	// (committed for good) followed by the live region.
	frame := func(history []string, live ...string) {
		var b strings.Builder
		for i := 0; i < prev; i++ {
			b.WriteString("\x1b[2K")
			if i < prev-1 {
				b.WriteString("\x1b[1A")
			}
		}
		b.WriteString("\x1b[G")
		lines := append(append([]string(nil), history...), live...)
		b.WriteString(strings.Join(lines, "\r\n"))
		prev = len(live)
		frames = append(frames, b.String())
	}
	// Claude separates words with cursor moves: "● Bash(git push)" as
	// "●" CSI 2G "Bash(git" CSI 1C "push)".
	bashHeader := "●\x1b[3GBash(git\x1b[1Cpush)"
	frame(nil, "", rule, "❯ ", rule, "  ? for shortcuts")
	frame(nil, "", rule, "❯ push my branch", rule, "  ? for shortcuts") // typing
	frame([]string{"", "❯ push my branch", ""}, "✶ Thinking…", rule, "❯ ", rule)
	for i := 0; i < 20; i++ {
		frame(nil, "✳ Thinking… ("+string(rune('0'+i%10))+"s)", rule, "❯ ", rule)
	}
	frame([]string{bashHeader}, "  ⎿  Running…", "", "✶ Running…", rule, "❯ ", rule)
	for i := 0; i < 20; i++ {
		frame(nil, "  ⎿  Running…", "", "✢ Running… ("+string(rune('0'+i%10))+"s)", rule, "❯ ", rule)
	}
	frame([]string{"  ⎿  Error: Exit code 128", "     fatal: The current branch has no upstream branch.", ""},
		"● The push failed: the branch has no upstream.", "", rule, "❯ ", rule, "  ? for shortcuts")

	var log eventLog
	opts := log.options("claude")
	opts.Start = t0
	p := New(opts)
	for i, f := range frames {
		p.Write([]byte(f), t0.Add(time.Duration(i)*50*time.Millisecond))
	}
	p.Close()

	compareEvents(t, log.events, []wantEvent{
		ev(KindUserPrompt, "push my branch"),
		ev(KindToolUse, "Bash(git push)", "tool", "Bash"),
		ev(KindCommand, "git push", "tool", "Bash", "program", "git"),
		ev(KindGitOperation, "git push", "program", "git", "subcommand", "push"),
		// One failure, one error: the git message under the failed call is
		// part of the same block.
		ev(KindError, "⎿  Error: Exit code 128", "exit_code", "128"),
	})
	clean := log.clean.String()
	for _, line := range []string{"● Bash(git push)", "❯ push my branch", "⎿  Error: Exit code 128"} {
		if n := strings.Count(clean, line); n != 1 {
			t.Errorf("%q appears %d times in the transcript, want once:\n%s", line, n, clean)
		}
	}
	t.Logf("transcript:\n%s", clean)
	if n := strings.Count(clean, "Thinking"); n > 3 {
		t.Errorf("spinner committed %d times for 21 frames:\n%s", n, clean)
	}
}

func TestConcurrentUse(t *testing.T) {
	p := New(Options{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := 0; i < 200; i++ {
			p.Write([]byte("$ git status\r\nok\r\n"), t0.Add(time.Duration(i)*time.Millisecond))
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < 200; i++ {
			_ = p.Metrics()
			p.Resize(80+i%5, 24)
		}
	}()
	wg.Wait()
	p.Close()
	if m := p.Metrics(); m.CommandsExecuted != 200 || m.GitOperations != 200 {
		t.Errorf("Metrics() = %+v, want 200 commands and git operations", m)
	}
}

func TestWriteAfterClose(t *testing.T) {
	var log eventLog
	p := New(log.options(""))
	p.Write([]byte("$ ls\r\n"), t0)
	p.Close()
	p.Close()
	p.Write([]byte("$ pwd\r\n"), t0)
	p.Resize(10, 10)
	if m := p.Metrics(); m.CommandsExecuted != 1 || m.OutputBytes != 13 {
		t.Errorf("Metrics() = %+v, want 1 command and 13 bytes counted", m)
	}
	if got := log.clean.String(); got != "$ ls\n" {
		t.Errorf("clean = %q", got)
	}
}

// Output from a pipe has bare line feeds; in newline mode each one still
// starts a line, so prompt lines are recognised.
func TestNewlineMode(t *testing.T) {
	for _, nl := range []bool{false, true} {
		p := New(Options{NewlineMode: nl})
		p.Write([]byte("$ git status\nclean\n$ ls\n"), time.Now())
		p.Close()
		got := p.Metrics().CommandsExecuted
		if nl && got != 2 {
			t.Errorf("newline mode: %d commands, want 2", got)
		}
		if !nl && got == 2 {
			t.Errorf("without newline mode a bare LF kept the column, yet %d commands were seen", got)
		}
	}
}
