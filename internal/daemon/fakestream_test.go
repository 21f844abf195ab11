package daemon

import (
	"context"
	"io"

	aitrackv1 "github.com/aitrack/aitrack/api/proto/aitrack/v1"
	"github.com/aitrack/aitrack/internal/ingest"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

type nopObserver struct{}

func (nopObserver) Attached(*ingest.Session)                    {}
func (nopObserver) Stored(*ingest.Session, []*aitrackv1.Record) {}
func (nopObserver) Detached(*ingest.Session, error)             {}

// fakeStream is a Record stream in memory, for fuzzing the handler.
type fakeStream struct {
	grpc.ServerStream
	ctx context.Context
	in  []*aitrackv1.RecordRequest
}

func (s *fakeStream) Context() context.Context { return s.ctx }

func (s *fakeStream) Send(*aitrackv1.RecordResponse) error { return nil }

func (s *fakeStream) Recv() (*aitrackv1.RecordRequest, error) {
	if len(s.in) == 0 {
		return nil, io.EOF
	}
	m := s.in[0]
	s.in = s.in[1:]
	return m, nil
}

// splitMessages decodes fuzz bytes as length-prefixed messages.
func splitMessages(b []byte) []*aitrackv1.RecordRequest {
	var out []*aitrackv1.RecordRequest
	for len(b) > 0 {
		n := int(b[0])
		b = b[1:]
		if n > len(b) {
			n = len(b)
		}
		m := new(aitrackv1.RecordRequest)
		if proto.Unmarshal(b[:n], m) == nil {
			out = append(out, m)
		}
		b = b[n:]
	}
	return out
}
