package main

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/buildinfo"
	"debug/elf"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// commitTime is HEAD's committer time, which SOURCE_DATE_EPOCH defaults to.
func commitTime(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("git", "log", "-1", "--format=%ct").Output()
	if err != nil {
		t.Fatalf("git log: %v (the test needs the repository's git checkout)", err)
	}
	return strings.TrimSpace(string(out))
}

func head(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatalf("git rev-parse: %v", err)
	}
	return strings.TrimSpace(string(out))
}

func getenvFrom(env map[string]string) func(string) string {
	return func(k string) string { return env[k] }
}

// TestBuildIsReproducible builds the layout twice, the second time with
// SOURCE_DATE_EPOCH given explicitly and an environment that would change
// the binary if the build passed it on (GOFLAGS, GOAMD64, CGO_ENABLED), and
// expects the same index digest. Then it reads the layout back as a
// client would and checks each platform's image and binary.
func TestBuildIsReproducible(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	epoch := commitTime(t)

	var stdout, stderr bytes.Buffer
	dir1 := filepath.Join(t.TempDir(), "layout")
	if err := run(ctx, []string{"-o", dir1}, getenvFrom(nil), &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	digest1 := strings.TrimSpace(stdout.String())

	hostile := append(os.Environ(),
		"GOFLAGS=-gcflags=all=-N -tags=netgo",
		"GOAMD64=v3", "GOARM64=v9.0", "CGO_ENABLED=1", "GOOS=windows")
	dir2 := filepath.Join(t.TempDir(), "layout")
	res2, err := Build(ctx, Options{Dir: dir2, Getenv: getenvFrom(map[string]string{"SOURCE_DATE_EPOCH": epoch}), Environ: hostile})
	if err != nil {
		t.Fatal(err)
	}
	if digest1 != res2.Digest.String() {
		t.Fatalf("two builds of one commit: index %s, then %s", digest1, res2.Digest)
	}
	t.Logf("index digest %s (both builds); per platform:\n%s", digest1, stderr.String())

	n, _ := strconv.ParseInt(epoch, 10, 64)
	created := time.Unix(n, 0).UTC()

	p, err := layout.FromPath(dir1)
	if err != nil {
		t.Fatal(err)
	}
	top, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	tm, err := top.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(tm.Manifests) != 1 || tm.Manifests[0].Digest.String() != digest1 || !tm.Manifests[0].MediaType.IsIndex() {
		t.Fatalf("index.json should name exactly the index %s: %+v", digest1, tm.Manifests)
	}
	idx, err := top.ImageIndex(tm.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var platforms []string
	for _, d := range im.Manifests {
		platforms = append(platforms, d.Platform.String())
	}
	if diff := cmp.Diff([]string{"linux/amd64", "linux/arm64/v8"}, platforms); diff != "" {
		t.Errorf("platforms mismatch (-want +got):\n%s", diff)
	}
	if got := im.Annotations["org.opencontainers.image.created"]; got != created.Format(time.RFC3339) {
		t.Errorf("index created = %q, want the commit time %s", got, created.Format(time.RFC3339))
	}

	machines := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}
	for _, d := range im.Manifests {
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"/publish-action"}, cf.Config.Entrypoint); diff != "" {
			t.Errorf("%s entrypoint mismatch (-want +got):\n%s", d.Platform, diff)
		}
		if cf.Config.User != "" || cf.Config.WorkingDir != "" {
			t.Errorf("%s sets User %q / WorkingDir %q, which container actions must not", d.Platform, cf.Config.User, cf.Config.WorkingDir)
		}
		if !cf.Created.Time.Equal(created) || cf.Architecture != d.Platform.Architecture || cf.OS != "linux" {
			t.Errorf("%s config: created %s, %s/%s", d.Platform, cf.Created.Time, cf.OS, cf.Architecture)
		}
		bin := onlyFile(t, img, created)
		checkBinary(t, bin, d.Platform.Architecture, machines[d.Platform.Architecture])
		if d.Platform.Architecture == runtime.GOARCH {
			// The binary for this machine runs: its --help comes from the
			// embedded action.yml.
			path := filepath.Join(t.TempDir(), "publish-action")
			os.WriteFile(path, bin, 0o755)
			out, _ := exec.Command(path, "--help").CombinedOutput()
			if !strings.Contains(string(out), "-source") {
				t.Errorf("the %s binary's --help:\n%s", d.Platform, out)
			}
			out, _ = exec.Command(path, "--version").CombinedOutput()
			if !strings.Contains(string(out), head(t)) {
				t.Errorf("the %s binary's --version does not name the commit %s:\n%s", d.Platform, head(t), out)
			}
		}
	}
}

