package mlflowclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"unicode"
)

// artifactsAPI is the proxy's base path (mlflow_artifacts.proto).
const artifactsAPI = "/api/2.0/mlflow-artifacts/artifacts"

// UploadArtifact stores body as the file relPath under a run's artifact URI
// (RunInfo.ArtifactURI), streaming it through the tracking server's
// artifact proxy. size is the body's length, or -1 if unknown. Only
// mlflow-artifacts: URIs are proxied; others give ErrArtifactsNotProxied.
// The transfer is aborted if it makes no progress for the client's
// timeout. A second upload to the same path replaces the file.
func (c *Client) UploadArtifact(ctx context.Context, artifactURI, relPath string, body io.Reader, size int64) error {
	target, err := c.artifactURL(artifactURI, relPath)
	if err != nil {
		return fmt.Errorf("upload artifact %q: %w", relPath, err)
	}
	wd, reqCtx := startWatchdog(ctx, c.timeout)
	defer wd.stop()
	src := &progressReader{r: body, wd: wd, want: max(size, -1)}
	var reqBody io.Reader = src
	if size == 0 {
		reqBody = http.NoBody
	}
	req, err := c.newRequest(reqCtx, http.MethodPut, target, reqBody, "application/octet-stream")
	if err != nil {
		return err
	}
	if size > 0 {
		req.ContentLength = size
	}
	resp, err := c.do(wd, req)
	if srcErr := src.readErr(); srcErr != nil {
		// The source's fault, not the network's: resending the same bytes
		// would fail the same way.
		return fmt.Errorf("upload artifact %q: reading the data to upload: %w", relPath, srcErr)
	}
	if err != nil {
		return fmt.Errorf("upload artifact %q: %w", relPath, err)
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBodyBytes)); err != nil {
		return fmt.Errorf("upload artifact %q: %w", relPath, c.transportFailure(wd, endpoint(req.Method, target), err))
	}
	return nil
}

// DeleteArtifact removes the file or directory relPath under a run's
// artifact URI through the artifact proxy.
func (c *Client) DeleteArtifact(ctx context.Context, artifactURI, relPath string) error {
	target, err := c.artifactURL(artifactURI, relPath)
	if err != nil {
		return fmt.Errorf("delete artifact %q: %w", relPath, err)
	}
	wd, reqCtx := startWatchdog(ctx, c.timeout)
	defer wd.stop()
	req, err := c.newRequest(reqCtx, http.MethodDelete, target, http.NoBody, "")
	if err != nil {
		return err
	}
	resp, err := c.do(wd, req)
	if err != nil {
		return fmt.Errorf("delete artifact %q: %w", relPath, err)
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBodyBytes)); err != nil {
		return fmt.Errorf("delete artifact %q: %w", relPath, c.transportFailure(wd, endpoint(req.Method, target), err))
	}
	return nil
}

// DownloadArtifact streams the file relPath under a run's artifact URI. The
// caller must close the reader; a download that makes no progress for the
// client's timeout fails with a retryable error.
func (c *Client) DownloadArtifact(ctx context.Context, artifactURI, relPath string) (io.ReadCloser, error) {
	target, err := c.artifactURL(artifactURI, relPath)
	if err != nil {
		return nil, fmt.Errorf("download artifact %q: %w", relPath, err)
	}
	wd, reqCtx := startWatchdog(ctx, c.timeout)
	req, err := c.newRequest(reqCtx, http.MethodGet, target, http.NoBody, "")
	if err != nil {
		wd.stop()
		return nil, err
	}
	resp, err := c.do(wd, req)
	if err != nil {
		wd.stop()
		return nil, fmt.Errorf("download artifact %q: %w", relPath, err)
	}
	wd.kick()
	return &download{
		body: resp.Body,
		src:  progressReader{r: resp.Body, wd: wd, want: -1},
		fail: func(err error) error {
			return fmt.Errorf("download artifact %q: %w", relPath, c.transportFailure(wd, endpoint(req.Method, target), err))
		},
		wd: wd,
	}, nil
}

type download struct {
	body io.Closer
	src  progressReader
	fail func(error) error
	wd   *watchdog
}

func (d *download) Read(b []byte) (int, error) {
	n, err := d.src.Read(b)
	if err != nil && !errors.Is(err, io.EOF) {
		err = d.fail(err)
	}
	return n, err
}

