package mlflowclient

import (
	"context"
	"fmt"
	"github.com/aitrack/aitrack/internal/mlflowkey"
	"unicode/utf8"
)

// MLflow's limits (mlflow/utils/validation.py, 3.x).
const (
	maxParamValueLength = 6000
	maxTagValueLength   = 8000
	maxMetricsPerBatch  = 1000
	maxParamsPerBatch   = 100
	maxTagsPerBatch     = 100
	maxEntitiesPerBatch = 1000
	// maxBatchBytes is the documented 1 MB request limit; the OSS server
	// does not enforce it, proxies and hosted MLflow do.
	maxBatchBytes = 1_000_000
)

// Batch is data to log to one run. LogBatch sends it in as many requests as
// MLflow's limits need.
type Batch struct {
	Metrics []Metric
	Params  []Param
	Tags    []Tag
}

type wireBatch struct {
	RunID   string         `json:"run_id"`
	Metrics []wireMetric   `json:"metrics,omitempty"`
	Params  []wireKeyValue `json:"params,omitempty"`
	Tags    []wireKeyValue `json:"tags,omitempty"`
}

// LogBatch logs metrics, params and tags to a run, split into requests
// within MLflow's limits (≤1000 metrics, ≤100 params, ≤100 tags, ≤1000
// entities, <1 MB of JSON each), sent in order. Nothing is sent if any
// entry is invalid. Of duplicate param keys only the first is sent; param
// and tag values over MLflow's limits are cut and end in "…[truncated]".
//
// A failure may leave earlier requests applied. Re-sending the whole batch
// is safe: identical metrics are deduplicated by MLflow's SQL store,
// identical params are no-ops and tags are overwritten.
func (c *Client) LogBatch(ctx context.Context, runID string, b Batch) error {
	if runID == "" {
		return fmt.Errorf("%w: log batch: run ID is empty", ErrInvalidInput)
	}
	requests, err := splitBatch(runID, b)
	if err != nil {
		return fmt.Errorf("log batch to MLflow run %s: %w", runID, err)
	}
	for i, req := range requests {
		if err := c.post(ctx, "/runs/log-batch", req, nil); err != nil {
			return fmt.Errorf("log batch to MLflow run %s (request %d of %d): %w", runID, i+1, len(requests), err)
		}
	}
	return nil
}

// splitBatch validates and normalises b and packs it into requests, params
// first, then tags, then metrics, each kind in its original order (so the
// last of several writes to a tag still wins).
func splitBatch(runID string, b Batch) ([]wireBatch, error) {
	params, err := prepareParams(b.Params)
	if err != nil {
		return nil, err
	}
	tags, err := prepareTags(b.Tags)
	if err != nil {
		return nil, err
	}
	metrics, err := prepareMetrics(b.Metrics)
	if err != nil {
		return nil, err
	}

	empty, err := marshalJSON(wireBatch{RunID: runID})
	if err != nil {
		return nil, err
	}
	// An upper bound of the request's size: every kind's `,"kind":[]` and a
	// comma per entity.
	overhead := len(empty) + len(`,"metrics":[],"params":[],"tags":[]`)

	var (
		out   []wireBatch
		cur   = wireBatch{RunID: runID}
		size  = overhead
		count = 0
	)
	// room makes space for one more entity of encoded size n whose kind
	// already has have of at most limit in the current request.
	room := func(have, limit, n int) {
		if have < limit && count < maxEntitiesPerBatch && size+n+1 < maxBatchBytes {
			return
		}
		out = append(out, cur)
		cur, size, count = wireBatch{RunID: runID}, overhead, 0
	}
	for _, p := range params {
		n, err := encodedSize(p)
		if err != nil {
			return nil, err
		}
		room(len(cur.Params), maxParamsPerBatch, n)
		cur.Params = append(cur.Params, p)
		size, count = size+n+1, count+1
	}
	for _, t := range tags {
		n, err := encodedSize(t)
		if err != nil {
			return nil, err
		}
		room(len(cur.Tags), maxTagsPerBatch, n)
		cur.Tags = append(cur.Tags, t)
		size, count = size+n+1, count+1
	}
	for _, m := range metrics {
		n, err := encodedSize(m)
		if err != nil {
			return nil, err
		}
		room(len(cur.Metrics), maxMetricsPerBatch, n)
		cur.Metrics = append(cur.Metrics, m)
		size, count = size+n+1, count+1
	}
	if count > 0 {
		out = append(out, cur)
	}
	return out, nil
}

func encodedSize(v any) (int, error) {
	b, err := marshalJSON(v)
	if err != nil {
		return 0, fmt.Errorf("encode %v: %w", v, err)
	}
	return len(b), nil
}

// prepareParams validates keys, keeps the first of duplicate keys (MLflow
// rejects a batch with two) and truncates long values.
func prepareParams(params []Param) ([]wireKeyValue, error) {
	seen := make(map[string]bool, len(params))
	out := make([]wireKeyValue, 0, len(params))
	for _, p := range params {
		if err := validateKey("param", p.Key); err != nil {
			return nil, err
		}
		if seen[p.Key] {
			continue
		}
		seen[p.Key] = true
		out = append(out, wireKeyValue{Key: p.Key, Value: truncateValue(p.Value, maxParamValueLength)})
	}
	return out, nil
}

// prepareTags validates keys and truncates long values.
func prepareTags(tags []Tag) ([]wireKeyValue, error) {
	out := make([]wireKeyValue, 0, len(tags))
	for _, t := range tags {
		if err := validateKey("tag", t.Key); err != nil {
			return nil, err
		}
		out = append(out, wireKeyValue{Key: t.Key, Value: truncateValue(t.Value, maxTagValueLength)})
	}
	return out, nil
}

func prepareMetrics(metrics []Metric) ([]wireMetric, error) {
	out := make([]wireMetric, 0, len(metrics))
	for _, m := range metrics {
		if err := validateKey("metric", m.Key); err != nil {
			return nil, err
		}
		if m.Timestamp.IsZero() || m.Timestamp.UnixMilli() < 0 {
			return nil, fmt.Errorf("%w: metric %q: timestamp %s is not set or before 1970", ErrInvalidInput, m.Key, m.Timestamp)
		}
		out = append(out, wireMetric{Key: m.Key, Value: wireFloat(m.Value), Timestamp: epochMillis(m.Timestamp), Step: wireInt64(m.Step)})
	}
	return out, nil
}

// validateKey refuses, before sending, a key MLflow would refuse.
func validateKey(kind, key string) error {
	if err := mlflowkey.Validate(kind, key); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidInput, err)
	}
	return nil
}

// truncateValue cuts v to at most limit characters (MLflow counts code
// points), ending in a marker so the cut is visible.
func truncateValue(v string, limit int) string {
	if utf8.RuneCountInString(v) <= limit {
		return v
	}
	return shortenRunes(v, limit-utf8.RuneCountInString(truncatedMarker)) + truncatedMarker
}

// shorten abbreviates s for a message.
func shorten(s string, runes int) string {
	if utf8.RuneCountInString(s) <= runes {
		return s
	}
	return shortenRunes(s, runes) + "…"
}

func shortenRunes(s string, runes int) string {
	i := 0
	for n := 0; n < runes && i < len(s); n++ {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return s[:i]
}
