package mlflowclient

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestValidateKey(t *testing.T) {
	for _, key := range []string{
		"loss", "a/b", "system/cpu_utilization_percentage", "x:y", "a.b-c d_e", "système", "指标", "a/.b", "a..b", strings.Repeat("k", 250),
	} {
		if err := validateKey("metric", key); err != nil {
			t.Errorf("valid key %q rejected: %v", key, err)
		}
	}
	for _, tc := range []struct{ key, reason string }{
		{"", "empty"},
		{strings.Repeat("k", 251), "251 characters"},
		{"a=b", `'='`},
		{"tab\tkey", `'\t'`},
		{"new\nline", `'\n'`},
		{"semi;colon", `';'`},
		{"/abs", "normalised"},
		{"trailing/", "normalised"},
		{"double//slash", "normalised"},
		{"a/../b", "normalised"},
		{"./a", "normalised"},
		{".", "normalised"},
		{"..", "normalised"},
		{"..a", "normalised"},
		{"a/.", "normalised"},
		{"\xff", "UTF-8"},
	} {
		t.Run(tc.key, func(t *testing.T) {
			err := validateKey("tag", tc.key)
			if !errors.Is(err, ErrInvalidInput) || !strings.Contains(err.Error(), tc.reason) || !strings.Contains(err.Error(), "tag key") {
				t.Fatalf("got %v, want ErrInvalidInput naming the tag key and %q", err, tc.reason)
			}
		})
	}
}

