package main

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	specs "github.com/opencontainers/image-spec/specs-go/v1"
)

// mainPackage is the action's binary.
const mainPackage = "github.com/ghcr-publish/publish-action"

// entrypoint is where the binary sits in the image, as in the Dockerfile.
const entrypoint = "/publish-action"

// defaultPlatforms are the runners' platforms: GitHub-hosted runners are
// amd64 or arm64, and a container action runs only on Linux.
var defaultPlatforms = []string{"linux/amd64", "linux/arm64"}

// Options for Build. Getenv is required; every other zero value means the
// default stated on the field.
type Options struct {
	// Dir receives the OCI layout. It must not exist or be empty, so that
	// index.json names exactly one index.
	Dir string
	// Platforms to build, os/arch; default defaultPlatforms.
	Platforms []string
	// Getenv reads SOURCE_DATE_EPOCH and the environment passed to go build.
	Getenv func(string) string
	// Environ is the environment go build starts from, before the
	// variables that would change its output are pinned; default
	// os.Environ().
	Environ []string
}

// Result is what Build wrote.
type Result struct {
	// Digest is the index's digest, the one a release pins.
	Digest v1.Hash
	// Platforms has one entry per image in the index, in index order.
	Platforms []PlatformImage
	// Created is the time stamped on files, configs and the index.
	Created time.Time
}

// PlatformImage is one image of the index.
type PlatformImage struct {
	Platform string
	Digest   v1.Hash
	// Size is the compressed layer size, what a runner downloads.
	Size int64
}

// Build compiles the action for each platform and writes the layout.
func Build(ctx context.Context, opts Options) (*Result, error) {
	if len(opts.Platforms) == 0 {
		opts.Platforms = defaultPlatforms
	}
	if opts.Environ == nil {
		opts.Environ = os.Environ()
	}
	if err := emptyDir(opts.Dir); err != nil {
		return nil, err
	}
	root, err := moduleRoot(ctx)
	if err != nil {
		return nil, err
	}
	created, err := sourceDate(ctx, root, opts.Getenv)
	if err != nil {
		return nil, err
	}
	revision, _ := gitOutput(ctx, root, "rev-parse", "HEAD")
	if revision != "" {
		// --version names the commit; go build's own VCS stamp is off
		// (-buildvcs=false) because it also records the checkout's
		// modification time, which differs between machines.
		if st, err := gitOutput(ctx, root, "status", "--porcelain", "--untracked-files=no"); err != nil || st != "" {
			revision += "-dirty"
		}
	}

	work, err := os.MkdirTemp("", "publish-action-image-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)

	res := &Result{Created: created}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range opts.Platforms {
		plat, err := v1.ParsePlatform(p)
		if err != nil || plat.OS != "linux" || plat.Architecture == "" {
			return nil, fmt.Errorf("platform %q: want linux/ARCH, e.g. linux/arm64", p)
		}
		if plat.Architecture == "arm64" && plat.Variant == "" {
			// What buildx and the golang images record for arm64.
			plat.Variant = "v8"
		}
		bin := filepath.Join(work, plat.OS+"-"+plat.Architecture, "publish-action")
		if err := goBuild(ctx, root, bin, *plat, revision, opts.Environ); err != nil {
			return nil, err
		}
		img, err := platformImage(bin, *plat, created)
		if err != nil {
			return nil, fmt.Errorf("assembling %s: %w", p, err)
		}
		d, err := img.Digest()
		if err != nil {
			return nil, err
		}
		layers, err := img.Layers()
		if err != nil {
			return nil, err
		}
		size, err := layers[0].Size()
		if err != nil {
			return nil, err
		}
		res.Platforms = append(res.Platforms, PlatformImage{Platform: plat.String(), Digest: d, Size: size})
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: plat},
		})
	}
	ann := map[string]string{specs.AnnotationCreated: created.Format(time.RFC3339)}
	if revision != "" && !strings.HasSuffix(revision, "-dirty") {
		ann[specs.AnnotationRevision] = revision
	}
	idx = mutate.Annotations(idx, ann).(v1.ImageIndex)

	p, err := layout.Write(opts.Dir, empty.Index)
	if err != nil {
		return nil, fmt.Errorf("writing %s: %w", opts.Dir, err)
	}
	if err := p.AppendIndex(idx); err != nil {
		return nil, fmt.Errorf("writing %s: %w", opts.Dir, err)
	}
	if res.Digest, err = idx.Digest(); err != nil {
		return nil, err
	}
	return res, nil
}

