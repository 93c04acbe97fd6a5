package inputs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
)

// Digests the tests hand over, in sorted order.
var (
	hexA = strings.Repeat("a", 64)
	hexB = strings.Repeat("b", 64)
	hexC = strings.Repeat("c", 64)
)

// handoffWorkspace is a workspace with what matrix hand-offs leave in it:
// digests/ as Docker's recipe fills it (with the other spellings, a
// duplicate, and a symlink and a directory whose names alone count), and
// directories that are wrong in one way each.
func handoffWorkspace(t *testing.T) string {
	t.Helper()
	ws := t.TempDir()
	for _, dir := range []string{"digests", "digests/sha256-" + hexC, "empty", "bad", "my dir", "out"} {
		if err := os.MkdirAll(filepath.Join(ws, dir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, file := range []string{"digests/" + hexB, "digests/sha256:" + hexA, "digests/sha256-" + hexB, "bad/" + hexA, "bad/.keep", "a-file"} {
		if err := os.WriteFile(filepath.Join(ws, file), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A dangling symlink: the files are never opened.
	if err := os.Symlink(filepath.Join(ws, "nowhere"), filepath.Join(ws, "digests", "0"+hexA[1:])); err != nil {
		t.Fatal(err)
	}
	return ws
}

func TestParseSourcesHandoff(t *testing.T) {
	t.Parallel()
	ws := handoffWorkspace(t)
	image := name.MustParseReference("ghcr.io/acme/widget").Context()
	at := func(hex string) string { return "ghcr.io/acme/widget@sha256:" + hex }
	tests := []struct {
		name, source string
		want         []string // Line of each source
	}{
		{"bare digest", "sha256:" + hexA, []string{at(hexA)}},
		{"bare digests, one per line", "sha256:" + hexB + "\nsha256:" + hexA, []string{at(hexB), at(hexA)}},
		{"bare digests, spaces and commas", "sha256:" + hexA + " sha256:" + hexB + ",sha256:" + hexC + "\t", []string{at(hexA), at(hexB), at(hexC)}},
		{"bare digest and its reference collapse", "sha256:" + hexA + "\n" + at(hexA) + "\nsha256:" + hexA, []string{at(hexA)}},
		{"Docker's printf list", at(hexA) + " " + at(hexB) + " ", []string{at(hexA), at(hexB)}},
		{"references separated by spaces", "alpine:3.20 docker://ghcr.io/acme/app:1, busybox", []string{"alpine:3.20", "docker://ghcr.io/acme/app:1", "busybox"}},
		{"digests directory, sorted and deduplicated", "digests:digests", []string{at("0" + hexA[1:]), at(hexA), at(hexB), at(hexC)}},
		{"digests directory by absolute path", "digests:" + filepath.Join(ws, "digests") + "\nsha256:" + hexA, []string{at("0" + hexA[1:]), at(hexA), at(hexB), at(hexC)}},
		{"a path with a space is one entry", "oci:my dir", []string{"oci:my dir"}},
		{"a path keeps its line whole", "oci:out,alpine", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseSources(tt.source, ws, image)
			if tt.want == nil {
				// oci:out,alpine is the path "out,alpine", which is not there.
				if err == nil || !strings.Contains(err.Error(), "out,alpine does not exist") {
					t.Errorf("ParseSources(%q) = %v, want the whole line read as a path", tt.source, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSources(%q) = %v", tt.source, err)
			}
			var lines []string
			for _, src := range got {
				lines = append(lines, src.Line)
				if src.Transport == Registry && src.Reference.String() != strings.TrimPrefix(src.Line, "docker://") {
					t.Errorf("source %q has reference %q", src.Line, src.Reference)
				}
			}
			if diff := cmp.Diff(tt.want, lines); diff != "" {
				t.Errorf("ParseSources(%q) mismatch (-want +got):\n%s", tt.source, diff)
			}
		})
	}
}

// TestParseSourcesHandoffErrors checks that every bad digest or digests
// directory is one error, naming source, that says the form.
func TestParseSourcesHandoffErrors(t *testing.T) {
	t.Parallel()
	ws := handoffWorkspace(t)
	image := name.MustParseReference("ghcr.io/acme/widget").Context()
	tests := []struct {
		name, source, want string
		image              name.Repository
	}{
		{name: "too short", source: "sha256:abc", want: `"sha256:abc" is not a sha256 digest; give sha256:<64 lower-case hex digits>`},
		{name: "too long", source: "sha256:" + hexA + "a", want: "is not a sha256 digest; give sha256:<64"},
		{name: "not hex", source: "sha256:" + strings.Repeat("g", 64), want: "is not a sha256 digest"},
		{name: "upper case", source: "sha256:" + strings.ToUpper(hexA), want: "lower-case hex"},
		{name: "other algorithm", source: "sha512:" + hexA + hexA, want: "is not a sha256 digest"},
		{name: "algorithm in capitals", source: "SHA256:" + hexA, want: "is not a sha256 digest"},
		{name: "hex without algorithm", source: hexA, want: "is a digest without its algorithm; write sha256:aaaaaaaaaaaa…"},
		{name: "bad digest in a list", source: "sha256:" + hexA + " sha256:" + hexB[:10], want: `"sha256:bbbbbbbbbb" is not a sha256 digest`},
		{name: "no directory", source: "digests:", want: "names no directory; write digests:DIR"},
		{name: "missing directory", source: "digests:gone", want: "does not exist; download the digests into the workspace"},
		{name: "empty directory", source: "digests:empty", want: "is empty; each matrix leg must touch DIR/<digest without sha256:>"},
		{name: "file not named by a digest", source: "digests:bad", want: `file ".keep" is not named by a digest`},
		{name: "a file, not a directory", source: "digests:a-file", want: "is not a readable directory"},
		{name: "directory outside the workspace", source: "digests:../x", want: "leaves the workspace"},
		{name: "no image to resolve against", source: "sha256:" + hexA, image: name.Repository{}, want: "is resolved against image, which is not valid; fix image"},
		{name: "only separators", source: " , ,", want: "lists no image"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			img := image
			if tt.name == "no image to resolve against" {
				img = tt.image
			}
			_, err := ParseSources(tt.source, ws, img)
			errs := Errors(err)
			if len(errs) != 1 {
				t.Fatalf("ParseSources(%q) = %v; want one error", tt.source, err)
			}
			if errs[0].Input != "source" || !strings.Contains(errs[0].Msg, tt.want) || strings.Contains(errs[0].Msg, "\n") {
				t.Errorf("ParseSources(%q) = %q, want one line for source mentioning %q", tt.source, err, tt.want)
			}
		})
	}
}

// TestReadResolvesDigestsAgainstImage: bare digests name the image input's
// repository, or the derived one, whatever order the inputs come in.
func TestReadResolvesDigestsAgainstImage(t *testing.T) {
	t.Parallel()
	for image, want := range map[string]string{"": "ghcr.io/acme/widget", "acme/other": "ghcr.io/acme/other", "localhost:5000/acme/app": "localhost:5000/acme/app"} {
		in, err := Read(env(t, map[string]string{"INPUT_SOURCE": "sha256:" + hexA, "INPUT_IMAGE": image}))
		if err != nil {
			t.Fatalf("Read(image %q) = %v", image, err)
		}
		if len(in.Sources) != 1 || in.Sources[0].Reference.Name() != want+"@sha256:"+hexA {
			t.Errorf("Read(image %q) sources = %+v, want %s@sha256:%s", image, in.Sources, want, hexA)
		}
	}
}
