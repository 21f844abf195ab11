package cli

import (
	"context"
	"errors"
	"time"

	aitrackv1 "github.com/aitrack/aitrack/api/proto/aitrack/v1"
	"github.com/aitrack/aitrack/internal/ipc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Retry asks the daemon to deliver dead letters again (all when ids is
// empty) and returns the sessions it re-queued.
func Retry(ctx context.Context, socket string, ids []string) ([]string, error) {
	conn, err := ipc.Dial(socket)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := aitrackv1.NewRecorderClient(conn).Retry(ctx, &aitrackv1.RetryRequest{SessionIds: ids})
	switch status.Code(err) {
	case codes.OK:
		return resp.GetRequeued(), nil
	case codes.Unavailable:
		return nil, &ErrNoDaemon{Socket: socket, Err: err}
	default:
		return resp.GetRequeued(), errors.New(status.Convert(err).Message())
	}
}
