package push

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/ghcr-publish/publish-action/internal/testkit/registrytest"
	"github.com/ghcr-publish/publish-action/internal/testkit/sample"
)

func TestAllWritesTagsLast(t *testing.T) {
	t.Parallel()
	reg, err := registrytest.Start(registrytest.Options{Passwords: []string{"pw"}, ReadOnly: []string{"acme/locked"}})
	if err != nil {
		t.Fatalf("starting the distribution registry: %v", err)
	}
	defer reg.Close()
	opts := Options{Sessions: reg.Sessions("pw")}
	img, err := sample.Image(sample.Options{Seed: "push", Layers: 3})
	if err != nil {
		t.Fatal(err)
	}
	repo, _ := name.NewRepository(reg.Host() + "/acme/widget")
	tags := []name.Tag{repo.Tag("1.0"), repo.Tag("latest")}

	res, err := All(context.Background(), img, repo, tags, opts)
	if err != nil {
		t.Fatalf("All() = %v", err)
	}
	want, _ := img.Digest()
	if res.Digest != want || res.Ref.DigestStr() != want.String() {
		t.Errorf("All() = %+v, want digest %s", res, want)
	}
	// Every write that is not a tag comes before the first tag.
	var order []string
	for _, r := range reg.Requests() {
		if r.Method == "PUT" || r.Method == "POST" || r.Method == "PATCH" {
			order = append(order, r.Method+" "+r.Path)
		}
	}
	firstTag := -1
	for i, w := range order {
		isTag := strings.HasSuffix(w, "/manifests/1.0") || strings.HasSuffix(w, "/manifests/latest")
		if isTag && firstTag < 0 {
			firstTag = i
		}
		if !isTag && firstTag >= 0 {
			t.Errorf("write %q came after a tag was written: %v", w, order)
		}
	}
	// The tags store the manifest: it is not written by digest as well,
	// and the primary tag (the last) comes last.
	if firstTag < 0 || len(order)-firstTag != 2 || !strings.HasSuffix(order[len(order)-1], "/manifests/latest") {
		t.Errorf("writes = %v, want the blobs, then tag 1.0, then the primary tag latest", order)
	}

	// A second push uploads no blob: only manifests, one per reference.
	reg.ResetRequests()
	if _, err := All(context.Background(), img, repo, tags, opts); err != nil {
		t.Fatalf("second All() = %v", err)
	}
	// The primary tag reads back as the digest (one round trip of HEADs
	// says so): a re-run writes only the other tags, which may lag.
	var manifestPuts []string
	for _, r := range reg.Requests() {
		if r.Method == "POST" || r.Method == "PATCH" || (r.Method == "PUT" && strings.Contains(r.Path, "/blobs/")) {
			t.Errorf("second push wrote a blob: %s %s", r.Method, r.Path)
		}
		if r.Method == "PUT" && strings.Contains(r.Path, "/manifests/") {
			manifestPuts = append(manifestPuts, r.Path[strings.LastIndex(r.Path, "/")+1:])
		}
	}
	if wantPuts := []string{"1.0"}; !slices.Equal(manifestPuts, wantPuts) {
		t.Errorf("second push wrote manifests %v, want exactly the tags %v", manifestPuts, wantPuts)
	}

	// A denied push leaves no tag behind.
	locked, _ := name.NewRepository(reg.Host() + "/acme/locked")
	if _, err := All(context.Background(), img, locked, []name.Tag{locked.Tag("1.0")}, opts); err == nil {
		t.Fatal("All() to a read-only repository succeeded")
	}
	for _, r := range reg.Requests() {
		if r.Method == "PUT" && strings.HasPrefix(r.Path, "/v2/acme/locked/manifests/") && r.Status < 300 {
			t.Errorf("a manifest was written to the read-only repository: %s", r.Path)
		}
	}
}
