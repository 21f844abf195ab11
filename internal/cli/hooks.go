package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	aitrackv1 "github.com/aitrack/aitrack/api/proto/aitrack/v1"
	"github.com/aitrack/aitrack/internal/ipc"
	"github.com/aitrack/aitrack/internal/wrapper"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrNoSession means a hook ran outside a tracked session.
var ErrNoSession = errors.New("not inside a tracked session (" + wrapper.EnvSession + " is unset): run this from a program started by aitrack-wrap or `aitrack run`")

// Hook is one in-session command's request, built from its arguments.
type Hook func(req *aitrackv1.AnnotateRequest) error

// StepHook records a step of a procedure.
func StepHook(name, stepStatus string) Hook {
	return func(req *aitrackv1.AnnotateRequest) error {
		req.Kind = &aitrackv1.AnnotateRequest_Step{Step: &aitrackv1.Step{Name: name, Status: stepStatus}}
		return nil
	}
}

// MetricHook logs a metric point.
func MetricHook(key, value string) Hook {
	return func(req *aitrackv1.AnnotateRequest) error {
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			return fmt.Errorf("metric value %q is not a number", value)
		}
		req.Kind = &aitrackv1.AnnotateRequest_Metric{Metric: &aitrackv1.MetricPoint{Key: key, Value: v}}
		return nil
	}
}

// ParamHook logs a param.
func ParamHook(key, value string) Hook {
	return func(req *aitrackv1.AnnotateRequest) error {
		req.Kind = &aitrackv1.AnnotateRequest_Param{Param: &aitrackv1.KeyValue{Key: key, Value: value}}
		return nil
	}
}

// TagHook sets a tag.
func TagHook(key, value string) Hook {
	return func(req *aitrackv1.AnnotateRequest) error {
		req.Kind = &aitrackv1.AnnotateRequest_Tag{Tag: &aitrackv1.KeyValue{Key: key, Value: value}}
		return nil
	}
}

// ArtifactHook logs a file as an artifact, under name (default: its base name).
func ArtifactHook(path, name string) Hook {
	return func(req *aitrackv1.AnnotateRequest) error {
		abs, err := filepath.Abs(path)
		if err != nil {
			return err
		}
		if name == "" {
			name = filepath.Base(abs)
		}
		req.Kind = &aitrackv1.AnnotateRequest_Artifact{Artifact: &aitrackv1.ArtifactFile{Path: abs, Name: name}}
		return nil
	}
}

// Annotate sends a hook's request for the session the environment names.
func Annotate(ctx context.Context, getenv func(string) string, socket string, hook Hook) error {
	id := getenv(wrapper.EnvSession)
	if id == "" {
		return ErrNoSession
	}
	req := &aitrackv1.AnnotateRequest{SessionId: id, TimeUnixNano: time.Now().UnixNano()}
	if err := hook(req); err != nil {
		return err
	}
	conn, err := ipc.Dial(socket)
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err = aitrackv1.NewRecorderClient(conn).Annotate(ctx, req)
	switch status.Code(err) {
	case codes.OK:
		return nil
	case codes.Unavailable:
		return &ErrNoDaemon{Socket: socket, Err: err}
	default:
		return errors.New(status.Convert(err).Message())
	}
}
