package action

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	specs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ghcr-publish/publish-action/internal/testkit/enginetest"
	"github.com/ghcr-publish/publish-action/internal/testkit/registrytest"
)

// buildPushTags are the tag rules both steps of a recipe read (the
// recipes' env.TAGS): the same rules give the same version, so the
// metadata the build stamps is exactly what the publish would.
const buildPushTags = "type=ref,event=branch\ntype=sha"

// The README's recipes that keep docker/build-push-action, against the
// real buildx on Docker 29's containerd store, with the flags
// build-push-action passes for their inputs: a multi-platform build
// (FROM scratch, so no emulation) with build-push-action's default
// provenance for a private repository, into an OCI layout or archive,
// published by the action's entrypoint to the in-process registry.
//
//   - metadata → build → publish (testdata/workflows/metadata-build-publish.yml):
//     the labels and annotations outputs of a step with no source go to
//     --label and --annotation, the version to --build-arg. The platform
//     images and attestations are published byte-identical (the
//     provenance names exactly what is pulled), already carrying the
//     labels; the index gets the annotations; no notice.
//   - keep build-push-action (testdata/workflows/build-push-action.yml):
//     no metadata at build time. attestations: preserve keeps the images
//     byte-identical, annotates the index, and says once that the images
//     lack the labels.
func TestBuildPushActionRecipes(t *testing.T) {
	t.Parallel()
	enginetest.Require(t)
	enginetest.RequireContainerdStore(t)
	enginetest.Buildx(t)

	t.Run("metadata then build then publish", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, registrytest.Options{})
		meta := f.run(t, map[string]string{"INPUT_SOURCE": "", "INPUT_TAGS": buildPushTags})
		if meta.err != nil {
			t.Fatalf("metadata step: Run() = %v\n%s", meta.err, meta.log)
		}
		version := meta.outputs["version"]
		if version != "main" || meta.outputs["labels"] == "" || meta.outputs["annotations"] == "" {
			t.Fatalf("metadata step outputs: version %q, labels %q, annotations %q", version, meta.outputs["labels"], meta.outputs["annotations"])
		}
		var flags []string
		for _, l := range strings.Split(meta.outputs["labels"], "\n") {
			flags = append(flags, "--label", l)
		}
		for _, a := range strings.Split(meta.outputs["annotations"], "\n") {
			flags = append(flags, "--annotation", a)
		}
		flags = append(flags, "--build-arg", "VERSION="+version)
		// Not out: the fixture wrote a sample layout there, and buildx adds
		// to a layout rather than replacing it.
		built := buildPush(t, filepath.Join(f.ws, "build"), "type=oci,dest="+filepath.Join(f.ws, "build")+",tar=false", flags...)

		r := f.run(t, map[string]string{"INPUT_SOURCE": "oci:build", "INPUT_TAGS": buildPushTags})
		if r.err != nil {
			t.Fatalf("publish: Run() = %v\n%s", r.err, r.log)
		}
		if strings.Contains(r.log, preserveNoticePrefix) {
			t.Errorf("the images carry the metadata, yet the preserve notice was given:\n%s", r.log)
		}
		images := checkBuildPushPublished(t, f, built, r)
		want := map[string]string{"com.example.version": version}
		for _, l := range strings.Split(meta.outputs["labels"], "\n") {
			k, v, _ := strings.Cut(l, "=")
			want[k] = v
		}
		for platform, img := range images {
			for k, v := range want {
				if img.labels[k] != v {
					t.Errorf("%s: label %s = %q, want %q (from the build)", platform, k, img.labels[k], v)
				}
			}
			if img.annotations[specs.AnnotationSource] != "https://github.com/Acme/Widget" {
				t.Errorf("%s: manifest annotations %v, want the metadata (from the build)", platform, img.annotations)
			}
		}
	})

	t.Run("keep build-push-action", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, registrytest.Options{})
		archive := filepath.Join(f.ws, "image.tar")
		built := buildPush(t, archive, "type=oci,dest="+archive)
		r := f.run(t, map[string]string{"INPUT_SOURCE": "oci-archive:image.tar", "INPUT_TAGS": buildPushTags})
		if r.err != nil {
			t.Fatalf("publish: Run() = %v\n%s", r.err, r.log)
		}
		if n := strings.Count(r.log, preserveNoticePrefix+"linux/amd64, linux/arm64 "); n != 1 {
			t.Errorf("%d preserve notices naming both platforms, want 1:\n%s", n, r.log)
		}
		for platform, img := range checkBuildPushPublished(t, f, built, r) {
			if img.labels[specs.AnnotationSource] != "" {
				t.Errorf("%s: preserve stamped an attested image: labels %v", platform, img.labels)
			}
		}
	})
}

