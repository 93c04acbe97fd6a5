package action

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	specs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ghcr-publish/publish-action/internal/testkit/enginetest"
	"github.com/ghcr-publish/publish-action/internal/testkit/need"
	"github.com/ghcr-publish/publish-action/internal/testkit/registrytest"
	"github.com/ghcr-publish/publish-action/internal/testkit/sample"
)

// readIndex reads an index the way readBack reads an image: plain HTTP, then
// skopeo in a subtest that only skopeo's absence skips; and checks that
// every manifest it lists exists.
func readIndex(t *testing.T, ref string) (raw []byte, idx struct {
	MediaType   string            `json:"mediaType"`
	Annotations map[string]string `json:"annotations"`
	Manifests   []v1.Descriptor   `json:"manifests"`
}) {
	t.Helper()
	host, rest, _ := strings.Cut(ref, "/")
	repo, tag, _ := strings.Cut(rest, ":")
	if at := strings.Index(rest, "@"); at >= 0 {
		repo, tag = rest[:at], rest[at+1:]
	}
	raw = httpGet(t, host, repo, "/manifests/"+tag, "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json")
	if err := json.Unmarshal(raw, &idx); err != nil {
		t.Fatalf("%s: index: %v", ref, err)
	}
	for _, d := range idx.Manifests {
		httpGet(t, host, repo, "/manifests/"+d.Digest.String(), string(d.MediaType))
	}
	need.WithTool(t, "skopeo", func(t *testing.T, skopeo string) {
		out := runSkopeo(t, skopeo, "inspect", "--raw", "docker://"+ref)
		if diff := cmp.Diff(string(raw), strings.TrimSuffix(string(out), "\n")); diff != "" {
			t.Errorf("skopeo reads another index for %s (-http +skopeo):\n%s", ref, diff)
		}
	})
	return raw, idx
}

func writeBuildx(t *testing.T, f *fixture, dir string, opts sample.IndexOptions) *sample.Index {
	t.Helper()
	ix, err := sample.NewIndex(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.WriteLayout(filepath.Join(f.ws, dir), ""); err != nil {
		t.Fatal(err)
	}
	return ix
}

func TestPublishBuildxIndex(t *testing.T) {
	t.Parallel()
	for _, policy := range []string{"preserve", "repoint", "drop"} {
		t.Run(policy, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, registrytest.Options{})
			ix := writeBuildx(t, f, "multi", sample.IndexOptions{Seed: "e2e", Attestations: true, Annotations: map[string]string{"com.example.build": "ci"}})
			r := f.run(t, map[string]string{"INPUT_SOURCE": "oci:multi", "INPUT_TAGS": "1.0", "INPUT_ATTESTATIONS": policy, "INPUT_PLATFORMS": "linux/amd64,linux/arm64"})
			if r.err != nil {
				t.Fatalf("Run() = %v\n%s", r.err, r.log)
			}
			ref := f.reg.Host() + "/acme/widget:1.0"
			_, idx := readIndex(t, ref)
			if idx.Annotations[specs.AnnotationDescription] == "" || idx.Annotations[specs.AnnotationSource] != "https://github.com/Acme/Widget" || idx.Annotations["com.example.build"] != "ci" {
				t.Errorf("index annotations = %v, want the metadata and the original annotation", idx.Annotations)
			}
			if r.outputs["digest"] == "" || !strings.HasSuffix(r.outputs["image"], "@"+r.outputs["digest"]) {
				t.Errorf("digest, image outputs = %q, %q", r.outputs["digest"], r.outputs["image"])
			}
			var platforms []struct{ Platform, Digest string }
			if err := json.Unmarshal([]byte(r.outputs["platforms"]), &platforms); err != nil || len(platforms) != 2 {
				t.Fatalf("platforms output %q: %v", r.outputs["platforms"], err)
			}
			for i, p := range platforms {
				if p.Digest != idx.Manifests[i].Digest.String() || p.Platform != idx.Manifests[i].Platform.String() {
					t.Errorf("platforms output %d = %+v, index lists %s %s", i, p, idx.Manifests[i].Platform, idx.Manifests[i].Digest)
				}
				child := readBack(t, f.reg.Host()+"/acme/widget@"+p.Digest)
				orig, _ := ix.Images[i].Digest()
				stamped := child.labels[specs.AnnotationSource] != ""
				if policy == "preserve" && (stamped || p.Digest != orig.String()) {
					t.Errorf("%s: preserve changed the attested image (labels %v)", p.Platform, child.labels)
				}
				if policy != "preserve" && (!stamped || child.annotations[specs.AnnotationLicenses] != "MIT") {
					t.Errorf("%s: %s did not stamp the image (labels %v, annotations %v)", p.Platform, policy, child.labels, child.annotations)
				}
			}
			attestations := 0
			for _, d := range idx.Manifests {
				if d.Annotations["vnd.docker.reference.type"] != "attestation-manifest" {
					continue
				}
				attestations++
				found := false
				for _, p := range platforms {
					found = found || p.Digest == d.Annotations["vnd.docker.reference.digest"]
				}
				if !found {
					t.Errorf("attestation %s refers to %s, not an image of the index", d.Digest, d.Annotations["vnd.docker.reference.digest"])
				}
			}
			if want := map[string]int{"preserve": 2, "repoint": 2, "drop": 0}[policy]; attestations != want {
				t.Errorf("%d attestations published, want %d", attestations, want)
			}
			if !strings.Contains(r.summary, "#### Platforms") || !strings.Contains(r.summary, "attestation of linux/arm64") && policy != "drop" {
				t.Errorf("summary lacks the platform rows:\n%s", r.summary)
			}
			if policy == "drop" && !strings.Contains(r.log, "::warning::attestations: drop removed") {
				t.Errorf("dropping attestations gave no warning:\n%s", r.log)
			}
			// Publishing again gives the same digest.
			again := f.run(t, map[string]string{"INPUT_SOURCE": "oci:multi", "INPUT_TAGS": "1.0", "INPUT_ATTESTATIONS": policy})
			if again.err != nil || again.outputs["digest"] != r.outputs["digest"] {
				t.Errorf("second publish = %v, digest %s; want %s", again.err, again.outputs["digest"], r.outputs["digest"])
			}
			// Promoting the published index from the registry into another
			// repository keeps its digest and uploads no blob.
			f.reg.ResetRequests()
			promoted := f.run(t, map[string]string{"INPUT_SOURCE": "docker://" + ref, "INPUT_IMAGE": f.reg.Host() + "/acme/promoted", "INPUT_TAGS": "1.0", "INPUT_ATTESTATIONS": policy})
			if promoted.err != nil || promoted.outputs["digest"] != r.outputs["digest"] {
				t.Errorf("promotion = %v, digest %s; want %s", promoted.err, promoted.outputs["digest"], r.outputs["digest"])
			}
			for _, w := range f.writes() {
				if strings.Contains(w.Path, "/blobs/uploads/") && (w.Method == "PATCH" || w.Method == "PUT") {
					t.Errorf("promotion uploaded a blob: %s %s", w.Method, w.Path)
				}
			}
			readIndex(t, f.reg.Host()+"/acme/promoted:1.0")
		})
	}
}

