package parse

import (
	"slices"
	"strings"
	"testing"
)

func ev(kind Kind, text string, kv ...string) wantEvent {
	w := wantEvent{Kind: kind, Text: text}
	if len(kv) > 0 {
		w.Fields = map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			w.Fields[kv[i]] = kv[i+1]
		}
	}
	return w
}

func recognised(rc *recogniser, l lineCtx) []wantEvent {
	l.cols = 80
	var got []wantEvent
	for _, e := range append(rc.line(l), rc.flush()...) {
		got = append(got, wantEvent{Kind: e.Kind, Text: e.Text, Fields: e.Fields})
	}
	return got
}

func TestRecognisers(t *testing.T) {
	cmd := func(text, program string, kv ...string) wantEvent {
		return ev(KindCommand, text, append([]string{"program", program}, kv...)...)
	}
	git := func(text, sub string) wantEvent {
		return ev(KindGitOperation, text, "program", "git", "subcommand", sub)
	}
	gh := func(text, sub string) wantEvent {
		return ev(KindGhOperation, text, "program", "gh", "subcommand", sub)
	}
	errLine := func(text string, kv ...string) wantEvent { return ev(KindError, text, kv...) }
	tests := []struct {
		name     string
		provider string
		line     string
		below    string
		alt      bool // the line is read from the alternate screen
		want     []wantEvent
	}{
		// Shell prompts.
		{name: "dollar prompt", line: "$ ls -la", want: []wantEvent{cmd("ls -la", "ls")}},
		{name: "bash default prompt", line: "bash-5.2$ make test", want: []wantEvent{cmd("make test", "make")}},
		{name: "virtualenv prompt", line: "(venv) $ pytest -q", want: []wantEvent{cmd("pytest -q", "pytest")}},
		{name: "user@host prompt", line: "alice@box:~/src/app$ npm test", want: []wantEvent{cmd("npm test", "npm")}},
		{name: "root user@host prompt", line: "root@box:/# apt-get update", want: []wantEvent{cmd("apt-get update", "apt-get")}},
		{name: "fedora prompt", line: "[alice@box app]$ go build ./...", want: []wantEvent{cmd("go build ./...", "go")}},
		{name: "zsh macOS prompt", line: "alice@MacBook-Pro app % git push", want: []wantEvent{cmd("git push", "git"), git("git push", "push")}},
		{name: "zsh short prompt", line: "box% cargo build", want: []wantEvent{cmd("cargo build", "cargo")}},
		{name: "oh-my-zsh prompt", line: "➜  app git:(main) ✗ git status", want: []wantEvent{cmd("git status", "git"), git("git status", "status")}},
		{name: "two-line prompt, Kali", line: "└─$ git status", want: []wantEvent{cmd("git status", "git"), git("git status", "status")}},
		{name: "two-line prompt, root", line: "└─# apt-get update", want: []wantEvent{cmd("apt-get update", "apt-get")}},
		{name: "two-line prompt, rounded", line: "╰─% make", want: []wantEvent{cmd("make", "make")}},
		{name: "first line of a two-line prompt", line: "┌──(alice㉿box)-[~/src/app]"},
		{name: "tree output is no prompt", line: "└── 100% coverage.txt"},
		{name: "root hash prompt with a known program", line: "# systemctl restart nginx", want: []wantEvent{cmd("systemctl restart nginx", "systemctl")}},
		{name: "root hash prompt with a path", line: "# ./configure --prefix=/usr", want: []wantEvent{cmd("./configure --prefix=/usr", "configure")}},
		{name: "markdown heading is no command", line: "# Installation"},
		{name: "comment is no command", line: "# install the deps first"},
		{name: "empty prompt", line: "$"},
		{name: "abandoned input", line: "$ git sta^C"},
		{name: "dollar amount is no prompt", line: "US$ 100"},
		{name: "progress percentage is no zsh prompt", line: "Downloading 50% complete"},
		{name: "xtrace is not a command", line: "+ git status"},
		{name: "indented prompt-like text is TUI output", line: "  $ npm install"},
		{name: "prompt line mentioning an error is a command only", line: "$ grep 'No such file or directory' log", want: []wantEvent{cmd("grep 'No such file or directory' log", "grep")}},

		// Classification through the command line.
		{name: "cd then git", line: "$ cd repo && git status", want: []wantEvent{cmd("cd repo && git status", "git"), git("git status", "status")}},
		{name: "sudo git", line: "$ sudo -u bob git -C /srv pull", want: []wantEvent{cmd("sudo -u bob git -C /srv pull", "git"), git("sudo -u bob git -C /srv pull", "pull")}},
		{name: "env assignments", line: "$ GIT_TRACE=1 FOO=bar git fetch", want: []wantEvent{cmd("GIT_TRACE=1 FOO=bar git fetch", "git"), git("GIT_TRACE=1 FOO=bar git fetch", "fetch")}},
		{name: "pipeline is one git op", line: "$ git log --oneline | head -5", want: []wantEvent{cmd("git log --oneline | head -5", "git"), git("git log --oneline", "log")}},
		{name: "two git commands", line: "$ git add -A; git commit -m 'a && b'", want: []wantEvent{cmd("git add -A; git commit -m 'a && b'", "git"), git("git add -A", "add"), git("git commit -m 'a && b'", "commit")}},
		{name: "git in a substitution is not run here", line: "$ echo $(git rev-parse HEAD)", want: []wantEvent{cmd("echo $(git rev-parse HEAD)", "echo")}},
		{name: "gh pr create", line: "$ gh pr create --fill", want: []wantEvent{cmd("gh pr create --fill", "gh"), gh("gh pr create --fill", "pr create")}},
		{name: "gh api", line: "$ gh api repos/o/r/pulls", want: []wantEvent{cmd("gh api repos/o/r/pulls", "gh"), gh("gh api repos/o/r/pulls", "api")}},

		// Errors.
		{name: "command not found", line: "bash: gti: command not found", want: []wantEvent{errLine("bash: gti: command not found")}},
		{name: "zsh command not found", line: "zsh: command not found: gti", want: []wantEvent{errLine("zsh: command not found: gti")}},
		{name: "no such file", line: "cat: x: No such file or directory", want: []wantEvent{errLine("cat: x: No such file or directory")}},
		{name: "permission denied", line: "bash: ./run.sh: Permission denied", want: []wantEvent{errLine("bash: ./run.sh: Permission denied")}},
		{name: "git fatal", line: "fatal: not a git repository (or any of the parent directories): .git", want: []wantEvent{errLine("fatal: not a git repository (or any of the parent directories): .git")}},
		{name: "lowercase error", line: "error: failed to push some refs", want: []wantEvent{errLine("error: failed to push some refs")}},
		{name: "capitalised Error", line: "Error: Cannot find module 'x'", want: []wantEvent{errLine("Error: Cannot find module 'x'")}},
		{name: "upper case ERROR", line: "ERROR: test_x failed", want: []wantEvent{errLine("ERROR: test_x failed")}},
		{name: "ERROR alone", line: "ERROR", want: []wantEvent{errLine("ERROR")}},
		{name: "ERRORS is a word", line: "ERRORS: none"},
		{name: "error inside a sentence", line: "no error: all good"},
		{name: "python traceback", line: "Traceback (most recent call last):", want: []wantEvent{errLine("Traceback (most recent call last):")}},
		{name: "error in indented TUI output", line: "     fatal: no upstream", want: []wantEvent{errLine("fatal: no upstream")}},
		{name: "error after a Codex connector", line: "  └ error: could not compile", want: []wantEvent{errLine("└ error: could not compile")}},

		// Claude Code.
		{name: "claude Bash", provider: "claude", line: "● Bash(git status)", want: []wantEvent{
			ev(KindToolUse, "Bash(git status)", "tool", "Bash"), cmd("git status", "git", "tool", "Bash"), git("git status", "status")}},
		{name: "claude Bash macOS bullet", provider: "claude", line: "⏺ Bash(npm test -- --watch=false)", want: []wantEvent{
			ev(KindToolUse, "Bash(npm test -- --watch=false)", "tool", "Bash"), cmd("npm test -- --watch=false", "npm", "tool", "Bash")}},
		{name: "claude Bash with parentheses", provider: "claude", line: "● Bash(echo $(date) (x))", want: []wantEvent{
			ev(KindToolUse, "Bash(echo $(date) (x))", "tool", "Bash"), cmd("echo $(date) (x)", "echo", "tool", "Bash")}},
		{name: "claude Bash truncated", provider: "claude", line: "● Bash(gh pr create --title \"Add parser\" --body …", want: []wantEvent{
			ev(KindToolUse, "Bash(gh pr create --title \"Add parser\" --body …", "tool", "Bash"),
			cmd("gh pr create --title \"Add parser\" --body", "gh", "tool", "Bash", "truncated", "true"),
			gh("gh pr create --title \"Add parser\" --body", "pr create")}},
		{name: "claude Read", provider: "claude", line: "● Read(internal/parse/vt.go)", want: []wantEvent{
			ev(KindToolUse, "Read(internal/parse/vt.go)", "tool", "Read"), ev(KindFileTouched, "internal/parse/vt.go", "tool", "Read")}},
		{name: "claude Write", provider: "claude", line: "⏺ Write(plan.md)", want: []wantEvent{
			ev(KindToolUse, "Write(plan.md)", "tool", "Write"), ev(KindFileTouched, "plan.md", "tool", "Write")}},
		{name: "claude Update", provider: "claude", line: "● Update(src/x.py)", want: []wantEvent{
			ev(KindToolUse, "Update(src/x.py)", "tool", "Update"), ev(KindFileTouched, "src/x.py", "tool", "Update")}},
		{name: "claude Edit", provider: "claude", line: "● Edit(a.go)", want: []wantEvent{
			ev(KindToolUse, "Edit(a.go)", "tool", "Edit"), ev(KindFileTouched, "a.go", "tool", "Edit")}},
		{name: "claude other tool", provider: "claude", line: "● Web Search(\"go vt parser\")", want: []wantEvent{
			ev(KindToolUse, "Web Search(\"go vt parser\")", "tool", "Web Search")}},
		{name: "claude subagent with suffix", provider: "claude", line: "● Plan(Draft beads…) Haiku 4.5", want: []wantEvent{
			ev(KindToolUse, "Plan(Draft beads…) Haiku 4.5", "tool", "Plan")}},
		{name: "claude MCP tool", provider: "claude", line: "● mcp__github__create_issue(title: \"x\")", want: []wantEvent{
			ev(KindToolUse, "mcp__github__create_issue(title: \"x\")", "tool", "mcp__github__create_issue")}},
		{name: "claude assistant text is no tool", provider: "claude", line: "● I'll check the status (quickly)."},
		{name: "claude assistant sentence with parentheses", provider: "claude", line: "● Let me look(at it)"},
		{name: "claude tool error with exit code", provider: "claude", line: "  ⎿  Error: Exit code 128", want: []wantEvent{errLine("⎿  Error: Exit code 128", "exit_code", "128")}},
		{name: "claude tool error without code", provider: "claude", line: "  ⎿  Error: File has not been read yet", want: []wantEvent{errLine("⎿  Error: File has not been read yet")}},
		{name: "claude running placeholder", provider: "claude", line: "  ⎿  Running…"},
		{name: "claude prompt", provider: "claude", line: "❯ What is 2+2? Just give me the number.", want: []wantEvent{ev(KindUserPrompt, "What is 2+2? Just give me the number.")}},
		{name: "claude 2025 prompt", provider: "claude", line: "> fix the failing test", want: []wantEvent{ev(KindUserPrompt, "fix the failing test")}},
		{name: "claude input box is no prompt", provider: "claude", line: "❯ half typed", below: "────────────────", want: nil},
		{name: "claude empty input box", provider: "claude", line: "❯"},
		{name: "claude menu choice", provider: "claude", line: "❯ 1. Yes"},
		{name: "claude shell mode", provider: "claude", line: "! ls -la", want: []wantEvent{cmd("ls -la", "ls")}},
		{name: "claude shell mode input box", provider: "claude", line: "! ls -la", below: "──────────"},
		{name: "claude rules do not apply to other providers", provider: "codex", line: "● Bash(git status)"},

		// Codex CLI.
		{name: "codex Ran", provider: "codex", line: "• Ran git status", want: []wantEvent{cmd("git status", "git"), git("git status", "status")}},
		{name: "codex You ran", provider: "codex", line: "• You ran ls", want: []wantEvent{cmd("ls", "ls")}},
		{name: "codex Exited", provider: "codex", line: "• Exited (status 2) ls /nope", want: []wantEvent{
			errLine("• Exited (status 2) ls /nope", "exit_code", "2"), cmd("ls /nope", "ls", "exit_code", "2")}},
		{name: "codex Exited, cut short", provider: "codex", line: "• Exited (status 1) make test-all-the-things …", want: []wantEvent{
			errLine("• Exited (status 1) make test-all-the-things …", "exit_code", "1"), cmd("make test-all-the-things", "make", "exit_code", "1", "truncated", "true")}},
		{name: "codex Added", provider: "codex", line: "• Added notes.txt (+2 -0)", want: []wantEvent{ev(KindFileTouched, "notes.txt", "tool", "apply_patch")}},
		{name: "codex prompt", provider: "codex", line: "› fix the build", want: []wantEvent{ev(KindUserPrompt, "fix the build")}},
		{name: "codex composer is no prompt", provider: "codex", line: "› Ask Codex to do anything", below: "  gpt-5.5 default · ~/src/app"},
		{name: "codex composer above the shortcuts hint is no prompt", provider: "codex", line: "› half typed", below: "  ? for shortcuts"},
		{name: "codex slash command is no prompt", provider: "codex", line: "› /quit"},
		{name: "claude slash command is no prompt", provider: "claude", line: "❯ /exit"},
		{name: "claude summary counts shell commands", provider: "claude", line: "  Listed 1 directory, ran 2 shell commands · 1 failed", want: []wantEvent{
			ev(KindCommand, "Listed 1 directory, ran 2 shell commands · 1 failed", "summary", "true"),
			ev(KindCommand, "Listed 1 directory, ran 2 shell commands · 1 failed", "summary", "true"),
			ev(KindError, "Listed 1 directory, ran 2 shell commands · 1 failed", "summary", "true")}},
		{name: "claude summary of a PR", provider: "claude", line: "  Created PR #7, read 1 file, ran 1 shell command", want: []wantEvent{
			ev(KindCommand, "Created PR #7, read 1 file, ran 1 shell command", "summary", "true"),
			ev(KindCommand, "Created PR #7, read 1 file, ran 1 shell command", "summary", "true"),
			ev(KindGhOperation, "Created PR #7, read 1 file, ran 1 shell command", "summary", "true", "program", "gh", "subcommand", "pr create")}},
		{name: "claude summary of a commit", provider: "claude", line: "  Committed 1a2b3c4, ran 3 shell commands", want: []wantEvent{
			ev(KindCommand, "Committed 1a2b3c4, ran 3 shell commands", "summary", "true"),
			ev(KindCommand, "Committed 1a2b3c4, ran 3 shell commands", "summary", "true"),
			ev(KindCommand, "Committed 1a2b3c4, ran 3 shell commands", "summary", "true"),
			ev(KindCommand, "Committed 1a2b3c4, ran 3 shell commands", "summary", "true"),
			ev(KindGitOperation, "Committed 1a2b3c4, ran 3 shell commands", "summary", "true", "program", "git", "subcommand", "commit")}},
		{name: "claude classic collapsed reads count no command", provider: "claude", line: "  Read 1 file (ctrl+o to expand)"},
		{name: "claude summary of a failed listing", provider: "claude", line: "  Listed 1 directory · 1 failed (ctrl+o to expand)", want: []wantEvent{
			ev(KindError, "Listed 1 directory · 1 failed (ctrl+o to expand)", "summary", "true")}},
		{name: "claude prose is no summary", provider: "claude", line: "  Ran 2 shell commands and then I fixed the bug."},
		{name: "gemini card in the alternate buffer, with a scrollbar", provider: "gemini", line: "│ ✓  Shell git log --oneline -3                         │    █", want: []wantEvent{
			ev(KindToolUse, "Shell git log --oneline -3", "tool", "Shell"), cmd("git log --oneline -3", "git", "tool", "Shell"), git("git log --oneline -3", "log")}},
		{name: "codex failed listing", provider: "codex", line: "  └ List nonexistent-dir (exit 2)", want: []wantEvent{errLine("└ List nonexistent-dir (exit 2)", "exit_code", "2")}},
		{name: "codex Edited", provider: "codex", line: "• Edited src/main.rs (+4 -0)", want: []wantEvent{ev(KindFileTouched, "src/main.rs", "tool", "apply_patch")}},
		{name: "codex agent text", provider: "codex", line: "• I ran the tests and they pass."},

		// Gemini CLI.
		{name: "gemini Shell card", provider: "gemini", line: "│ ✓  Shell git status [current working directory /repo] (Show status.) │", want: []wantEvent{
			ev(KindToolUse, "Shell git status [current working directory /repo] (Show status.)", "tool", "Shell"),
			cmd("git status", "git", "tool", "Shell"), git("git status", "status")}},
		{name: "gemini Shell unboxed", provider: "gemini", line: "✓  Shell npm test", want: []wantEvent{
			ev(KindToolUse, "Shell npm test", "tool", "Shell"), cmd("npm test", "npm", "tool", "Shell")}},
		{name: "gemini WriteFile", provider: "gemini", line: "│ ✓  WriteFile  notes.txt → Accepted (+4, -0) │", want: []wantEvent{
			ev(KindToolUse, "WriteFile notes.txt → Accepted (+4, -0)", "tool", "WriteFile"), ev(KindFileTouched, "notes.txt", "tool", "WriteFile")}},
		{name: "gemini ReadFile", provider: "gemini", line: "✓  ReadFile  src/a.ts", want: []wantEvent{
			ev(KindToolUse, "ReadFile src/a.ts", "tool", "ReadFile"), ev(KindFileTouched, "src/a.ts", "tool", "ReadFile")}},
		{name: "gemini other tool", provider: "gemini", line: "✓  SearchText 'foo' → No matches found", want: []wantEvent{
			ev(KindToolUse, "SearchText 'foo' → No matches found", "tool", "SearchText")}},
		{name: "gemini prompt", provider: "gemini", line: " > fix the build", want: []wantEvent{ev(KindUserPrompt, "fix the build")}},
		{name: "gemini slash command is no prompt", provider: "gemini", line: "> /quit"},
		{name: "gemini composer is no prompt", provider: "gemini", line: "│ > Type your message"},

		// The alternate screen: a full-screen program's view, not the shell.
		{name: "prompt-like line in a pager is no command", alt: true, line: "$ git push origin main"},
		{name: "error-like line in a man page is no error", alt: true, line: "       EACCES Permission denied."},
		{name: "codex alternate screen command", provider: "codex", alt: true, line: "• Ran git status", want: []wantEvent{cmd("git status", "git"), git("git status", "status")}},
		{name: "claude fullscreen tool error", provider: "claude", alt: true, line: "  ⎿  Error: Exit code 1", want: []wantEvent{errLine("⎿  Error: Exit code 1", "exit_code", "1")}},
		{name: "prompt-like line in a CLI's alternate screen is no command", provider: "gemini", alt: true, line: "$ make install"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := recognised(newRecogniser(tt.provider), lineCtx{text: tt.line, below: tt.below, alt: tt.alt})
			compareEvents(t, got, tt.want)
		})
	}
}

