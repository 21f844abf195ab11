package parse

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The real-CLI corpus (testdata/cli) holds sessions of Claude Code, Codex
// and Gemini CLI in each of their renderers, recorded through aitrack-wrap
// against a scripted fake model by TestRecordAICorpus in internal/e2e:
//
//	<renderer>.raw         every byte the CLI wrote
//	<renderer>.timing      per output record "o <ns since start> <bytes>",
//	                       per resize "r <ns> <cols> <rows>"
//	<renderer>.truth.json  what happened, from the tool results the CLI sent
//	                       the fake model, and which commands the screen showed

// corpusTruth mirrors the recorder's truth file.
type corpusTruth struct {
	Renderer string   `json:"renderer"`
	Provider string   `json:"provider"`
	Cols     int      `json:"cols"`
	Rows     int      `json:"rows"`
	Prompts  []string `json:"prompts"`
	Commands []struct {
		Text              string `json:"text"`
		ExitCode          int    `json:"exit_code"`
		Visible           bool   `json:"visible"`
		ShownWhileRunning bool   `json:"shown_while_running"`
	} `json:"commands"`
	GitOperations  int    `json:"git_operations"`
	GhOperations   int    `json:"gh_operations"`
	FailedCommands int    `json:"failed_commands"`
	Visibility     string `json:"visibility"`
}

// corpusSession is one recorded session, ready to replay.
type corpusSession struct {
	name  string
	truth corpusTruth
	raw   []byte
	steps []corpusStep
}

// corpusStep is one output record or resize, at its stream time.
type corpusStep struct {
	at         time.Duration
	data       []byte
	cols, rows int // resize when data is nil
}

func loadCorpus(t testing.TB) []corpusSession {
	t.Helper()
	files, err := filepath.Glob("testdata/cli/*.truth.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no real-CLI corpus in testdata/cli (%v): record it with go test ./internal/e2e -run TestRecordAICorpus -args -record", err)
	}
	var out []corpusSession
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".truth.json")
		s := corpusSession{name: name}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &s.truth); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if s.raw, err = os.ReadFile(filepath.Join("testdata/cli", name+".raw")); err != nil {
			t.Fatal(err)
		}
		timing, err := os.ReadFile(filepath.Join("testdata/cli", name+".timing"))
		if err != nil {
			t.Fatal(err)
		}
		if s.steps, err = readTiming(timing, s.raw); err != nil {
			t.Fatalf("%s.timing: %v", name, err)
		}
		out = append(out, s)
	}
	return out
}

// readTiming splits raw into the recorded output records and resizes.
func readTiming(timing, raw []byte) ([]corpusStep, error) {
	var steps []corpusStep
	off := 0
	sc := bufio.NewScanner(bytes.NewReader(timing))
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		nums := make([]int, len(f)-1)
		for i := range nums {
			v, err := strconv.Atoi(f[i+1])
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", n, err)
			}
			nums[i] = v
		}
		switch {
		case f[0] == "o" && len(nums) == 2:
			if off+nums[1] > len(raw) {
				return nil, fmt.Errorf("line %d: output past the end of the raw file", n)
			}
			steps = append(steps, corpusStep{at: time.Duration(nums[0]), data: raw[off : off+nums[1]]})
			off += nums[1]
		case f[0] == "r" && len(nums) == 3:
			steps = append(steps, corpusStep{at: time.Duration(nums[0]), cols: nums[1], rows: nums[2]})
		default:
			return nil, fmt.Errorf("line %d: %q is no timing record", n, sc.Text())
		}
	}
	if off != len(raw) {
		return nil, fmt.Errorf("records cover %d of %d raw bytes", off, len(raw))
	}
	return steps, sc.Err()
}

// replay feeds a recorded session to a parser as aitrackd would.
func (s corpusSession) replay(clean *bytes.Buffer) (*Parser, []Event) {
	var events []Event
	p := New(Options{Provider: s.truth.Provider, Start: t0, Cols: s.truth.Cols, Rows: s.truth.Rows, Clean: clean,
		OnEvent: func(ev Event) { events = append(events, ev) }})
	for _, st := range s.steps {
		if st.data == nil {
			p.Resize(st.cols, st.rows)
			continue
		}
		p.Write(st.data, t0.Add(st.at))
	}
	p.Close()
	return p, events
}

var corpusSpaces = regexp.MustCompile(`\s+`)

func squash(s string) string { return strings.TrimSpace(corpusSpaces.ReplaceAllString(s, " ")) }

// commandMatches reports whether a command event shows the command cmd:
// all of it, its first line (renderers show only that of a multi-line
// command), or a beginning cut short ("…", marked truncated).
func commandMatches(ev Event, cmd string) bool {
	e, c := squash(ev.Text), squash(cmd)
	first, _, _ := strings.Cut(cmd, "\n")
	if e == c || e == squash(first) {
		return true
	}
	cut, ok := strings.CutSuffix(e, "…")
	ok = ok || ev.Fields["truncated"] == "true"
	return ok && len(cut) >= 8 && strings.HasPrefix(c, strings.TrimSpace(cut))
}

