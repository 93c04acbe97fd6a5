package source_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/ghcr-publish/publish-action/internal/inputs"
	"github.com/ghcr-publish/publish-action/internal/source"
	"github.com/ghcr-publish/publish-action/internal/testkit/enginetest"
)

// images are what a Loaded holds by platform (os/arch[/variant]), with
// attestations under "attestation of PLATFORM"; every layer is read back
// and checked against its digest and its config's diff ID.
func images(t *testing.T, l *source.Loaded) map[string]v1.Image {
	t.Helper()
	out := map[string]v1.Image{}
	eachImage(t, l, func(key string, img v1.Image, _ *v1.Manifest) { out[key] = img })
	return out
}

// eachImage calls fn, in the order the source lists them, for every image a
// Loaded holds, keyed as images keys them, after checking every layer
// against its digest and its config's diff ID.
func eachImage(t *testing.T, l *source.Loaded, fn func(key string, img v1.Image, m *v1.Manifest)) {
	t.Helper()
	add := func(key string, img v1.Image) {
		m, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		checkLayers(t, img, m)
		fn(key, img, m)
	}
	if l.Image != nil {
		cf, err := l.Image.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		add(platformName(*cf.Platform()), l.Image)
		return
	}
	im, err := l.Index.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	byDigest := map[string]string{}
	for _, d := range im.Manifests {
		if d.Platform != nil {
			byDigest[d.Digest.String()] = platformName(*d.Platform)
		}
	}
	for _, d := range im.Manifests {
		img, err := l.Index.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		key := byDigest[d.Digest.String()]
		if ref := d.Annotations["vnd.docker.reference.digest"]; ref != "" {
			key = "attestation of " + byDigest[ref]
		}
		add(key, img)
	}
}

func loadDaemon(t *testing.T, host, ref string) *source.Loaded {
	t.Helper()
	tmp := t.TempDir()
	l, err := source.Load(context.Background(), &inputs.Source{Line: "docker-daemon:" + ref, Transport: inputs.DockerDaemon, Daemon: ref}, source.Options{DockerHost: host, TempDir: tmp})
	if err != nil {
		t.Fatalf("Load(docker-daemon:%s) = %v", ref, err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Error(err)
		}
		if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
			t.Errorf("Close left %d entries in the temp dir", len(ents))
		}
	})
	return l
}

func sortedKeys(m map[string]v1.Image) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

var gzipLayers = []types.MediaType{types.DockerLayer, types.OCILayer}

// A docker build FROM scratch, read by tag, by ID and by name alone
// (NAME:latest), from any engine and store: the image with the
// Dockerfile's label, every layer gzip-compressed (the classic store keeps
// them plain: compressed once here) and decompressing to its diff ID.
func TestLoadDockerDaemon(t *testing.T) {
	t.Parallel()
	host := enginetest.Require(t)
	repo := fmt.Sprintf("publish-action-test/daemon-%d", time.Now().UnixNano())
	tag := repo + ":latest"
	big := strings.Repeat("incompressible? no, but large enough to span pgzip blocks. ", 40000)
	enginetest.Build(t, tag, map[string]string{"a.txt": "hello", "big.txt": big},
		"COPY a.txt /a.txt", "COPY big.txt /big.txt", `LABEL org.opencontainers.image.title="from the Dockerfile"`)
	id := enginetest.Docker(t, "image", "inspect", "--format", "{{.Id}}", tag)

	for _, ref := range []string{tag, id, repo} {
		l := loadDaemon(t, host, ref)
		imgs := images(t, l)
		img := imgs[runtime.GOOS+"/"+runtime.GOARCH]
		if img == nil {
			t.Fatalf("docker-daemon:%s holds %v, want %s/%s", ref, sortedKeys(imgs), runtime.GOOS, runtime.GOARCH)
		}
		m, _ := img.Manifest()
		if len(m.Layers) != 2 {
			t.Errorf("%d layers, want 2", len(m.Layers))
		}
		for _, d := range m.Layers {
			if !slices.Contains(gzipLayers, d.MediaType) {
				t.Errorf("layer media type %s, want gzip", d.MediaType)
			}
		}
		cf, _ := img.ConfigFile()
		if cf.Config.Labels["org.opencontainers.image.title"] != "from the Dockerfile" {
			t.Errorf("labels = %v, want the Dockerfile's", cf.Config.Labels)
		}
	}
}

// docker import of a root filesystem: no Dockerfile, one plain layer.
func TestLoadDockerDaemonImported(t *testing.T) {
	t.Parallel()
	host := enginetest.Require(t)
	tag := fmt.Sprintf("publish-action-test/imported:%d", time.Now().UnixNano())
	enginetest.Import(t, tag, map[string]string{"hello": "#!/bin/sh\necho hello\n", "etc/os-release": "ID=test\n"})
	imgs := images(t, loadDaemon(t, host, tag))
	if len(imgs) != 1 {
		t.Fatalf("docker-daemon:%s holds %v, want one image", tag, sortedKeys(imgs))
	}
	for _, img := range imgs {
		cf, _ := img.ConfigFile()
		if got := strings.Join(cf.Config.Cmd, " "); got != "/hello" {
			t.Errorf("Cmd = %q, want /hello", got)
		}
	}
}