func (d *download) Close() error {
	d.wd.stop()
	return d.body.Close()
}

// ListArtifacts lists the direct children of path ("" for the root) in a
// run's artifacts, following pages to the end.
func (c *Client) ListArtifacts(ctx context.Context, runID, path string) ([]FileInfo, error) {
	if runID == "" {
		return nil, fmt.Errorf("%w: list artifacts: run ID is empty", ErrInvalidInput)
	}
	query := url.Values{"run_id": {runID}}
	if path != "" {
		query.Set("path", path)
	}
	var files []FileInfo
	for {
		var resp struct {
			Files []struct {
				Path     string    `json:"path"`
				IsDir    bool      `json:"is_dir"`
				FileSize wireInt64 `json:"file_size"`
			} `json:"files"`
			NextPageToken string `json:"next_page_token"`
		}
		if err := c.get(ctx, "/artifacts/list", query, &resp); err != nil {
			return nil, fmt.Errorf("list artifacts of MLflow run %s under %q: %w", runID, path, err)
		}
		for _, f := range resp.Files {
			files = append(files, FileInfo{Path: f.Path, IsDir: f.IsDir, FileSize: int64(f.FileSize)})
		}
		if resp.NextPageToken == "" || resp.NextPageToken == query.Get("page_token") {
			return files, nil
		}
		query.Set("page_token", resp.NextPageToken)
	}
}

// artifactURL maps mlflow-artifacts:/<exp>/<run>/artifacts and relPath to
// {tracking URI}/api/2.0/mlflow-artifacts/artifacts/<exp>/<run>/artifacts/<rel>,
// each segment escaped. An authority in the artifact URI
// (mlflow-artifacts://host:port/...) replaces the tracking host, as in
// MLflow's MlflowArtifactsRepository.resolve_uri.
func (c *Client) artifactURL(artifactURI, relPath string) (string, error) {
	u, err := url.Parse(artifactURI)
	if err != nil || u.Scheme == "" {
		return "", fmt.Errorf("%w: artifact URI %q is not a URI", ErrInvalidInput, redactURI(artifactURI))
	}
	if u.Scheme != "mlflow-artifacts" {
		return "", fmt.Errorf("artifact URI %q: %w: only mlflow-artifacts: URIs are; the experiment was created with another artifact location, so use a new experiment on a server started with --serve-artifacts",
			u.Redacted(), ErrArtifactsNotProxied)
	}
	root := u.Path
	if u.Opaque != "" {
		root = u.Opaque
	}
	var segments []string
	for _, s := range strings.Split(root, "/") {
		if s == "" {
			continue // mlflow-artifacts:/a//b means a/b, as the server collapses slashes
		}
		if err := checkSegment(s); err != nil {
			return "", fmt.Errorf("%w: artifact URI %q: %w", ErrInvalidInput, u.Redacted(), err)
		}
		segments = append(segments, url.PathEscape(s))
	}
	if relPath == "" || strings.HasPrefix(relPath, "/") {
		return "", fmt.Errorf("%w: artifact path %q must be relative and not empty", ErrInvalidInput, relPath)
	}
	for _, s := range strings.Split(relPath, "/") {
		if s == "" {
			return "", fmt.Errorf("%w: artifact path %q has an empty segment (// or a trailing /)", ErrInvalidInput, relPath)
		}
		if err := checkSegment(s); err != nil {
			return "", fmt.Errorf("%w: artifact path %q: %w", ErrInvalidInput, relPath, err)
		}
		segments = append(segments, url.PathEscape(s))
	}
	base := *c.base
	if u.Host != "" {
		base.Host = u.Host
	}
	return base.String() + artifactsAPI + "/" + strings.Join(segments, "/"), nil
}

// checkSegment refuses what the server's validate_path_is_safe rejects or
// reinterprets: it URL-decodes repeatedly (so "%" is ambiguous), rejects
// "#", backslashes and "..", and rewrites control characters.
func checkSegment(s string) error {
	if s == "." || s == ".." {
		return fmt.Errorf("segment %q is not allowed", s)
	}
	for _, r := range s {
		if r == '%' || r == '#' || r == '\\' || unicode.IsControl(r) {
			return fmt.Errorf("segment %q contains %q, which the MLflow server rejects or rewrites", s, r)
		}
	}
	return nil
}