// platformImage is one platform's image: a single layer holding the
// binary, an OCI config whose entrypoint runs it, all times set to created.
func platformImage(bin string, plat v1.Platform, created time.Time) (v1.Image, error) {
	data, err := os.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	hdr := &tar.Header{
		Typeflag: tar.TypeReg,
		Name:     strings.TrimPrefix(entrypoint, "/"),
		Mode:     0o755,
		Size:     int64(len(data)),
		ModTime:  created,
		Format:   tar.FormatPAX,
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, err
	}
	if _, err := tw.Write(data); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	raw := buf.Bytes()
	// gzip as go-containerregistry writes it: no name or time in the
	// header, so the compressed bytes depend on the tar alone.
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(raw)), nil
	}, tarball.WithMediaType(types.OCILayer), tarball.WithCompressedCaching)
	if err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.ConfigFile(img, &v1.ConfigFile{
		Architecture: plat.Architecture,
		OS:           plat.OS,
		Variant:      plat.Variant,
		RootFS:       v1.RootFS{Type: "layers"},
		// GitHub runs a container action as root with the workspace as
		// working directory (the runner passes --workdir), so neither
		// User nor WorkingDir is set, as in the Dockerfile.
		Config: v1.Config{Entrypoint: []string{entrypoint}},
	})
	if err != nil {
		return nil, err
	}
	img, err = mutate.Append(img, mutate.Addendum{
		Layer: layer,
		History: v1.History{
			Created:   v1.Time{Time: created},
			CreatedBy: "go build -trimpath " + mainPackage + " (go run ./cmd/image)",
		},
	})
	if err != nil {
		return nil, err
	}
	return mutate.CreatedAt(img, v1.Time{Time: created})
}

// pinnedEnv are the variables that change what go build writes; each is
// set here, overriding the caller's, so that the binary depends on the
// source and the toolchain alone.
var pinnedEnv = map[string]string{
	"CGO_ENABLED":  "0",
	"GOFLAGS":      "-mod=readonly",
	"GOAMD64":      "v1",
	"GOARM64":      "v8.0",
	"GOEXPERIMENT": "",
	"GOFIPS140":    "off",
}

// goBuild compiles the action statically for plat into out.
func goBuild(ctx context.Context, root, out string, plat v1.Platform, revision string, environ []string) error {
	env := slices.DeleteFunc(slices.Clone(environ), func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		_, pinned := pinnedEnv[k]
		return pinned || k == "GOOS" || k == "GOARCH"
	})
	for k, v := range pinnedEnv {
		env = append(env, k+"="+v)
	}
	env = append(env, "GOOS="+plat.OS, "GOARCH="+plat.Architecture)
	ldflags := "-s -w -buildid="
	if revision != "" {
		ldflags += " -X " + mainPackage + "/internal/cli.commit=" + revision
	}
	cmd := exec.CommandContext(ctx, "go", "build",
		"-trimpath", "-buildvcs=false", "-ldflags="+ldflags,
		"-o", out, mainPackage)
	cmd.Dir = root
	cmd.Env = env
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build for %s: %w\n%s", plat.String(), err, msg)
	}
	return nil
}

// moduleRoot is the directory of the action's go.mod, so that the command
// works from anywhere inside the repository.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside the action's module: run go run ./cmd/image from the repository")
	}
	return filepath.Dir(gomod), nil
}

// sourceDate is SOURCE_DATE_EPOCH (reproducible-builds.org) when set,
// otherwise the committer time of HEAD.
func sourceDate(ctx context.Context, root string, getenv func(string) string) (time.Time, error) {
	if s := getenv("SOURCE_DATE_EPOCH"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q: want seconds since 1970, e.g. $(git log -1 --format=%%ct)", s)
		}
		return time.Unix(n, 0).UTC(), nil
	}
	s, err := gitOutput(ctx, root, "log", "-1", "--format=%ct")
	if err != nil {
		return time.Time{}, fmt.Errorf("no SOURCE_DATE_EPOCH and no commit time (%w): set SOURCE_DATE_EPOCH or run in a git checkout", err)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("commit time %q: %w", s, err)
	}
	return time.Unix(n, 0).UTC(), nil
}

func gitOutput(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out)), nil
}

// emptyDir makes sure dir exists and holds nothing.
func emptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return os.MkdirAll(dir, 0o755)
	case err != nil:
		return err
	case len(entries) > 0:
		return fmt.Errorf("-o %s: the directory is not empty; remove it or choose another", dir)
	}
	return nil
}
