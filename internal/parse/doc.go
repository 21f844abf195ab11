// Package parse turns the raw terminal output of a recorded session into
// what the user saw: a clean plain-text transcript, typed events (commands,
// tool uses, git and gh operations, prompts, errors, files touched) and live
// metrics. aitrackd feeds it each session's PTY output chunk by chunk, as
// it arrives; chunks may split anywhere.
//
// It is not a terminal emulator for display (no colours) and not a reader
// of the CLIs' own session logs, which hold exact commands and exit codes;
// it is the provider-agnostic fallback that works from the screen alone.
//
// # Pipeline
//
// A VT tokenizer (Paul Williams' DEC parser state machine over UTF-8,
// bounded) drives a screen model: the main screen's rows and cursor,
// autowrap (soft-wrapped rows are joined back into one line), scroll
// regions, and the cursor, erase and insert/delete sequences TUIs use.
// Lines leave the screen ("are committed") in the order they become final;
// each committed line goes to the clean transcript and to the recognisers.
//
// # The alternate screen
//
// Full-screen programs (Claude Code's fullscreen renderer, Codex's default
// one, Gemini CLI's alternate buffer, pagers) redraw the alternate screen
// rather than append to it, so it is read from snapshots (altscreen.go):
// at most every 100 ms of stream time, once the program has paused 40 ms
// (a whole frame is drawn), and before a full clear or leaving it. A line
// is committed once two snapshots in a row show it (a spinner never stays,
// its final state does), when it leaves before that with nothing in its
// place (a fast turn scrolled it away), or when the screen goes away.
// Lines are followed between snapshots by a longest common subsequence of
// their texts (padding squashed, a right border and a scrollbar thumb in
// the last column ignored), so a scrolled view commits only what is new; a
// committed line that left and comes back within two minutes (an overlay,
// a re-layout after a resize) is not committed again, while lines repeated
// on one frame are. When the program leaves the alternate screen and
// prints its transcript again on the main screen (Gemini CLI), those lines
// are recognised as already committed for displacedTTL; in a generic
// session what follows is new output (`cat` of the file just edited in
// vim). What the snapshots see depends on the stream's timing: a line
// drawn and scrolled away within one frame is never seen.
//
// # When a line is committed (the redraw heuristic)
//
// TUIs redraw: Ink (Claude Code) erases and rewrites its live region every
// frame, differential renderers move the cursor up and patch cells, some
// clear the screen and print it again. Committing every version of every
// line would repeat the transcript many times; committing only lines that
// scroll off the top would delay every event by a screenful. So:
//
//   - A line written for the first time and ended by a line feed is
//     committed at once. Plain shell output is always of this kind, so a
//     shell session's events are live and its repeated output (the same
//     command run twice) is committed each time.
//   - A line changed after it was committed is committed again only once
//     it has stopped changing for settleDelay (2 s of stream time, checked
//     at each Write), or when it scrolls off the top, or at Close; the same
//     holds for lines the cursor left without a line feed, except the
//     cursor's own line (a command being typed). A spinner is thus
//     committed in its final state, not once per frame. Such a line can
//     reach the transcript after lines written below it later.
//   - When a committed line is rewritten, its old text is kept as
//     "displaced" for displacedTTL (5 s after the displacement or the
//     line's latest erase: a TUI erasing a line every frame keeps it
//     fresh). A line about to be committed whose text equals a displaced
//     text claims it and is not committed: it is the same content redrawn,
//     possibly shifted to another row. Each displaced text absorbs one line,
//     so genuinely repeated output is counted per occurrence.
//   - A full clear (ED 2, RIS) is a redraw for the AI CLIs (Options.Provider
//     claude, codex or gemini): what was on screen becomes displaced. In a generic session it
//     starts a new page, as `clear` does in a shell: rewritten lines on the
//     old page are committed, and everything printed afterwards is new,
//     even if identical to what was there.
//
// Known limits of the heuristic: with a provider set, a screen cleared and
// refilled with lines identical to the ones it showed, within
// displacedTTL, commits them once; a renderer that re-prints more history
// than fits on the screen after a clear (Ink's full-height path) commits
// that history again. Whether a displaced text is still live is judged
// when the redrawn line settled, so a redraw followed by a long pause (a
// resize, then the model thinking) is still a redraw.
//
// # Recognisers
//
// Recognisers are small tables of line shapes (recognise.go, prompt.go): the
// provider's own table first ("claude", "codex", "gemini"), then the
// generic one (shell prompts, error messages). A line yields at most one
// event of each kind, so each error line counts once. A shell prompts on
// the main screen, so lines from the alternate screen are never shell
// commands; outside the AI CLIs' sessions they yield no event at all: a
// full-screen program there (less, vim, man) shows content that only looks
// like prompts and errors. (A shell inside tmux or vim's :terminal is
// therefore transcript only.) Every command is classified (shellcmd.go):
// looking through `cd dir &&`, sudo/env wrappers, variable assignments and
// pipelines, each simple command running git or gh is also a git_operation
// or gh_operation with its subcommand.
// Bash xtrace lines ("+ cmd") are not commands: they trace what a script
// runs.
//
// A shell that marks its prompts (OSC 133, as aitrack-wrap makes an
// interactive bash do) is read by its marks instead: the text before the
// cursor at the input-start mark (B) is a prompt, and a line starting with
// one of the latest such prompts is a command; the finished mark (D;status)
// after a command ran (C) gives its exit status, and a non-zero one is the
// command's error. Error text is then not guessed at, and prompt shapes are
// not needed: any prompt works. (Output that begins with the very text of
// the prompt would still read as a command.)
//
// Per CLI: a slash command typed at a CLI's prompt ("/exit") is no user
// prompt. In the TUIs each block (a tool call or prompt and the lines
// under it) counts at most one error, so a failed call and the message in
// its output are one failure. Codex's wrapped command headers are joined
// from their "│" continuation lines (a multi-line command keeps its first
// line, as the other renderers show it). Claude Code's summary lines
// ("Listed 1 directory, ran 2 shell commands · 1 failed", "Created PR #7")
// count the commands, gh/git operations and failures they state, as events
// marked "summary" whose text is the summary line: the screen does not
// show those commands' text, and none is invented.
package parse
