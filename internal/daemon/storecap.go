package daemon

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/aitrack/aitrack/internal/outbox"
	"go.uber.org/zap"
)

// storeUsage is what the session store holds on disk.
type storeUsage struct {
	Total int64 // every session's files
	// Pending is the sessions that ended (or lost their wrapper) and that
	// MLflow does not have in full yet: what an outage piles up.
	Pending int64
	Full    bool // pending alone is over the cap: the ingester is held
}

// deliveredSession is a session MLflow has in full, a candidate for removal.
type deliveredSession struct {
	id   string
	size int64
	when time.Time // when MLflow confirmed it
}

// checkStore measures the store and keeps it under the cap: sessions MLflow
// has in full go first, oldest first, whatever keep_days says; when ended
// sessions MLflow does not have yet are over the cap alone, the ingester is
// held — wrappers keep their output, then spool it — until deliveries make
// room. Running sessions do not count toward holding: they can only end,
// and be delivered, if they are not held. Nothing is dropped: the cap
// bounds the store, and back-pressure does the rest.
func (d *Daemon) checkStore() {
	store := d.ingester.Store()
	ids, err := store.IDs()
	if err != nil {
		d.log.Warn("cannot measure the session store", zap.Error(err))
		return
	}
	var (
		u    storeUsage
		done []deliveredSession
	)
	for _, id := range ids {
		dir := filepath.Join(store.Dir(), id)
		size := dirSize(dir)
		u.Total += size
		st, err := outbox.ReadState(dir)
		fi, serr := os.Stat(filepath.Join(dir, outbox.StateFile))
		switch {
		case err == nil && serr == nil && st.Done && !d.live(id):
			done = append(done, deliveredSession{id, size, fi.ModTime()})
		case !d.running(id):
			u.Pending += size
		}
	}
	limit := d.cfg.MaxStoreBytes
	if u.Total > limit {
		slices.SortFunc(done, func(a, b deliveredSession) int { return a.when.Compare(b.when) })
		for _, s := range done {
			if u.Total <= limit {
				break
			}
			if d.removeDelivered(s.id) {
				u.Total -= s.size
			}
		}
	}
	u.Full = u.Pending > limit
	if was := d.ingester.Held(); u.Full != was {
		if u.Full {
			d.log.Warn("the session store is full of sessions MLflow does not have yet: new output waits in the wrappers (memory, then spool files) until MLflow takes some",
				zap.Int64("pending_mb", u.Pending>>20), zap.Int64("max_store_mb", limit>>20))
		} else {
			d.log.Info("the session store has room again", zap.Int64("pending_mb", u.Pending>>20))
		}
	}
	d.ingester.Hold(u.Full)
	d.mu.Lock()
	d.store = u
	d.mu.Unlock()
}

// usage is the store's usage at the last check.
func (d *Daemon) usage() storeUsage {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.store
}

// live reports whether a session has a tracker (it is streaming or being
// delivered).
func (d *Daemon) live(id string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.trackers[id]
	return ok
}

// running reports whether a session has not ended yet.
func (d *Daemon) running(id string) bool {
	d.mu.Lock()
	t := d.trackers[id]
	d.mu.Unlock()
	if t == nil {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return !t.ended
}

// removeDelivered removes the files of a session MLflow has in full.
func (d *Daemon) removeDelivered(id string) bool {
	if d.live(id) {
		return false
	}
	if err := os.RemoveAll(filepath.Join(d.ingester.Store().Dir(), id)); err != nil {
		d.log.Warn("cannot remove a delivered session's local files", zap.String("session", id), zap.Error(err))
		return false
	}
	d.log.Info("removed a delivered session's local files", zap.String("session", id))
	return true
}

// dirSize is the size of the files under dir.
func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, e fs.DirEntry, err error) error {
		if err == nil && e.Type().IsRegular() {
			if fi, err := e.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}
