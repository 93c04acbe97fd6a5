package source_test

import (
	"archive/tar"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	specs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ghcr-publish/publish-action/internal/inputs"
	"github.com/ghcr-publish/publish-action/internal/source"
	"github.com/ghcr-publish/publish-action/internal/testkit/registrytest"
)

func randomImage(t *testing.T) v1.Image {
	t.Helper()
	img, err := random.Image(256, 2)
	if err != nil {
		t.Fatalf("random.Image: %v", err)
	}
	return img
}

func randomIndex(t *testing.T) v1.ImageIndex {
	t.Helper()
	idx, err := random.Index(256, 1, 2)
	if err != nil {
		t.Fatalf("random.Index: %v", err)
	}
	return idx
}

func digest(t *testing.T, x interface{ Digest() (v1.Hash, error) }) v1.Hash {
	t.Helper()
	d, err := x.Digest()
	if err != nil {
		t.Fatalf("Digest: %v", err)
	}
	return d
}

// entry is one manifest listed in a test layout's index.json.
type entry struct {
	ref   string // org.opencontainers.image.ref.name; empty: no annotation
	index bool   // a random image index rather than an image
}

// writeLayout writes an OCI layout listing entries in order, and returns
// each entry's digest.
func writeLayout(t *testing.T, dir string, entries []entry) []v1.Hash {
	t.Helper()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatalf("layout.Write: %v", err)
	}
	var digests []v1.Hash
	for _, e := range entries {
		var opts []layout.Option
		if e.ref != "" {
			opts = append(opts, layout.WithAnnotations(map[string]string{specs.AnnotationRefName: e.ref}))
		}
		if e.index {
			idx := randomIndex(t)
			if err := p.AppendIndex(idx, opts...); err != nil {
				t.Fatalf("AppendIndex: %v", err)
			}
			digests = append(digests, digest(t, idx))
			continue
		}
		img := randomImage(t)
		if err := p.AppendImage(img, opts...); err != nil {
			t.Fatalf("AppendImage: %v", err)
		}
		digests = append(digests, digest(t, img))
	}
	return digests
}