// TestCodexRunningThenRan checks that a command shown while running and
// again when done is one command.
func TestCodexRunningThenRan(t *testing.T) {
	rc := newRecogniser("codex")
	var got []wantEvent
	for _, line := range []string{
		"• Running cargo test", "• Ran cargo test", // one command
		"• Ran cargo test",                                   // run again: a second one
		"• Running ls /nope", "• Exited (status 2) ls /nope", // one command, one error
	} {
		got = append(got, recognised(rc, lineCtx{text: line})...)
	}
	compareEvents(t, got, []wantEvent{
		ev(KindCommand, "cargo test", "program", "cargo"),
		ev(KindCommand, "cargo test", "program", "cargo"),
		ev(KindCommand, "ls /nope", "program", "ls"),
		ev(KindError, "• Exited (status 2) ls /nope", "exit_code", "2"),
	})
}

// TestShellMarks: marks in any order give a command only at a marked
// prompt and an error only for a non-zero status of a command that ran.
func TestShellMarks(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  []string // "kind text"
	}{
		{"command that fails", "\x1b]133;A\a> \x1b]133;B\als /x\r\nerr\r\n\x1b]133;C\a\x1b]133;D;2\a",
			[]string{"command ls /x", "error exit status 2: ls /x"}},
		{"empty input at a marked prompt", "\x1b]133;B\aλ \x1b]133;B\a\r\n", nil},
		{"status without a run", "\x1b]133;D;1\a\x1b]133;B\a\x1b]133;D;1\a", nil},
		{"status that is no number", "% \x1b]133;B\atrue\r\n\x1b]133;C\a\x1b]133;D;oops\a", []string{"command true"}},
		// Typed ahead before zsh was ready: the tty echoed it, and zsh's
		// PROMPT_SP filled the line to get to a new one.
		{"a prompt after a filled line", "echo hi#" + strings.Repeat(" ", 79) + "\r \r\x1b]133;D;0\a\r\x1b[J\x1b]133;A\avm# \x1b]133;B\aecho hi\r\r\n\x1b]133;C\ahi\r\n\x1b]133;D;0\a",
			[]string{"command echo hi"}},
		// zsh and fish send the command line with C: exact where the
		// screen has a right-hand prompt on the row, or several lines.
		{"the shell's command line over the screen's", "% \x1b]133;B\als /x                [0] ~/src\r\n\x1b]133;C;cmdline_url=ls%20/x\a\x1b]133;D;2\a",
			[]string{"command ls /x", "error exit status 2: ls /x"}},
		{"a command of several lines", "% \x1b]133;B\afor i in 1 2; do\r\nfor> echo $i\r\nfor> done\r\n\x1b]133;C;cmdline_url=for%20i%20in%201%202%3B%20do%0Aecho%20%24i%0Adone\a1\r\n2\r\n\x1b]133;D;0\a",
			[]string{"command for i in 1 2; do\necho $i\ndone"}},
		{"a command line that does not decode", "% \x1b]133;B\aecho 100%\r\n\x1b]133;C;cmdline_url=echo%20100%\a\x1b]133;D;0\a",
			[]string{"command echo 100%"}},
		{"an empty command line: the screen's", "% \x1b]133;B\aecho hi\r\n\x1b]133;C;cmdline_url=\ahi\r\n\x1b]133;D;0\a",
			[]string{"command echo hi"}},
		// zsh leaves the line as typed, no ^C, and prompts again.
		{"Ctrl-C at the prompt: never run", "% \x1b]133;B\als /x\r\n\x1b]133;D;130\a\x1b]133;A\a% \x1b]133;B\a", nil},
		{"error text at a marked shell", "$ \x1b]133;B\acat log\r\nfatal: not an error here\r\n\x1b]133;C\a\x1b]133;D;0\a",
			[]string{"command cat log"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			p := New(Options{OnEvent: func(ev Event) {
				if ev.Kind == KindCommand || ev.Kind == KindError {
					got = append(got, string(ev.Kind)+" "+ev.Text)
				}
			}})
			p.Write([]byte(tc.input), t0)
			p.Close()
			if !slices.Equal(got, tc.want) {
				t.Errorf("events %q, want %q", got, tc.want)
			}
		})
	}
}