// builtIndex is what buildx wrote: its image index, and each platform
// image's and attestation's digest.
type builtIndex struct {
	index        v1.Hash
	images       map[string]v1.Hash // by platform
	attestations map[string]v1.Hash // by the digest of the image each describes
}

// buildPush runs what docker/build-push-action runs for platforms
// linux/amd64,linux/arm64, outputs, build-args, labels and annotations in
// a private repository (src/context.ts: --iidfile, the default provenance
// attestation mode=min,inline-only=true with the run as builder-id,
// --metadata-file), and reads what it wrote to dest.
func buildPush(t *testing.T, dest, output string, flags ...string) builtIndex {
	t.Helper()
	dir := enginetest.Context(t, map[string]string{"app.txt": "widget " + t.Name()},
		"ARG VERSION", "ARG TARGETARCH", "COPY app.txt /app-$TARGETARCH.txt", "LABEL com.example.version=$VERSION")
	scratch := t.TempDir()
	args := append([]string{"buildx", "build", "--quiet", "--no-cache"}, flags...)
	args = append(args,
		"--iidfile", filepath.Join(scratch, "iidfile"),
		"--output", output,
		"--platform", "linux/amd64,linux/arm64",
		"--attest", "type=provenance,mode=min,inline-only=true,builder-id=https://github.com/Acme/Widget/actions/runs/1/attempts/1",
		"--metadata-file", filepath.Join(scratch, "metadata.json"),
		dir)
	enginetest.Docker(t, args...)
	return readBuilt(t, dest)
}

// readBuilt reads an OCI layout, a directory or a tar archive, with no
// code of the action's.
func readBuilt(t *testing.T, dest string) builtIndex {
	t.Helper()
	read := layoutReader(t, dest)
	var top, index v1.IndexManifest
	if err := json.Unmarshal(read("index.json"), &top); err != nil || len(top.Manifests) != 1 {
		t.Fatalf("%s: index.json lists %d manifests (%v), want the build's index", dest, len(top.Manifests), err)
	}
	b := builtIndex{index: top.Manifests[0].Digest, images: map[string]v1.Hash{}, attestations: map[string]v1.Hash{}}
	if err := json.Unmarshal(read("blobs/sha256/"+b.index.Hex), &index); err != nil {
		t.Fatal(err)
	}
	for _, d := range index.Manifests {
		if d.Annotations["vnd.docker.reference.type"] == "attestation-manifest" {
			b.attestations[d.Annotations["vnd.docker.reference.digest"]] = d.Digest
		} else {
			b.images[d.Platform.String()] = d.Digest
		}
	}
	if len(b.images) != 2 || len(b.attestations) != 2 {
		t.Fatalf("buildx wrote images %v and attestations %v, want two of each", b.images, b.attestations)
	}
	return b
}

