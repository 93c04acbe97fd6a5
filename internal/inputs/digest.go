package inputs

import (
	"errors"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// Matrix legs that push by digest hand the merge job digests alone, in the
// destination repository: Docker's multi-platform recipe touches one empty
// file per leg, named by the digest without its sha256: prefix, uploads it as
// an artifact, and the merge job reads the names back
// (docs.docker.com/build/ci/github-actions/multi-platform/, "Distribute build
// across multiple runners"). The source input takes both hand-offs as they
// are, resolved against the image input, so the action code sees ordinary
// registry references.

// digestsTransport is the prefix of a directory of digest-named files:
// digests:DIR. Only the names are read, never the files.
const digestsTransport = "digests"

// sha256Hex is the encoded part of a sha256 digest: 64 lower-case hex
// digits (OCI image-spec, descriptor.md, "Registered algorithms").
var sha256Hex = regexp.MustCompile(`^[a-f0-9]{64}$`)

// digestLike matches an entry that starts as a digest does: an algorithm
// name and a colon. It is a digest or a mistake in one, never an image on
// Docker Hub named sha256 (which is what the reference grammar would make
// of it).
var digestLike = regexp.MustCompile(`^(?i)(sha|blake)[0-9]+:`)

// digestForm says how to write a digest, for messages.
const digestForm = "give sha256:<64 lower-case hex digits>, as docker buildx and this action's digest output write it"

// looksLikeDigest reports whether entry is meant as a bare digest: one with
// an algorithm, or Docker's file name (64 hex digits, which Docker refuses as
// an image name).
func looksLikeDigest(entry string) bool {
	return digestLike.MatchString(entry) || sha256Hex.MatchString(entry)
}

// parseDigest resolves a bare digest against image.
func parseDigest(entry string, image name.Repository) (*Source, error) {
	shown := truncate(entry, 80)
	if sha256Hex.MatchString(entry) {
		return nil, errorf("source", "%q is a digest without its algorithm; write sha256:%s…, or give the directory of such names as digests:DIR", shown, entry[:12])
	}
	hex, ok := strings.CutPrefix(entry, "sha256:")
	if !ok || !sha256Hex.MatchString(hex) {
		return nil, errorf("source", "%q is not a sha256 digest; %s", shown, digestForm)
	}
	return digestSource(entry, "sha256:"+hex, image)
}

// digestSource is the image digest names in image. The line is the full
// reference, as the source step, the log and prune read it.
func digestSource(entry, digest string, image name.Repository) (*Source, error) {
	if image.RepositoryStr() == "" {
		// The image input's own error says what is wrong with it.
		return nil, errorf("source", "%q is resolved against image, which is not valid; fix image", truncate(entry, 80))
	}
	ref := image.Digest(digest)
	return &Source{Line: ref.String(), Transport: Registry, Reference: ref}, nil
}

// parseDigestDir reads digests:DIR: one source for each digest-named file in
// DIR, sorted by digest so that the index does not depend on which leg
// finished first. The names may be Docker's (the hex digits alone), or
// sha256:HEX or sha256-HEX; any other name is an error, whatever its type.
func parseDigestDir(entry, dir, workspace string, image name.Repository) ([]*Source, error) {
	shown := truncate(entry, 80)
	if dir == "" {
		return nil, errorf("source", "%q names no directory; write digests:DIR, the directory the matrix legs' digest files were downloaded to", shown)
	}
	abs, err := resolvePath(dir, workspace)
	if err != nil {
		return nil, errorf("source", "%q: %v", shown, err)
	}
	files, err := os.ReadDir(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// GitHub mounts the workspace into a container action, not
		// runner.temp, where Docker's recipe downloads the digests.
		return nil, errorf("source", "%q: %s does not exist; download the digests into the workspace (a container action sees GITHUB_WORKSPACE, not runner.temp)", shown, truncate(abs, 120))
	case err != nil:
		return nil, errorf("source", "%q: %s is not a readable directory; digests:DIR takes the directory of digest-named files", shown, truncate(abs, 120))
	case len(files) == 0:
		return nil, errorf("source", "%q: %s is empty; each matrix leg must touch DIR/<digest without sha256:> and upload it", shown, truncate(abs, 120))
	case len(files) > maxSources:
		return nil, errorf("source", "%q: %s holds %d files, more than the %d images a run reads", shown, truncate(abs, 120), len(files), maxSources)
	}
	var digests []string
	for _, f := range files {
		digest, ok := digestFileName(f.Name())
		if !ok {
			return nil, errorf("source", "%q: file %q is not named by a digest; digests:DIR holds only digest names: 64 hex digits as Docker's recipe touches them, or sha256:HEX, sha256-HEX", shown, truncate(f.Name(), 80))
		}
		digests = append(digests, digest)
	}
	slices.Sort(digests)
	var sources []*Source
	for _, d := range slices.Compact(digests) {
		src, err := digestSource(entry, d, image)
		if err != nil {
			return nil, err
		}
		sources = append(sources, src)
	}
	return sources, nil
}

// digestFileName reads a digest from a file name: the hex digits alone, as
// Docker's recipe writes them (${digest#sha256:}), or with sha256: or the
// sha256- of tag-safe spellings in front.
func digestFileName(file string) (string, bool) {
	hex := file
	for _, prefix := range []string{"sha256:", "sha256-"} {
		if h, ok := strings.CutPrefix(file, prefix); ok {
			hex = h
			break
		}
	}
	return "sha256:" + hex, sha256Hex.MatchString(hex)
}
