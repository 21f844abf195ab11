package parse

import (
	"fmt"
	"maps"
	"reflect"
	"strings"
	"testing"
	"unsafe"
)

func TestSplitShell(t *testing.T) {
	tests := []struct {
		name string
		line string
		want []shellSegment
	}{
		{"simple", "ls -la", []shellSegment{{"ls -la", []string{"ls", "-la"}}}},
		{"and, or, semicolon, pipe, background", "a && b || c; d | e & f",
			[]shellSegment{{"a", []string{"a"}}, {"b", []string{"b"}}, {"c", []string{"c"}}, {"d", []string{"d"}}, {"e", []string{"e"}}, {"f", []string{"f"}}}},
		{"pipe with stderr", "make |& tee log", []shellSegment{{"make", []string{"make"}}, {"tee log", []string{"tee", "log"}}}},
		{"quotes keep operators", `git commit -m "a && b; c" && echo 'x | y'`,
			[]shellSegment{{`git commit -m "a && b; c"`, []string{"git", "commit", "-m", "a && b; c"}}, {`echo 'x | y'`, []string{"echo", "x | y"}}}},
		{"escapes", `echo a\ b \&\& c`, []shellSegment{{`echo a\ b \&\& c`, []string{"echo", "a b", "&&", "c"}}}},
		{"redirections dropped", "cmd 2>&1 >out.txt <in &>log 2>/dev/null",
			[]shellSegment{{"cmd 2>&1 >out.txt <in &>log 2>/dev/null", []string{"cmd"}}}},
		{"heredoc word dropped", "cat <<'EOF'", []shellSegment{{"cat <<'EOF'", []string{"cat"}}}},
		{"substitution stays one word", `echo $(git log | head -1) "$(date +%s)" ` + "`whoami`",
			[]shellSegment{{`echo $(git log | head -1) "$(date +%s)" ` + "`whoami`", []string{"echo", "$(git log | head -1)", "$(date +%s)", "`whoami`"}}}},
		{"subshell and group", "(cd x && make) ; { ls; }",
			[]shellSegment{{"cd x", []string{"cd", "x"}}, {"make", []string{"make"}}, {"ls", []string{"ls"}}}},
		{"subshell keeps its substitution", "(echo $(date))", []shellSegment{{"echo $(date)", []string{"echo", "$(date)"}}}},
		{"comment", "ls # list files && more", []shellSegment{{"ls", []string{"ls"}}}},
		{"hash inside a word", "echo a#b", []shellSegment{{"echo a#b", []string{"echo", "a#b"}}}},
		{"unterminated quote", `echo "abc`, []shellSegment{{`echo "abc`, []string{"echo", "abc"}}}},
		{"empty", "", nil},
		{"only operators", "&& || ;", nil},
	}
	var sp shellSplitter // one for all lines, as the recogniser uses it
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sp.split(tt.line); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("split(%q)\n got %q\nwant %q", tt.line, got, tt.want)
			}
		})
	}
}

func TestProgramOf(t *testing.T) {
	tests := []struct {
		words    []string
		wantProg string
		wantArgs []string
	}{
		{[]string{"git", "status"}, "git", []string{"status"}},
		{[]string{"/usr/bin/git", "status"}, "git", []string{"status"}},
		{[]string{"A=1", "B=2", "make"}, "make", []string{}},
		{[]string{"sudo", "-u", "bob", "-E", "git", "pull"}, "git", []string{"pull"}},
		{[]string{"env", "-u", "X", "Y=1", "gh", "pr", "list"}, "gh", []string{"pr", "list"}},
		{[]string{"timeout", "-s", "KILL", "30s", "go", "test"}, "go", []string{"test"}},
		{[]string{"nice", "-n", "10", "nohup", "time", "make"}, "make", []string{}},
		{[]string{"A=1"}, "", nil},
		{[]string{"sudo"}, "", nil},
	}
	for _, tt := range tests {
		prog, args := programOf(tt.words)
		if prog != tt.wantProg || len(args) != len(tt.wantArgs) || len(args) > 0 && !reflect.DeepEqual(args, tt.wantArgs) {
			t.Errorf("programOf(%q) = %q %q, want %q %q", tt.words, prog, args, tt.wantProg, tt.wantArgs)
		}
	}
}

func TestGitAndGhSubcommands(t *testing.T) {
	git := []struct {
		args []string
		want string
	}{
		{[]string{"commit", "-m", "x"}, "commit"},
		{[]string{"-C", "/repo", "-c", "core.pager=cat", "log"}, "log"},
		{[]string{"--no-pager", "--git-dir", ".git", "diff"}, "diff"},
		{[]string{"--git-dir=.git", "show"}, "show"},
		{[]string{"--version"}, "--version"},
		{nil, ""},
	}
	for _, tt := range git {
		if got := gitSubcommand(tt.args); got != tt.want {
			t.Errorf("gitSubcommand(%q) = %q, want %q", tt.args, got, tt.want)
		}
	}
	gh := []struct {
		args []string
		want string
	}{
		{[]string{"pr", "create", "--fill"}, "pr create"},
		{[]string{"-R", "o/r", "issue", "list"}, "issue list"},
		{[]string{"pr", "123"}, "pr"},
		{[]string{"pr", "--help"}, "pr"},
		{[]string{"api", "repos/o/r"}, "api"},
		{[]string{"browse"}, "browse"},
		{nil, ""},
	}
	for _, tt := range gh {
		if got := ghSubcommand(tt.args); got != tt.want {
			t.Errorf("ghSubcommand(%q) = %q, want %q", tt.args, got, tt.want)
		}
	}
}

func TestSharedFields(t *testing.T) {
	fieldsTable.Lock()
	fieldsTable.m = nil // empty, whatever ran before
	fieldsTable.Unlock()

	status := fieldsKey{program: "git", subcommand: "status", operation: true}
	a, b := sharedFields(status), sharedFields(status)
	if !maps.Equal(a, map[string]string{"program": "git", "subcommand": "status"}) {
		t.Errorf("git status operation: Fields %v", a)
	}
	if reflect.ValueOf(a).Pointer() != reflect.ValueOf(b).Pointer() {
		t.Error("the same Fields twice are two maps, not one shared")
	}
	if f := sharedFields(fieldsKey{program: "git"}); !maps.Equal(f, map[string]string{"program": "git"}) {
		t.Errorf("git command: Fields %v", f)
	}

	line := "mytool-for-shared-fields --flag"
	sharedFields(fieldsKey{program: line[:23]})
	fieldsTable.RLock()
	for k := range fieldsTable.m {
		if k.program == line[:23] && unsafe.StringData(k.program) == unsafe.StringData(line) {
			t.Error("the table keeps the command line the program name was cut from")
		}
	}
	_, kept := fieldsTable.m[fieldsKey{program: line[:23]}]
	fieldsTable.RUnlock()
	if !kept {
		t.Error("a program's Fields are not kept")
	}

	long := fieldsKey{program: strings.Repeat("x", maxSharedField+1)}
	if reflect.ValueOf(sharedFields(long)).Pointer() == reflect.ValueOf(sharedFields(long)).Pointer() {
		t.Error("a program name longer than maxSharedField is kept")
	}
	for i := range maxSharedFields + 10 {
		sharedFields(fieldsKey{program: fmt.Sprintf("prog%d", i)})
	}
	fieldsTable.RLock()
	n := len(fieldsTable.m)
	fieldsTable.RUnlock()
	if n > maxSharedFields {
		t.Errorf("the table holds %d Fields, more than %d", n, maxSharedFields)
	}
}
