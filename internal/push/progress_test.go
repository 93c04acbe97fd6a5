package push

import (
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// The progress log is driven by hand here: updates as go-containerregistry
// sends them (running sums, one per read) and ticks at chosen times. No
// clock is involved, so nothing depends on how fast the test runs.
func TestProgressLogThrottles(t *testing.T) {
	t.Parallel()
	const mib = 1 << 20
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(d time.Duration) time.Time { return start.Add(d) }

	var lines []string
	logf := func(format string, args ...any) { lines = append(lines, fmt.Sprintf(format, args...)) }
	p := newProgressLog(logf, 100*mib, 5*time.Second, start)

	// Thousands of reads within the first interval: no line at all.
	for done := int64(32 << 10); done <= 20*mib; done += 32 << 10 {
		p.update(v1.Update{Total: 40 * mib, Complete: done})
	}
	p.tick(at(2 * time.Second))
	p.tick(at(4 * time.Second))
	if len(lines) != 0 {
		t.Fatalf("lines before the first interval: %q", lines)
	}

	// One line per interval, with the planned total (go-containerregistry's
	// own total only counts the blobs started so far), the percentage and
	// the rate over the interval.
	p.tick(at(5 * time.Second))
	p.tick(at(6 * time.Second)) // too soon after the last line
	p.update(v1.Update{Total: 100 * mib, Complete: 70 * mib})
	// A ticker firing a little early still counts as an interval.
	p.tick(at(9*time.Second + 800*time.Millisecond))
	// An error update changes nothing.
	p.update(v1.Update{Error: errors.New("boom")})
	p.update(v1.Update{Total: 100 * mib, Complete: 100 * mib})
	// Nothing remains: no line, however long since the last.
	p.tick(at(20 * time.Second))
	p.finish(at(20 * time.Second))

	want := []string{
		"Uploading: 20.0 MiB of 100.0 MiB (20%), 4.0 MiB/s",
		"Uploading: 70.0 MiB of 100.0 MiB (70%), 10.4 MiB/s",
		"Uploaded 100.0 MiB in 20s (5.0 MiB/s)",
	}
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("progress lines mismatch (-want +got):\n%s", diff)
	}
}

func TestProgressLogQuietForShortUploads(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var lines []string
	p := newProgressLog(func(format string, args ...any) { lines = append(lines, fmt.Sprintf(format, args...)) }, 1<<30, 5*time.Second, start)
	p.update(v1.Update{Total: 1 << 30, Complete: 1 << 30})
	p.tick(start.Add(5 * time.Second))
	p.finish(start.Add(5 * time.Second))
	if len(lines) != 0 {
		t.Errorf("a finished upload logged %q, want nothing", lines)
	}
}

// Blobs of an image the registry turns out to have leave the plan, so the
// percentage does not stall short of 100.
func TestProgressLogUnplan(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var lines []string
	p := newProgressLog(func(format string, args ...any) { lines = append(lines, fmt.Sprintf(format, args...)) }, 300, 5*time.Second, start)
	p.update(v1.Update{Total: 100, Complete: 50})
	p.unplan(100)
	p.tick(start.Add(5 * time.Second))
	want := []string{"Uploading: 50 B of 200 B (25%), 10 B/s"}
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("progress lines mismatch (-want +got):\n%s", diff)
	}
}

// watchProgress must drain updates while no tick is due, and stop cleanly.
func TestWatchProgressDrains(t *testing.T) {
	t.Parallel()
	p := newProgressLog(func(string, ...any) {}, 1000, time.Hour, time.Now())
	updates, stop := watchProgress(p)
	// Far more updates than the channel buffers: a reader that stalled
	// would block this loop forever.
	for i := int64(1); i <= 10000; i++ {
		updates <- v1.Update{Total: 1000, Complete: i % 1000}
	}
	updates <- v1.Update{Total: 1000, Complete: 999}
	stop()
	if p.done != 999 {
		t.Errorf("done = %d after the last update, want 999", p.done)
	}
}

func TestJobsScaleToTheWork(t *testing.T) {
	t.Parallel()
	limit := max(4, 2*runtime.GOMAXPROCS(0))
	for _, tc := range []struct {
		opts Options
		n    int
		want int
	}{
		{Options{}, 0, 1},
		{Options{}, 1, 1},
		{Options{}, 3, min(3, limit)},
		{Options{}, 100, limit},
		{Options{Jobs: 2}, 100, 2},
	} {
		if got := tc.opts.jobs(tc.n); got != tc.want {
			t.Errorf("Options{Jobs: %d}.jobs(%d) = %d, want %d", tc.opts.Jobs, tc.n, got, tc.want)
		}
	}
}
