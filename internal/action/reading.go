package action

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/sethvargo/go-githubactions"

	"github.com/ghcr-publish/publish-action/internal/inputs"
	"github.com/ghcr-publish/publish-action/internal/push"
	"github.com/ghcr-publish/publish-action/internal/source"
)

// loaded is one source's reading.
type loaded struct {
	l   *source.Loaded
	err error
}

// reading is the sources being read, all at once, from the start of the
// run: a merge of per-platform images from a registry reads them in two
// round trips, not two per source, and beside the GitHub API's.
type reading struct {
	done    chan struct{}
	results []loaded
	err     error
	// probed waits for the push-access probe, if one runs beside the
	// reading, and returns its refusal.
	probed func() error
	cancel context.CancelFunc
	// dir is the scratch directory made for the run, removed at close.
	dir string
}

// read starts reading the sources, all at once. Registry sources keep
// streaming their layers through ctx until close.
func (r *run) read(ctx context.Context) {
	rd := &reading{done: make(chan struct{}), probed: func() error { return nil }, cancel: func() {}}
	r.rd = rd
	if len(r.in.Sources) == 0 {
		close(rd.done)
		return
	}
	dir := r.tempDir
	if dir == "" {
		var err error
		if dir, err = scratchDir(r.gha, r.in); err != nil {
			rd.err = err
			close(rd.done)
			return
		}
		rd.dir = dir
	}
	ctx, rd.cancel = context.WithCancel(ctx)
	ctx, rd.probed = r.probeWhileReading(ctx)
	opts := source.Options{Sessions: r.reg.sessions, TempDir: dir, DockerHost: r.in.Context.DockerHost}
	rd.results = make([]loaded, len(r.in.Sources))
	var wg sync.WaitGroup
	for i, src := range r.in.Sources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, err := source.Load(ctx, src, opts)
			rd.results[i] = loaded{l, err}
		}()
	}
	go func() {
		wg.Wait()
		close(rd.done)
	}()
}

// wait returns every source's reading once all are read.
func (rd *reading) wait() ([]loaded, error) {
	<-rd.done
	return rd.results, rd.err
}

// close stops what is still being read, and releases what was read and
// the scratch directory. Call it when the push is done.
func (rd *reading) close() {
	rd.cancel()
	<-rd.done
	rd.probed()
	for _, r := range rd.results {
		if r.l != nil {
			r.l.Close()
		}
	}
	if rd.dir != "" {
		os.RemoveAll(rd.dir)
	}
}

// probeWhileReading checks push access while sources that take long to
// read (source.SlowToRead: an engine's export, an archive to unpack) are
// read, so that a denied push fails in seconds, not after the export: a
// refusal cancels the reading. Anything else is read at once, and the
// push's own first request (starting an upload, before any byte of it) is
// refused just as early. The returned func waits for the probe and
// returns its refusal; it may be called more than once.
func (r *run) probeWhileReading(ctx context.Context) (context.Context, func() error) {
	if !r.in.Push || !slices.ContainsFunc(r.in.Sources, source.SlowToRead) {
		return ctx, func() error { return nil }
	}
	ctx, cancel := context.WithCancelCause(ctx)
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		// Every destination: one that refuses fails the publish, which
		// writes all of them or none.
		dests := r.in.Destinations()
		for _, repo := range dests {
			if err = push.Probe(ctx, repo, push.Options{Sessions: r.reg.sessions}); err != nil {
				if len(dests) > 1 {
					// Named as the push names it, so the advice is about
					// this destination.
					err = &push.DestinationError{Repository: repo, Err: err}
				}
				cancel(err)
				return
			}
		}
	}()
	return ctx, func() error {
		<-done
		return err
	}
}

// scratchDir makes a private directory for unpacked archives and engine
// exports. A container action runs on scratch, which has no /tmp: the
// runner's mounted HOME (/github/home) or the workspace stand in for it.
func scratchDir(gha *githubactions.Action, in inputs.Inputs) (string, error) {
	var tried []string
	for _, base := range []string{gha.Getenv("RUNNER_TEMP"), os.TempDir(), gha.Getenv("HOME"), in.Context.Workspace} {
		if base == "" {
			continue
		}
		if fi, err := os.Stat(base); err != nil || !fi.IsDir() {
			tried = append(tried, base)
			continue
		}
		dir, err := os.MkdirTemp(base, "publish-action-")
		if err == nil {
			return dir, nil
		}
		tried = append(tried, base)
	}
	return "", fmt.Errorf("no writable directory for temporary files (tried %s); set TMPDIR or mount one", strings.Join(tried, ", "))
}
