package mlflowclient

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"
)

// CreateRun describes a new run.
type CreateRun struct {
	ExperimentID string
	RunName      string // empty: MLflow picks a random name
	// StartTime is required: MLflow stores an omitted start as 1970.
	StartTime time.Time
	Tags      map[string]string
}

// CreateRun creates a run. It is not idempotent: a lost answer can leave a
// run behind, so tag runs with a unique ID and look for it with
// FindRunByTag before creating again.
func (c *Client) CreateRun(ctx context.Context, r CreateRun) (RunInfo, error) {
	if r.ExperimentID == "" {
		return RunInfo{}, fmt.Errorf("%w: create run: experiment ID is empty", ErrInvalidInput)
	}
	if r.StartTime.IsZero() || r.StartTime.UnixMilli() < 0 {
		return RunInfo{}, fmt.Errorf("%w: create run: start time %s is not set or before 1970", ErrInvalidInput, r.StartTime)
	}
	keys := make([]string, 0, len(r.Tags))
	for k := range r.Tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	tags := make([]Tag, 0, len(keys))
	for _, k := range keys {
		tags = append(tags, Tag{Key: k, Value: r.Tags[k]})
	}
	wireTags, err := prepareTags(tags)
	if err != nil {
		return RunInfo{}, fmt.Errorf("create run: %w", err)
	}
	req := struct {
		ExperimentID string         `json:"experiment_id"`
		RunName      string         `json:"run_name,omitempty"`
		StartTime    wireInt64      `json:"start_time"`
		Tags         []wireKeyValue `json:"tags,omitempty"`
	}{r.ExperimentID, r.RunName, epochMillis(r.StartTime), wireTags}
	var resp struct {
		Run wireRun `json:"run"`
	}
	if err := c.post(ctx, "/runs/create", req, &resp); err != nil {
		return RunInfo{}, fmt.Errorf("create MLflow run in experiment %s: %w", r.ExperimentID, err)
	}
	if resp.Run.Info.RunID == "" {
		return RunInfo{}, fmt.Errorf("create MLflow run in experiment %s: the answer has no run_id", r.ExperimentID)
	}
	return resp.Run.Info.runInfo(), nil
}

// GetRun returns a run with its latest metrics, params and tags.
func (c *Client) GetRun(ctx context.Context, runID string) (Run, error) {
	if runID == "" {
		return Run{}, fmt.Errorf("%w: get run: run ID is empty", ErrInvalidInput)
	}
	var resp struct {
		Run wireRun `json:"run"`
	}
	if err := c.get(ctx, "/runs/get", url.Values{"run_id": {runID}}, &resp); err != nil {
		return Run{}, fmt.Errorf("get MLflow run %s: %w", runID, err)
	}
	return resp.Run.run(), nil
}

// View types for SearchRuns.
const (
	ViewActiveOnly  = "ACTIVE_ONLY"
	ViewDeletedOnly = "DELETED_ONLY"
	ViewAll         = "ALL"
)

// maxSearchPage is MLflow's SEARCH_MAX_RESULTS_THRESHOLD.
const maxSearchPage = 50_000

// SearchRuns selects runs.
type SearchRuns struct {
	ExperimentIDs []string
	// Filter uses MLflow's search syntax, e.g. `tags.type = "ai_session"`.
	Filter string
	// MaxResults is the page size of each request (0: the server's 1000,
	// at most 50000); all pages are fetched.
	MaxResults int
	// OrderBy entries such as "attributes.start_time DESC".
	OrderBy []string
	// ViewType is ViewActiveOnly (the default when empty), ViewDeletedOnly
	// or ViewAll.
	ViewType string
}

