package outbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/aitrack/aitrack/internal/mlflowclient"
	"github.com/aitrack/aitrack/internal/redact"
	"go.uber.org/zap"
)

// The raw transcript is the one artifact that grows without bound while a
// session runs, and the one a user wants back if the machine is lost
// mid-session. So it goes up in numbered parts as it grows — full parts
// once, the growing last part again every PartInterval — and whole, as
// RawArtifact, at the end, after which the parts are deleted.
const (
	// RawArtifact is the raw transcript's name among a run's artifacts.
	RawArtifact = "transcript.raw"
	// RawPartsDir holds the parts while the session runs.
	RawPartsDir = "transcript.parts"
	// RedactedRawFile is the redacted copy of the raw transcript that the
	// parts and the final artifact are cut from, in the session's
	// directory; it is rebuilt from the raw file after a restart.
	RedactedRawFile = "transcript.raw.redacted"
)

// rawView is what a delivery has made of a session's raw transcript: the
// file uploads are cut from (the raw file, or its redacted copy) and, when
// redacting, the stream that extends that copy as the raw file grows.
type rawView struct {
	src      *os.File // the raw transcript
	view     *os.File // what is uploaded: src, or the redacted copy
	stream   *redact.Stream
	fed      int64 // bytes of src written to stream
	closed   bool  // stream closed: view is complete
	lastPart time.Time
}

func openRawView(snap Snapshot, red *redact.Redactor) (*rawView, error) {
	src, err := os.Open(snap.Raw)
	if err != nil {
		return nil, fmt.Errorf("raw transcript: %w", err)
	}
	v := &rawView{src: src, view: src, lastPart: snap.Start}
	if red == nil {
		return v, nil
	}
	// Rebuilt from the start each time: redaction is deterministic, so the
	// parts MLflow already has are cut from the same bytes.
	v.view, err = os.OpenFile(filepath.Join(snap.Dir, RedactedRawFile), os.O_CREATE|os.O_RDWR|os.O_TRUNC, 0o600)
	if err != nil {
		src.Close()
		return nil, fmt.Errorf("redacted transcript: %w", err)
	}
	v.stream = red.NewStream(v.view)
	return v, nil
}

func (v *rawView) close() {
	if v == nil {
		return
	}
	if v.view != v.src {
		v.view.Close()
	}
	v.src.Close()
}

// size brings the view up to date with the raw file (the whole of it once
// the session has ended) and returns its length.
func (v *rawView) size(ended bool) (int64, error) {
	if v.stream != nil && !v.closed {
		fi, err := v.src.Stat()
		if err != nil {
			return 0, fmt.Errorf("raw transcript: %w", err)
		}
		if n := fi.Size() - v.fed; n > 0 {
			if _, err := io.Copy(v.stream, io.NewSectionReader(v.src, v.fed, n)); err != nil {
				return 0, fmt.Errorf("redact the raw transcript: %w", err)
			}
			v.fed += n
		}
		if ended {
			if err := v.stream.Close(); err != nil {
				return 0, fmt.Errorf("redact the raw transcript: %w", err)
			}
			v.closed = true
		} else {
			v.stream.Shrink() // it waits a PartInterval for more, per live session
		}
	}
	fi, err := v.view.Stat()
	if err != nil {
		return 0, fmt.Errorf("raw transcript: %w", err)
	}
	return fi.Size(), nil
}

func partName(i int) string { return fmt.Sprintf("%s/part-%05d.raw", RawPartsDir, i+1) }

// syncRaw uploads what is due of the raw transcript: parts while the
// session runs, the whole file at its end, then removes the parts.
func (o *Outbox) syncRaw(ctx context.Context, snap Snapshot, st *State, d *delivery, red *redact.Redactor) error {
	if snap.Raw == "" || st.RawDone {
		return nil
	}
	if !snap.Ended && time.Since(snap.Start) < o.cfg.PartInterval {
		return nil // most sessions are short: they go up whole, once
	}
	if d.raw == nil {
		v, err := openRawView(snap, red)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		d.raw = v
	}
	v := d.raw
	size, err := v.size(snap.Ended)
	if err != nil {
		return err
	}
	c, part := o.cfg.Client, o.cfg.PartSize
	save := func() error {
		if err := writeState(snap.Dir, *st); err != nil {
			return fmt.Errorf("save delivery state: %w", err)
		}
		return nil
	}
	if !snap.Ended {
		for int64(st.RawParts+1)*part <= size {
			if err := c.UploadArtifact(ctx, st.ArtifactURI, partName(st.RawParts), io.NewSectionReader(v.view, int64(st.RawParts)*part, part), part); err != nil {
				return fmt.Errorf("upload %s: %w", partName(st.RawParts), err)
			}
			st.RawParts, st.RawPartLen = st.RawParts+1, 0
			if err := save(); err != nil {
				return err
			}
		}
		open := size - int64(st.RawParts)*part
		if open > st.RawPartLen && time.Since(v.lastPart) >= o.cfg.PartInterval {
			if err := c.UploadArtifact(ctx, st.ArtifactURI, partName(st.RawParts), io.NewSectionReader(v.view, int64(st.RawParts)*part, open), open); err != nil {
				return fmt.Errorf("upload %s: %w", partName(st.RawParts), err)
			}
			v.lastPart, st.RawPartLen = time.Now(), open
			return save()
		}
		return nil
	}
	if !st.rawUploaded() {
		if err := c.UploadArtifact(ctx, st.ArtifactURI, RawArtifact, io.NewSectionReader(v.view, 0, size), size); err != nil {
			return fmt.Errorf("upload %s: %w", RawArtifact, err)
		}
		if v.stream != nil {
			if st.Redacted == nil {
				st.Redacted = redact.Counts{}
			}
			st.Redacted.Add(v.stream.Counts())
		}
		st.Uploaded = append(st.Uploaded, RawArtifact)
		if err := save(); err != nil {
			return err
		}
	}
	if st.RawParts > 0 || st.RawPartLen > 0 {
		err := c.DeleteArtifact(ctx, st.ArtifactURI, RawPartsDir)
		var apiErr *mlflowclient.APIError
		if errors.As(err, &apiErr) && apiErr.StatusCode == 404 {
			err = nil // gone already: a retry after a crash
		}
		if err != nil && !mlflowclient.IsPermanent(err) {
			return err
		}
		if err != nil {
			// The whole transcript is up; parts left behind are clutter,
			// not loss, and not worth a dead letter.
			o.cfg.Log.Warn("cannot remove the transcript's live parts from the run; transcript.raw has all of it", zap.String("session", snap.ID), zap.Error(err))
		}
	}
	st.RawDone = true
	if err := save(); err != nil {
		return err
	}
	// Only the parts and the final upload needed the copy.
	if err := os.Remove(filepath.Join(snap.Dir, RedactedRawFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		o.cfg.Log.Warn("cannot remove the redacted copy of the transcript", zap.String("session", snap.ID), zap.Error(err))
	}
	return nil
}
