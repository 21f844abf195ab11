// Package cli holds the logic of the `aitrack` subcommands (status, doctor,
// shims, hooks, import, parse, retry...), so that cmd/aitrack/main.go only
// parses flags and wires. aitrack-wrap does not import it.
package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	aitrackv1 "github.com/aitrack/aitrack/api/proto/aitrack/v1"
	"github.com/aitrack/aitrack/internal/ipc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrNoDaemon means nothing answers on the daemon's socket.
type ErrNoDaemon struct {
	Socket string
	Err    error
}

func (e *ErrNoDaemon) Error() string {
	return fmt.Sprintf("aitrackd is not running (nothing answers on %s): start it with `aitrackd` or `make run`", e.Socket)
}

func (e *ErrNoDaemon) Unwrap() error { return e.Err }

// FetchStatus asks the daemon at socket for its status.
func FetchStatus(ctx context.Context, socket string) (*aitrackv1.StatusResponse, error) {
	conn, err := ipc.Dial(socket)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := aitrackv1.NewRecorderClient(conn).Status(ctx, &aitrackv1.StatusRequest{})
	if status.Code(err) == codes.Unavailable {
		return nil, &ErrNoDaemon{Socket: socket, Err: err}
	}
	return resp, err
}

// StatusJSON is `aitrack status --json`'s shape.
type StatusJSON struct {
	DaemonVersion     string    `json:"daemon_version"`
	PID               int64     `json:"pid"`
	Started           time.Time `json:"started"`
	UptimeSeconds     float64   `json:"uptime_seconds"`
	TrackingURI       string    `json:"tracking_uri"`
	TrackingReachable bool      `json:"tracking_reachable"`
	TrackingError     string    `json:"tracking_error,omitempty"`
	Experiment        string    `json:"experiment"`
	Socket            string    `json:"socket"`
	StateDir          string    `json:"state_dir"`
	PendingSessions   uint32    `json:"pending_sessions"`
	MLflowUI          *UIJSON   `json:"mlflow_ui,omitempty"`
	// OldestPendingSeconds is how long the longest-waiting delivery has
	// waited; 0 when nothing is pending.
	OldestPendingSeconds float64    `json:"oldest_pending_seconds"`
	LastDelivery         *time.Time `json:"last_delivery,omitempty"`
	// The local session store, its undelivered part and its cap, in
	// bytes; StoreFull: new output waits in the wrappers.
	StoreBytes      int64            `json:"store_bytes"`
	PendingBytes    int64            `json:"pending_bytes"`
	StoreLimitBytes int64            `json:"store_limit_bytes"`
	StoreFull       bool             `json:"store_full"`
	DeadLetters     []DeadLetterJSON `json:"dead_letters"`
	Sessions        []SessionJSON    `json:"sessions"`
}

// DeadLetterJSON is a session MLflow refused, in StatusJSON.
type DeadLetterJSON struct {
	ID    string    `json:"id"`
	Error string    `json:"error"`
	Time  time.Time `json:"time"`
}

// UIJSON is the local MLflow UI's state in StatusJSON.
type UIJSON struct {
	State     string   `json:"state"`
	URL       string   `json:"url,omitempty"`
	PID       int64    `json:"pid,omitempty"`
	Restarts  uint32   `json:"restarts,omitempty"`
	LastError string   `json:"last_error,omitempty"`
	LastLines []string `json:"last_lines,omitempty"`
	LogPath   string   `json:"log_path,omitempty"`
}

// SessionJSON is one live session in StatusJSON.
type SessionJSON struct {
	ID              string    `json:"id"`
	Provider        string    `json:"provider"`
	Command         []string  `json:"command"`
	PID             int64     `json:"pid"`
	Started         time.Time `json:"started"`
	DurationSeconds float64   `json:"duration_seconds"`
	BytesReceived   uint64    `json:"bytes_received"`
	Commands        uint64    `json:"commands"`
	RunID           string    `json:"run_id,omitempty"`
	Cwd             string    `json:"cwd"`
	Synced          bool      `json:"synced"`
}