// onlyFile returns the content of the image's single file, checking there
// is exactly one layer holding /publish-action, executable, owned by root,
// dated created.
func onlyFile(t *testing.T, img v1.Image, created time.Time) []byte {
	t.Helper()
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers: %d, %v; want exactly one", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	var content []byte
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if h.Name != "publish-action" || h.Mode != 0o755 || h.Uid != 0 || h.Gid != 0 || !h.ModTime.Equal(created) {
			t.Errorf("layer entry %s mode %o uid %d gid %d time %s; want only publish-action 755 root %s", h.Name, h.Mode, h.Uid, h.Gid, h.ModTime, created)
		}
		if content, err = io.ReadAll(tr); err != nil {
			t.Fatal(err)
		}
	}
	if content == nil {
		t.Fatal("the layer holds no binary")
	}
	return content
}

// checkBinary checks the ELF machine, that it is static (no interpreter,
// so it runs in an empty image), and how it was built.
func checkBinary(t *testing.T, bin []byte, arch string, machine elf.Machine) {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		t.Fatalf("%s: not an ELF file: %v", arch, err)
	}
	if f.Machine != machine {
		t.Errorf("%s binary is for %s, want %s", arch, f.Machine, machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s binary is dynamically linked", arch)
		}
	}
	info, err := buildinfo.Read(bytes.NewReader(bin))
	if err != nil {
		t.Fatalf("%s build info: %v", arch, err)
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	want := map[string]string{"CGO_ENABLED": "0", "-trimpath": "true", "GOOS": "linux", "GOARCH": arch, "-tags": ""}
	for k, v := range want {
		if settings[k] != v {
			t.Errorf("%s binary built with %s=%q, want %q", arch, k, settings[k], v)
		}
	}
	fallback := false
	for _, d := range info.Deps {
		fallback = fallback || d.Path == "golang.org/x/crypto/x509roots/fallback"
	}
	if !fallback {
		t.Errorf("%s binary has no compiled-in TLS roots (golang.org/x/crypto/x509roots/fallback); the image has no CA file", arch)
	}
}

// TestBadInvocations: each mistake is one line saying what to do, and
// nothing is written.
func TestBadInvocations(t *testing.T) {
	t.Parallel()
	full := t.TempDir()
	os.WriteFile(filepath.Join(full, "index.json"), []byte("{}"), 0o644)
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"no output", nil, nil, "usage: go run ./cmd/image -o DIR"},
		{"not empty", []string{"-o", full}, nil, "the directory is not empty"},
		{"bad epoch", []string{"-o", filepath.Join(t.TempDir(), "x")}, map[string]string{"SOURCE_DATE_EPOCH": "yesterday"}, `SOURCE_DATE_EPOCH="yesterday": want seconds since 1970`},
		{"bad platform", []string{"-o", filepath.Join(t.TempDir(), "x"), "-platforms", "windows/amd64"}, nil, `platform "windows/amd64": want linux/ARCH`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tc.args, getenvFrom(tc.env), &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("run(%q) = %v, want an error containing %q", tc.args, err, tc.want)
			}
			if stdout.Len() > 0 {
				t.Errorf("stdout: %q, want nothing", stdout.String())
			}
		})
	}
}
