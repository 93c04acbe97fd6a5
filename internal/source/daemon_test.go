package source_test

import (
	"context"
	"fmt"
	"os"
	"strings"
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
		{"unix:///nonexistent/docker.sock", "anything", []string{"cannot reach the Docker engine at unix:///nonexistent/docker.sock", "DOCKER_HOST"}},
		{"ssh://builder", "anything", []string{"only unix:// and tcp://"}},
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
