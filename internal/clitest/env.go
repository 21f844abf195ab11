package clitest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// Command is a CLI invocation prepared for a test: run Args in Dir with
// exactly Env.
type Command struct {
	Args []string
	Env  []string
	Dir  string
	// Home is the isolated HOME holding the CLI's settings, and afterwards
	// its session logs.
	Home string
	// Ready appears on the screen once the CLI takes typed prompts.
	Ready *regexp.Regexp
}

// Fake credentials. Each CLI only sends its key to the fake model; Claude
// Code stores the approval of a custom key as the key's last 20 characters.
const (
	fakeAnthropicKey = "sk-ant-api03-aitrack-clitest-0123456789abcdefghij"
	fakeOpenAIKey    = "sk-aitrack-clitest-openai"
	fakeGeminiKey    = "aitrack-clitest-gemini"
	codexKeyVar      = "AITRACK_FAKE_OPENAI_KEY"
)

// baseEnv is the environment every CLI gets, with a fresh HOME and TMPDIR:
// nothing from the test process but PATH and the user's name, so real
// credentials, CLAUDECODE or TMUX in the developer's shell cannot leak in.
// TMPDIR is a sibling of HOME, not its parent: Codex refuses to create its
// helper aliases under the temporary directory and prints a warning into the
// terminal.
func baseEnv(t testing.TB) (env []string, home string) {
	t.Helper()
	home = t.TempDir()
	env = []string{
		"HOME=" + home,
		"TMPDIR=" + t.TempDir(),
		"PATH=" + os.Getenv("PATH"),
		"LANG=C.UTF-8",
		"SHELL=/bin/bash",
	}
	for _, k := range []string{"USER", "LOGNAME"} {
		if v := os.Getenv(k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	return env, home
}

// trustKey is how the CLIs key a trusted directory: its real path.
func trustKey(t testing.TB, dir string) string {
	t.Helper()
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatalf("clitest: resolve working directory: %v", err)
	}
	abs, err := filepath.Abs(real)
	if err != nil {
		t.Fatalf("clitest: resolve working directory: %v", err)
	}
	return abs
}

// writeFile writes a settings file, creating its directory.
func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatalf("clitest: %v", err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatalf("clitest: %v", err)
	}
}

func writeJSONFile(t testing.TB, path string, v any) {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatalf("clitest: encode %s: %v", path, err)
	}
	writeFile(t, path, b)
}

// ClaudeOptions tunes a Claude Code session.
type ClaudeOptions struct {
	// Fullscreen picks the fullscreen renderer (settings tui "fullscreen":
	// alternate screen, mouse tracking, collapsed tool summaries) instead of
	// the classic one (tui "default") that draws on the main screen.
	Fullscreen bool
}

// ClaudeCodeCommand prepares Claude Code to run in dir against model, with every
// first-run dialog pre-answered and permissions bypassed. It skips the test
// when Claude Code is not installed.
func ClaudeCodeCommand(t testing.TB, model *FakeModel, dir string, opts ClaudeOptions) Command {
	t.Helper()
	bin := RequireCLI(t, Claude)
	env, home := baseEnv(t)
	writeJSONFile(t, filepath.Join(home, ".claude.json"), map[string]any{
		"hasCompletedOnboarding": true,
		"theme":                  "dark",
		"customApiKeyResponses": map[string]any{
			"approved": []string{fakeAnthropicKey[len(fakeAnthropicKey)-20:]},
			"rejected": []string{},
		},
		"projects": map[string]any{
			trustKey(t, dir): map[string]any{"hasTrustDialogAccepted": true},
		},
	})
	tui := "default"
	if opts.Fullscreen {
		tui = "fullscreen"
	}
	writeJSONFile(t, filepath.Join(home, ".claude", "settings.json"), map[string]any{
		"skipDangerousModePermissionPrompt": true,
		"tui":                               tui,
	})
	env = append(env,
		"ANTHROPIC_BASE_URL="+model.URL,
		"ANTHROPIC_API_KEY="+fakeAnthropicKey,
		// Claude Code refuses to bypass permissions as root outside a sandbox.
		"IS_SANDBOX=1",
		"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1",
		"DISABLE_AUTOUPDATER=1",
	)
	return Command{
		Args: []string{bin, "--dangerously-skip-permissions"}, Env: env, Dir: dir, Home: home,
		Ready: regexp.MustCompile(`bypass permissions on`),
	}
}

