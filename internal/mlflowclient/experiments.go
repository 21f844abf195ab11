package mlflowclient

import (
	"context"
	"fmt"
	"net/url"
	"unicode/utf8"
)

// maxExperimentNameLength is MLflow's MAX_EXPERIMENT_NAME_LENGTH.
const maxExperimentNameLength = 500

type wireExperiment struct {
	ExperimentID   string `json:"experiment_id"`
	Name           string `json:"name"`
	LifecycleStage string `json:"lifecycle_stage"`
}

// GetOrCreateExperiment returns the ID of the experiment called name,
// restoring it if it was deleted (deleted names stay taken in MLflow) and
// creating it if it does not exist. A concurrent creator winning the race
// is fine: the name is looked up again.
func (c *Client) GetOrCreateExperiment(ctx context.Context, name string) (string, error) {
	if name == "" || utf8.RuneCountInString(name) > maxExperimentNameLength {
		return "", fmt.Errorf("%w: experiment name must have 1 to %d characters, got %d", ErrInvalidInput, maxExperimentNameLength, utf8.RuneCountInString(name))
	}
	id, err := c.activeExperimentByName(ctx, name)
	if err == nil || !IsNotFound(err) {
		return id, err
	}
	var created struct {
		ExperimentID string `json:"experiment_id"`
	}
	err = c.post(ctx, "/experiments/create", map[string]string{"name": name}, &created)
	if hasCode(err, CodeResourceAlreadyExists) {
		return c.activeExperimentByName(ctx, name)
	}
	if err != nil {
		return "", fmt.Errorf("create MLflow experiment %q: %w", name, err)
	}
	return created.ExperimentID, nil
}

// activeExperimentByName looks the experiment up and restores it if it was
// deleted. A missing experiment is an error for which IsNotFound is true.
func (c *Client) activeExperimentByName(ctx context.Context, name string) (string, error) {
	var got struct {
		Experiment wireExperiment `json:"experiment"`
	}
	if err := c.get(ctx, "/experiments/get-by-name", url.Values{"experiment_name": {name}}, &got); err != nil {
		return "", fmt.Errorf("look up MLflow experiment %q: %w", name, err)
	}
	exp := got.Experiment
	if exp.ExperimentID == "" {
		return "", fmt.Errorf("look up MLflow experiment %q: the answer has no experiment_id", name)
	}
	if exp.LifecycleStage == "deleted" {
		if err := c.post(ctx, "/experiments/restore", map[string]string{"experiment_id": exp.ExperimentID}, nil); err != nil {
			return "", fmt.Errorf("restore deleted MLflow experiment %q (id %s): %w", name, exp.ExperimentID, err)
		}
	}
	return exp.ExperimentID, nil
}
