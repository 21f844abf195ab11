package ingest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	aitrackv1 "github.com/aitrack/aitrack/api/proto/aitrack/v1"
	"github.com/aitrack/aitrack/internal/spool"
)

// Annotations of a session, and the copies of its logged artifacts.
const (
	AnnotationsFile = "annotations.jsonl"
	ArtifactsDir    = "artifacts"
)

// Annotation is one fact added to a session from inside it.
type Annotation struct {
	Time   int64   `json:"t"`
	Kind   string  `json:"k"` // "metric", "param", "tag", "step", "artifact"
	Key    string  `json:"key,omitempty"`
	Value  string  `json:"value,omitempty"`
	Number float64 `json:"number,omitempty"`
	Status string  `json:"status,omitempty"` // a step's "ok" or "failed"
	// File is the artifact's copy inside the session directory.
	File string `json:"file,omitempty"`
}

var annotateMu sync.Mutex // annotations are rare; one lock keeps appends whole

// Annotate stores an annotation durably. An artifact is copied into the
// session first, so that the run keeps the file as it was when logged.
func (s *Store) Annotate(req *aitrackv1.AnnotateRequest) (Annotation, error) {
	id := req.GetSessionId()
	if !spool.ValidID(id) {
		return Annotation{}, fmt.Errorf("invalid session id %q", id)
	}
	dir := filepath.Join(s.dir, id)
	if _, err := os.Stat(filepath.Join(dir, OpenFile)); err != nil {
		return Annotation{}, fmt.Errorf("no session %s here", id)
	}
	a := Annotation{Time: req.GetTimeUnixNano()}
	switch k := req.Kind.(type) {
	case *aitrackv1.AnnotateRequest_Metric:
		a.Kind, a.Key, a.Number = "metric", k.Metric.GetKey(), k.Metric.GetValue()
	case *aitrackv1.AnnotateRequest_Param:
		a.Kind, a.Key, a.Value = "param", k.Param.GetKey(), k.Param.GetValue()
	case *aitrackv1.AnnotateRequest_Tag:
		a.Kind, a.Key, a.Value = "tag", k.Tag.GetKey(), k.Tag.GetValue()
	case *aitrackv1.AnnotateRequest_Step:
		a.Kind, a.Key, a.Status = "step", k.Step.GetName(), k.Step.GetStatus()
	case *aitrackv1.AnnotateRequest_Artifact:
		name := filepath.ToSlash(filepath.Clean(k.Artifact.GetName()))
		if !filepath.IsLocal(name) {
			return Annotation{}, fmt.Errorf("artifact name %q must be a relative path inside the run", k.Artifact.GetName())
		}
		a.Kind, a.Key, a.File = "artifact", name, filepath.Join(ArtifactsDir, filepath.FromSlash(name))
		if err := copyFile(filepath.Join(dir, a.File), k.Artifact.GetPath()); err != nil {
			return Annotation{}, err
		}
	default:
		return Annotation{}, errors.New("annotation has no known kind")
	}
	if a.Key == "" {
		return Annotation{}, fmt.Errorf("%s needs a name", a.Kind)
	}
	b, _ := json.Marshal(a)
	annotateMu.Lock()
	defer annotateMu.Unlock()
	f, err := os.OpenFile(filepath.Join(dir, AnnotationsFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return Annotation{}, err
	}
	defer f.Close()
	if _, err := f.Write(append(b, '\n')); err != nil {
		return Annotation{}, err
	}
	return a, f.Sync()
}

// Annotations reads a session's annotations, skipping a torn last line.
func (ss *Session) Annotations() ([]Annotation, error) {
	b, err := os.ReadFile(filepath.Join(ss.dir, AnnotationsFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Annotation
	for len(b) > 0 {
		i := 0
		for i < len(b) && b[i] != '\n' {
			i++
		}
		if i == len(b) {
			break // torn
		}
		var a Annotation
		if json.Unmarshal(b[:i], &a) == nil {
			out = append(out, a)
		}
		b = b[i+1:]
	}
	return out, nil
}

func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("artifact: %w", err)
	}
	defer in.Close()
	if fi, err := in.Stat(); err != nil || !fi.Mode().IsRegular() {
		return fmt.Errorf("artifact %s is not a regular file", src)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	return writeFileSync(dst, func(w io.Writer) error {
		if _, err := io.Copy(w, in); err != nil {
			return fmt.Errorf("copy artifact %s: %w", src, err)
		}
		return nil
	})
}