func TestTruncateValue(t *testing.T) {
	for _, tc := range []struct {
		name  string
		value string
		limit int
		want  string
	}{
		{"short", "abc", 20, "abc"},
		{"exactly the limit", strings.Repeat("a", 20), 20, strings.Repeat("a", 20)},
		{"one over", strings.Repeat("a", 21), 20, "aaaaaaaa" + truncatedMarker},
		{"counts characters not bytes", strings.Repeat("é", 20), 20, strings.Repeat("é", 20)},
		{"cuts on characters", strings.Repeat("é", 21), 20, "éééééééé" + truncatedMarker},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := truncateValue(tc.value, tc.limit); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func FuzzTruncateValue(f *testing.F) {
	f.Add("hello", 3)
	f.Add(strings.Repeat("é", 100), 50)
	f.Add("\xff\xfe abc", 13)
	f.Fuzz(func(t *testing.T, value string, limit int) {
		limit = utf8.RuneCountInString(truncatedMarker) + abs(limit)%10_000
		got := truncateValue(value, limit)
		if n := utf8.RuneCountInString(got); n > limit {
			t.Fatalf("%d characters, limit %d", n, limit)
		}
		if got != value && (!strings.HasSuffix(got, truncatedMarker) || !strings.HasPrefix(value, strings.TrimSuffix(got, truncatedMarker))) {
			t.Fatalf("%q is not a marked prefix of %q", got, value)
		}
		if utf8.ValidString(value) && !utf8.ValidString(got) {
			t.Fatalf("cut inside a character: %q", got)
		}
	})
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// sentBatches decodes the log-batch requests a recorder saw, checking each
// is within MLflow's limits.
func sentBatches(t *testing.T, rec *recorder) []wireBatch {
	t.Helper()
	var out []wireBatch
	for _, r := range rec.all() {
		if r.path != "/api/2.0/mlflow/runs/log-batch" {
			t.Fatalf("unexpected request to %s", r.path)
		}
		if len(r.body) >= maxBatchBytes {
			t.Errorf("request of %d bytes", len(r.body))
		}
		var b struct {
			RunID   string         `json:"run_id"`
			Metrics []wireMetric   `json:"metrics"`
			Params  []wireKeyValue `json:"params"`
			Tags    []wireKeyValue `json:"tags"`
		}
		if err := json.Unmarshal(r.body, &b); err != nil {
			t.Fatalf("%v: %.200s", err, r.body)
		}
		if len(b.Metrics) > maxMetricsPerBatch || len(b.Params) > maxParamsPerBatch || len(b.Tags) > maxTagsPerBatch ||
			len(b.Metrics)+len(b.Params)+len(b.Tags) > maxEntitiesPerBatch || len(b.Metrics)+len(b.Params)+len(b.Tags) == 0 {
			t.Errorf("request with %d metrics, %d params, %d tags", len(b.Metrics), len(b.Params), len(b.Tags))
		}
		out = append(out, wireBatch(b))
	}
	return out
}

func TestLogBatchSplitsWithinLimits(t *testing.T) {
	at := time.UnixMilli(1_750_000_000_000)
	metrics := func(n int) []Metric {
		var m []Metric
		for i := range n {
			m = append(m, Metric{Key: fmt.Sprintf("m%d", i%7), Value: float64(i), Timestamp: at, Step: int64(i)})
		}
		return m
	}
	params := func(n int, value string) []Param {
		var p []Param
		for i := range n {
			p = append(p, Param{Key: fmt.Sprintf("p%d", i), Value: value})
		}
		return p
	}
	tags := func(n int, value string) []Tag {
		var tg []Tag
		for i := range n {
			tg = append(tg, Tag{Key: fmt.Sprintf("t%d", i%150), Value: value + fmt.Sprint(i)})
		}
		return tg
	}
	// Control characters take 6 bytes each in JSON: 100 such tags of 8000
	// characters are 4.8 MB.
	escaped := strings.Repeat("\x01", maxTagValueLength-10)
	for _, tc := range []struct {
		name         string
		batch        Batch
		wantRequests int
	}{
		{"empty", Batch{}, 0},
		{"one of each", Batch{Metrics: metrics(1), Params: params(1, "v"), Tags: tags(1, "v")}, 1},
		{"metrics at the limit", Batch{Metrics: metrics(1000)}, 1},
		{"metrics over the limit", Batch{Metrics: metrics(2500)}, 3},
		{"params over the limit", Batch{Params: params(250, "v")}, 3},
		{"tags over the limit", Batch{Tags: tags(201, "v")}, 3},
		{"entities over the limit", Batch{Metrics: metrics(950), Params: params(100, "v"), Tags: tags(100, "v")}, 2},
		{"bytes over the limit", Batch{Tags: tags(100, escaped)}, 5},
		{"long params", Batch{Params: params(100, strings.Repeat("\"", maxParamValueLength))}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec, c := newRecorder(t, nil)
			if err := c.LogBatch(t.Context(), "run1", tc.batch); err != nil {
				t.Fatal(err)
			}
			sent := sentBatches(t, rec)
			if len(sent) != tc.wantRequests {
				t.Errorf("%d requests, want %d", len(sent), tc.wantRequests)
			}
			var gotMetrics []wireMetric
			var gotParams, gotTags []wireKeyValue
			for _, b := range sent {
				if b.RunID != "run1" {
					t.Errorf("run id %q", b.RunID)
				}
				gotMetrics = append(gotMetrics, b.Metrics...)
				gotParams = append(gotParams, b.Params...)
				gotTags = append(gotTags, b.Tags...)
			}
			wantMetrics, _ := prepareMetrics(tc.batch.Metrics)
			wantParams, _ := prepareParams(tc.batch.Params)
			wantTags, _ := prepareTags(tc.batch.Tags)
			if fmt.Sprint(gotMetrics) != fmt.Sprint(wantMetrics) || fmt.Sprint(gotParams) != fmt.Sprint(wantParams) || fmt.Sprint(gotTags) != fmt.Sprint(wantTags) {
				t.Errorf("sent %d metrics, %d params, %d tags differ from the %d, %d, %d given (or their order)",
					len(gotMetrics), len(gotParams), len(gotTags), len(wantMetrics), len(wantParams), len(wantTags))
			}
		})
	}
}

func TestLogBatchNormalises(t *testing.T) {
	at := time.UnixMilli(1_750_000_000_000)
	rec, c := newRecorder(t, nil)
	err := c.LogBatch(t.Context(), "run1", Batch{
		Params: []Param{
			{"model", "first"}, {"model", "second"}, {"long", strings.Repeat("p", maxParamValueLength+1)}, {"fits", strings.Repeat("p", maxParamValueLength)},
		},
		Tags: []Tag{{"long", strings.Repeat("t", maxTagValueLength+500)}, {"fits", strings.Repeat("t", maxTagValueLength)}},
		Metrics: []Metric{
			{Key: "nan", Value: math.NaN(), Timestamp: at},
			{Key: "inf", Value: math.Inf(1), Timestamp: at},
			{Key: "-inf", Value: math.Inf(-1), Timestamp: at},
			{Key: "tiny", Value: 1e-7, Timestamp: at, Step: -1},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	sent := rec.all()
	if len(sent) != 1 {
		t.Fatalf("%d requests, want 1", len(sent))
	}
	body := string(sent[0].body)
	for _, want := range []string{
		`"params":[{"key":"model","value":"first"},{"key":"long","value":"` + strings.Repeat("p", maxParamValueLength-utf8.RuneCountInString(truncatedMarker)) + truncatedMarker + `"},{"key":"fits","value":"` + strings.Repeat("p", maxParamValueLength) + `"}]`,
		`{"key":"long","value":"` + strings.Repeat("t", maxTagValueLength-utf8.RuneCountInString(truncatedMarker)) + truncatedMarker + `"}`,
		`{"key":"fits","value":"` + strings.Repeat("t", maxTagValueLength) + `"}`,
		`{"key":"nan","value":"NaN","timestamp":1750000000000,"step":0}`,
		`{"key":"inf","value":"Infinity","timestamp":1750000000000,"step":0}`,
		`{"key":"-inf","value":"-Infinity","timestamp":1750000000000,"step":0}`,
		`{"key":"tiny","value":1e-07,"timestamp":1750000000000,"step":-1}`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %.120s…", want)
		}
	}
	if strings.Contains(body, "second") {
		t.Error("the duplicate param was sent")
	}
}

func TestLogBatchInvalidSendsNothing(t *testing.T) {
	at := time.UnixMilli(1_750_000_000_000)
	ok := Metric{Key: "ok", Value: 1, Timestamp: at}
	for _, tc := range []struct {
		name, runID string
		batch       Batch
		wantInError string
	}{
		{"no run", "", Batch{Metrics: []Metric{ok}}, "run ID"},
		{"bad metric key", "r", Batch{Metrics: []Metric{ok, {Key: "a b?", Value: 1, Timestamp: at}}}, `metric key "a b?"`},
		{"bad param key", "r", Batch{Metrics: []Metric{ok}, Params: []Param{{"/etc", "x"}}}, `param key "/etc"`},
		{"bad tag key", "r", Batch{Tags: []Tag{{"a//b", "x"}}}, `tag key "a//b"`},
		{"long key", "r", Batch{Tags: []Tag{{strings.Repeat("k", 300), "x"}}}, "300 characters"},
		{"metric without timestamp", "r", Batch{Metrics: []Metric{{Key: "m", Value: 1}}}, `metric "m"`},
		{"metric before 1970", "r", Batch{Metrics: []Metric{{Key: "m", Value: 1, Timestamp: time.UnixMilli(-1)}}}, "before 1970"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec, c := newRecorder(t, nil)
			err := c.LogBatch(t.Context(), tc.runID, tc.batch)
			if !errors.Is(err, ErrInvalidInput) || IsRetryable(err) || !strings.Contains(err.Error(), tc.wantInError) {
				t.Fatalf("got %v, want a non-retryable ErrInvalidInput mentioning %q", err, tc.wantInError)
			}
			if n := len(rec.all()); n != 0 {
				t.Fatalf("%d requests sent", n)
			}
		})
	}
}

func FuzzWireFloat(f *testing.F) {
	for _, v := range []float64{0, -0.5, 1e-7, 1e300, math.MaxFloat64, math.SmallestNonzeroFloat64, math.NaN(), math.Inf(1), math.Inf(-1)} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v float64) {
		b, err := json.Marshal(struct{ V wireFloat }{wireFloat(v)})
		if err != nil {
			t.Fatal(err)
		}
		var back struct{ V wireFloat }
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if got := float64(back.V); got != v && !(math.IsNaN(got) && math.IsNaN(v)) {
			t.Fatalf("%v became %s and then %v", v, b, got)
		}
	})
}
