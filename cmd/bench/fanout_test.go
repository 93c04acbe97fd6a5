package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// Two registries: every blob of the 2-platform image crosses to each
// registry once; each registry gets both images and the index by digest,
// then the tag; nothing is mounted, since one registry cannot mount from
// another. Counts only, never times.
func TestTwoRegistriesSendEachBlobOncePerRegistry(t *testing.T) {
	t.Parallel()
	b := newBench(t)
	sc := twoRegistries()
	for n := range 2 {
		k := runOurs(t, b, sc, n)
		// Per repository (one on each host), each blob's upload commits.
		uploads := map[string]map[string]int{}
		for _, r := range b.reg.requests() {
			if !r.upload() || r.Method != http.MethodPut {
				continue
			}
			repo, _, _ := strings.Cut(strings.TrimPrefix(r.Path, "/v2/"), "/blobs/")
			q, _ := url.ParseQuery(r.Query)
			if uploads[repo] == nil {
				uploads[repo] = map[string]int{}
			}
			uploads[repo][q.Get("digest")]++
		}
		// The layers and the two images' configs.
		blobs := len(b.multi.Layers) + 2
		if len(uploads) != 2 {
			t.Errorf("run %d: uploads to %d repositories, want 2 (one per registry)\n%s", n, len(uploads), trace(b.reg.requests()))
		}
		for repo, byDigest := range uploads {
			if len(byDigest) != blobs {
				t.Errorf("run %d: %d blobs uploaded to %s, want %d", n, len(byDigest), repo, blobs)
			}
			for d, c := range byDigest {
				if c != 1 {
					t.Errorf("run %d: blob %s uploaded %d times to %s, want once", n, d, c, repo)
				}
			}
		}
		if layers := b.multi.bytes(); k.BlobUp < 2*layers || k.BlobUp > 2*layers+64<<10 {
			t.Errorf("run %d: %d blob bytes uploaded, want the layers' %d twice and the configs", n, k.BlobUp, layers)
		}
		if k.Mounts != 0 {
			t.Errorf("run %d: %d mounts, want none", n, k.Mounts)
		}
		// Per registry: two images and the index by digest, then the tag.
		if k.ManifestPuts != 2*4 {
			t.Errorf("run %d: %d manifest PUTs, want 8 (two images, the index and the tag, in each registry)\n%s", n, k.ManifestPuts, trace(b.reg.requests()))
		}
		// Per registry: the index by digest and the tag looked for; each
		// image looked for; each blob looked for, started and sent; four
		// manifests; the tag read back. No ping: no token wanted.
		if want := 2 * (2 + 2 + 3*blobs + 4 + 1); k.Requests != want {
			t.Errorf("run %d: %d requests, want %d\n%s", n, k.Requests, want, trace(b.reg.requests()))
		}
	}
}
