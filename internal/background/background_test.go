package background

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// TestLowerReachesEveryThread: after Lower, every thread of the process,
// and a child it starts, runs at Nice.
func TestLowerReachesEveryThread(t *testing.T) {
	if os.Getenv("BACKGROUND_CHILD") == "1" {
		if err := Lower(); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("sh", "-c", "ps -o ni= -p $$").Output()
		if err != nil {
			t.Fatal(err)
		}
		os.Stdout.WriteString("child nice " + strings.TrimSpace(string(out)) + "\n")
		for _, n := range threadNices(t) {
			os.Stdout.WriteString("thread nice " + strconv.Itoa(n) + "\n")
		}
		return
	}
	// In a child process, so that the test binary itself keeps its priority.
	cmd := exec.Command(os.Args[0], "-test.run=^TestLowerReachesEveryThread$")
	cmd.Env = append(os.Environ(), "BACKGROUND_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	lines := 0
	for _, l := range strings.Split(string(out), "\n") {
		for _, prefix := range []string{"child nice ", "thread nice "} {
			if v, ok := strings.CutPrefix(l, prefix); ok {
				lines++
				if n, _ := strconv.Atoi(v); n != Nice {
					t.Errorf("%s%s, want %d", prefix, v, Nice)
				}
			}
		}
	}
	if lines < 3 {
		t.Fatalf("too few threads reported:\n%s", out)
	}
}