func TestPublishDockerManifestList(t *testing.T) {
	t.Parallel()
	f := newFixture(t, registrytest.Options{})
	writeBuildx(t, f, "list", sample.IndexOptions{Seed: "list", Docker: true})
	r := f.run(t, map[string]string{"INPUT_SOURCE": "oci:list", "INPUT_TAGS": "l"})
	if r.err != nil {
		t.Fatalf("Run() = %v", r.err)
	}
	_, idx := readIndex(t, f.reg.Host()+"/acme/widget:l")
	if idx.MediaType != string(specs.MediaTypeImageIndex) || idx.Annotations[specs.AnnotationSource] == "" {
		t.Errorf("published %s with annotations %v, want an annotated OCI index", idx.MediaType, idx.Annotations)
	}
	if !strings.Contains(r.log, "::notice::") || !strings.Contains(r.summary, "manifest list") {
		t.Errorf("the conversion is not announced:\n%s", r.log)
	}
}

// TestMatrixMerge is the matrix workflow on a v1.2.3 tag: each job pushes
// one platform by digest, a last job merges them into one tagged index. Both
// read the same tag rules, so the jobs stamp the version the merge stamps and
// the merge reuses their manifests unchanged.
func TestMatrixMerge(t *testing.T) {
	t.Parallel()
	f := newFixture(t, registrytest.Options{})
	const rules = "type=semver,pattern={{version}}\ntype=semver,pattern={{major}}.{{minor}}"
	var refs []string
	for _, arch := range []string{"amd64", "arm64"} {
		img, err := sample.Image(sample.Options{Seed: "matrix", Architecture: arch, Layers: 2, LayerSize: 64 << 10})
		if err != nil {
			t.Fatal(err)
		}
		if err := sample.WriteLayout(filepath.Join(f.ws, arch), img, ""); err != nil {
			t.Fatal(err)
		}
		// Each matrix job pushes to its own repository, as some workflows
		// do; the merge must mount, not copy, their layers.
		r := f.run(t, map[string]string{"INPUT_SOURCE": "oci:" + arch, "INPUT_IMAGE": f.reg.Host() + "/acme/widget-" + arch, "INPUT_PUSH-BY-DIGEST": "true", "INPUT_TAGS": rules, "GITHUB_REF": "refs/tags/v1.2.3"})
		if r.err != nil {
			t.Fatalf("matrix job %s: %v", arch, r.err)
		}
		if r.outputs["tags"] != "" || !strings.Contains(r.outputs["image"], "@sha256:") || r.outputs["version"] != "1.2.3" {
			t.Errorf("push-by-digest outputs: tags %q, image %q, version %q", r.outputs["tags"], r.outputs["image"], r.outputs["version"])
		}
		refs = append(refs, r.outputs["image"])
	}
	for _, arch := range []string{"amd64", "arm64"} {
		assertNoTags(t, f.reg.Host()+"/acme/widget-"+arch)
	}

	f.reg.ResetRequests()
	merge := map[string]string{"INPUT_SOURCE": strings.Join(refs, "\n"), "INPUT_TAGS": rules, "GITHUB_REF": "refs/tags/v1.2.3", "INPUT_PLATFORMS": "linux/amd64,linux/arm64"}
	r := f.run(t, merge)
	if r.err != nil {
		t.Fatalf("merge: %v\n%s", r.err, r.log)
	}
	host := f.reg.Host() + "/acme/widget:"
	if want := host + "1.2.3\n" + host + "1.2\n" + host + "latest"; r.outputs["tags"] != want || r.outputs["version"] != "1.2.3" {
		t.Errorf("merge outputs: tags %q, version %q; want %q, 1.2.3", r.outputs["tags"], r.outputs["version"], want)
	}
	// latest is written last, after the others (written at once, so in
	// any order): ghcr.io's package page offers the last tag pushed.
	var order []string
	for _, w := range f.writes() {
		if _, tag, ok := strings.Cut(w.Path, "/acme/widget/manifests/"); ok && w.Method == "PUT" && !strings.HasPrefix(tag, "sha256:") {
			order = append(order, tag)
		}
	}
	if len(order) == 3 {
		slices.Sort(order[:2])
	}
	if diff := cmp.Diff([]string{"1.2", "1.2.3", "latest"}, order); diff != "" {
		t.Errorf("tag write order mismatch (-want +got):\n%s", diff)
	}
	var uploaded int64
	for _, w := range f.writes() {
		if w.Method == "PATCH" || (w.Method == "PUT" && strings.Contains(w.Path, "/blobs/")) {
			uploaded += w.BodyBytes
		}
	}
	if uploaded > 16<<10 {
		t.Errorf("the merge uploaded %d bytes: the 256 KiB of layers were copied, not mounted", uploaded)
	}
	_, idx := readIndex(t, f.reg.Host()+"/acme/widget:1.2.3")
	var got []string
	for _, d := range idx.Manifests {
		got = append(got, d.Platform.String())
	}
	if diff := cmp.Diff([]string{"linux/amd64", "linux/arm64"}, got); diff != "" {
		t.Errorf("merged platforms mismatch (-want +got):\n%s", diff)
	}
	if idx.Annotations[specs.AnnotationLicenses] != "MIT" {
		t.Errorf("merged index annotations = %v", idx.Annotations)
	}
	// The matrix jobs stamped the version the merge stamps, so the merge
	// reuses their manifests unchanged: no new child digest.
	for i, d := range idx.Manifests {
		child := readBack(t, f.reg.Host()+"/acme/widget@"+d.Digest.String())
		if child.labels[specs.AnnotationVersion] != "1.2.3" || child.labels[specs.AnnotationSource] == "" {
			t.Errorf("child %d labels = %v, want the version and the rest", i, child.labels)
		}
		if _, legDigest, _ := strings.Cut(refs[i], "@"); d.Digest.String() != legDigest {
			t.Errorf("child %d is %s, want the matrix job's manifest %s unchanged", i, d.Digest, legDigest)
		}
	}

	// A missing platform fails before anything is tagged.
	bad := map[string]string{"INPUT_SOURCE": refs[0], "INPUT_TAGS": "broken", "INPUT_PLATFORMS": "linux/amd64,linux/arm64"}
	if r := f.run(t, bad); r.err == nil || !strings.HasPrefix(r.err.Error(), "platforms: ") || !strings.Contains(r.err.Error(), "lack linux/arm64") {
		t.Errorf("merge missing arm64 = %v, want a platforms error", r.err)
	}
	// Two sources for one platform name both lines.
	dup := map[string]string{"INPUT_SOURCE": refs[0] + "\ndocker://" + refs[0] + "\n", "INPUT_TAGS": "broken"}
	if r := f.run(t, dup); r.err == nil || !strings.HasPrefix(r.err.Error(), "source: ") || strings.Count(r.err.Error(), refs[0]) < 2 {
		t.Errorf("duplicate platform = %v, want a source error naming both lines", r.err)
	}
	for _, req := range f.reg.Requests() {
		if strings.HasSuffix(req.Path, "/manifests/broken") && req.Method == "PUT" {
			t.Errorf("a failed merge wrote tag broken")
		}
	}
}

