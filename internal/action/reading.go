package action

import (
	"context"
	"os"
	"slices"
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

// startReading starts reading in.Sources. Registry sources keep streaming
// their layers through its context until close.
func startReading(ctx context.Context, gha *githubactions.Action, in inputs.Inputs, opts Options) *reading {
	rd := &reading{done: make(chan struct{}), probed: func() error { return nil }, cancel: func() {}}
	if len(in.Sources) == 0 {
		close(rd.done)
		return rd
	}
	if opts.TempDir == "" {
		dir, err := scratchDir(gha, in)
		if err != nil {
			rd.err = err
			close(rd.done)
			return rd
		}
		rd.dir, opts.TempDir = dir, dir
	}
	ctx, rd.cancel = context.WithCancel(ctx)
	ctx, rd.probed = probeWhileReading(ctx, in, opts)
	rd.results = make([]loaded, len(in.Sources))
	var wg sync.WaitGroup
	for i, src := range in.Sources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, err := source.Load(ctx, src, source.Options{Sessions: opts.sessions, TempDir: opts.TempDir, DockerHost: in.Context.DockerHost})
			rd.results[i] = loaded{l, err}
		}()
	}
	go func() {
		wg.Wait()
		close(rd.done)
	}()
	return rd
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
// read (an engine's export, an archive to unpack) are read, so that a
// denied push fails in seconds, not after the export: a refusal cancels
// the reading. Anything else is read at once, and the push's own first
// request (starting an upload, before any byte of it) is refused just as
// early. The returned func waits for the probe and returns its refusal;
// it may be called more than once.
func probeWhileReading(ctx context.Context, in inputs.Inputs, opts Options) (context.Context, func() error) {
	if !in.Push || !slices.ContainsFunc(in.Sources, slowToRead) {
		return ctx, func() error { return nil }
	}
	ctx, cancel := context.WithCancelCause(ctx)
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err = push.Probe(ctx, in.Image, push.Options{Sessions: opts.sessions}); err != nil {
			cancel(err)
		}
	}()
	return ctx, func() error {
		<-done
		return err
	}
}

// slowToRead reports whether reading src takes long before any push could
// start: an engine export, or an archive to unpack.
func slowToRead(src *inputs.Source) bool {
	switch src.Transport {
	case inputs.DockerDaemon, inputs.OCIArchive, inputs.DockerArchive:
		return true
	}
	return false
}
