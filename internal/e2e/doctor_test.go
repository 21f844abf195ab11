package e2e

import (
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/aitrack/aitrack/internal/mlflowtest"
)

func (e *env) try(argv ...string) (string, int) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env, cmd.Dir = e.vars, e.dir
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), ee.ExitCode()
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return string(out), 0
}

func TestDoctor(t *testing.T) {
	e := newEnv(t)
	bin, _ := mlflowtest.Binary()
	e.vars = append(e.vars, "AITRACK_MLFLOW="+bin)

	// Nothing running, and a tracking URI where nothing answers.
	down := e.with(t)
	down.vars = append(append([]string(nil), e.vars...), "MLFLOW_TRACKING_URI=http://127.0.0.1:9")
	out, code := down.try(e.bin("aitrack"), "doctor")
	if code == 0 {
		t.Errorf("doctor passed with nothing running:\n%s", out)
	}
	for _, want := range []string{"[FAIL] daemon reachable", "fix: start it", "[FAIL] tracking server reachable", "fix: start MLflow"} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor output lacks %q:\n%s", want, out)
		}
	}

	e.startDaemon()
	out, code = e.try(e.bin("aitrack"), "doctor")
	if code != 0 || strings.Contains(out, "FAIL") {
		t.Errorf("doctor with everything up: exit %d\n%s", code, out)
	}
	out, _ = e.try(e.bin("aitrack"), "version")
	if !strings.Contains(out, "aitrack dev") || !strings.Contains(out, "aitrackd dev") {
		t.Errorf("version:\n%s", out)
	}
}