// layoutReader reads files of an OCI layout directory or tar archive.
func layoutReader(t *testing.T, dest string) func(name string) []byte {
	if fi, err := os.Stat(dest); err == nil && fi.IsDir() {
		return func(name string) []byte {
			raw, err := os.ReadFile(filepath.Join(dest, name))
			if err != nil {
				t.Fatal(err)
			}
			return raw
		}
	}
	return func(name string) []byte {
		f, err := os.Open(dest)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		tr := tar.NewReader(f)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				t.Fatalf("%s holds no %s", dest, name)
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.TrimPrefix(h.Name, "./") == name {
				raw, err := io.ReadAll(tr)
				if err != nil {
					t.Fatal(err)
				}
				return raw
			}
		}
	}
}

// checkBuildPushPublished checks what both recipes publish: every platform
// image and attestation byte-identical to the build's (the platforms
// output too), each attestation's subject (the manifest's and the in-toto
// statement's) the platform image as published, and the index annotated.
// It returns each platform image as the registry serves it.
func checkBuildPushPublished(t *testing.T, f *fixture, built builtIndex, r result) map[string]pushed {
	t.Helper()
	host, repo := f.reg.Host(), "acme/widget"
	_, idx := readIndex(t, host+"/"+repo+":main")
	if idx.Annotations[specs.AnnotationSource] != "https://github.com/Acme/Widget" || idx.Annotations[specs.AnnotationDescription] == "" {
		t.Errorf("index annotations %v, want the metadata", idx.Annotations)
	}
	var platforms []struct{ Platform, Digest string }
	if err := json.Unmarshal([]byte(r.outputs["platforms"]), &platforms); err != nil {
		t.Fatalf("platforms output %q: %v", r.outputs["platforms"], err)
	}
	for _, p := range platforms {
		if built.images[p.Platform].String() != p.Digest {
			t.Errorf("platforms output: %s is %s, the build made %s", p.Platform, p.Digest, built.images[p.Platform])
		}
	}
	images := map[string]pushed{}
	for _, d := range idx.Manifests {
		described := d.Annotations["vnd.docker.reference.digest"]
		if described == "" {
			platform := d.Platform.String()
			if d.Digest != built.images[platform] {
				t.Errorf("%s published as %s, the build made %s", platform, d.Digest, built.images[platform])
			}
			images[platform] = readBack(t, host+"/"+repo+"@"+d.Digest.String())
			continue
		}
		if d.Digest != built.attestations[described] {
			t.Errorf("attestation of %s published as %s, the build made %s", described, d.Digest, built.attestations[described])
		}
		checkSubject(t, host, repo, d.Digest.String(), described)
	}
	if len(images) != 2 || len(idx.Manifests) != 4 {
		t.Errorf("published index lists %d manifests, %d of them images; want 2 images and their 2 attestations", len(idx.Manifests), len(images))
	}
	return images
}

// checkSubject checks that an attestation manifest names image as its
// subject, in the manifest and in the in-toto statement it carries (where
// that names one).
func checkSubject(t *testing.T, host, repo, attestation, image string) {
	t.Helper()
	var m struct {
		Subject v1.Descriptor   `json:"subject"`
		Layers  []v1.Descriptor `json:"layers"`
	}
	if err := json.Unmarshal(httpGet(t, host, repo, "/manifests/"+attestation, string(specs.MediaTypeImageManifest)), &m); err != nil {
		t.Fatal(err)
	}
	if m.Subject.Digest.String() != image {
		t.Errorf("attestation %s: subject %s, want %s", attestation, m.Subject.Digest, image)
	}
	for _, l := range m.Layers {
		var statement struct {
			Subject []struct {
				Digest map[string]string `json:"digest"`
			} `json:"subject"`
		}
		if err := json.Unmarshal(httpGet(t, host, repo, "/blobs/"+l.Digest.String(), ""), &statement); err != nil {
			t.Fatal(err)
		}
		// BuildKit's OCI exporter writes the statement with an empty
		// subject list (the manifest's subject names the image); any it
		// lists must be the image.
		for _, s := range statement.Subject {
			if "sha256:"+s.Digest["sha256"] != image {
				t.Errorf("attestation %s: the statement's subject is %v, want %s", attestation, statement.Subject, image)
			}
		}
	}
}
