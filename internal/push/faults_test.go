package push

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/ghcr-publish/publish-action/internal/registryhttp"
	"github.com/ghcr-publish/publish-action/internal/testkit/registrytest"
	"github.com/ghcr-publish/publish-action/internal/testkit/sample"
)

// fastRetries keeps fault tests short; the seed makes their waits the same
// every run.
var fastRetries = registryhttp.Policy{Base: time.Millisecond, Max: 5 * time.Millisecond, Seed: 1}

// A tag that reads as missing for a while after it was written (ghcr.io's
// tag reads lag its writes at times): the read-back polls it; while it
// lags past the wait, the publish still succeeds, with a warning, once the
// manifest reads back by digest.
func TestReadBackWhenTheTagLags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		stale    int           // tag reads answered stale: the first is the check before writing
		lag      time.Duration // how long the read-back polls
		warning  bool
		minReads int
	}{
		// The wait is long: the poll ends as soon as the tag reads back,
		// so however slow the machine, it is never what ends it.
		{"caught up while polled", 3, time.Minute, false, 4},
		{"still lagging when the wait ends", 1 << 30, 2 * time.Second, true, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reg, err := registrytest.Start(registrytest.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer reg.Close()
			proxy := registrytest.NewFaultProxy(reg.Host(), registrytest.First(tt.stale, registrytest.StaleTag, registrytest.TagReads))
			defer proxy.Close()
			img, err := sample.Image(sample.Options{Seed: "lag"})
			if err != nil {
				t.Fatal(err)
			}
			repo, _ := name.NewRepository(proxy.Host() + "/acme/widget")
			opts := Options{Sessions: registrytest.NewSessions(registrytest.SessionOptions{Retry: fastRetries}), ReadBack: true, tagLag: tt.lag}
			res, err := All(context.Background(), img, repo, []name.Tag{repo.Tag("1.0")}, opts)
			if err != nil {
				t.Fatalf("All() = %v", err)
			}
			if got := len(res.Warnings) > 0; got != tt.warning {
				t.Errorf("warnings = %q, want a warning: %v", res.Warnings, tt.warning)
			}
			if tt.warning && !strings.Contains(strings.Join(res.Warnings, ""), "does not read back") {
				t.Errorf("warning = %q, want it to say the tag does not read back yet", res.Warnings)
			}
			reads := 0
			for _, e := range proxy.Events() {
				if e.Path == "/v2/acme/widget/manifests/1.0" && e.Method == http.MethodHead {
					reads++
				}
			}
			if reads < tt.minReads {
				t.Errorf("the tag was read %d times, want at least %d", reads, tt.minReads)
			}
			// The tag is in place whatever its read said.
			direct, _ := name.NewTag(reg.Host() + "/acme/widget:1.0")
			if _, err := remote.Head(direct); err != nil {
				t.Errorf("the tag, once caught up: %v", err)
			}
		})
	}
}

// A layer read from another registry whose download breaks off half way:
// the upload continues its session from where the destination got to,
// with the layer read again from its source, and the image arrives whole.
func TestSourceBreaksOffMidLayer(t *testing.T) {
	t.Parallel()
	src, err := registrytest.Start(registrytest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := registrytest.Start(registrytest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	img, err := sample.Image(sample.Options{Seed: "breaks-off", Layers: 3, LayerSize: 512 << 10})
	if err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	srcRepo, _ := name.NewRepository(src.Host() + "/acme/base")
	if err := remote.Write(srcRepo.Tag("1"), img); err != nil {
		t.Fatal(err)
	}
	// Only layers: a config is read whole, before any upload starts.
	isLayer := func(r *http.Request) bool {
		for _, d := range m.Layers {
			if strings.HasSuffix(r.URL.Path, "/blobs/"+d.Digest.String()) {
				return r.Method == http.MethodGet
			}
		}
		return false
	}
	proxy := registrytest.NewFaultProxy(src.Host(), registrytest.First(2, registrytest.CutAnswer, isLayer))
	defer proxy.Close()
	ref, err := name.ParseReference(proxy.Host() + "/acme/base:1")
	if err != nil {
		t.Fatal(err)
	}
	read, err := remote.Image(ref)
	if err != nil {
		t.Fatal(err)
	}
	repo, _ := name.NewRepository(dst.Host() + "/acme/widget")
	res, err := All(context.Background(), read, repo, []name.Tag{repo.Tag("1")}, Options{Sessions: registrytest.NewSessions(registrytest.SessionOptions{Retry: fastRetries}), ReadBack: true})
	if err != nil {
		t.Fatalf("All() after %v = %v", proxy.Injected(), err)
	}
	if n := proxy.Injected()[registrytest.CutAnswer]; n != 2 {
		t.Fatalf("%d downloads broken off, want 2", n)
	}
	want, _ := img.Digest()
	if res.Digest != want {
		t.Errorf("digest %s, want %s", res.Digest, want)
	}
	got, err := remote.Image(repo.Tag("1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(got); err != nil {
		t.Errorf("the image read back: %v", err)
	}
}
