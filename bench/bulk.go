package bench

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"time"
)

// bulkFile is the file `cat` prints, and what a terminal must receive from
// it: the same text with every "\n" turned into "\r\n" by the innermost
// terminal's output processing (ONLCR).
type bulkFile struct {
	path string
	// size is the file's size; want and wantCRC describe the terminal stream.
	size, want int64
	wantCRC    uint32
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// writeBulkFile writes size bytes of base64 text in 76-column lines, as
// base64(1) prints them, from a fixed seed.
func writeBulkFile(path string, size int64) (bulkFile, error) {
	f, err := os.Create(path)
	if err != nil {
		return bulkFile{}, fmt.Errorf("bulk file: %w", err)
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	rng := rand.NewChaCha8([32]byte{'a', 'i', 't', 'r', 'a', 'c', 'k'})
	raw := make([]byte, 57) // 57 bytes encode to one 76-column line
	line := make([]byte, 77)
	bf := bulkFile{path: path, size: size}
	crc := crc32.New(castagnoli)
	for written := int64(0); written < size; {
		rng.Read(raw)
		base64.StdEncoding.Encode(line, raw)
		line[76] = '\n'
		chunk := line[:min(int64(len(line)), size-written)]
		if _, err := w.Write(chunk); err != nil {
			return bulkFile{}, fmt.Errorf("bulk file: %w", err)
		}
		written += int64(len(chunk))
		if chunk[len(chunk)-1] == '\n' {
			crc.Write(chunk[:len(chunk)-1])
			crc.Write([]byte("\r\n"))
			bf.want += int64(len(chunk)) + 1
		} else {
			crc.Write(chunk)
			bf.want += int64(len(chunk))
		}
	}
	if err := w.Flush(); err != nil {
		return bulkFile{}, fmt.Errorf("bulk file: %w", err)
	}
	bf.wantCRC = crc.Sum32()
	return bf, f.Close()
}

// Bulk is `cat` of the bulk file through a candidate.
type Bulk struct {
	Candidate string `json:"candidate"`
	Label     string `json:"label"`
	// WantBytes is what the terminal must receive; Lost the most bytes
	// missing in any repetition, Extra the most bytes beyond it (the
	// candidate's own messages), Identical whether every repetition's
	// first WantBytes bytes were exactly the expected stream.
	WantBytes int64 `json:"want_bytes"`
	Lost      int64 `json:"lost_bytes"`
	Extra     int64 `json:"extra_bytes"`
	Identical bool  `json:"identical"`
	// MBps is throughput from the first to the last byte received.
	MBps Spread `json:"mb_per_s"`
	// ExitAfterLastMs is how long the candidate took to exit after the
	// last byte (a wrapper waits for its daemon's acknowledgements).
	ExitAfterLastMs Spread `json:"exit_after_last_byte_ms"`
	// RelayCPU is the candidate process's own CPU time per MB relayed;
	// TreeCPU adds every process it reaped (cat, helpers).
	RelayCPU Spread `json:"relay_cpu_ms_per_mb"`
	TreeCPU  Spread `json:"tree_cpu_ms_per_mb"`
	// DaemonCPU is aitrackd's CPU time per MB until it went idle (storing,
	// parsing and delivering the session).
	DaemonCPU *Spread `json:"daemon_cpu_ms_per_mb,omitempty"`
	Error     string  `json:"error,omitempty"`
}

type bulkRep struct {
	bytes, lost, extra      int64
	identical               bool
	mbps, exitAfterMs       float64
	relayCPU, treeCPU, dCPU time.Duration
}

func (h *harness) measureBulk(ctx context.Context) {
	peers := h.peersFor(keyDirect, keyScript, keyScriptFile, keyAsciinema, keyWrap, keyWrapNoDaemon)
	reps := make([][]bulkRep, len(peers))
	errs := make([]string, len(peers))
	for rep := range h.cfg.BulkReps {
		for i, p := range peers {
			if ctx.Err() != nil {
				return
			}
			h.logf("bulk: %s, repetition %d/%d", p.Key, rep+1, h.cfg.BulkReps)
			r, err := h.bulkRep(ctx, p)
			if err != nil {
				errs[i] = err.Error()
				continue
			}
			reps[i] = append(reps[i], r)
		}
	}
	mb := float64(h.bulk.want) / 1e6
	for i, p := range peers {
		b := Bulk{Candidate: p.Key, Label: p.Label, WantBytes: h.bulk.want, Identical: len(reps[i]) > 0, Error: errs[i]}
		var mbps, exitAfter, relay, tree, daemon []float64
		for _, r := range reps[i] {
			b.Lost, b.Extra = max(b.Lost, r.lost), max(b.Extra, r.extra)
			b.Identical = b.Identical && r.identical
			mbps = append(mbps, r.mbps)
			exitAfter = append(exitAfter, r.exitAfterMs)
			relay = append(relay, float64(r.relayCPU.Milliseconds())/mb)
			tree = append(tree, float64(r.treeCPU.Milliseconds())/mb)
			daemon = append(daemon, float64(r.dCPU.Milliseconds())/mb)
		}
		b.MBps, b.ExitAfterLastMs = spreadOf(mbps), spreadOf(exitAfter)
		b.RelayCPU, b.TreeCPU = spreadOf(relay), spreadOf(tree)
		if p.daemon != nil {
			s := spreadOf(daemon)
			b.DaemonCPU = &s
		}
		h.report.Bulk = append(h.report.Bulk, b)
	}
}

func (h *harness) bulkRep(ctx context.Context, p peer) (bulkRep, error) {
	argv, cleanup := p.command([]string{"cat", h.bulk.path})
	defer cleanup()
	var daemonBefore time.Duration
	if p.daemon != nil {
		var err error
		if daemonBefore, err = p.daemon.cpu(); err != nil {
			return bulkRep{}, err
		}
	}
	t, err := startOnTerminal(argv, p.env, h.work)
	if err != nil {
		return bulkRep{}, err
	}
	watchdog := time.AfterFunc(10*time.Minute, t.kill)
	defer watchdog.Stop()
	defer t.close()

	var r bulkRep
	crc := crc32.New(castagnoli)
	buf := make([]byte, 128<<10)
	var first, last time.Time
	for {
		n, err := t.read(buf)
		if n > 0 {
			now := time.Now()
			if first.IsZero() {
				first = now
			}
			// The stream ends with its last expected byte: a message the
			// candidate prints at exit is not part of it.
			if r.bytes < h.bulk.want {
				last = now
			}
			// Only the expected stream is checked; anything after it
			// is the candidate's own output.
			if keep := min(int64(n), max(h.bulk.want-r.bytes, 0)); keep > 0 {
				crc.Write(buf[:keep])
			}
			r.bytes += int64(n)
		}
		if err != nil {
			break
		}
	}
	<-t.done
	exited := time.Now()
	if t.finalErr != nil {
		return bulkRep{}, fmt.Errorf("%s: reading its CPU time: %w", p.Key, t.finalErr)
	}
	if code := t.cmd.ProcessState.ExitCode(); code != 0 {
		return bulkRep{}, fmt.Errorf("%s exited with status %d", p.Key, code)
	}
	r.lost, r.extra = max(h.bulk.want-r.bytes, 0), max(r.bytes-h.bulk.want, 0)
	r.identical = r.lost == 0 && crc.Sum32() == h.bulk.wantCRC
	if d := last.Sub(first); d > 0 {
		r.mbps = float64(min(r.bytes, h.bulk.want)) / 1e6 / d.Seconds()
	}
	r.exitAfterMs = float64(exited.Sub(last).Microseconds()) / 1e3
	r.relayCPU, r.treeCPU = t.final.CPU(), t.treeCPU()
	if p.daemon != nil {
		h.quiet(ctx, p.daemon, 2*time.Minute)
		after, err := p.daemon.cpu()
		if err != nil {
			return bulkRep{}, err
		}
		r.dCPU = after - daemonBefore
	}
	return r, nil
}
