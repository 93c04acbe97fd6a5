package source

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/ghcr-publish/publish-action/internal/platform"
)

// defaultDockerHost is where the runner mounts the host's Docker socket
// into a container action.
const defaultDockerHost = "unix:///var/run/docker.sock"

// engine is the little of the Docker Engine API this action needs: export
// an image as a docker save tarball (GET /images/{name}/get), and, when that
// fails, what the engine has of it (GET /images/{name}/json). It speaks
// plain HTTP over the socket rather than pulling in the Docker client
// library; both endpoints are stable across every API version.
type engine struct {
	client *http.Client
	base   string // URL prefix of the API
	where  string // DOCKER_HOST as tried, for messages
}

func newEngine(dockerHost string) (*engine, error) {
	if dockerHost == "" {
		dockerHost = defaultDockerHost
	}
	u, err := url.Parse(dockerHost)
	if err != nil {
		return nil, fmt.Errorf("DOCKER_HOST %q is not a URL: %w", dockerHost, err)
	}
	switch u.Scheme {
	case "unix":
		path := u.Path
		dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		}
		return &engine{client: &http.Client{Transport: &http.Transport{DialContext: dial}}, base: "http://docker", where: dockerHost}, nil
	case "tcp", "http":
		return &engine{client: &http.Client{}, base: "http://" + u.Host, where: dockerHost}, nil
	}
	return nil, fmt.Errorf("DOCKER_HOST %q: only unix:// and tcp:// engines are supported", dockerHost)
}

// export streams the docker save tarball of image into w.
func (e *engine) export(ctx context.Context, image string, w io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.base+"/images/"+url.PathEscape(image)+"/get", nil)
	if err != nil {
		return err
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the Docker engine at %s (%v); in a workflow the runner mounts its socket, elsewhere set DOCKER_HOST", e.where, rootCause(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		msg := engineMessage(resp.Body)
		if have := e.platforms(ctx, image); have != "" {
			// The containerd store answers 404 for an image whose index it
			// has but not every platform's blobs.
			return fmt.Errorf("the Docker engine at %s cannot export %q (%s): it holds only %s of that multi-platform image; pull the rest (docker pull --platform OS/ARCH %s), or publish the build's own output (--output type=oci)", e.where, image, msg, have, image)
		}
		return fmt.Errorf("the Docker engine at %s has no image %q (%s); build or pull it first (docker images lists what it has)", e.where, image, msg)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("the Docker engine at %s refused to export %q: %d %s", e.where, image, resp.StatusCode, engineMessage(resp.Body))
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("exporting %q from the Docker engine: %w", image, err)
	}
	return nil
}

// engineMessage is the message of an Engine API error body.
func engineMessage(r io.Reader) string {
	var body struct {
		Message string `json:"message"`
	}
	raw, _ := io.ReadAll(io.LimitReader(r, 4096))
	if json.Unmarshal(raw, &body) != nil || body.Message == "" {
		return strings.TrimSpace(string(raw))
	}
	return body.Message
}

// platforms names the platforms of image whose content the engine has, when
// it lacks others: "" when it has the image whole, has none of it, or
// cannot say (engines before API 1.48 list no manifests).
func (e *engine) platforms(ctx context.Context, image string) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.base+"/images/"+url.PathEscape(image)+"/json?manifests=1", nil)
	if err != nil {
		return ""
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var inspect struct {
		Manifests []struct {
			Available bool
			Kind      string
			ImageData *struct {
				Platform v1.Platform
			}
		}
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, MaxDocument)).Decode(&inspect) != nil {
		return ""
	}
	var have []string
	lacking := false
	for _, m := range inspect.Manifests {
		if m.Kind != "image" || m.ImageData == nil {
			continue
		}
		if m.Available {
			have = append(have, platform.Key(m.ImageData.Platform))
		} else {
			lacking = true
		}
	}
	if !lacking || len(have) == 0 {
		return ""
	}
	return strings.Join(have, ", ")
}

func rootCause(err error) error {
	var op *net.OpError
	if errors.As(err, &op) {
		return op.Err
	}
	return err
}

// daemonRef is the reference to ask the engine for. A name without tag or
// digest means NAME:latest, as skopeo's docker-daemon: reads it; the
// engine itself would export every tag of NAME. Image IDs pass as they are.
func daemonRef(image string) string {
	if strings.HasPrefix(image, "sha256:") || isHex64(image) {
		return image
	}
	if _, err := name.ParseReference(image); err != nil || strings.Contains(image, "@") {
		return image
	}
	if strings.Contains(image[strings.LastIndex(image, "/")+1:], ":") {
		return image
	}
	return image + ":" + name.DefaultTag
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return false
		}
	}
	return true
}

// fromDaemon exports image from the engine into dir and reads the export
// as a docker save archive (see export.go): engines from 25 on give the
// whole image, every platform and attestation, through index.json.
func fromDaemon(ctx context.Context, dockerHost, image, dir string) (*Loaded, error) {
	eng, err := newEngine(dockerHost)
	if err != nil {
		return nil, err
	}
	exported := filepath.Join(dir, "image.tar")
	f, err := os.Create(exported)
	if err != nil {
		return nil, err
	}
	if err := eng.export(ctx, daemonRef(image), f); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	l, err := fromDockerArchive(ctx, exported, "", dir)
	if err != nil {
		return nil, fmt.Errorf("reading the engine's export of %q: %w", image, err)
	}
	return l, nil
}
