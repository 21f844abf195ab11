package daemon

import (
	"context"
	"time"

	aitrackv1 "github.com/aitrack/aitrack/api/proto/aitrack/v1"
	"github.com/aitrack/aitrack/internal/mlflowkey"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Annotate stores a fact logged from inside a session and has the outbox
// deliver it. Mistakes MLflow would refuse much later (a bad key, a param
// that changes) are refused now, where the user sees them.
func (d *Daemon) Annotate(ctx context.Context, req *aitrackv1.AnnotateRequest) (*aitrackv1.AnnotateResponse, error) {
	d.mu.Lock()
	t := d.trackers[req.GetSessionId()]
	d.mu.Unlock()
	if t == nil {
		return nil, status.Errorf(codes.NotFound, "aitrackd has no live session %q: run this inside a session started by aitrack-wrap or aitrack run", req.GetSessionId())
	}
	var kind, key string
	switch k := req.Kind.(type) {
	case *aitrackv1.AnnotateRequest_Metric:
		kind, key = "metric", k.Metric.GetKey()
	case *aitrackv1.AnnotateRequest_Param:
		kind, key = "param", k.Param.GetKey()
		if err := t.checkParam(key, k.Param.GetValue()); err != nil {
			return nil, status.Error(codes.FailedPrecondition, err.Error())
		}
	case *aitrackv1.AnnotateRequest_Tag:
		kind, key = "tag", k.Tag.GetKey()
	case *aitrackv1.AnnotateRequest_Step:
		kind, key = "metric", "steps_completed" // the step's name goes into the events, not a key
		if s := k.Step.GetStatus(); s != "ok" && s != "failed" {
			return nil, status.Errorf(codes.InvalidArgument, "step status %q: want ok or failed", s)
		}
		if k.Step.GetName() == "" {
			return nil, status.Error(codes.InvalidArgument, "a step needs a name")
		}
	case *aitrackv1.AnnotateRequest_Artifact:
		kind, key = "artifact", ""
	default:
		return nil, status.Error(codes.InvalidArgument, "annotation has no known kind")
	}
	if key != "" {
		if err := mlflowkey.Validate(kind, key); err != nil {
			return nil, status.Error(codes.InvalidArgument, err.Error())
		}
	}
	if req.GetTimeUnixNano() == 0 {
		req.TimeUnixNano = time.Now().UnixNano()
	}
	// The lock spans the store so that an annotation cannot slip in after
	// the End, when the outbox may already be finishing the run.
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ended {
		return nil, status.Errorf(codes.FailedPrecondition, "session %s has ended; its run no longer takes annotations", req.GetSessionId())
	}
	a, err := d.ingester.Store().Annotate(req)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	t.annotate(a)
	d.log.Debug("annotation", zap.String("session", req.GetSessionId()), zap.String("kind", a.Kind), zap.String("key", a.Key))
	d.outbox.Track(d.ctx, req.GetSessionId())
	return &aitrackv1.AnnotateResponse{}, nil
}
