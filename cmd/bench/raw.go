package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// rawCommand makes this program the raw ceiling's client instead of the
// benchmark: `bench raw-put HOST REPO LAYOUT`.
const rawCommand = "raw-put"

// rawPut uploads every layer blob of the layout's only image to repo, two
// at a time, each with a POST then one monolithic PUT whose body is the
// blob's file (distribution spec, "Pushing a blob monolithically"). Nothing
// is hashed and nothing checked: net/http hands the file to the kernel
// (sendfile), so this is as fast as the registry can take the bytes.
func rawPut(ctx context.Context, host, repo, dir string) error {
	var idx v1.IndexManifest
	if err := readJSON(filepath.Join(dir, "index.json"), &idx); err != nil {
		return err
	}
	if len(idx.Manifests) != 1 {
		return fmt.Errorf("%s: want one image in index.json, found %d", dir, len(idx.Manifests))
	}
	blobs := func(h v1.Hash) string { return filepath.Join(dir, "blobs", h.Algorithm, h.Hex) }
	var m v1.Manifest
	if err := readJSON(blobs(idx.Manifests[0].Digest), &m); err != nil {
		return err
	}
	// Two workers take the layers in order, as `xargs -P2 curl` would.
	work := make(chan v1.Descriptor)
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			var err error
			for l := range work {
				if err == nil {
					err = putBlob(ctx, host, repo, blobs(l.Digest), l)
				}
			}
			errs <- err
		}()
	}
	for _, l := range m.Layers {
		work <- l
	}
	close(work)
	return errors.Join(<-errs, <-errs)
}

func putBlob(ctx context.Context, host, repo, path string, d v1.Descriptor) error {
	start := &url.URL{Scheme: "http", Host: host, Path: "/v2/" + repo + "/blobs/uploads/"}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, start.String(), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("POST %s: %s", start, resp.Status)
	}
	loc, err := start.Parse(resp.Header.Get("Location"))
	if err != nil {
		return err
	}
	q := loc.Query()
	q.Set("digest", d.Digest.String())
	loc.RawQuery = q.Encode()

	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	req, err = http.NewRequestWithContext(ctx, http.MethodPut, loc.String(), f)
	if err != nil {
		return err
	}
	req.ContentLength = d.Size
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("PUT %s: %s", d.Digest, resp.Status)
	}
	return nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
