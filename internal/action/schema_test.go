package action

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/image-spec/schema"

	"github.com/ghcr-publish/publish-action/internal/testkit/registrytest"
)

// checkSchemas validates every manifest and index in the repositories a
// test's action wrote to, and every image config they name, against the
// image-spec JSON schemas (github.com/opencontainers/image-spec/schema):
// what the action writes must be valid to any client, not only to
// go-containerregistry. newFixture runs it when each test ends.
func checkSchemas(t *testing.T, reg *registrytest.Registry) {
	t.Helper()
	repos := map[string]bool{}
	for _, r := range reg.Requests() {
		if i := strings.Index(r.Path, "/manifests/"); r.Method == "PUT" && i > 0 && r.Status < 300 {
			repos[strings.TrimPrefix(r.Path[:i], "/v2/")] = true
		}
	}
	for repo := range repos {
		ms, err := reg.Manifests(context.Background(), repo)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			raw := httpGet(t, reg.Host(), repo, "/manifests/"+m.Digest, strings.Join([]string{
				string(types.OCIManifestSchema1), string(types.OCIImageIndex), string(types.DockerManifestSchema2), string(types.DockerManifestList),
			}, ", "))
			validateDocument(t, reg.Host(), repo, m.Digest, raw)
		}
	}
}

func validateDocument(t *testing.T, host, repo, digest string, raw []byte) {
	t.Helper()
	var doc struct {
		MediaType types.MediaType `json:"mediaType"`
		Config    struct {
			MediaType types.MediaType `json:"mediaType"`
			Digest    string          `json:"digest"`
		} `json:"config"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Errorf("%s@%s: %v", repo, digest, err)
		return
	}
	// Docker v2 schema 2 documents are structurally the same as OCI ones;
	// their configs are Docker's, which the OCI schema does not govern.
	switch {
	case doc.MediaType.IsIndex():
		if err := schema.ValidatorMediaTypeImageIndex.Validate(bytes.NewReader(raw)); err != nil {
			t.Errorf("%s@%s: index fails the image-spec schema: %v\n%s", repo, digest, err, raw)
		}
	case doc.MediaType.IsImage():
		if err := schema.ValidatorMediaTypeManifest.Validate(bytes.NewReader(raw)); err != nil {
			t.Errorf("%s@%s: manifest fails the image-spec schema: %v\n%s", repo, digest, err, raw)
		}
		if doc.Config.MediaType == types.OCIConfigJSON {
			cfg := httpGet(t, host, repo, "/blobs/"+doc.Config.Digest, "")
			if err := schema.ValidatorMediaTypeImageConfig.Validate(bytes.NewReader(cfg)); err != nil {
				t.Errorf("%s@%s: config %s fails the image-spec schema: %v\n%s", repo, digest, doc.Config.Digest, err, cfg)
			}
		}
	default:
		t.Errorf("%s@%s: media type %q is neither an image nor an index", repo, digest, doc.MediaType)
	}
}

// A Docker v2 image whose config writes null for unset fields (buildah
// commit --format docker does: "Env": null) is converted to OCI with a
// config the OCI schema accepts; checkSchemas fails the test otherwise.
func TestDockerNullsBecomeValidOCIConfig(t *testing.T) {
	t.Parallel()
	f := newFixture(t, registrytest.Options{})
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	tw.WriteHeader(&tar.Header{Name: "hello.txt", Mode: 0o644, Size: 5, Typeflag: tar.TypeReg})
	tw.Write([]byte("hello"))
	tw.Close()
	diffID := fmt.Sprintf("sha256:%x", sha256.Sum256(layer.Bytes()))
	config := `{"architecture":"amd64","os":"linux","author":null,"config":{"User":null,"Env":null,"Cmd":null,"Entrypoint":null,"WorkingDir":null,"Labels":null,"ExposedPorts":null,"Volumes":null,"StopSignal":null},` +
		`"rootfs":{"type":"layers","diff_ids":["` + diffID + `"]},"history":[{"created_by":"buildah","comment":null,"empty_layer":null}]}`
	manifest := `[{"Config":"config.json","RepoTags":["widget:built"],"Layers":["layer.tar"]}]`
	var archive bytes.Buffer
	aw := tar.NewWriter(&archive)
	for _, e := range []struct{ name, body string }{{"config.json", config}, {"layer.tar", layer.String()}, {"manifest.json", manifest}} {
		aw.WriteHeader(&tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.body)), Typeflag: tar.TypeReg})
		aw.Write([]byte(e.body))
	}
	aw.Close()
	if err := os.WriteFile(filepath.Join(f.ws, "image.tar"), archive.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	r := f.run(t, map[string]string{"INPUT_SOURCE": "docker-archive:image.tar", "INPUT_TAGS": "nulls"})
	if r.err != nil {
		t.Fatalf("Run() = %v\n%s", r.err, r.log)
	}
	m := readBack(t, f.reg.Host()+"/acme/widget:nulls")
	if m.mediaType != string(types.OCIManifestSchema1) {
		t.Errorf("pushed media type = %s, want OCI", m.mediaType)
	}
}
