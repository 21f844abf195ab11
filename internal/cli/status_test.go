package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	aitrackv1 "github.com/aitrack/aitrack/api/proto/aitrack/v1"
)

func sampleStatus(now time.Time) *aitrackv1.StatusResponse {
	return &aitrackv1.StatusResponse{
		DaemonVersion: "v1", Pid: 42, StartUnixNano: now.Add(-90 * time.Second).UnixNano(),
		TrackingUri: "http://127.0.0.1:5000", TrackingReachable: false, TrackingError: "connection refused",
		Experiment: "ai-sessions", PendingSessions: 1, OldestPendingUnixNano: now.Add(-30 * time.Second).UnixNano(),
		DeadLetters: []*aitrackv1.DeadLetter{{SessionId: "dead-1", Error: "HTTP 400 INVALID_PARAMETER_VALUE", TimeUnixNano: now.UnixNano()}},
		Sessions: []*aitrackv1.LiveSession{{
			SessionId: "0190aaaa-bbbb-7ccc-8ddd-eeeeffff0000", Provider: "claude", Argv: []string{"claude", strings.Repeat("a very long prompt ", 20)},
			ChildPid: 1234, StartUnixNano: now.Add(-10 * time.Second).UnixNano(), BytesReceived: 5000, Commands: 3, RunId: "0123456789abcdef", Synced: true,
		}},
	}
}

func TestPrintStatusText(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	var b bytes.Buffer
	if err := PrintStatus(&b, sampleStatus(now), false, 80, now); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"aitrackd v1 (pid 42), up 1m30s", "NOT reachable: connection refused", "the oldest waiting 30s", "dead-1  HTTP 400", "aitrack retry", "0190aaaa-bbbb", "claude", "synced", "01234567"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	for _, line := range strings.Split(out, "\n") {
		if n := len([]rune(line)); n > 80 && strings.Contains(line, "claude") {
			t.Errorf("table line of %d columns in an 80-column terminal: %q", n, line)
		}
	}
}

func TestPrintStatusJSON(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	var b bytes.Buffer
	if err := PrintStatus(&b, sampleStatus(now), true, 0, now); err != nil {
		t.Fatal(err)
	}
	var st StatusJSON
	if err := json.Unmarshal(b.Bytes(), &st); err != nil {
		t.Fatal(err)
	}
	if st.UptimeSeconds != 90 || st.OldestPendingSeconds != 30 || len(st.DeadLetters) != 1 || len(st.Sessions) != 1 {
		t.Errorf("%+v", st)
	}
	if s := st.Sessions[0]; s.PID != 1234 || s.DurationSeconds != 10 || s.Commands != 3 || !s.Synced || s.Command[0] != "claude" {
		t.Errorf("session %+v", s)
	}
}
