package action

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ghcr-publish/publish-action/internal/testkit/registrytest"
)

// writeRawLayout writes an OCI layout of one image of one empty layer,
// whose config is the given bytes, exactly, with DIFFID replaced by the
// layer's diff ID.
func writeRawLayout(t *testing.T, dir string, config []byte) {
	t.Helper()
	blob := func(b []byte) (string, int) {
		sum := sha256.Sum256(b)
		h := hex.EncodeToString(sum[:])
		if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "blobs", "sha256", h), b, 0o644); err != nil {
			t.Fatal(err)
		}
		return "sha256:" + h, len(b)
	}
	tarball := make([]byte, 1024) // an empty tar: two zero blocks
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(tarball)
	zw.Close()
	diff := sha256.Sum256(tarball)
	ld, ls := blob(gz.Bytes())
	cd, cs := blob(bytes.ReplaceAll(config, []byte("DIFFID"), []byte("sha256:"+hex.EncodeToString(diff[:]))))
	manifest := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":%q,"size":%d}]}`, cd, cs, ld, ls))
	md, ms := blob(manifest)
	index := fmt.Sprintf(`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":%q,"size":%d}]}`, md, ms)
	for name, body := range map[string]string{"index.json": index, "oci-layout": `{"imageLayoutVersion":"1.0.0"}`} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestHostileLayouts: a layout whose config is JSON null (which panicked
// in stamping) or whose platform would inject workflow commands fails
// with one clear error, or publishes without printing a command.
func TestHostileLayouts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, config, want string
	}{
		{"null config", `null`, "config: it is null"},
		{"config of the wrong shape", `{"config":"labels"}`, "parsing config.config"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, registrytest.Options{})
			writeRawLayout(t, filepath.Join(f.ws, "hostile"), []byte(tc.config))
			r := f.run(t, map[string]string{"INPUT_SOURCE": "oci:hostile", "INPUT_TAGS": "1"})
			if r.err == nil || !strings.Contains(r.err.Error(), tc.want) {
				t.Fatalf("Run() = %v, want an error saying %q", r.err, tc.want)
			}
			if w := f.writes(); len(w) != 0 {
				t.Errorf("the registry got %d writes, want none: %v", len(w), w)
			}
		})
	}
	t.Run("platform that injects a workflow command", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, registrytest.Options{})
		writeRawLayout(t, filepath.Join(f.ws, "hostile"), []byte("{\"os\":\"linux\",\"architecture\":\"amd64\\n::error::injected\\n::add-mask::x\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"DIFFID\"]},\"config\":{}}"))
		r := f.run(t, map[string]string{"INPUT_SOURCE": "oci:hostile", "INPUT_TAGS": "1"})
		if r.err != nil {
			t.Fatalf("Run() = %v", r.err)
		}
		for _, line := range strings.Split(r.log, "\n") {
			if strings.HasPrefix(line, "::error::injected") || line == "::add-mask::x" {
				t.Errorf("the image's platform printed a workflow command: %q", line)
			}
		}
		if strings.Contains(r.outputs["platforms"], "injected") {
			t.Errorf("platforms output = %q, want the hostile platform reported as unknown", r.outputs["platforms"])
		}
	})
}