// CodexOptions tunes a Codex session.
type CodexOptions struct {
	// NoAltScreen passes --no-alt-screen: the inline renderer, which leaves
	// the history in the terminal's scrollback, instead of the default
	// alternate screen.
	NoAltScreen bool
}

// codexModel is a slug of Codex's bundled catalog with the classic
// exec_command and apply_patch tools; codexModelUpgrade is the migration
// Codex would offer for it, pre-acknowledged in the config.
const (
	codexModel        = "gpt-5.5"
	codexModelUpgrade = "gpt-6-sol"
)

// CodexCommand prepares the Codex CLI to run in dir against model, with a custom
// provider, no approvals, no sandbox and no first-run prompts. It skips the
// test when Codex is not installed.
func CodexCommand(t testing.TB, model *FakeModel, dir string, opts CodexOptions) Command {
	t.Helper()
	bin := RequireCLI(t, Codex)
	env, home := baseEnv(t)
	q := strconv.Quote
	config := strings.Join([]string{
		`model = ` + q(codexModel),
		`model_provider = "fake"`,
		`approval_policy = "never"`,
		`sandbox_mode = "danger-full-access"`,
		`check_for_update_on_startup = false`,
		``,
		`[model_providers.fake]`,
		`name = "aitrack fake model"`,
		`base_url = ` + q(model.URL+"/v1"),
		`env_key = ` + q(codexKeyVar),
		`wire_api = "responses"`,
		`request_max_retries = 1`,
		`stream_max_retries = 1`,
		``,
		`[notice]`,
		`hide_full_access_warning = true`,
		``,
		`[notice.model_migrations]`,
		q(codexModel) + ` = ` + q(codexModelUpgrade),
		``,
		`[analytics]`,
		`enabled = false`,
		``,
		`[projects.` + q(trustKey(t, dir)) + `]`,
		`trust_level = "trusted"`,
		``,
	}, "\n")
	codexHome := filepath.Join(home, ".codex")
	writeFile(t, filepath.Join(codexHome, "config.toml"), []byte(config))
	env = append(env, "CODEX_HOME="+codexHome, codexKeyVar+"="+fakeOpenAIKey)
	args := []string{bin}
	if opts.NoAltScreen {
		args = append(args, "--no-alt-screen")
	}
	// The prompt box (›) shows while Codex is still "Waiting for startup";
	// the permissions line of the header comes once the session is up.
	return Command{Args: args, Env: env, Dir: dir, Home: home, Ready: regexp.MustCompile(`permissions: YOLO mode`)}
}

// GeminiOptions tunes a Gemini CLI session.
type GeminiOptions struct {
	// AlternateBuffer sets ui.useAlternateBuffer: the alternate screen,
	// after which Gemini prints the transcript again on exit. The default
	// is the inline renderer on the main screen.
	AlternateBuffer bool
}

// geminiModel is pinned because the default "Auto" model costs an extra
// routing request per prompt.
const geminiModel = "gemini-2.5-pro"

// GeminiCommand prepares the Gemini CLI to run in dir against model, with API-key
// auth, a trusted folder and --yolo. It skips the test when Gemini CLI is not
// installed.
func GeminiCommand(t testing.TB, model *FakeModel, dir string, opts GeminiOptions) Command {
	t.Helper()
	bin := RequireCLI(t, Gemini)
	env, home := baseEnv(t)
	writeJSONFile(t, filepath.Join(home, ".gemini", "settings.json"), map[string]any{
		"security":  map[string]any{"auth": map[string]any{"selectedType": "gemini-api-key"}},
		"privacy":   map[string]any{"usageStatisticsEnabled": false},
		"telemetry": map[string]any{"enabled": false},
		"model":     map[string]any{"name": geminiModel},
		"general":   map[string]any{"enableAutoUpdate": false, "enableAutoUpdateNotification": false},
		"ui":        map[string]any{"useAlternateBuffer": opts.AlternateBuffer},
	})
	writeJSONFile(t, filepath.Join(home, ".gemini", "trustedFolders.json"), map[string]string{
		trustKey(t, dir): "TRUST_FOLDER",
	})
	env = append(env,
		"GOOGLE_GEMINI_BASE_URL="+model.URL,
		"GEMINI_API_KEY="+fakeGeminiKey,
		"COLORTERM=truecolor",
	)
	// Gemini queues prompts typed while it is still initialising.
	return Command{
		Args: []string{bin, "--yolo"}, Env: env, Dir: dir, Home: home,
		Ready: regexp.MustCompile(`Type your message`),
	}
}
