package action

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ghcr-publish/publish-action/internal/testkit/registrytest"
)

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// The sources are read while the GitHub API is asked about the repository,
// not after: each is a round trip or more over a real network. The API's
// answer is held until the source's manifest has been asked for; read one
// after the other, the source would never be asked for while the API
// waits, and the wait would run out.
func TestSourcesAreReadBesideTheAPI(t *testing.T) {
	t.Parallel()
	f := newFixture(t, registrytest.Options{})
	base, _ := name.NewTag(f.reg.Host() + "/acme/base:1")
	if err := remote.Write(base, f.img, remote.WithAuth(&authn.Basic{Username: "u", Password: token})); err != nil {
		t.Fatal(err)
	}
	asked := make(chan struct{})
	var once sync.Once
	opts := f.options()
	opts.RegistryTransport = roundTripFunc(func(req *http.Request) (*http.Response, error) {
		if strings.HasSuffix(req.URL.Path, "/acme/base/manifests/1") {
			once.Do(func() { close(asked) })
		}
		return http.DefaultTransport.RoundTrip(req)
	})
	var waitedOut bool
	opts.APITransport = roundTripFunc(func(req *http.Request) (*http.Response, error) {
		if strings.HasSuffix(req.URL.Path, "/repos/Acme/Widget") {
			select {
			case <-asked:
			case <-time.After(10 * time.Second):
				waitedOut = true
			}
		}
		return http.DefaultTransport.RoundTrip(req)
	})
	r := runAction(t, f.env(map[string]string{"INPUT_SOURCE": "docker://" + base.String(), "INPUT_IMAGE": f.reg.Host() + "/acme/widget", "INPUT_TAGS": "1.0"}), opts)
	if r.err != nil {
		t.Fatalf("Run() = %v\n%s", r.err, r.log)
	}
	if waitedOut {
		t.Error("the source was not asked for while the API was: they ran one after the other")
	}
}
