package action

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ghcr-publish/publish-action/internal/testkit/need"
	"github.com/ghcr-publish/publish-action/internal/testkit/readback"
)

// pushed is what a registry serves for a reference.
type pushed struct {
	digest      string
	mediaType   string
	labels      map[string]string
	annotations map[string]string
	layers      []string
}

// creds are the reader's credentials for the test registry.
const creds = "reader:" + token

// readBack reads ref (HOST/REPO:TAG) the way an outside client does, with
// plain HTTP and the distribution API — not go-containerregistry, which the
// action itself uses — and then, in a subtest that only skopeo's absence
// skips (need.WithTool), with skopeo too, and checks the two agree.
func readBack(t *testing.T, ref string) pushed {
	t.Helper()
	host, rest, _ := strings.Cut(ref, "/")
	repo, tag, _ := strings.Cut(rest, ":")

	if at := strings.Index(rest, "@"); at >= 0 {
		repo, tag = rest[:at], rest[at+1:]
	}
	bearer := readback.Token(t, host, repo, creds)
	get := func(path, accept string) ([]byte, http.Header) {
		return readback.Get(t, host, repo, bearer, path, accept)
	}
	rawManifest, hdr := get("/manifests/"+tag, "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json")
	digest := fmt.Sprintf("sha256:%x", sha256.Sum256(rawManifest))
	if h := hdr.Get("Docker-Content-Digest"); h != digest {
		t.Errorf("%s: Docker-Content-Digest %s, body hashes to %s", ref, h, digest)
	}
	var m struct {
		MediaType   string            `json:"mediaType"`
		Annotations map[string]string `json:"annotations"`
		Config      struct {
			Digest string `json:"digest"`
		} `json:"config"`
		Layers []struct {
			Digest string `json:"digest"`
		} `json:"layers"`
	}
	if err := json.Unmarshal(rawManifest, &m); err != nil {
		t.Fatalf("%s: manifest: %v", ref, err)
	}
	rawConfig, _ := get("/blobs/"+m.Config.Digest, "")
	var cfg struct {
		Config struct {
			Labels map[string]string `json:"Labels"`
		} `json:"config"`
	}
	if err := json.Unmarshal(rawConfig, &cfg); err != nil {
		t.Fatalf("%s: config: %v", ref, err)
	}
	p := pushed{digest: digest, mediaType: m.MediaType, labels: cfg.Config.Labels, annotations: m.Annotations}
	for _, l := range m.Layers {
		p.layers = append(p.layers, l.Digest)
		// Every layer the manifest names must be there.
		get("/blobs/"+l.Digest, "")
	}

	need.WithTool(t, "skopeo", func(t *testing.T, skopeo string) {
		out := runSkopeo(t, skopeo, "inspect", "--raw", "docker://"+ref)
		if diff := cmp.Diff(string(rawManifest), strings.TrimSuffix(string(out), "\n")); diff != "" {
			t.Errorf("skopeo reads another manifest for %s (-http +skopeo):\n%s", ref, diff)
		}
		out = runSkopeo(t, skopeo, "inspect", "--config", "docker://"+ref)
		var sc struct {
			Config struct {
				Labels map[string]string `json:"Labels"`
			} `json:"config"`
		}
		if err := json.Unmarshal(out, &sc); err != nil {
			t.Fatalf("skopeo config for %s: %v", ref, err)
		}
		if diff := cmp.Diff(p.labels, sc.Config.Labels); diff != "" {
			t.Errorf("skopeo reads other labels for %s (-http +skopeo):\n%s", ref, diff)
		}
	})
	return p
}

// httpGet fetches path under /v2/REPO with a fresh pull token.
func httpGet(t *testing.T, host, repo, path, accept string) []byte {
	t.Helper()
	body, _ := readback.Get(t, host, repo, readback.Token(t, host, repo, creds), path, accept)
	return body
}

// runSkopeo runs skopeo with the test credentials against the plain-HTTP
// test registry.
func runSkopeo(t *testing.T, skopeo, verb string, args ...string) []byte {
	t.Helper()
	full := append([]string{verb, "--tls-verify=false", "--creds", creds}, args...)
	out, err := readback.Run(skopeo, full...)
	if err != nil {
		t.Fatalf("skopeo %s: %v", strings.Join(full, " "), err)
	}
	return out
}
