package registrytest

import (
	"errors"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// ManifestInvalid refuses a manifest write as a registry refuses a
// manifest it will not store; blobs still go through, and the next write
// once the schedule is spent lands.
func TestManifestInvalid(t *testing.T) {
	t.Parallel()
	reg, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	proxy := NewFaultProxy(reg.Host(), First(1, ManifestInvalid, ManifestWrites))
	defer proxy.Close()
	img, err := random.Image(1024, 2)
	if err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag(proxy.Host() + "/acme/widget:1.0")
	if err != nil {
		t.Fatal(err)
	}
	err = remote.Write(tag, img)
	var terr *transport.Error
	if !errors.As(err, &terr) || len(terr.Errors) != 1 || terr.Errors[0].Code != transport.ManifestInvalidErrorCode {
		t.Fatalf("first write = %v, want MANIFEST_INVALID", err)
	}
	if got := proxy.Injected()[ManifestInvalid]; got != 1 {
		t.Errorf("injected %d, want 1", got)
	}
	if err := remote.Write(tag, img); err != nil {
		t.Errorf("second write = %v, want it to land", err)
	}
}
