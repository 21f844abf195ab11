package daemon

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/aitrack/aitrack/internal/asciicast"
	"github.com/aitrack/aitrack/internal/ingest"
	"github.com/aitrack/aitrack/internal/redact"
)

// RedactedCastFile is the cast that leaves the machine when redaction is
// on. A cast stores output as JSON strings, where ESC is the text \u001b:
// a colour code inside a token would hide it from a redactor reading the
// file, so the cast is written again from the raw records, through a
// redacting stream, with its header redacted too. It goes up as it is.
const RedactedCastFile = "session.redacted.cast"

// castSink hands the redacting stream's output to the cast at the time of
// the record being replayed.
type castSink struct {
	cast *asciicast.Writer
	at   time.Time
}

func (c *castSink) Write(p []byte) (int, error) {
	c.cast.Output(c.at, p)
	return len(p), nil
}

// writeRedactedCast replays the stored session into RedactedCastFile.
func writeRedactedCast(store *ingest.Store, id string, red *redact.Redactor) error {
	ss, err := store.Load(id)
	if err != nil {
		return err
	}
	defer ss.Close()
	open := ss.Open()
	dir := ss.Dir()
	tmp := filepath.Join(dir, RedactedCastFile+".tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	start := time.Unix(0, open.GetStartUnixNano())
	// The header too: a secret passed as an argument is in the command.
	command, _ := red.String(shellJoin(open.GetArgv()))
	term, _ := red.String(open.GetTerm())
	cast, err := asciicast.NewWriter(f, asciicast.Header{
		Width: max(int(open.GetSize().GetCols()), 1), Height: max(int(open.GetSize().GetRows()), 1),
		Command: command, Env: map[string]string{"TERM": term},
	}, start)
	if err != nil {
		return err
	}
	sink := &castSink{cast: cast, at: start}
	stream := red.NewStream(sink)
	last := start
	err = ss.Replay(func(r ingest.Rec, data []byte) error {
		sink.at, last = r.At(), r.At()
		switch r.Kind {
		case "o":
			_, err := stream.Write(data)
			return err
		case "r":
			cast.Resize(r.At(), int(r.Cols), int(r.Rows))
		case "e":
			if err := stream.Close(); err != nil {
				return err
			}
			code := int(r.Exit)
			if r.Signal != 0 {
				code = 128 + int(r.Signal)
			}
			cast.Marker(r.At(), fmt.Sprintf("exit %d", code))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("redact the cast of %s: %w", id, err)
	}
	stream.Close()
	if err := cast.Close(last); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, RedactedCastFile))
}
