// Package mlflowclient is aitrackd's client for the MLflow 3.x tracking REST
// API: experiments, runs, batched metrics/params/tags and proxied artifacts.
//
// Each method sends at most the requests it needs (LogBatch may split a batch
// into several) and never retries: the daemon's delivery loop owns retries,
// so errors are classified precisely instead (IsRetryable, IsNotFound,
// RetryAfter, *APIError). Values MLflow would reject or silently alter are
// caught or made explicit client-side: invalid keys fail before sending,
// over-long param and tag values are truncated with a visible marker.
//
// It is not a general MLflow SDK: no model registry, no traces, no
// multipart or direct-to-cloud artifact uploads (only the server's
// mlflow-artifacts proxy).
package mlflowclient
