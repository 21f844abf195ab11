// Package shellmarks switches on a shell's semantic prompt marks (OSC 133:
// prompt start, input start, command executed, command finished with its
// exit status), which terminals such as iTerm2, VS Code, WezTerm and Ghostty
// use too. The marks are invisible: the user's prompt and what they see do
// not change, but the daemon learns where each typed command starts and how
// it exited. It knows bash (zsh and fish are not done yet); it is part of
// the wrapper and knows nothing of parsing.
package shellmarks

import (
	"os"
	"path/filepath"
	"slices"
)

// BashRC is bash's start-up file with the marks: the user's ~/.bashrc, then
// the marks around the prompt, kept in place when PROMPT_COMMAND rebuilds
// PS1, and $? left as it was for the user's own PROMPT_COMMAND.
const BashRC = `# Written by aitrack-wrap: the user's ~/.bashrc, then semantic prompt
# marks (OSC 133), which are invisible.
if [ -f ~/.bashrc ]; then . ~/.bashrc; fi
__aitrack_status() { local s=$?; printf '\e]133;D;%s\a' "$s"; return $s; }
__aitrack_ps1() {
	local s=$?
	case $PS1 in *'133;B'*) ;; *) PS1='\[\e]133;A\a\]'$PS1'\[\e]133;B\a\]' ;; esac
	return $s
}
PROMPT_COMMAND="__aitrack_status;${PROMPT_COMMAND:+$PROMPT_COMMAND;}__aitrack_ps1"
PS0='\e]133;C\a'$PS0
`

// Args returns the command line that runs argv with the marks on, using
// dir for the start-up file, and whether it applies: to an interactive
// bash that reads ~/.bashrc (no arguments, or -i), not to a script, a
// login shell or a bash told to read another file.
func Args(argv []string, dir string) ([]string, bool, error) {
	if len(argv) == 0 || filepath.Base(argv[0]) != "bash" || len(argv) > 2 || (len(argv) == 2 && argv[1] != "-i") {
		return argv, false, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return argv, false, err
	}
	rc := filepath.Join(dir, "bash.rc")
	if b, err := os.ReadFile(rc); err != nil || string(b) != BashRC {
		tmp := rc + ".tmp"
		if err := os.WriteFile(tmp, []byte(BashRC), 0o600); err != nil {
			return argv, false, err
		}
		if err := os.Rename(tmp, rc); err != nil {
			return argv, false, err
		}
	}
	return append(slices.Clone(argv[:1]), "--rcfile", rc, "-i"), true, nil
}
