package mlflowclient

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Metric is one value of a metric series.
type Metric struct {
	Key   string
	Value float64 // NaN and ±Inf are allowed (MLflow clamps ±Inf)
	// Timestamp is sent in epoch milliseconds and must not be before 1970.
	// Set it when the value is captured, so a re-send is an exact duplicate
	// MLflow's SQL store ignores.
	Timestamp time.Time
	Step      int64
}

// Param is a write-once run parameter.
type Param struct{ Key, Value string }

// Tag is a mutable run tag.
type Tag struct{ Key, Value string }

// RunStatus is a run's lifecycle status.
type RunStatus string

// Run statuses a client may set.
const (
	StatusRunning  RunStatus = "RUNNING"
	StatusFinished RunStatus = "FINISHED"
	StatusFailed   RunStatus = "FAILED"
	StatusKilled   RunStatus = "KILLED"
)

func (s RunStatus) valid() bool {
	switch s {
	case StatusRunning, StatusFinished, StatusFailed, StatusKilled:
		return true
	}
	return false
}

// RunInfo is a run's metadata. Zero times mean the server did not set them
// (EndTime while running).
type RunInfo struct {
	RunID, RunName, ExperimentID string
	Status                       RunStatus
	// ArtifactURI is where the run's artifacts go, e.g.
	// mlflow-artifacts:/1/<run>/artifacts.
	ArtifactURI    string
	LifecycleStage string // "active" or "deleted"
	StartTime      time.Time
	EndTime        time.Time
}

// RunData is what was logged to a run. Metrics holds the latest value per
// key (highest step, then timestamp, then value).
type RunData struct {
	Metrics []Metric
	Params  []Param
	Tags    []Tag
}

// Run is a run as the server returns it.
type Run struct {
	Info RunInfo
	Data RunData
}

// Tag returns the value of the run tag key.
func (r Run) Tag(key string) (string, bool) {
	for _, t := range r.Data.Tags {
		if t.Key == key {
			return t.Value, true
		}
	}
	return "", false
}

// Param returns the value of the run parameter key.
func (r Run) Param(key string) (string, bool) {
	for _, p := range r.Data.Params {
		if p.Key == key {
			return p.Value, true
		}
	}
	return "", false
}

// Metric returns the latest value of the metric key.
func (r Run) Metric(key string) (Metric, bool) {
	for _, m := range r.Data.Metrics {
		if m.Key == key {
			return m, true
		}
	}
	return Metric{}, false
}

// FileInfo is one entry of an artifact listing.
type FileInfo struct {
	// Path is relative to the run's artifact root.
	Path     string
	IsDir    bool
	FileSize int64
}

// The wire types below mirror MLflow's proto JSON (snake_case).

// wireInt64 is an int64 sent as a JSON number; MLflow answers numbers but
// proto JSON allows strings, so both decode.
type wireInt64 int64

func (n *wireInt64) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	b = bytes.Trim(b, `"`)
	v, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return fmt.Errorf("MLflow sent %s where an integer was expected", b)
	}
	*n = wireInt64(v)
	return nil
}

// wireFloat is a double in proto JSON: a number, or "NaN", "Infinity",
// "-Infinity" (encoding/json cannot represent those).
type wireFloat float64

func (f wireFloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	switch {
	case math.IsNaN(v):
		return []byte(`"NaN"`), nil
	case math.IsInf(v, 1):
		return []byte(`"Infinity"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-Infinity"`), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

func (f *wireFloat) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	s := string(bytes.Trim(b, `"`))
	switch s {
	case "NaN":
		*f = wireFloat(math.NaN())
	case "Infinity":
		*f = wireFloat(math.Inf(1))
	case "-Infinity":
		*f = wireFloat(math.Inf(-1))
	default:
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("MLflow sent %s where a number was expected", b)
		}
		*f = wireFloat(v)
	}
	return nil
}

type wireMetric struct {
	Key       string    `json:"key"`
	Value     wireFloat `json:"value"`
	Timestamp wireInt64 `json:"timestamp"`
	Step      wireInt64 `json:"step"`
}

type wireKeyValue struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type wireRunInfo struct {
	RunID          string     `json:"run_id"`
	RunName        string     `json:"run_name"`
	ExperimentID   string     `json:"experiment_id"`
	Status         string     `json:"status"`
	StartTime      *wireInt64 `json:"start_time"`
	EndTime        *wireInt64 `json:"end_time"`
	ArtifactURI    string     `json:"artifact_uri"`
	LifecycleStage string     `json:"lifecycle_stage"`
}

type wireRun struct {
	Info wireRunInfo `json:"info"`
	Data struct {
		Metrics []wireMetric   `json:"metrics"`
		Params  []wireKeyValue `json:"params"`
		Tags    []wireKeyValue `json:"tags"`
	} `json:"data"`
}

func epochMillis(t time.Time) wireInt64 { return wireInt64(t.UnixMilli()) }

func timeFromMillis(ms *wireInt64) time.Time {
	if ms == nil {
		return time.Time{}
	}
	return time.UnixMilli(int64(*ms))
}

func (w wireRunInfo) runInfo() RunInfo {
	return RunInfo{
		RunID:          w.RunID,
		RunName:        w.RunName,
		ExperimentID:   w.ExperimentID,
		Status:         RunStatus(w.Status),
		ArtifactURI:    w.ArtifactURI,
		LifecycleStage: w.LifecycleStage,
		StartTime:      timeFromMillis(w.StartTime),
		EndTime:        timeFromMillis(w.EndTime),
	}
}

func (w wireRun) run() Run {
	r := Run{Info: w.Info.runInfo()}
	for _, m := range w.Data.Metrics {
		r.Data.Metrics = append(r.Data.Metrics, Metric{
			Key: m.Key, Value: float64(m.Value), Timestamp: time.UnixMilli(int64(m.Timestamp)), Step: int64(m.Step),
		})
	}
	for _, p := range w.Data.Params {
		r.Data.Params = append(r.Data.Params, Param(p))
	}
	for _, t := range w.Data.Tags {
		r.Data.Tags = append(r.Data.Tags, Tag(t))
	}
	return r
}

// marshalJSON encodes without HTML escaping, so the size LogBatch budgets
// is the size sent.
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