// A Docker 29 export of a multi-platform image with provenance (the
// containerd store's docker save: an OCI layout in a tar) publishes every
// platform and attestation, to the digest the same image gives as an OCI
// layout (buildx --output type=oci); the platforms output keeps arm64's
// variant as the index writes it.
func TestPublishEngineExportLikeOCILayout(t *testing.T) {
	t.Parallel()
	f := newFixture(t, registrytest.Options{})
	writeBuildx(t, f, "multi", sample.IndexOptions{Seed: "export", Attestations: true, Platforms: []v1.Platform{
		{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64", Variant: "v8"},
	}})
	tarLayout(t, filepath.Join(f.ws, "multi"), filepath.Join(f.ws, "export.tar"))
	// The same tags, since the version label comes from them.
	fromLayout := f.run(t, map[string]string{"INPUT_SOURCE": "oci:multi", "INPUT_TAGS": "1.0"})
	fromExport := f.run(t, map[string]string{"INPUT_SOURCE": "docker-archive:export.tar", "INPUT_TAGS": "1.0", "INPUT_PLATFORMS": "linux/amd64,linux/arm64"})
	for _, r := range []result{fromLayout, fromExport} {
		if r.err != nil {
			t.Fatalf("Run() = %v\n%s", r.err, r.log)
		}
	}
	if fromExport.outputs["digest"] != fromLayout.outputs["digest"] {
		t.Errorf("the export publishes as %s, the OCI layout as %s", fromExport.outputs["digest"], fromLayout.outputs["digest"])
	}
	if !strings.Contains(fromExport.outputs["platforms"], `"platform":"linux/arm64/v8"`) {
		t.Errorf("platforms output %s, want linux/arm64/v8 as the index writes it", fromExport.outputs["platforms"])
	}
	_, idx := readIndex(t, f.reg.Host()+"/acme/widget:1.0")
	if len(idx.Manifests) != 4 {
		t.Errorf("the published index lists %d manifests, want 2 images and 2 attestations", len(idx.Manifests))
	}
}

// The done-when of publishing from Docker 29: a multi-platform image with
// provenance built into the containerd image store publishes from
// docker-daemon: with every platform and its attestations, to the digest
// the same build's --output type=oci gives; everything written meets the
// image-spec schemas (checkSchemas).
func TestPublishDockerDaemonMultiPlatform(t *testing.T) {
	t.Parallel()
	host := enginetest.Require(t)
	enginetest.RequireContainerdStore(t)
	f := newFixture(t, registrytest.Options{})
	tag := fmt.Sprintf("publish-action-test/action-multi:%d", time.Now().UnixNano())
	dir := enginetest.Context(t, map[string]string{"a.txt": "multi"}, "ARG TARGETARCH", "COPY a.txt /a-$TARGETARCH.txt")
	enginetest.BuildxBuild(t, tag, dir, "--platform", "linux/amd64,linux/arm64", "--provenance=mode=max",
		"--output", "type=image", "--output", "type=oci,dest="+filepath.Join(f.ws, "oci.tar"))

	fromDaemon := f.run(t, map[string]string{"INPUT_SOURCE": "docker-daemon:" + tag, "INPUT_TAGS": "1.0", "DOCKER_HOST": host, "INPUT_PLATFORMS": "linux/amd64,linux/arm64"})
	fromOCI := f.run(t, map[string]string{"INPUT_SOURCE": "oci-archive:oci.tar", "INPUT_TAGS": "1.0"})
	for _, r := range []result{fromDaemon, fromOCI} {
		if r.err != nil {
			t.Fatalf("Run() = %v\n%s", r.err, r.log)
		}
	}
	if fromDaemon.outputs["digest"] != fromOCI.outputs["digest"] {
		t.Errorf("docker-daemon: publishes as %s, the build's OCI archive as %s", fromDaemon.outputs["digest"], fromOCI.outputs["digest"])
	}
	if strings.Contains(fromDaemon.log, "Docker v2 schema 2") {
		t.Errorf("an OCI image from the engine was announced as converted from Docker v2:\n%s", fromDaemon.log)
	}
	_, idx := readIndex(t, f.reg.Host()+"/acme/widget:1.0")
	attestations := 0
	for _, d := range idx.Manifests {
		if d.Annotations["vnd.docker.reference.type"] == "attestation-manifest" {
			attestations++
		}
	}
	if len(idx.Manifests) != 4 || attestations != 2 {
		t.Errorf("published index lists %d manifests, %d attestations; want 2 platforms and their 2 attestations", len(idx.Manifests), attestations)
	}
}