func toJSON(s *aitrackv1.StatusResponse, now time.Time) StatusJSON {
	started := time.Unix(0, s.GetStartUnixNano())
	out := StatusJSON{
		DaemonVersion: s.GetDaemonVersion(), PID: s.GetPid(), Started: started, UptimeSeconds: now.Sub(started).Seconds(),
		TrackingURI: s.GetTrackingUri(), TrackingReachable: s.GetTrackingReachable(), TrackingError: s.GetTrackingError(),
		Experiment: s.GetExperiment(), Socket: s.GetSocket(), StateDir: s.GetStateDir(), PendingSessions: s.GetPendingSessions(),
		Sessions: []SessionJSON{}, DeadLetters: []DeadLetterJSON{},
		StoreBytes: s.GetStoreBytes(), PendingBytes: s.GetPendingBytes(), StoreLimitBytes: s.GetStoreLimitBytes(), StoreFull: s.GetStoreFull(),
	}
	if t := s.GetOldestPendingUnixNano(); t > 0 {
		out.OldestPendingSeconds = now.Sub(time.Unix(0, t)).Seconds()
	}
	if t := s.GetLastDeliveryUnixNano(); t > 0 {
		last := time.Unix(0, t)
		out.LastDelivery = &last
	}
	for _, dl := range s.GetDeadLetters() {
		out.DeadLetters = append(out.DeadLetters, DeadLetterJSON{ID: dl.GetSessionId(), Error: dl.GetError(), Time: time.Unix(0, dl.GetTimeUnixNano())})
	}
	if ui := s.GetMlflowUi(); ui != nil {
		out.MLflowUI = &UIJSON{State: ui.GetState(), URL: ui.GetUrl(), PID: ui.GetPid(), Restarts: ui.GetRestarts(),
			LastError: ui.GetLastError(), LastLines: ui.GetLastLines(), LogPath: ui.GetLogPath()}
	}
	for _, ls := range s.GetSessions() {
		st := time.Unix(0, ls.GetStartUnixNano())
		out.Sessions = append(out.Sessions, SessionJSON{
			ID: ls.GetSessionId(), Provider: ls.GetProvider(), Command: ls.GetArgv(), PID: ls.GetChildPid(), Started: st,
			DurationSeconds: now.Sub(st).Seconds(), BytesReceived: ls.GetBytesReceived(), Commands: ls.GetCommands(),
			RunID: ls.GetRunId(), Cwd: ls.GetCwd(), Synced: ls.GetSynced(),
		})
	}
	return out
}

// PrintStatus writes the status as JSON, or as text whose table is cut to
// width columns.
func PrintStatus(w io.Writer, s *aitrackv1.StatusResponse, asJSON bool, width int, now time.Time) error {
	st := toJSON(s, now)
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	reach := "reachable"
	if !st.TrackingReachable {
		reach = "NOT reachable: " + st.TrackingError
	}
	fmt.Fprintf(w, "aitrackd %s (pid %d), up %s\n", st.DaemonVersion, st.PID, round(now.Sub(st.Started)))
	fmt.Fprintf(w, "MLflow:   %s (%s), experiment %q\n", st.TrackingURI, reach, st.Experiment)
	if ui := st.MLflowUI; ui != nil {
		switch ui.State {
		case "off", "remote", "external":
		default:
			fmt.Fprintf(w, "UI:       local MLflow %s (pid %d, %d restarts), log %s\n", ui.State, ui.PID, ui.Restarts, ui.LogPath)
			if ui.LastError != "" {
				fmt.Fprintf(w, "          %s\n", ui.LastError)
				for _, l := range ui.LastLines {
					fmt.Fprintf(w, "          | %s\n", l)
				}
			}
		}
	}
	if st.PendingSessions > 0 {
		fmt.Fprintf(w, "Pending:  %d session(s) not yet complete in MLflow, the oldest waiting %s\n", st.PendingSessions, round(time.Duration(st.OldestPendingSeconds*float64(time.Second))))
	}
	fmt.Fprintf(w, "Store:    %s, %s of it not yet in MLflow (cap %s)\n", mb(st.StoreBytes), mb(st.PendingBytes), mb(st.StoreLimitBytes))
	if st.StoreFull {
		fmt.Fprintln(w, "          FULL: new output waits in the wrappers (memory, then spool files) until MLflow takes some; raise daemon.max_store_mb or bring MLflow back")
	}
	if len(st.DeadLetters) > 0 {
		fmt.Fprintf(w, "Refused:  %d session(s) MLflow refused; fix the cause, then run `aitrack retry`:\n", len(st.DeadLetters))
		for _, dl := range st.DeadLetters {
			fmt.Fprintf(w, "          %s  %s\n", dl.ID, dl.Error)
		}
	}
	if len(st.Sessions) == 0 {
		fmt.Fprintln(w, "No live sessions.")
		return nil
	}
	fmt.Fprintf(w, "\n%d live session(s):\n", len(st.Sessions))
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SESSION\tPROVIDER\tPID\tDURATION\tBYTES\tCMDS\tRUN\tSYNC\tCOMMAND")
	for _, ss := range st.Sessions {
		run := ss.RunID
		if run == "" {
			run = "-"
		}
		sync := "pending"
		if ss.Synced {
			sync = "synced"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%d\t%s\t%s\t%s\n", ss.ID[:min(len(ss.ID), 13)], ss.Provider, ss.PID,
			round(time.Duration(ss.DurationSeconds*float64(time.Second))),
			ss.BytesReceived, ss.Commands, run[:min(len(run), 8)], sync, strings.Join(ss.Command, " "))
	}
	tw.Flush()
	for _, line := range strings.SplitAfter(b.String(), "\n") {
		if r := []rune(strings.TrimSuffix(line, "\n")); width > 1 && len(r) > width {
			line = string(r[:width-1]) + "…\n"
		}
		io.WriteString(w, line)
	}
	return nil
}

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/(1<<20)) }

func round(d time.Duration) time.Duration {
	if d > time.Minute {
		return d.Round(time.Second)
	}
	return d.Round(100 * time.Millisecond)
}
