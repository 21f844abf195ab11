// Package clitest is a test-only harness for driving the real AI coding CLIs
// (Claude Code, Codex CLI, Gemini CLI) interactively and offline.
//
// It has four parts:
//   - FakeModel: a scripted model API on 127.0.0.1 speaking the Anthropic
//     Messages, OpenAI Responses and Gemini streaming APIs. A Script fixes
//     the model's every move (Shell, WriteFile, Say); the server finds its
//     place from each request's history, so it keeps no conversation state.
//   - ClaudeCodeCommand, CodexCommand, GeminiCommand: a Command with an
//     isolated HOME in which every first-run dialog is pre-answered.
//   - Tmux: a program in a detached tmux session of a fixed size on a
//     private server, with typing, screen capture and polling waits.
//   - RequireCLI and Installed: the CLIs that scripts/install-ai-clis.sh
//     puts into the repository's .cache/npm; tests skip without them.
//
// Tests take their ground truth from the fake model's records (the tool
// results that came back, with exit codes), never from what they expect a
// CLI to print.
//
// It is not used by production code, and it is not a model simulator.
package clitest