// TestRealCLICorpus scores the parser on the real-CLI recordings: the
// command events against the commands the screen showed, and the counters
// the screen carries.
func TestRealCLICorpus(t *testing.T) {
	for _, s := range loadCorpus(t) {
		t.Run(s.name, func(t *testing.T) {
			var clean bytes.Buffer
			p, events := s.replay(&clean)
			m := p.Metrics()

			var visible, ran, visibleGit, visibleGh int
			var hidden []string
			for _, c := range s.truth.Commands {
				ran++
				if !c.Visible {
					first, _, _ := strings.Cut(c.Text, "\n")
					if c.ShownWhileRunning {
						first += " (shown only while running)"
					}
					hidden = append(hidden, first)
					continue
				}
				visible++
				switch strings.Fields(c.Text)[0] {
				case "git":
					visibleGit++
				case "gh":
					visibleGh++
				}
			}
			// One-to-one matching in order of appearance.
			matched := make([]bool, len(s.truth.Commands))
			var commands, hits, visibleHits, counted int
			var unmatched []string
			for _, ev := range events {
				if ev.Kind != KindCommand {
					continue
				}
				if ev.Fields["summary"] != "" {
					counted++ // counted from a summary line: no text to score
					continue
				}
				commands++
				found := false
				for i, c := range s.truth.Commands {
					if !matched[i] && commandMatches(ev, c.Text) {
						matched[i], found = true, true
						hits++
						if c.Visible {
							visibleHits++
						}
						break
					}
				}
				if !found {
					unmatched = append(unmatched, ev.Text)
				}
			}
			var missed []string
			for i, c := range s.truth.Commands {
				if c.Visible && !matched[i] {
					missed = append(missed, c.Text)
				}
			}
			precision, recall := ratio(hits, commands), ratio(visibleHits, visible)
			t.Logf("%s: %d commands ran, %d visible; %d command events with text, %d counted from summaries; precision %.2f recall %.2f",
				s.name, ran, visible, commands, counted, precision, recall)
			t.Logf("%s: metrics %+v", s.name, m)
			if len(unmatched) > 0 {
				t.Logf("%s: command events matching no command: %q", s.name, unmatched)
			}
			if visible < ran {
				t.Logf("%s: %d commands ran, %d visible: the screen alone cannot tell %q", s.name, ran, visible, hidden)
			}
			if precision < 0.98 {
				t.Errorf("precision %.2f < 0.98: events %q match no command that ran", precision, unmatched)
			}
			if visible > 0 && recall < 0.98 {
				t.Errorf("recall %.2f < 0.98: visible commands %q were not recognised", recall, missed)
			}
			if m.UserPrompts != len(s.truth.Prompts) {
				t.Errorf("user_prompts = %d, want %d (%q)", m.UserPrompts, len(s.truth.Prompts), s.truth.Prompts)
			}
			// Exact where the screen shows every such command; otherwise at
			// least the visible ones and at most what ran (a summary line
			// may count some without their text).
			checkCount(t, "commands_executed", m.CommandsExecuted, visible, ran)
			checkCount(t, "git_operations", m.GitOperations, visibleGit, s.truth.GitOperations)
			checkCount(t, "gh_operations", m.GhOperations, visibleGh, s.truth.GhOperations)
			if m.ErrorsEncountered != s.truth.FailedCommands {
				t.Errorf("errors_encountered = %d, want %d (the failed commands)", m.ErrorsEncountered, s.truth.FailedCommands)
			}
			if t.Failed() || testing.Verbose() {
				logEvents(t, events)
			}
		})
	}
}

// checkCount checks a counter against the range the screen allows: from
// what it shows to what happened.
func checkCount(t *testing.T, name string, got, shown, happened int) {
	t.Helper()
	switch {
	case shown == happened && got != happened:
		t.Errorf("%s = %d, want %d: the screen shows all of them", name, got, happened)
	case got < shown || got > happened:
		t.Errorf("%s = %d, want %d (shown) to %d (happened)", name, got, shown, happened)
	case shown < happened:
		t.Logf("%s = %d: the screen shows %d of the %d that happened", name, got, shown, happened)
	}
}

func ratio(n, d int) float64 {
	if d == 0 {
		return 1
	}
	return float64(n) / float64(d)
}

func logEvents(t *testing.T, events []Event) {
	t.Helper()
	var b strings.Builder
	for _, ev := range events {
		fmt.Fprintf(&b, "  %-14s %q %v\n", ev.Kind, ev.Text, ev.Fields)
	}
	t.Logf("events:\n%s", b.String())
}
