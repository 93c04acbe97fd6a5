package source_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/ghcr-publish/publish-action/internal/inputs"
	"github.com/ghcr-publish/publish-action/internal/source"
	"github.com/ghcr-publish/publish-action/internal/testkit/enginetest"
)

func TestLoadDockerDaemon(t *testing.T) {
	t.Parallel()
	host := enginetest.Require(t)
	tag := fmt.Sprintf("publish-action-test/daemon:%d", time.Now().UnixNano())
	big := strings.Repeat("incompressible? no, but large enough to span pgzip blocks. ", 40000)
	enginetest.Build(t, tag, map[string]string{"a.txt": "hello", "big.txt": big},
		"COPY a.txt /a.txt", "COPY big.txt /big.txt", `LABEL org.opencontainers.image.title="from the Dockerfile"`)
	id := enginetest.Docker(t, "image", "inspect", "--format", "{{.Id}}", tag)

	for _, ref := range []string{tag, id} {
		tmp := t.TempDir()
		l, err := source.Load(context.Background(), &inputs.Source{Line: "docker-daemon:" + ref, Transport: inputs.DockerDaemon, Daemon: ref}, source.Options{DockerHost: host, TempDir: tmp})
		if err != nil {
			t.Fatalf("Load(docker-daemon:%s) = %v", ref, err)
		}
		img := l.Image
		if err := validate.Image(img); err != nil {
			t.Errorf("image from the engine is inconsistent: %v", err)
		}
		m, _ := img.Manifest()
		if len(m.Layers) != 2 {
			t.Errorf("%d layers, want 2", len(m.Layers))
		}
		for _, d := range m.Layers {
			if d.MediaType != types.DockerLayer {
				t.Errorf("layer media type %s, want gzip", d.MediaType)
			}
		}
		cf, _ := img.ConfigFile()
		if cf.Config.Labels["org.opencontainers.image.title"] != "from the Dockerfile" {
			t.Errorf("labels = %v, want the Dockerfile's", cf.Config.Labels)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
			t.Errorf("Close left %d entries in the temp dir", len(ents))
		}
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
