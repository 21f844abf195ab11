package parse

import (
	"regexp"
	"testing"
)

// promptSpecs are promptShapes as regular expressions, in the same order:
// what each shape must match.
var promptSpecs = []*regexp.Regexp{
	regexp.MustCompile(`^(?:\([^()]*\) )?(?:[\w.-]+)?\$ `),
	regexp.MustCompile(`^(?:\([^()]*\) )?[\w.-]+@[\w.-]+:[^\s$#]*[$#] `),
	regexp.MustCompile(`^(?:\([^()]*\) )?\[[\w.-]+@[\w.-]+ [^\]]*\][$#] `),
	regexp.MustCompile(`^[\w.-]+@[\w.-]+ \S+ [%#] `),
	regexp.MustCompile(`^[A-Za-z][\w.-]*% `),
	regexp.MustCompile(`^➜ +\S+(?: git:\([^)]*\))?(?: ✗)? +`),
	regexp.MustCompile(`^[└╰]─+ ?[$%#] `),
}

var promptExamples = []string{
	"$ ls", "bash-5.2$ make", "(venv) $ pytest", "(venv $ x", "alice@box:~/src/app$ npm test", "root@box:/# apt-get update",
	"(venv) alice@box:/tmp$ x", "[alice@box app]$ go build", "[alice@box my app]# x", "alice@MacBook-Pro app % git push",
	"alice@box app\t% x", "box% cargo build", "1box% x", "➜  app git:(main) ✗ git status", "➜  app git:(main) x", "➜  app ✗ x",
	"➜  app git:(main)", "➜ app", "└─$ git status", "╰──% make", "└─ # x", "└$ x", "# Notes", "US$ 100", "50% done", "",
}

// TestPromptShapes checks each shape against its specification on examples
// of every prompt and of near misses.
func TestPromptShapes(t *testing.T) {
	if len(promptShapes) != len(promptSpecs) {
		t.Fatalf("%d prompt shapes, %d specifications", len(promptShapes), len(promptSpecs))
	}
	for _, s := range promptExamples {
		checkPromptShapes(t, s)
	}
}

// FuzzPromptShapes: on any input, each shape matches what its regular
// expression matches.
func FuzzPromptShapes(f *testing.F) {
	for _, s := range promptExamples {
		f.Add(s)
	}
	f.Fuzz(checkPromptShapes)
}

func checkPromptShapes(t *testing.T, s string) {
	t.Helper()
	for i, shape := range promptShapes {
		want := -1
		if loc := promptSpecs[i].FindStringIndex(s); loc != nil {
			want = loc[1]
		}
		if got := shape(s); got != want {
			t.Errorf("%q: shape %d (%s) matches %d bytes, want %d", s, i, promptSpecs[i], got, want)
		}
	}
}