// A BuildKit multi-platform build with its provenance in the containerd
// store (Docker 29's default), also exported by the same build as an OCI
// archive (what --output type=oci gives): docker-daemon: reads every
// platform and attestation, and the very index the OCI archive holds.
func TestLoadDockerDaemonMultiPlatform(t *testing.T) {
	t.Parallel()
	host := enginetest.Require(t)
	enginetest.RequireContainerdStore(t)
	for _, tc := range []struct {
		name  string
		flags []string
		want  []string
	}{
		{"with provenance", []string{"--provenance=mode=max"}, []string{"attestation of linux/amd64", "attestation of linux/arm64", "linux/amd64", "linux/arm64"}},
		{"without provenance", []string{"--provenance=false"}, []string{"linux/amd64", "linux/arm64"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tag := fmt.Sprintf("publish-action-test/multi:%d", time.Now().UnixNano())
			dir := enginetest.Context(t, map[string]string{"a.txt": tc.name}, "ARG TARGETARCH", "COPY a.txt /a-$TARGETARCH.txt")
			archive := filepath.Join(t.TempDir(), "oci.tar")
			flags := append([]string{"--platform", "linux/amd64,linux/arm64", "--output", "type=image", "--output", "type=oci,dest=" + archive}, tc.flags...)
			enginetest.BuildxBuild(t, tag, dir, flags...)

			fromDaemon := loadDaemon(t, host, tag)
			if fromDaemon.Index == nil {
				t.Fatalf("docker-daemon:%s read as one image, want the index", tag)
			}
			if got := sortedKeys(images(t, fromDaemon)); !slices.Equal(got, tc.want) {
				t.Errorf("docker-daemon:%s holds %v, want %v", tag, got, tc.want)
			}
			fromOCI, err := source.Load(context.Background(), &inputs.Source{Transport: inputs.OCIArchive, Path: archive}, source.Options{TempDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			defer fromOCI.Close()
			got, _ := fromDaemon.Index.Digest()
			want, _ := fromOCI.Index.Digest()
			if got != want {
				t.Errorf("docker-daemon: reads index %s, the build's OCI archive %s", got, want)
			}
		})
	}
}

// zstd layers as BuildKit stores them in the containerd store: published as
// zstd, under the zstd media type, each decompressing to its diff ID.
func TestLoadDockerDaemonZstd(t *testing.T) {
	t.Parallel()
	host := enginetest.Require(t)
	enginetest.RequireContainerdStore(t)
	tag := fmt.Sprintf("publish-action-test/zstd:%d", time.Now().UnixNano())
	dir := enginetest.Context(t, map[string]string{"a.txt": strings.Repeat("zstd ", 1000)}, "COPY a.txt /a.txt")
	enginetest.BuildxBuild(t, tag, dir, "--provenance=false", "--output", "type=image,compression=zstd,force-compression=true,oci-mediatypes=true")
	imgs := images(t, loadDaemon(t, host, tag))
	if len(imgs) != 1 {
		t.Fatalf("docker-daemon:%s holds %v, want one image", tag, sortedKeys(imgs))
	}
	for _, img := range imgs {
		m, _ := img.Manifest()
		for _, d := range m.Layers {
			if d.MediaType != types.OCILayerZStd {
				t.Errorf("layer %s has media type %s, want zstd", d.Digest, d.MediaType)
			}
		}
	}
}

// One platform of a multi-platform image removed from the containerd store
// (as if only the other was pulled): either the engine exports what it has,
// and the missing platform is left out with a notice, or it refuses, and
// the error carries its message and names the platform it has.
func TestLoadDockerDaemonPartlyPulled(t *testing.T) {
	t.Parallel()
	host := enginetest.Require(t)
	enginetest.RequireContainerdStore(t)
	tag := fmt.Sprintf("publish-action-test/partial:%d", time.Now().UnixNano())
	dir := enginetest.Context(t, map[string]string{"a.txt": "partial"}, "ARG TARGETARCH", "COPY a.txt /a-$TARGETARCH.txt")
	enginetest.BuildxBuild(t, tag, dir, "--platform", "linux/amd64,linux/arm64", "--provenance=false", "--output", "type=image")
	enginetest.Docker(t, "image", "rm", "--force", "--platform", "linux/arm64", tag)

	l, err := source.Load(context.Background(), &inputs.Source{Line: "docker-daemon:" + tag, Transport: inputs.DockerDaemon, Daemon: tag}, source.Options{DockerHost: host, TempDir: t.TempDir()})
	if err != nil {
		for _, want := range []string{"it holds only linux/amd64", "docker pull --platform"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("Load() = %v, want an error saying %q", err, want)
			}
		}
		return
	}
	defer l.Close()
	if got := sortedKeys(images(t, l)); !slices.Equal(got, []string{"linux/amd64"}) {
		t.Errorf("holds %v, want linux/amd64 only", got)
	}
	if lacks := l.Lacks([]v1.Platform{{OS: "linux", Architecture: "arm64"}}); !slices.Equal(lacks, []string{"linux/arm64"}) {
		t.Errorf("Lacks(linux/arm64) = %v", lacks)
	}
	if !strings.Contains(strings.Join(l.Notices, " "), "linux/arm64") {
		t.Errorf("notices %q do not name linux/arm64", l.Notices)
	}
}

func TestLoadDockerDaemonErrors(t *testing.T) {
	t.Parallel()
	host := enginetest.Require(t)
	tests := []struct {
		host, image string
		want        []string
	}{
		{host, "publish-action-test/does-not-exist:nope", []string{"has no image", "publish-action-test/does-not-exist:nope", "docker images"}},
	}
	for _, tt := range tests {
		_, err := source.Load(context.Background(), &inputs.Source{Line: "docker-daemon:" + tt.image, Transport: inputs.DockerDaemon, Daemon: tt.image}, source.Options{DockerHost: tt.host, TempDir: t.TempDir()})
		if err == nil {
			t.Errorf("Load(%s via %s) succeeded", tt.image, tt.host)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) || strings.Contains(err.Error(), "\n") {
				t.Errorf("Load(%s via %s) = %q, want one line saying %q", tt.image, tt.host, err, w)
			}
		}
	}
}

