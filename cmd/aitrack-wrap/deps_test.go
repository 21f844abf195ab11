package main

import (
	"os/exec"
	"strings"
	"testing"
)

// The wrapper sits in every session's path: it stays small and imports
// nothing of the daemon or the user CLI.
func TestWrapperImportsNoDaemonCode(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	forbidden := []string{"daemon", "ingest", "parse", "outbox", "mlflowclient", "mlflowui", "supervisor", "service", "cli", "redact", "gitfacts", "logging"}
	for _, pkg := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if pkg == "github.com/aitrack/aitrack/internal/"+f {
				t.Errorf("aitrack-wrap imports %s", pkg)
			}
		}
	}
}
