package push

import (
	"fmt"
	"slices"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// ProgressInterval is how often a long upload logs a progress line. The
// first line comes only after one interval, so uploads shorter than that
// log nothing.
const ProgressInterval = 5 * time.Second

// progressLog turns go-containerregistry's progress updates, one per read
// of any blob being uploaded, into at most one line per interval: readable
// in a non-TTY Actions log, never a line per chunk. It is driven by update
// and tick, with the time passed in, so its output can be tested without a
// clock.
type progressLog struct {
	logf     func(format string, args ...any)
	interval time.Duration

	mu sync.Mutex
	// planned is the byte count of the blobs handed to the uploader, known
	// before the first byte moves; go-containerregistry's own total grows
	// as each blob starts, which would make early percentages meaningless.
	planned int64
	total   int64
	done    int64
	start   time.Time
	// last is when the last line was logged (start until the first), and
	// lastDone how many bytes were done then.
	last     time.Time
	lastDone int64
	lines    int
	// files are blobs being sent from their files, whose bytes no read
	// counts (see track).
	files []*fileBody
}

func newProgressLog(logf func(string, ...any), planned int64, interval time.Duration, now time.Time) *progressLog {
	return &progressLog{logf: logf, interval: interval, planned: planned, total: planned, start: now, last: now}
}

// update records the latest totals: go-containerregistry sends the
// running sums, not deltas, so the newest update is all that counts.
func (p *progressLog) update(u v1.Update) {
	if u.Error != nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done = u.Complete
	p.total = max(p.planned, u.Total)
}

// add counts n more bytes sent (fewer, when n is negative: bytes of a
// request that failed, which its retry sends again).
func (p *progressLog) add(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += n
	p.total = max(p.planned, p.done)
}

// unplan takes n bytes out of the plan: blobs of an image the registry
// turned out to have.
// track counts what f sends into the progress as it goes (its offset is
// read on each tick), until the returned func: then all of it when the
// request that sent it succeeded, none of it when it failed. A nil
// progressLog tracks nothing.
func (p *progressLog) track(f *fileBody) func(ok bool) {
	if p == nil {
		return func(bool) {}
	}
	p.mu.Lock()
	p.files = append(p.files, f)
	p.mu.Unlock()
	return func(ok bool) {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.files = slices.DeleteFunc(p.files, func(g *fileBody) bool { return g == f })
		if ok {
			if fi, err := f.f.Stat(); err == nil {
				p.done += fi.Size()
				p.total = max(p.planned, p.done)
			}
		}
	}
}

// sending is what the tracked files have sent so far; p.mu is held.
func (p *progressLog) sending() int64 {
	var n int64
	for _, f := range p.files {
		n += f.sent()
	}
	return n
}

func (p *progressLog) unplan(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.planned -= n
	p.total = max(p.planned, p.done)
}

// tick logs a line if an interval has passed since the last one (or since
// the start) and bytes remain. A tenth of an interval's slack absorbs a
// ticker that fires a little early.
func (p *progressLog) tick(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	done := p.done + p.sending()
	if now.Sub(p.last) < p.interval-p.interval/10 || done >= p.total {
		return
	}
	elapsed := now.Sub(p.last).Seconds()
	rate := float64(done-p.lastDone) / elapsed
	p.logf("Uploading: %s of %s (%d%%), %s/s", HumanBytes(done), HumanBytes(p.total), percent(done, p.total), HumanBytes(int64(rate)))
	p.last, p.lastDone = now, done
	p.lines++
}

// finish logs a closing line with the average rate, but only after an
// upload long enough to have logged progress: a short push stays quiet.
func (p *progressLog) finish(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.lines == 0 {
		return
	}
	elapsed := now.Sub(p.start)
	rate := float64(p.done) / max(elapsed.Seconds(), 1e-9)
	p.logf("Uploaded %s in %s (%s/s)", HumanBytes(p.done), elapsed.Round(100*time.Millisecond), HumanBytes(int64(rate)))
}

func percent(done, total int64) int64 {
	if total <= 0 {
		return 100
	}
	return min(done*100/total, 100)
}

// HumanBytes formats a byte count with binary units, as docker and
// skopeo print sizes.
func HumanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// watchProgress starts draining updates into log, ticking every interval.
// go-containerregistry sends each update while holding a lock, from every
// upload at once, so the loop only records it: a slow reader would slow
// the uploads. The returned stop closes the channel (call it once nothing
// can send any more) and waits for the loop to end.
func watchProgress(log *progressLog) (chan<- v1.Update, func()) {
	updates := make(chan v1.Update, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		ticker := time.NewTicker(log.interval)
		defer ticker.Stop()
		for {
			select {
			case u, ok := <-updates:
				if !ok {
					log.finish(time.Now())
					return
				}
				log.update(u)
			case now := <-ticker.C:
				log.tick(now)
			}
		}
	}()
	return updates, func() {
		close(updates)
		<-done
	}
}
