package bench

import (
	"io"
	"time"
)

// Config says what to measure and how much.
type Config struct {
	// Root is the module root (holding go.mod); found from the working
	// directory when empty.
	Root string
	// Work is a scratch directory; a temporary one, removed at the end,
	// when empty.
	Work string
	// Bin holds prebuilt aitrackd and aitrack-wrap (e.g. `make build`'s
	// bin/); built into Work when empty.
	Bin string
	// Quick is the smoke-test mode: tiny inputs, one repetition.
	Quick bool
	// Reps is how many times each candidate is measured.
	Reps int
	// KeystrokeSamples round trips are timed per repetition, after
	// KeystrokeWarmup untimed ones.
	KeystrokeSamples, KeystrokeWarmup int
	// BulkBytes is the size of the file `cat` prints; BulkReps overrides
	// Reps for bulk output (it is the slowest figure).
	BulkBytes int64
	BulkReps  int
	// StartupRuns `CMD -- true` runs are timed per repetition, StartupReps
	// repetitions.
	StartupRuns, StartupReps int
	// ParseBenchtime and ParseCount are go test's -benchtime and -count
	// for BenchmarkParse.
	ParseBenchtime string
	ParseCount     int
	// StoreBenchtime and StoreCount are go test's -benchtime and -count
	// for BenchmarkStoreCommit.
	StoreBenchtime string
	StoreCount     int
	// LiveLevels are the numbers of concurrent live sessions to measure
	// the daemon with, LiveReps times each, each over LiveWindow after
	// LiveRamp.
	LiveLevels []int
	LiveReps   int
	LiveRamp   time.Duration
	LiveWindow time.Duration
	// IdleSettle is how long a fresh daemon runs before its idle RSS is read.
	IdleSettle time.Duration
	// E2ESessions sessions of E2EDuration each are timed from their end
	// to their run being FINISHED.
	E2ESessions int
	E2EDuration time.Duration
	// InstallTools lets the harness apt-get install script and asciinema
	// when they are missing and it runs as root.
	InstallTools bool
	// Only, when not empty, names the figures to measure (keystroke, bulk,
	// startup, parse, store, live, e2e): for profiling one at a time.
	Only []string
	// Invocation is how the harness was run, quoted in the report.
	Invocation string
	// Log receives progress lines.
	Log io.Writer
}

// DefaultConfig is the full run (about 12 minutes on 2 quiet cores; the
// live-session levels get 3 repetitions), or with quick the smoke test
// (well under a minute plus MLflow's start).
func DefaultConfig(quick bool) Config {
	if quick {
		return Config{
			Quick:            true,
			Reps:             1,
			KeystrokeSamples: 200,
			KeystrokeWarmup:  20,
			BulkBytes:        2 << 20,
			BulkReps:         1,
			StartupRuns:      3,
			StartupReps:      1,
			ParseBenchtime:   "20x",
			ParseCount:       1,
			StoreBenchtime:   "1x",
			StoreCount:       1,
			LiveLevels:       []int{1, 2},
			LiveReps:         1,
			LiveRamp:         500 * time.Millisecond,
			LiveWindow:       time.Second,
			IdleSettle:       500 * time.Millisecond,
			E2ESessions:      3,
			E2EDuration:      200 * time.Millisecond,
			Log:              io.Discard,
		}
	}
	return Config{
		Reps:             5,
		KeystrokeSamples: 5000,
		KeystrokeWarmup:  200,
		BulkBytes:        200 << 20,
		BulkReps:         5,
		StartupRuns:      20,
		StartupReps:      5,
		ParseBenchtime:   "1s",
		ParseCount:       5,
		StoreBenchtime:   "1s",
		StoreCount:       5,
		LiveLevels:       []int{1, 10, 50},
		LiveReps:         3,
		LiveRamp:         3 * time.Second,
		LiveWindow:       15 * time.Second,
		IdleSettle:       3 * time.Second,
		E2ESessions:      20,
		E2EDuration:      time.Second,
		InstallTools:     true,
		Log:              io.Discard,
	}
}