// SearchRuns returns every run matching s, following next_page_token to
// the end.
func (c *Client) SearchRuns(ctx context.Context, s SearchRuns) ([]Run, error) {
	if len(s.ExperimentIDs) == 0 {
		return nil, fmt.Errorf("%w: search runs: no experiment IDs", ErrInvalidInput)
	}
	if s.MaxResults < 0 || s.MaxResults > maxSearchPage {
		return nil, fmt.Errorf("%w: search runs: MaxResults %d is outside 0..%d", ErrInvalidInput, s.MaxResults, maxSearchPage)
	}
	switch s.ViewType {
	case "", ViewActiveOnly, ViewDeletedOnly, ViewAll:
	default:
		return nil, fmt.Errorf("%w: search runs: view type %q is not %s, %s or %s", ErrInvalidInput, s.ViewType, ViewActiveOnly, ViewDeletedOnly, ViewAll)
	}
	req := struct {
		ExperimentIDs []string `json:"experiment_ids"`
		Filter        string   `json:"filter,omitempty"`
		RunViewType   string   `json:"run_view_type,omitempty"`
		MaxResults    int      `json:"max_results,omitempty"`
		OrderBy       []string `json:"order_by,omitempty"`
		PageToken     string   `json:"page_token,omitempty"`
	}{ExperimentIDs: s.ExperimentIDs, Filter: s.Filter, RunViewType: s.ViewType, MaxResults: s.MaxResults, OrderBy: s.OrderBy}
	var runs []Run
	for {
		var resp struct {
			Runs          []wireRun `json:"runs"`
			NextPageToken string    `json:"next_page_token"`
		}
		if err := c.post(ctx, "/runs/search", req, &resp); err != nil {
			return nil, fmt.Errorf("search MLflow runs in experiments %s (filter %q): %w", strings.Join(s.ExperimentIDs, ","), s.Filter, err)
		}
		for _, r := range resp.Runs {
			runs = append(runs, r.run())
		}
		if resp.NextPageToken == "" {
			return runs, nil
		}
		if resp.NextPageToken == req.PageToken {
			return nil, fmt.Errorf("search MLflow runs: the server repeated page token %q", resp.NextPageToken)
		}
		req.PageToken = resp.NextPageToken
	}
}

// FindRunByTag returns the oldest active run of the experiment whose tag
// key equals value, or nil when there is none. It makes run creation
// idempotent: tag each run with a unique ID and look it up first.
func (c *Client) FindRunByTag(ctx context.Context, experimentID, key, value string) (*Run, error) {
	if experimentID == "" {
		return nil, fmt.Errorf("%w: find run by tag: experiment ID is empty", ErrInvalidInput)
	}
	filter, err := tagEqualsFilter(key, value)
	if err != nil {
		return nil, err
	}
	runs, err := c.SearchRuns(ctx, SearchRuns{
		ExperimentIDs: []string{experimentID},
		Filter:        filter,
		OrderBy:       []string{"attributes.start_time ASC"},
	})
	if err != nil || len(runs) == 0 {
		return nil, err
	}
	return &runs[0], nil
}

// tagEqualsFilter builds `tags.`key` = 'value'`. MLflow's filter parser
// has no escapes, so the quote must be one the value does not contain, and
// a backslash would be read as one.
func tagEqualsFilter(key, value string) (string, error) {
	if err := validateKey("tag", key); err != nil {
		return "", err
	}
	quote := "'"
	if strings.Contains(value, quote) {
		quote = `"`
	}
	if strings.Contains(value, quote) || strings.Contains(value, `\`) {
		return "", fmt.Errorf("%w: tag value %q cannot be searched: MLflow filters cannot quote a value with both quote kinds or a backslash", ErrInvalidInput, shorten(value, 80))
	}
	return "tags.`" + key + "` = " + quote + value + quote, nil
}

// UpdateRun sets a run's status and, unless end is zero, its end time.
func (c *Client) UpdateRun(ctx context.Context, runID string, status RunStatus, end time.Time) error {
	if runID == "" {
		return fmt.Errorf("%w: update run: run ID is empty", ErrInvalidInput)
	}
	if !status.valid() {
		return fmt.Errorf("%w: update run %s: status %q is not RUNNING, FINISHED, FAILED or KILLED", ErrInvalidInput, runID, status)
	}
	req := struct {
		RunID   string     `json:"run_id"`
		Status  RunStatus  `json:"status"`
		EndTime *wireInt64 `json:"end_time,omitempty"`
	}{RunID: runID, Status: status}
	if !end.IsZero() {
		if end.UnixMilli() < 0 {
			return fmt.Errorf("%w: update run %s: end time %s is before 1970", ErrInvalidInput, runID, end)
		}
		ms := epochMillis(end)
		req.EndTime = &ms
	}
	if err := c.post(ctx, "/runs/update", req, nil); err != nil {
		return fmt.Errorf("update MLflow run %s to %s: %w", runID, status, err)
	}
	return nil
}