// tarDir archives the tree under dir into the file dst. Names start with
// prefix: "" as skopeo writes them, or "./" as `tar -C dir -cf dst .` does
// (which also records the top directory itself).
func tarDir(t *testing.T, dir, dst, prefix string) {
	t.Helper()
	f, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		if rel == "." && prefix == "" {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		hdr, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		hdr.Name = prefix + filepath.ToSlash(rel)
		if rel == "." {
			hdr.Name = prefix
		} else if d.IsDir() {
			hdr.Name += "/"
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		src, err := os.Open(p)
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = io.Copy(tw, src)
		return err
	})
	if err != nil {
		t.Fatalf("archiving %s: %v", dir, err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// load calls source.Load and closes what it returns when the test ends.
func load(t *testing.T, src *inputs.Source, opts source.Options) (*source.Loaded, error) {
	t.Helper()
	l, err := source.Load(t.Context(), src, opts)
	if l != nil {
		t.Cleanup(func() {
			if err := l.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
	return l, err
}

// checkErr reports whether a test should go on to look at the image: err
// must be nil when neither wantIs nor wantText is set, and otherwise match
// wantIs and contain every string in wantText.
func checkErr(t *testing.T, err, wantIs error, wantText []string) bool {
	t.Helper()
	if wantIs == nil && len(wantText) == 0 {
		if err != nil {
			t.Fatalf("Load() = %v, want no error", err)
		}
		return true
	}
	if err == nil {
		t.Fatalf("Load() succeeded, want an error (is %v, containing %q)", wantIs, wantText)
	}
	if wantIs != nil && !errors.Is(err, wantIs) {
		t.Errorf("Load() = %v, want errors.Is(err, %v)", err, wantIs)
	}
	for _, s := range wantText {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("Load() = %v, want it to contain %q", err, s)
		}
	}
	return false
}

// checkIndex fails the test unless l is the index with digest want.
func checkIndex(t *testing.T, l *source.Loaded, want v1.Hash) {
	t.Helper()
	if l.Index == nil || l.Image != nil {
		t.Fatalf("Load() = %+v, want an index and no image", l)
	}
	got, err := l.Index.Digest()
	if err != nil || got != want {
		t.Errorf("Load() index digest = %s, %v; want %s", got, err, want)
	}
}

// checkEmpty fails the test unless dir exists and holds nothing.
func checkEmpty(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("ReadDir: %v", err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if diff := cmp.Diff([]string(nil), names); diff != "" {
		t.Errorf("%s is not empty (-want +got):\n%s", dir, diff)
	}
}

func TestLoadOCILayout(t *testing.T) {
	t.Parallel()
	several := []entry{{ref: "amd64"}, {ref: "arm64"}, {ref: "v1"}}
	tests := []struct {
		name    string
		entries []entry
		ref     string
		// want is the index of the entry to load, when no error is wanted.
		want   int
		wantIs error
		// wantIndex: the source is an index, loaded as one.
		wantIndex bool
		wantText  []string
	}{
		{name: "one image", entries: []entry{{}}},
		{name: "one named image without REF", entries: []entry{{ref: "v1"}}},
		{name: "one named image with REF", entries: []entry{{ref: "v1"}}, ref: "v1"},
		{name: "REF picks among several", entries: several, ref: "arm64", want: 1},
		{name: "REF picks the last", entries: several, ref: "v1", want: 2},
		{name: "REF picks the only named one", entries: []entry{{}, {ref: "v1"}, {}}, ref: "v1", want: 1},
		{
			name:     "several images without REF",
			entries:  several,
			wantText: []string{"3 images", "add :REF", "names there: amd64, arm64, v1"},
		},
		{
			name:     "several unnamed images without REF",
			entries:  []entry{{}, {}},
			wantText: []string{"2 images", "add :REF", "names there: none"},
		},
		{
			name:     "unknown REF",
			entries:  several,
			ref:      "riscv64",
			wantText: []string{`no image named "riscv64"`, "names there: amd64, arm64, v1"},
		},
		{
			name:     "REF in a layout without names",
			entries:  []entry{{}},
			ref:      "v1",
			wantText: []string{`no image named "v1"`, "names there: none"},
		},
		{
			name:     "REF names two entries",
			entries:  []entry{{ref: "v1"}, {ref: "v1"}},
			ref:      "v1",
			wantText: []string{`2 images named "v1"`},
		},
		{name: "only entry is an index", entries: []entry{{index: true}}, wantIndex: true},
		{name: "REF names an index", entries: []entry{{ref: "v1", index: true}, {ref: "v2"}}, ref: "v1", wantIndex: true},
		{name: "REF skips an index", entries: []entry{{ref: "v1", index: true}, {ref: "v2"}}, ref: "v2", want: 1},
		{name: "no entries", wantText: []string{"lists no image"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			digests := writeLayout(t, dir, tc.entries)

			l, err := load(t, &inputs.Source{Transport: inputs.OCILayout, Path: dir, Ref: tc.ref}, source.Options{})
			if !checkErr(t, err, tc.wantIs, tc.wantText) {
				if !strings.Contains(err.Error(), dir) {
					t.Errorf("Load() = %v, want it to name the layout %s", err, dir)
				}
				return
			}
			if tc.wantIndex {
				checkIndex(t, l, digests[tc.want])
				return
			}
			if got, want := digest(t, l.Image), digests[tc.want]; got != want {
				t.Errorf("Load() image digest = %s, want %s (entry %d)", got, want, tc.want)
			}
			// The layout is the user's: Close must leave it alone.
			if err := l.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			if _, err := os.Stat(filepath.Join(dir, "index.json")); err != nil {
				t.Errorf("after Close: %v", err)
			}
		})
	}
}

func TestLoadOCIArchive(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		entries []entry
		prefix  string
		ref     string
		want    int
		wantIs  error
		// wantIndex: the source is an index, loaded as one.
		wantIndex bool
		wantText  []string
	}{
		{name: "one image", entries: []entry{{}}},
		{name: "names with ./", entries: []entry{{}}, prefix: "./"},
		{name: "REF", entries: []entry{{ref: "a"}, {ref: "b"}}, ref: "b", want: 1},
		{name: "several images without REF", entries: []entry{{ref: "a"}, {ref: "b"}}, wantText: []string{"add :REF", "a, b"}},
		{name: "unknown REF", entries: []entry{{ref: "a"}}, ref: "c", wantText: []string{`no image named "c"`, "names there: a"}},
		{name: "index", entries: []entry{{index: true}}, wantIndex: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			digests := writeLayout(t, dir, tc.entries)
			archive := filepath.Join(t.TempDir(), "image.tar")
			tarDir(t, dir, archive, tc.prefix)
			tmp := t.TempDir()

			l, err := source.Load(t.Context(), &inputs.Source{Transport: inputs.OCIArchive, Path: archive, Ref: tc.ref}, source.Options{TempDir: tmp})
			if !checkErr(t, err, tc.wantIs, tc.wantText) {
				if !strings.Contains(err.Error(), archive) {
					t.Errorf("Load() = %v, want it to name the archive %s", err, archive)
				}
				// A failed load leaves nothing unpacked behind.
				checkEmpty(t, tmp)
				return
			}
			if tc.wantIndex {
				checkIndex(t, l, digests[tc.want])
				if err := l.Close(); err != nil {
					t.Fatal(err)
				}
				checkEmpty(t, tmp)
				return
			}
			if got, want := digest(t, l.Image), digests[tc.want]; got != want {
				t.Errorf("Load() image digest = %s, want %s", got, want)
			}
			// Every blob is readable from the unpacked files until Close.
			if err := validate.Image(l.Image); err != nil {
				t.Errorf("validate.Image: %v", err)
			}
			if err := l.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			checkEmpty(t, tmp)
			if err := l.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
		})
	}
}

// dockerImage is one image of a test docker save archive.
type dockerImage struct {
	tags []string
}

func TestLoadDockerArchive(t *testing.T) {
	t.Parallel()
	two := []dockerImage{{tags: []string{"example.com/app:v1"}}, {tags: []string{"example.com/app:v2"}}}
	tests := []struct {
		name     string
		images   []dockerImage
		ref      string
		want     int
		wantText []string
	}{
		{name: "one image", images: []dockerImage{{tags: []string{"example.com/app:v1"}}}},
		{name: "one image with REF", images: []dockerImage{{tags: []string{"example.com/app:v1"}}}, ref: "example.com/app:v1"},
		{name: "one image with two tags", images: []dockerImage{{tags: []string{"example.com/app:v1", "example.com/app:latest"}}}},
		{name: "REF picks among several", images: two, ref: "example.com/app:v2", want: 1},
		{
			name:   "REF matches a short tag",
			images: []dockerImage{{tags: []string{"app:v1"}}, {tags: []string{"app:v2"}}},
			ref:    "docker.io/library/app:v2",
			want:   1,
		},
		{
			name:     "several images without REF",
			images:   two,
			wantText: []string{"holds 2 images", "add :REPO:TAG", "example.com/app:v1", "example.com/app:v2"},
		},
		{
			name:     "REF not there",
			images:   two,
			ref:      "example.com/app:v3",
			wantText: []string{"example.com/app:v3", "tags there:", "example.com/app:v1", "example.com/app:v2"},
		},
		{
			name:     "REF not there, one image",
			images:   []dockerImage{{tags: []string{"example.com/app:v1"}}},
			ref:      "example.com/other:v1",
			wantText: []string{"example.com/other:v1", "tags there: example.com/app:v1"},
		},
		{
			name:     "REF not a tag",
			images:   two,
			ref:      "Example.com/App:v1",
			wantText: []string{`"Example.com/App:v1" is not a REPO:TAG`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			refs := make(map[name.Tag]v1.Image)
			var digests []v1.Hash
			for _, di := range tc.images {
				img := randomImage(t)
				digests = append(digests, digest(t, img))
				for _, s := range di.tags {
					tag, err := name.NewTag(s)
					if err != nil {
						t.Fatal(err)
					}
					refs[tag] = img
				}
			}
			archive := filepath.Join(t.TempDir(), "image.tar")
			if err := tarball.MultiWriteToFile(archive, refs); err != nil {
				t.Fatalf("MultiWriteToFile: %v", err)
			}

			l, err := load(t, &inputs.Source{Transport: inputs.DockerArchive, Path: archive, Ref: tc.ref}, source.Options{})
			if !checkErr(t, err, nil, tc.wantText) {
				if !strings.Contains(err.Error(), archive) {
					t.Errorf("Load() = %v, want it to name the archive %s", err, archive)
				}
				return
			}
			// The archive holds the compressed layers and the config as
			// written, so the manifest rebuilt from them is the original.
			if got, want := digest(t, l.Image), digests[tc.want]; got != want {
				t.Errorf("Load() image digest = %s, want %s", got, want)
			}
			if err := l.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			if _, err := os.Stat(archive); err != nil {
				t.Errorf("after Close: %v", err)
			}
		})
	}
}

// TestLoadDockerArchiveReproducible checks that the config survives a docker
// save archive and that loading it twice gives the same manifest: the digest
// a publish reports must not depend on the run.
func TestLoadDockerArchiveReproducible(t *testing.T) {
	t.Parallel()
	labels := map[string]string{
		"org.opencontainers.image.source":  "https://github.com/acme/widget",
		"org.opencontainers.image.version": "1.2.3",
	}
	base := randomImage(t)
	cf, err := base.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg := cf.Config.DeepCopy()
	cfg.Labels = labels
	cfg.Env = []string{"PATH=/usr/bin"}
	img, err := mutate.Config(base, *cfg)
	if err != nil {
		t.Fatalf("mutate.Config: %v", err)
	}
	archive := filepath.Join(t.TempDir(), "image.tar")
	tag, err := name.NewTag("example.com/app:v1")
	if err != nil {
		t.Fatal(err)
	}
	if err := tarball.WriteToFile(archive, tag, img); err != nil {
		t.Fatalf("WriteToFile: %v", err)
	}

	var got []v1.Hash
	for range 2 {
		l, err := load(t, &inputs.Source{Transport: inputs.DockerArchive, Path: archive}, source.Options{})
		if err != nil {
			t.Fatalf("Load() = %v", err)
		}
		lcf, err := l.Image.ConfigFile()
		if err != nil {
			t.Fatalf("ConfigFile: %v", err)
		}
		if diff := cmp.Diff(labels, lcf.Config.Labels); diff != "" {
			t.Errorf("labels mismatch (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"PATH=/usr/bin"}, lcf.Config.Env); diff != "" {
			t.Errorf("env mismatch (-want +got):\n%s", diff)
		}
		if err := validate.Image(l.Image); err != nil {
			t.Errorf("validate.Image: %v", err)
		}
		got = append(got, digest(t, l.Image))
	}
	if got[0] != got[1] {
		t.Errorf("digests of two loads = %s, %s, want equal", got[0], got[1])
	}
	if want := digest(t, img); got[0] != want {
		t.Errorf("Load() image digest = %s, want the saved image's %s", got[0], want)
	}
}

// TestLoadUnreadable covers paths that hold no image at all.
func TestLoadUnreadable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		transport inputs.Transport
		// content is written to the source path; nil: the path is an
		// empty directory, or for archives does not exist.
		content  []byte
		wantText []string
	}{
		{name: "oci on an empty directory", transport: inputs.OCILayout, wantText: []string{"reading OCI layout"}},
		{name: "oci-archive of text", transport: inputs.OCIArchive, content: []byte("not a tar\n"), wantText: []string{"unpacking OCI archive", "reading tar"}},
		{name: "oci-archive of garbage", transport: inputs.OCIArchive, content: []byte(strings.Repeat("garbage!", 128)), wantText: []string{"unpacking OCI archive", "reading tar"}},
		{name: "oci-archive of an empty tar", transport: inputs.OCIArchive, content: make([]byte, 1024), wantText: []string{"reading OCI archive"}},
		{name: "oci-archive missing", transport: inputs.OCIArchive, wantText: []string{"unpacking OCI archive"}},
		{name: "docker-archive of text", transport: inputs.DockerArchive, content: []byte("not a tar\n"), wantText: []string{"reading docker archive", "manifest.json"}},
		{name: "docker-archive of garbage", transport: inputs.DockerArchive, content: []byte(strings.Repeat("garbage!", 128)), wantText: []string{"reading docker archive", "manifest.json"}},
		{name: "docker-archive missing", transport: inputs.DockerArchive, wantText: []string{"reading docker archive"}},
		{name: "unknown transport", transport: "dir", wantText: []string{`unknown transport "dir"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := t.TempDir()
			if tc.transport != inputs.OCILayout {
				path = filepath.Join(path, "image.tar")
			}
			if tc.content != nil {
				if err := os.WriteFile(path, tc.content, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			tmp := t.TempDir()

			_, err := load(t, &inputs.Source{Transport: tc.transport, Path: path}, source.Options{TempDir: tmp})
			checkErr(t, err, nil, tc.wantText)
			checkEmpty(t, tmp)
		})
	}
}

func TestLoadRegistry(t *testing.T) {
	t.Parallel()
	const password = "pw"
	tests := []struct {
		name string
		// ref is the repository and tag or digest to load; DIGEST stands
		// for the pushed image's digest.
		ref      string
		password string
		// noKeychain loads with zero Options.
		noKeychain bool
		wantIndex  bool
		wantStatus int // of the *transport.Error
	}{
		{name: "image by tag", ref: "acme/app:v1", password: password},
		{name: "image by digest", ref: "acme/app@DIGEST", password: password},
		{name: "index", ref: "acme/multi:v1", password: password, wantIndex: true},
		{name: "wrong password", ref: "acme/app:v1", password: "nope", wantStatus: 401},
		{name: "no keychain", ref: "acme/app:v1", noKeychain: true, wantStatus: 401},
		{name: "missing tag", ref: "acme/app:v2", password: password, wantStatus: 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reg, err := registrytest.Start(registrytest.Options{Passwords: []string{password}})
			if err != nil {
				t.Fatalf("registrytest.Start: %v", err)
			}
			t.Cleanup(func() {
				if err := reg.Close(); err != nil {
					t.Errorf("registry Close: %v", err)
				}
			})
			host := reg.Host()
			auth := remote.WithAuth(&authn.Basic{Username: "u", Password: password})
			img := randomImage(t)
			if err := remote.Write(mustRef(t, host+"/acme/app:v1"), img, auth); err != nil {
				t.Fatalf("remote.Write: %v", err)
			}
			if err := remote.WriteIndex(mustRef(t, host+"/acme/multi:v1"), randomIndex(t), auth); err != nil {
				t.Fatalf("remote.WriteIndex: %v", err)
			}

			ref := mustRef(t, host+"/"+strings.ReplaceAll(tc.ref, "DIGEST", digest(t, img).String()))
			var sessions registrytest.SessionOptions
			if !tc.noKeychain {
				sessions.Keychain = registrytest.Keychain(tc.password, host)
			}
			opts := source.Options{Sessions: registrytest.NewSessions(sessions)}
			l, err := load(t, &inputs.Source{Line: "docker://" + ref.String(), Transport: inputs.Registry, Reference: ref}, opts)
			switch {
			case tc.wantIndex:
				if err != nil || l.Index == nil || l.Image != nil {
					t.Errorf("Load(%s) = %+v, %v; want an index", ref, l, err)
				}
			case tc.wantStatus != 0:
				var terr *transport.Error
				if !errors.As(err, &terr) || terr.StatusCode != tc.wantStatus {
					t.Errorf("Load(%s) = %v, want a *transport.Error with status %d", ref, err, tc.wantStatus)
				}
				if err != nil && !strings.Contains(err.Error(), ref.String()) {
					t.Errorf("Load(%s) = %v, want it to name the reference", ref, err)
				}
			case err != nil:
				t.Errorf("Load(%s) = %v, want no error", ref, err)
			default:
				if got, want := digest(t, l.Image), digest(t, img); got != want {
					t.Errorf("Load(%s) image digest = %s, want %s", ref, got, want)
				}
				if err := validate.Image(l.Image); err != nil {
					t.Errorf("validate.Image: %v", err)
				}
			}
		})
	}
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s)
	if err != nil {
		t.Fatalf("name.ParseReference(%q): %v", s, err)
	}
	return r
}
