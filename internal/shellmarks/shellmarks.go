// Package shellmarks switches on a shell's semantic prompt marks (OSC 133:
// prompt start, input start, command executed, command finished with its
// exit status), which terminals such as iTerm2, VS Code, WezTerm and Ghostty
// use too. The marks are invisible: the user's prompt, start-up files and
// what they see do not change, but the daemon learns where each typed
// command starts and how it exited. It knows bash, zsh and fish; it is part
// of the wrapper and knows nothing of parsing.
package shellmarks

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
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

// ZshEnv and ZshRC are the .zshenv and .zshrc zsh finds in the ZDOTDIR the
// wrapper gives it. Each reads the user's own file with the user's ZDOTDIR
// in place (a user's ZDOTDIR comes in as AITRACK_USER_ZDOTDIR), so zsh
// starts as if the wrapper were not there; between the two, ZDOTDIR stays
// ours so that zsh reads our .zshrc, which puts the user's back for good.
// The hooks go in after the user's .zshrc so that the prompt is wrapped
// after any theme has set it, and the hook moves itself back to the end
// when a plugin adds its own later.
const ZshEnv = `# Written by aitrack-wrap: the user's .zshenv, with their ZDOTDIR.
__aitrack_zdotdir=$ZDOTDIR
if [[ -n ${AITRACK_USER_ZDOTDIR+x} ]]; then
	ZDOTDIR=$AITRACK_USER_ZDOTDIR
else
	unset ZDOTDIR
fi
unset AITRACK_USER_ZDOTDIR
if [[ -f ${ZDOTDIR:-$HOME}/.zshenv ]]; then
	builtin source ${ZDOTDIR:-$HOME}/.zshenv
fi
if [[ -o interactive && -o rcs ]]; then
	__aitrack_user_zdotdir=(${ZDOTDIR+"$ZDOTDIR"})
	ZDOTDIR=$__aitrack_zdotdir
fi
unset __aitrack_zdotdir
`

// ZshRC: see ZshEnv.
const ZshRC = `# Written by aitrack-wrap: the user's .zshrc, with their ZDOTDIR, then
# semantic prompt marks (OSC 133), which are invisible.
if (( ${#__aitrack_user_zdotdir} )); then
	ZDOTDIR=$__aitrack_user_zdotdir[1]
else
	unset ZDOTDIR
fi
unset __aitrack_user_zdotdir
if [[ -f ${ZDOTDIR:-$HOME}/.zshrc ]]; then
	builtin source ${ZDOTDIR:-$HOME}/.zshrc
fi
__aitrack_precmd() {
	local s=$?
	builtin emulate -L zsh
	builtin print -rn -- $'\e]133;D;'$s$'\a'
	if [[ ${precmd_functions[-1]} != __aitrack_precmd ]]; then
		precmd_functions=(${precmd_functions:#__aitrack_precmd} __aitrack_precmd)
	fi
	[[ $PS1 == *'133;B'* ]] || PS1=$'%{\e]133;A\a%}'$PS1$'%{\e]133;B\a%}'
	return $s
}
__aitrack_preexec() {
	builtin emulate -L zsh -o extended_glob
	# The command line, percent-encoded: nothing in it may end the mark.
	local c=${1//\%/%25}
	c=${c//;/%3B}
	c=${c//(#m)[[:cntrl:]]/%${(l:2::0:)$(( [##16] #MATCH ))}}
	builtin print -rn -- $'\e]133;C;cmdline_url='$c$'\a'
}
typeset -ga precmd_functions preexec_functions
precmd_functions+=(__aitrack_precmd)
preexec_functions+=(__aitrack_preexec)
`

// FishInit is run by fish after the user's configuration: the prompt the
// user has (theirs or fish's) is wrapped in the marks, and fish's own
// preexec and postexec events give the rest. zsh and fish send the
// command line with the command-executed mark (kitty's cmdline_url=), so
// a right-hand prompt on its row does not become part of it.
const FishInit = `# Written by aitrack-wrap: semantic prompt marks (OSC 133), which are invisible.
if status is-interactive; and functions -q fish_prompt; and not functions -q __aitrack_user_prompt
	functions -c fish_prompt __aitrack_user_prompt
	function __aitrack_return
		return $argv[1]
	end
	function fish_prompt
		set -l s $status
		printf '\e]133;A\a'
		__aitrack_return $s # the user's prompt may show $status
		__aitrack_user_prompt
		printf '\e]133;B\a'
	end
	function __aitrack_preexec --on-event fish_preexec
		printf '\e]133;C;cmdline_url=%s\a' (string escape --style=url -- $argv[1])
	end
	function __aitrack_postexec --on-event fish_postexec
		printf '\e]133;D;%s\a' $status
	end
end
`

// Launch is how a program is started: its command line and environment.
type Launch struct {
	Argv []string
	Env  []string
}

// Prepare returns how to start l with the marks on, using dir for the
// start-up files, and whether it applies: to an interactive bash, zsh or
// fish (no arguments, or -i), not to a script, a login shell or a shell
// told to read other files.
func Prepare(l Launch, dir string) (Launch, bool, error) {
	argv := l.Argv
	if len(argv) == 0 || len(argv) > 2 || (len(argv) == 2 && argv[1] != "-i") {
		return l, false, nil
	}
	switch filepath.Base(argv[0]) {
	case "bash":
		rc, err := install(dir, "bash.rc", BashRC)
		if err != nil {
			return l, false, err
		}
		return Launch{Argv: []string{argv[0], "--rcfile", rc, "-i"}, Env: l.Env}, true, nil
	case "zsh":
		zdot := filepath.Join(dir, "zsh")
		for name, content := range map[string]string{".zshenv": ZshEnv, ".zshrc": ZshRC} {
			if _, err := install(zdot, name, content); err != nil {
				return l, false, err
			}
		}
		env := slices.DeleteFunc(slices.Clone(l.Env), func(kv string) bool {
			return strings.HasPrefix(kv, "ZDOTDIR=") || strings.HasPrefix(kv, "AITRACK_USER_ZDOTDIR=")
		})
		if user, ok := lookup(l.Env, "ZDOTDIR"); ok {
			env = append(env, "AITRACK_USER_ZDOTDIR="+user)
		}
		return Launch{Argv: []string{argv[0], "-i"}, Env: append(env, "ZDOTDIR="+zdot)}, true, nil
	case "fish":
		init, err := install(dir, "aitrack.fish", FishInit)
		if err != nil {
			return l, false, err
		}
		// fish runs --init-command after the user's configuration.
		return Launch{Argv: []string{argv[0], "-i", "--init-command", "source " + fishQuote(init)}, Env: l.Env}, true, nil
	}
	return l, false, nil
}

// install writes content to dir/name unless it is there already, and
// returns the file's path. Several wrappers may start at once: each writes
// its own temporary file and renames it into place.
func install(dir, name, content string) (string, error) {
	path := filepath.Join(dir, name)
	if b, err := os.ReadFile(path); err == nil && string(b) == content {
		return path, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("shell start-up files: %w", err)
	}
	tmp, err := os.CreateTemp(dir, name+".*")
	if err != nil {
		return "", fmt.Errorf("shell start-up files: %w", err)
	}
	_, err = tmp.WriteString(content)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("shell start-up files: %w", err)
	}
	return path, nil
}

func lookup(env []string, key string) (string, bool) {
	for _, kv := range slices.Backward(env) {
		if v, ok := strings.CutPrefix(kv, key+"="); ok {
			return v, true
		}
	}
	return "", false
}

// fishQuote quotes s as one fish word.
func fishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
