package prune

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// read fetches from the registry the manifest of every digest in want, and
// of every child those name, until nothing new is named.
// A manifest that cannot be read, whatever the status (a 404 too: deleted
// since the listing, or never there), stops the prune: nothing is known of
// what it needs, and a delete could break the tag that reaches it.
func read(ctx context.Context, repo name.Repository, want []string, ropts []remote.Option) (map[string]Manifest, error) {
	puller, err := remote.NewPuller(ropts...)
	if err != nil {
		return nil, err
	}
	out := make(map[string]Manifest, len(want))
	for len(want) > 0 {
		got, err := fetchAll(ctx, puller, repo, want)
		if err != nil {
			return nil, err
		}
		var next []string
		for i, d := range want {
			out[d] = got[i]
			for _, ch := range got[i].Children {
				if _, ok := out[ch.Digest]; !ok && !slices.Contains(next, ch.Digest) && !slices.Contains(want, ch.Digest) {
					next = append(next, ch.Digest)
				}
			}
		}
		want = next
	}
	return out, nil
}

// fetchAll reads the manifests of digests, four at a time.
func fetchAll(ctx context.Context, puller *remote.Puller, repo name.Repository, digests []string) ([]Manifest, error) {
	out := make([]Manifest, len(digests))
	errs := make([]error, len(digests))
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i, d := range digests {
		ref, err := name.NewDigest(repo.String() + "@" + d)
		if err != nil {
			errs[i] = fmt.Errorf("version %q is not named by a digest", d)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			desc, err := puller.Get(ctx, ref)
			if err == nil {
				out[i], err = ParseManifest(bytes.NewReader(desc.Manifest))
			}
			if err != nil {
				errs[i] = fmt.Errorf("reading the manifest of %s: %w", d, err)
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, first(errs)
}

// first is the first error of errs, saying how many more there are: one
// unreadable registry can fail every read, and one line says it.
func first(errs []error) error {
	var out error
	n := 0
	for _, err := range errs {
		if err == nil {
			continue
		}
		if out == nil {
			out = err
		}
		n++
	}
	if n > 1 {
		return fmt.Errorf("%w (and %d more)", out, n-1)
	}
	return out
}

// ParseManifest reads the references out of an image manifest or index
// (OCI image-spec v1.1 or Docker schema 2).
func ParseManifest(r io.Reader) (Manifest, error) {
	var m struct {
		Manifests []struct {
			Digest      string            `json:"digest"`
			Annotations map[string]string `json:"annotations"`
		} `json:"manifests"`
		Subject *struct {
			Digest string `json:"digest"`
		} `json:"subject"`
	}
	if err := json.NewDecoder(r).Decode(&m); err != nil {
		return Manifest{}, fmt.Errorf("parsing manifest: %w", err)
	}
	var out Manifest
	for _, d := range m.Manifests {
		ch := Child{Digest: d.Digest}
		if d.Annotations["vnd.docker.reference.type"] == "attestation-manifest" {
			ch.AttestationOf = d.Annotations["vnd.docker.reference.digest"]
		}
		out.Children = append(out.Children, ch)
	}
	if m.Subject != nil {
		out.Subject = m.Subject.Digest
	}
	return out, nil
}