// TestLoadDockerDaemonWithoutEngine covers the Engine API edge with no
// engine at all: a socket nobody listens on, a scheme the action does not
// speak, and an Engine API stand-in on a unix socket that answers 404 and
// 500 as dockerd does (a JSON body with a message).
func TestLoadDockerDaemonWithoutEngine(t *testing.T) {
	t.Parallel()
	sock := filepath.Join(t.TempDir(), "docker.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	var mu sync.Mutex
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.EscapedPath())
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if strings.Contains(r.URL.Path, "partial") {
			// Docker 29's containerd store with one platform of two pulled.
			if strings.HasSuffix(r.URL.Path, "/json") && r.URL.Query().Get("manifests") == "1" {
				fmt.Fprint(w, `{"Id":"sha256:aa","Manifests":[`+
					`{"ID":"sha256:a1","Available":true,"Kind":"image","ImageData":{"Platform":{"architecture":"amd64","os":"linux"}}},`+
					`{"ID":"sha256:a2","Available":false,"Kind":"image","ImageData":{"Platform":{"architecture":"arm64","os":"linux","variant":"v8"}}},`+
					`{"ID":"sha256:a3","Available":true,"Kind":"attestation","AttestationData":{"For":"sha256:a1"}}]}`)
				return
			}
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"message":"unable to create manifests file: NotFound: content digest sha256:a2: not found"}`)
			return
		}
		if strings.Contains(r.URL.Path, "broken") {
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprint(w, `{"message":"write /var/lib/docker/tmp: no space left on device"}`)
			return
		}
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"message":"reference does not exist"}`)
	}))
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	stub := "unix://" + sock

	tests := []struct {
		name, host, image string
		want              []string
	}{
		{"no such image", stub, "acme/widget:1.0", []string{"the Docker engine at " + stub + ` has no image "acme/widget:1.0" (reference does not exist)`, "build or pull it first"}},
		{"no tag means latest", stub, "acme/widget", []string{`has no image "acme/widget:latest"`}},
		{"partly pulled", stub, "acme/partial:1.0", []string{`cannot export "acme/partial:1.0" (unable to create manifests file: NotFound: content digest sha256:a2: not found)`, "it holds only linux/amd64 of that multi-platform image", "docker pull --platform"}},
		{"engine error", stub, "acme/broken:1.0", []string{"refused to export", "500", "no space left on device"}},
		{"nobody listening", "unix:///nonexistent/docker.sock", "anything", []string{"cannot reach the Docker engine at unix:///nonexistent/docker.sock", "DOCKER_HOST"}},
		{"unsupported scheme", "ssh://builder", "anything", []string{`DOCKER_HOST "ssh://builder": only unix:// and tcp://`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := source.Load(context.Background(), &inputs.Source{Line: "docker-daemon:" + tt.image, Transport: inputs.DockerDaemon, Daemon: tt.image}, source.Options{DockerHost: tt.host, TempDir: t.TempDir()})
			if err == nil {
				t.Fatalf("Load(%s via %s) succeeded", tt.image, tt.host)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) || strings.Contains(err.Error(), "\n") {
					t.Errorf("Load(%s via %s) = %q, want one line saying %q", tt.image, tt.host, err, w)
				}
			}
		})
	}
	// After the parallel subtests: the image name reached the engine
	// path-escaped, as one path segment.
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		if !slices.Contains(paths, "/images/acme%2Fwidget:1.0/get") || !slices.Contains(paths, "/images/acme%2Fwidget:latest/get") {
			t.Errorf("engine requests = %v, want GET /images/acme%%2Fwidget:1.0/get", paths)
		}
	})
}
