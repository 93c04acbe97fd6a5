package action

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ghcr-publish/publish-action/internal/testkit/need"
	"github.com/ghcr-publish/publish-action/internal/testkit/registrytest"
)

// cosignEnv is the whole environment cosign runs in: a home and Docker
// config of the test's own (the registry's credentials, nothing of the
// machine's), the key's password, and no way to reach Sigstore's public
// services, which a key-signed, tlog-less signature does not need.
func cosignEnv(t *testing.T, host string) []string {
	t.Helper()
	home := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte("octocat:" + token))
	config, err := json.Marshal(map[string]any{"auths": map[string]any{host: map[string]string{"auth": auth}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "config.json"), config, 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home, "DOCKER_CONFIG=" + home,
		"TUF_ROOT=" + filepath.Join(home, "tuf"), "COSIGN_PASSWORD=test-key-password",
	}
}

// runCosign runs cosign in dir with env and returns its standard output.
func runCosign(t *testing.T, cosign, dir string, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), cosign, args...)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.Output()
	if err != nil {
		msg := err.Error()
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			msg += ": " + strings.TrimSpace(string(exit.Stderr))
		}
		return string(out), &cosignError{args: args, err: msg}
	}
	return string(out), nil
}

type cosignError struct {
	args []string
	err  string
}

func (e *cosignError) Error() string { return "cosign " + strings.Join(e.args, " ") + ": " + e.err }

// TestCosignSignsWhatWasPublished is the hand-off to signing, with the
// real cosign: the image output (REPOSITORY@sha256:…) is what cosign
// signs and verifies, with a key pair and no transparency log (the test
// has no Sigstore to reach). The digest the build made is not it: the
// action re-stamps, so a signature of that digest leaves the published
// image unsigned.
func TestCosignSignsWhatWasPublished(t *testing.T) {
	t.Parallel()
	cosign := need.Tool(t, "cosign")
	f := newFixture(t, registrytest.Options{})
	r := f.run(t, map[string]string{"INPUT_TAGS": "1.0"})
	if r.err != nil {
		t.Fatalf("Run() = %v\n%s", r.err, r.log)
	}
	image, digest := r.outputs["image"], r.outputs["digest"]
	if !strings.HasSuffix(image, "@"+digest) {
		t.Fatalf("image output %q does not name the digest %q", image, digest)
	}
	built, err := f.img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if built.String() == digest {
		t.Fatalf("the published digest is the built one (%s): nothing was stamped", digest)
	}

	dir := t.TempDir()
	env := cosignEnv(t, f.reg.Host())
	if _, err := runCosign(t, cosign, dir, env, "generate-key-pair"); err != nil {
		t.Fatal(err)
	}
	insecure := "--allow-http-registry"
	sign := func(ref string) error {
		_, err := runCosign(t, cosign, dir, env, "sign", "--key", "cosign.key", "--tlog-upload=false", insecure, "--yes", ref)
		return err
	}
	verify := func(ref string) (string, error) {
		return runCosign(t, cosign, dir, env, "verify", "--key", "cosign.pub", "--insecure-ignore-tlog=true", insecure, ref)
	}

	// The trap: cosign signs a digest without reading it, so signing the
	// build's digest, as a workflow that took build-push-action's would,
	// succeeds, and leaves what anyone pulls unsigned.
	if err := sign(f.reg.Host() + "/acme/widget@" + built.String()); err != nil {
		t.Fatal(err)
	}
	if out, err := verify(image); err == nil {
		t.Errorf("cosign verified %s after only the built digest was signed:\n%s", image, out)
	}

	if err := sign(image); err != nil {
		t.Fatal(err)
	}
	out, err := verify(image)
	if err != nil {
		t.Fatal(err)
	}
	var verified []struct {
		Critical struct {
			Image struct {
				Digest string `json:"docker-manifest-digest"`
			} `json:"image"`
		} `json:"critical"`
	}
	if err := json.Unmarshal([]byte(out), &verified); err != nil || len(verified) != 1 || verified[0].Critical.Image.Digest != digest {
		t.Errorf("cosign verify printed %q (%v), want one signature of %s", out, err, digest)
	}
}
