package inputs

// Fuzz targets for every parser of user input. A workflow file is user input,
// and with pull_request_target or a reusable workflow it may be someone
// else's: each parser must either accept a value that is safe to use as is, or
// reject it with a short, one-line message naming the input. .ci/fuzz runs
// these targets for a fixed time each; crashers go to testdata/fuzz/ and stay
// there as regression cases.

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/github/go-spdx/v2/spdxexp"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"gopkg.in/yaml.v3"

	"github.com/ghcr-publish/publish-action/internal/credentials"
	"github.com/ghcr-publish/publish-action/internal/platform"
)

// maxMsg bounds an error message in bytes, whatever the input's size: a
// message becomes one workflow annotation, and a parser that quotes a MiB
// value in full floods the log.
const maxMsg = 400

// mib is a MiB: each target has a seed or two of that size, and
// TestHugeInputs more. Most long hostile seeds are a few KiB instead: an
// execution on a MiB costs about a millisecond, against some thirty
// microseconds for a short value, and the fuzzer must minimize every new
// input it grows from one (.ci/fuzz bounds that time).
const mib = 1 << 20

// kib is the size of the other long hostile seeds: past every truncation.
const kib = 1 << 10

// hostile are values that every parser is seeded with: control characters,
// line breaks inside values, paths that climb, empty transports, unicode that
// changes width or direction, invalid UTF-8, and long values.
var hostile = []string{
	"",
	"\x00",
	"a\x00b",
	"a\nb",
	"a\r\nb",
	"\r",
	"\t",
	"\x1b[31mred\x1b[0m",
	"\x7f",
	"\u0085",   // NEL, a C1 control
	"\u2028",   // LINE SEPARATOR
	"\u202e",   // RIGHT-TO-LEFT OVERRIDE
	"\ufeff",   // BOM
	"\xff\xfe", // invalid UTF-8
	"..",
	"../../etc",
	"oci:../../etc",
	"oci:..",
	"oci:",
	"oci::",
	"docker://",
	"docker:",
	":::",
	",,,",
	"=",
	"==",
	"/",
	"//",
	"@",
	"ラベル=値",
	"🐳",
	strings.Repeat("a", mib),
	strings.Repeat("é", 4*kib),
	strings.Repeat("\x01", 4*kib),
	strings.Repeat("\u202e", kib),
	strings.Repeat("\xff", kib),
	strings.Repeat("\\\"", kib),
	strings.Repeat("a\n", 4*kib),
	strings.Repeat(",", 4*kib),
}

// checkError asserts that err is an *Error for input whose message is one
// short line.
func checkError(t *testing.T, err error, input string) {
	t.Helper()
	e, ok := err.(*Error)
	if !ok {
		t.Fatalf("error %T %.200q is not an *Error", err, err.Error())
	}
	if e.Input != input {
		t.Errorf("Error.Input = %q, want %q (message %.200q)", e.Input, input, e.Msg)
	}
	if e.Msg == "" {
		t.Errorf("Error.Msg is empty")
	}
	if strings.ContainsAny(e.Msg, "\n\r") {
		t.Errorf("Error.Msg %.200q spans several lines", e.Msg)
	}
	if len(e.Msg) > maxMsg {
		t.Errorf("Error.Msg is %d bytes, want at most %d: %.200q…", len(e.Msg), maxMsg, e.Msg)
	}
}

// hasControl reports whether s holds a control character other than those
// allowed.
func hasControl(s, allowed string) bool {
	return strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsControl(r) && !strings.ContainsRune(allowed, r)
	})
}

// fields splits a list input the way tags and platforms are documented to
// split: on commas and line breaks, trimmed, blanks dropped.
func fields(v string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func FuzzParseKeyValues(f *testing.F) {
	for _, s := range []string{
		"org.opencontainers.image.title=Widget",
		"a=1\nb=2\na=3",
		"a=1\r\nb=\r\n\r\n",
		"  spaced = value with spaces  ",
		"k=v=w",
		"k=\tindented",
		"k=a\tb",
		"k=line1\\nline2",
		"=v",
		"no equals",
		"my key=v",
		"k\x00=v",
		"k=v\x00",
		"k=\x1b[2J",
		"k=v\u0085",
		"manifest:org.opencontainers.image.title=Widget\nindex:org.opencontainers.image.title=Widget\nmanifest:org.opencontainers.image.description=",
		"index:=v\nmanifest: =v\nmanifest:",
		"k=\u202eevil",
		"ключ=значение",
		"k=" + strings.Repeat("v", mib),
		strings.Repeat("k", 4*kib) + "=v",
		strings.Repeat("k ", mib/2) + "=v",
		strings.Repeat("k", 4*kib) + "=\x00",
		strings.Repeat("k=v\n", kib),
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	for _, s := range hostile {
		f.Add(s, false)
		f.Add("k="+s, true)
	}
	f.Fuzz(func(t *testing.T, v string, annotations bool) {
		input := "labels"
		if annotations {
			input = "annotations"
		}
		got, err := ParseKeyValues(input, v)

		// The documented behaviour: one key=value per line, blank lines
		// skipped, later lines win, in order of first appearance.
		var want []KeyValue
		index := map[string]int{}
		bad := false
		for _, line := range strings.Split(v, "\n") {
			line = strings.TrimSpace(line)
			if line == "" {
				continue
			}
			key, value, ok := strings.Cut(line, "=")
			key = strings.TrimSpace(key)
			// docker/metadata-action's annotations lines: level:key=value,
			// and level:key= for nothing to say.
			if level, rest, found := strings.Cut(key, ":"); annotations && found && strings.TrimSpace(rest) != "" &&
				(level == "manifest" || level == "index" || level == "manifest-descriptor" || level == "index-descriptor") {
				if key = strings.TrimSpace(rest); ok && value == "" {
					continue
				}
			}
			if !ok || key == "" || strings.ContainsFunc(key, unicode.IsSpace) || hasControl(key, "") || hasControl(value, "\t") ||
				len(key) > MaxKey || len(value) > MaxValue {
				bad = true
				break
			}
			if j, dup := index[key]; dup {
				want[j].Value = value
				continue
			}
			index[key] = len(want)
			want = append(want, KeyValue{Key: key, Value: value})
		}

		if err != nil {
			checkError(t, err, input)
			if !bad {
				t.Fatalf("ParseKeyValues(%q, %.200q) = %v, but every line is key=value", input, v, err)
			}
			return
		}
		if bad {
			t.Fatalf("ParseKeyValues(%q, %.200q) accepted a bad line", input, v)
		}
		for _, kv := range got {
			if kv.Key == "" || strings.ContainsFunc(kv.Key, unicode.IsSpace) || hasControl(kv.Key, "") {
				t.Errorf("accepted key %.200q is empty or holds spaces or control characters", kv.Key)
			}
			if hasControl(kv.Value, "\t") {
				t.Errorf("accepted value %.200q of %.200q holds control characters", kv.Value, kv.Key)
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("ParseKeyValues(%q, %.200q) mismatch (-want +got):\n%.2000s", input, v, diff)
		}
	})
}

func sourceWorkspace(f *testing.F) string {
	ws := f.TempDir()
	outside := f.TempDir()
	for _, dir := range []string{"out", "sub/layout", "..dots"} {
		if err := os.MkdirAll(filepath.Join(ws, dir), 0o755); err != nil {
			f.Fatal(err)
		}
	}
	for _, dir := range []string{"digests", "baddigests"} {
		if err := os.MkdirAll(filepath.Join(ws, dir), 0o755); err != nil {
			f.Fatal(err)
		}
	}
	for _, file := range []string{"img.tar", "out/index.json", "with:colon.tar", "digests/" + strings.Repeat("a", 64), "digests/sha256-" + strings.Repeat("b", 64), "baddigests/.keep"} {
		if err := os.WriteFile(filepath.Join(ws, file), []byte("{}"), 0o644); err != nil {
			f.Fatal(err)
		}
	}
	// The check that a relative path stays in the workspace is lexical, as
	// skopeo's is: a symlink the repository itself holds is followed.
	if err := os.Symlink(outside, filepath.Join(ws, "link")); err != nil {
		f.Fatal(err)
	}
	return ws
}

// sourceSeeds are realistic and hostile source lines for ws.
func sourceSeeds(ws string) []string {
	return []string{
		"oci:out",
		"oci:out:app",
		"oci:./out:v1",
		"oci:" + filepath.Join(ws, "out"),
		"oci:" + ws + "/../../etc",
		"oci:/",
		"oci:/etc",
		"oci-archive:img.tar",
		"docker-archive:img.tar:app:latest",
		"oci:sub/layout",
		"oci:sub/../out",
		"oci:sub/../../out",
		"oci:..dots",
		"oci:link",
		"oci:link/../..",
		"oci:./link/../../etc",
		"oci:out/" + strings.Repeat("./", 4*kib),
		"oci:out:" + strings.Repeat("r", 4*kib),
		"oci:" + strings.Repeat("x", mib),
		"oci:" + strings.Repeat("../", 4*kib),
		"oci:out\x00",
		"oci:out\t",
		"oci:~/out",
		"oci-archive:",
		"docker-archive::",
		"docker://alpine:3.20",
		"docker://ghcr.io/acme/app@sha256:" + strings.Repeat("a", 64),
		"docker://" + strings.Repeat("a", 4*kib),
		"docker:alpine",
		"alpine",
		"alpine:3.20",
		"digests:digests",
		"digests:baddigests",
		"digests:",
		"digests:../x",
		"sha256:" + strings.Repeat("c", 64),
		"sha256:" + strings.Repeat("C", 64),
		"sha512:" + strings.Repeat("c", 128),
		strings.Repeat("c", 64),
		"alpine:3.20 busybox,docker://ghcr.io/acme/app:1\tsha256:" + strings.Repeat("d", 64),
		"oci:out alpine",
		"localhost:5000/app",
		"ghcr.io/Acme/App:1",
		"ghcr.io/acme/app:" + strings.Repeat("t", 4*kib),
		strings.Repeat("A", 4*kib) + ":" + strings.Repeat("B", 4*kib),
		"foo:bar/baz",
		"ftp://example.com/x",
		"http://example.com/x",
		"dir:out",
		"docker-daemon:app:latest",
		strings.Repeat("x", 4*kib) + "://y",
	}
}

// checkSource asserts what an accepted source promises its users.
func checkSource(t *testing.T, line, ws string, src *Source) {
	t.Helper()
	if src == nil {
		t.Fatalf("ParseSource(%.200q) = nil, nil", line)
	}
	if src.Line != line {
		t.Errorf("Line = %.200q, want %.200q", src.Line, line)
	}
	if strings.ContainsFunc(line, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		t.Errorf("ParseSource(%.200q) accepted control characters", line)
	}
	switch src.Transport {
	case OCILayout, OCIArchive, DockerArchive:
		if src.Reference != nil || src.Path == "" {
			t.Fatalf("ParseSource(%.200q) = %+v, want a path and no reference", line, src)
		}
		if !filepath.IsAbs(src.Path) || filepath.Clean(src.Path) != src.Path {
			t.Errorf("Path %.200q is not absolute and clean", src.Path)
		}
		rest := strings.TrimPrefix(line, string(src.Transport)+":")
		path, ref, _ := strings.Cut(rest, ":")
		if ref != src.Ref {
			t.Errorf("Ref = %.200q, want %.200q", src.Ref, ref)
		}
		if !filepath.IsAbs(path) {
			rel, err := filepath.Rel(ws, src.Path)
			if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
				t.Errorf("relative %.200q resolved to %.200q, outside the workspace %s", path, src.Path, ws)
			}
		}
	case Registry:
		if src.Reference == nil || src.Path != "" || src.Ref != "" {
			t.Fatalf("ParseSource(%.200q) = %+v, want a reference alone", line, src)
		}
		// What the source step will pull must parse again to itself.
		again, err := name.ParseReference(src.Reference.String())
		if err != nil || again.Name() != src.Reference.Name() {
			t.Errorf("reference %q does not round-trip: %v, %v", src.Reference, again, err)
		}
	case DockerDaemon:
		if src.Daemon == "" || src.Reference != nil || src.Path != "" || "docker-daemon:"+src.Daemon != line {
			t.Fatalf("ParseSource(%.200q) = %+v, want the engine's image name alone", line, src)
		}
	default:
		t.Errorf("ParseSource(%.200q) has transport %q", line, src.Transport)
	}
}

func FuzzParseSource(f *testing.F) {
	ws := sourceWorkspace(f)
	for _, s := range sourceSeeds(ws) {
		f.Add(s)
	}
	for _, s := range hostile {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		src, err := ParseSource(line, ws)
		if err != nil {
			checkError(t, err, "source")
			return
		}
		checkSource(t, line, ws, src)
	})
}

// fuzzImage is the destination bare digests resolve against in the fuzz
// targets.
var fuzzImage = name.MustParseReference("ghcr.io/acme/widget").Context()

func FuzzParseSources(f *testing.F) {
	ws := sourceWorkspace(f)
	seeds := sourceSeeds(ws)
	f.Add(strings.Join(seeds, "\n"))
	f.Add("oci:out\noci:out\n\n  oci:out  \r\ndocker://alpine")
	f.Add("oci:../../etc\nftp://x\n" + strings.Repeat("y", mib))
	f.Add(strings.Repeat("oci:out\n", 4*kib))
	f.Add("sha256:" + strings.Repeat("a", 64) + "\ndigests:digests\nghcr.io/acme/widget@sha256:" + strings.Repeat("b", 64))
	f.Add(", ,\t,")
	for _, s := range hostile {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		got, err := ParseSources(v, ws, fuzzImage)
		errs := Parts(err)
		for _, e := range errs {
			checkError(t, e, "source")
		}
		// Something that is not blank gives a source or an error.
		if strings.TrimSpace(v) != "" && len(got)+len(errs) == 0 {
			t.Errorf("ParseSources(%.200q) gave neither a source nor an error", v)
		}
		if len(got) > maxSources {
			t.Errorf("ParseSources(%.200q) gave %d sources, more than %d", v, len(got), maxSources)
		}
		lines := map[string]bool{}
		for _, src := range got {
			if lines[src.Line] {
				t.Errorf("source %.200q listed twice", src.Line)
			}
			lines[src.Line] = true
			if resolved, ok := strings.CutPrefix(src.Line, fuzzImage.String()+"@sha256:"); ok && !strings.Contains(v, src.Line) {
				// A bare digest, or a name in digests:DIR, resolved
				// against the image.
				if src.Transport != Registry || src.Reference.String() != src.Line || !sha256Hex.MatchString(resolved) {
					t.Errorf("digest source %+v, want %s@sha256:<hex>", src, fuzzImage)
				}
				continue
			}
			if !strings.Contains(v, src.Line) || strings.TrimSpace(src.Line) != src.Line {
				t.Errorf("source line %.200q is not a trimmed part of the input", src.Line)
			}
			checkSource(t, src.Line, ws, src)
		}
	})
}

// asWritten is p in the form a user writes it, variant and os.version
// included: the parser must keep all of a platform or reject it, never drop
// part of it. Written out again here, not PlatformText, so the test checks
// the parser rather than itself.
func asWritten(p v1.Platform) string {
	parts := []string{p.OS, p.Architecture}
	if p.Variant != "" {
		parts = append(parts, p.Variant)
	}
	s := strings.Join(parts, "/")
	if p.OSVersion != "" {
		s += ":" + p.OSVersion
	}
	return s
}

func FuzzParsePlatforms(f *testing.F) {
	for _, s := range []string{
		"linux/amd64",
		"linux/amd64,linux/arm64",
		"linux/arm64/v8",
		"linux/arm64,linux/arm64/v8",
		"linux/arm/v7\nlinux/arm/v6\r\nlinux/386",
		"windows/amd64:10.0.17763.1234",
		"windows/amd64:10.0:extra",
		"linux/amd64/",
		"linux/amd64:",
		"linux//amd64",
		"/amd64",
		"linux",
		"linux/amd64/v1/extra",
		"linux/amd 64",
		"linux/amd64\x00",
		"linux/amd64\u00a0",
		"linux/" + strings.Repeat("a", mib),
		strings.Repeat("linux/amd64,", kib),
		strings.Repeat("/", 4*kib),
	} {
		f.Add(s)
	}
	for _, s := range hostile {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		got, err := ParsePlatforms(v)
		if err != nil {
			checkError(t, err, "platforms")
			return
		}
		want := fields(v)
		if len(got) != len(want) {
			t.Fatalf("ParsePlatforms(%.200q) = %d platforms for %d fields", v, len(got), len(want))
		}
		seen := map[string]bool{}
		for i, p := range got {
			if p.OS == "" || p.Architecture == "" {
				t.Errorf("accepted platform %+v has no OS or architecture", p)
			}
			if text := asWritten(p); text != want[i] {
				t.Errorf("field %.200q parsed as %.200q: part of it was dropped", want[i], text)
			}
			if s := asWritten(p); strings.ContainsFunc(s, unicode.IsSpace) || hasControl(s, "") {
				t.Errorf("accepted platform %.200q holds spaces or control characters", s)
			}
			key := platform.Key(p)
			if seen[key] {
				t.Errorf("platform %s accepted twice", key)
			}
			seen[key] = true

			// The canonical form is itself a platform that means the same.
			again, err := ParsePlatforms(key)
			if err != nil || len(again) != 1 || platform.Key(again[0]) != key {
				t.Errorf("platform.Key %.200q does not round-trip: %v, %v", key, again, err)
				continue
			}
			norm := p
			if norm.Architecture == "arm64" && norm.Variant == "v8" {
				norm.Variant = ""
			}
			if diff := cmp.Diff(norm, again[0]); diff != "" {
				t.Errorf("ParsePlatforms(%q) mismatch (-want +got):\n%s", key, diff)
			}
		}
	})
}

func FuzzParseLicenses(f *testing.F) {
	for _, s := range []string{
		"MIT",
		"Apache-2.0 OR MIT",
		"(MIT AND BSD-3-Clause) OR GPL-2.0-or-later WITH Classpath-exception-2.0",
		"LicenseRef-Acme",
		"NOASSERTION",
		"noassertion",
		"NONE",
		"MIT OR",
		"((((MIT",
		"MIT)",
		"mit",
		"GPL-2.0+",
		"MIT\x00",
		"MIT\nOR Apache-2.0",
		strings.Repeat("(", 300),
		strings.Repeat("(", 256),
		strings.Repeat("MIT OR ", 36) + "MIT",
		strings.Repeat("é", MaxLicenses),
		strings.Repeat("é", MaxLicenses+1),
		strings.Repeat("MIT OR ", mib/7),
	} {
		f.Add(s)
	}
	for _, s := range hostile {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		got, err := parseLicenses(v)
		if err != nil {
			checkError(t, err, "licenses")
			return
		}
		if !got.Set {
			t.Fatalf("parseLicenses(%.200q) = %+v, nil: not Set", v, got)
		}
		if strings.EqualFold(v, "NOASSERTION") {
			if got.Value != "" {
				t.Errorf("parseLicenses(%q) = %+v, want an empty Value", v, got)
			}
			return
		}
		if got.Value != v {
			t.Errorf("parseLicenses(%.200q).Value = %.200q, want the input", v, got.Value)
		}
		if n := utf8.RuneCountInString(got.Value); n > MaxLicenses {
			t.Errorf("accepted licenses of %d runes, more than %d", n, MaxLicenses)
		}
		if ok, _ := spdxexp.ValidateLicenses([]string{v}); !ok {
			t.Errorf("accepted %.200q, which go-spdx rejects", v)
		}
	})
}

// TestHugeInputs proves that MiB-sized values are handled, or rejected with a
// short message, quickly. The time limit is generous, for -race on a slow
// runner: it catches quadratic work, not a few milliseconds.
func TestHugeInputs(t *testing.T) {
	t.Parallel()
	twoMiB := 2 * mib
	tests := []struct {
		name   string
		input  string // the input an error must name
		parse  func() error
		reject bool
	}{
		{"labels: one 2 MiB value", "labels", func() error {
			_, err := ParseKeyValues("labels", "k="+strings.Repeat("v", twoMiB))
			return err
		}, true},
		{"labels: 2 MiB of lines", "labels", func() error {
			_, err := ParseKeyValues("labels", strings.Repeat("org.example.k=v\n", twoMiB/16))
			return err
		}, false},
		{"labels: 2 MiB without '='", "labels", func() error {
			_, err := ParseKeyValues("labels", strings.Repeat("k", twoMiB))
			return err
		}, true},
		{"labels: 2 MiB key with a space", "labels", func() error {
			_, err := ParseKeyValues("labels", strings.Repeat("k", twoMiB)+" k=v")
			return err
		}, true},
		{"annotations: 2 MiB key, control character in the value", "annotations", func() error {
			_, err := ParseKeyValues("annotations", strings.Repeat("k", twoMiB)+"=\x07")
			return err
		}, true},
		{"source: 1 MiB path", "source", func() error {
			_, err := ParseSources("oci:"+strings.Repeat("p", mib), t.TempDir(), fuzzImage)
			return err
		}, true},
		{"source: 1 MiB reference", "source", func() error {
			_, err := ParseSources("docker://"+strings.Repeat("r", mib), t.TempDir(), fuzzImage)
			return err
		}, true},
		{"source: 1 MiB of one digest, space-separated", "source", func() error {
			_, err := ParseSources(strings.Repeat("sha256:"+strings.Repeat("a", 64)+" ", mib/72), t.TempDir(), fuzzImage)
			return err
		}, false},
		{"source: 1 MiB of distinct references on one line", "source", func() error {
			var b strings.Builder
			for i := 0; b.Len() < mib; i++ {
				fmt.Fprintf(&b, "r%d ", i)
			}
			_, err := ParseSources(b.String(), t.TempDir(), fuzzImage)
			return err
		}, true},
		{"platforms: 1 MiB architecture, one slash too many", "platforms", func() error {
			_, err := ParsePlatforms("linux/" + strings.Repeat("a", mib) + "/v7/extra")
			return err
		}, true},
		{"licenses: 1 MiB expression", "licenses", func() error {
			_, err := parseLicenses(strings.Repeat("MIT OR ", mib/7) + "MIT")
			return err
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.parse()
			if !tt.reject {
				if err != nil {
					t.Errorf("error = %.200v, want none", err)
				}
				return
			}
			if err == nil {
				t.Fatal("error = nil, want one")
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not an *Error", err)
			}
			checkError(t, e, tt.input)
		})
	}
}

// FuzzParseAge: prune-min-age either parses to a duration that is not
// negative, or fails with the one error that names the input.
func FuzzParseAge(f *testing.F) {
	for _, s := range []string{"", "0", "1d", "2w", "12h", "90m", "1h30m", "-1h", "1 day", "d", "9999999d", "3650d", "3651d", "1e3h", "0x10d", "+1d", " 1d ", "1D", "\x001d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseAge("prune-min-age", s)
		if err != nil {
			errs := Errors(err)
			if len(errs) != 1 || errs[0].Input != "prune-min-age" || !strings.Contains(errs[0].Msg, "write it like 1d") {
				t.Fatalf("ParseAge(%q) = %v, want one prune-min-age error", s, err)
			}
			return
		}
		if d < 0 {
			t.Fatalf("ParseAge(%q) = %v, a negative age", s, d)
		}
	})
}

// FuzzEventPayload: whatever event payload GitHub (or a runner) hands over,
// reading it does not panic, and push: auto pushes a pull request's run only
// when the payload itself proves head and base are this repository: both
// repo objects, one full_name (up to case), one numeric id, the head not a
// fork. pull_request_target is the documented exception (it runs with this
// repository's token, fork or not); events that are not about a pull
// request push as before. The oracle reads the payload apart from the code
// under test.
func FuzzEventPayload(f *testing.F) {
	files, err := os.ReadDir(eventPayloads)
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		payload, err := os.ReadFile(filepath.Join(eventPayloads, file.Name()))
		if err != nil {
			f.Fatal(err)
		}
		for _, event := range []string{"pull_request", "pull_request_target", "pull_request_review", "workflow_run", "push"} {
			f.Add(event, payload)
		}
	}
	for _, payload := range []string{"", "null", "{}", "[]", `{"pull_request":null}`, `{"pull_request":{"head":{"repo":null},"base":{"repo":{}}}}`,
		`{"pull_request":{"head":{"repo":{"full_name":"a/b","id":1,"fork":false}},"base":{"repo":{"full_name":"A/B","id":1}}}}`,
		`{"pull_request":{"head":{"repo":{"full_name":"a/b","id":"1","fork":false}},"base":{"repo":{"full_name":"a/b","id":"1"}}}}`} {
		f.Add("pull_request", []byte(payload))
	}
	ws := f.TempDir()
	if err := os.Mkdir(filepath.Join(ws, "out"), 0o755); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, event string, payload []byte) {
		path := filepath.Join(t.TempDir(), "event.json")
		if err := os.WriteFile(path, payload, 0o600); err != nil {
			t.Fatal(err)
		}
		in, err := Read(env(t, map[string]string{"GITHUB_EVENT_NAME": event, "GITHUB_EVENT_PATH": path, "INPUT_SOURCE": "oci:out", "GITHUB_WORKSPACE": ws}))
		if err != nil {
			// A payload that is not a JSON object fails the run: nothing
			// is pushed.
			return
		}
		var doc map[string]any
		if err := json.Unmarshal(payload, &doc); err != nil && len(payload) > 0 {
			t.Fatalf("Read accepted a payload encoding/json refuses: %v", err)
		}
		_, hasPR := doc["pull_request"]
		pullRequest := hasPR || strings.HasPrefix(event, "pull_request")
		proven := provesSameRepository(doc)
		c := in.Context
		switch {
		case pullRequest && !proven && !c.FromFork:
			t.Fatalf("event %q: FromFork = false (Head %v) for a payload that does not prove the same repository", event, c.Head)
		case pullRequest && !proven && in.Push && event != "pull_request_target":
			t.Fatalf("event %q: push: auto pushes a pull request the payload does not prove is from this repository", event)
		case c.Head == SameRepository && !proven:
			t.Fatalf("event %q: Head = SameRepository for a payload that does not prove it", event)
		case !pullRequest && c.Head != NoPullRequest:
			t.Fatalf("event %q: Head = %v for an event that is no pull request", event, c.Head)
		}
	})
}

// provesSameRepository is FuzzEventPayload's oracle, written from the rule
// rather than from headOrigin: pull_request.head.repo and base.repo are
// objects with the same non-empty full_name (GitHub names are
// case-insensitive) and the same numeric id, and the head is not a fork.
func provesSameRepository(doc map[string]any) bool {
	repo := func(side string) map[string]any {
		pr, _ := doc["pull_request"].(map[string]any)
		s, _ := pr[side].(map[string]any)
		r, _ := s["repo"].(map[string]any)
		return r
	}
	head, base := repo("head"), repo("base")
	if head == nil || base == nil {
		return false
	}
	headName, _ := head["full_name"].(string)
	baseName, _ := base["full_name"].(string)
	headID, headIsNumber := head["id"].(float64)
	baseID, baseIsNumber := base["id"].(float64)
	fork, forkIsBool := head["fork"].(bool)
	return headName != "" && strings.EqualFold(headName, baseName) &&
		headIsNumber && baseIsNumber && headID == baseID &&
		forkIsBool && !fork
}

// joinedErrors are the *Errors of err: one, or an errors.Join of them.
func joinedErrors(t *testing.T, err error, input string) {
	t.Helper()
	if err == nil {
		return
	}
	parts := []error{err}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		parts = joined.Unwrap()
	}
	for _, e := range parts {
		checkError(t, e, input)
	}
}

// FuzzParseImages: every destination images gives names its registry
// (docker/metadata-action and image read a bare name differently), is a
// valid repository that parses again to itself, lower-case, and named once
// (Docker Hub's names being one registry); every bad entry is a short
// one-line error naming images; an input with an entry gives a
// destination or an error.
func FuzzParseImages(f *testing.F) {
	for _, s := range []string{
		"docker.io/name/foo",
		"docker.io/name/foo,ghcr.io/name/bar",
		"name=docker.io/name/bar\ndocker.io/name/foo,enable=false\nname=ghcr.io/UserName/Foo,enable=true",
		"value=name/foo",
		"name/foo,enable=bar",
		"name/foo,bar=baz",
		"name=,enable=true",
		"name/foo,name=name/bar,enable=true",
		"# comment\n\nghcr.io/acme/app\r\n  quay.io/acme/app , enable = TRUE ",
		"registry-1.docker.io/nginx\ndocker.io/library/nginx\nindex.docker.io/nginx",
		"Docker.IO/Acme/App,docker.io/acme/app",
		"localhost:5000/app\nlocalhost/app\n127.0.0.1:5000/a/b",
		"ghcr.io/acme/app:1\nghcr.io/acme/app@sha256:abc\nghcr.io//app\nghcr.io/app",
		"docker.pkg.github.com/acme/widget/app",
		"ghcr.io/acme/app,enable=false",
		",,,\n=\n,=,",
		"ghcr.io/" + strings.Repeat("a", 4*kib),
		strings.Repeat("ghcr.io/acme/app\n", kib),
		strings.Repeat("docker.io/a/b,enable=maybe\n", kib),
		"ghcr.io/" + strings.Repeat("a/", mib/2) + "b",
	} {
		f.Add(s)
	}
	for _, s := range hostile {
		f.Add(s)
	}
	ctx := Context{ServerURL: "https://github.com"}
	f.Fuzz(func(t *testing.T, v string) {
		repos, _, err := parseImages(v, ctx)
		joinedErrors(t, err, "images")
		seen := map[string]bool{}
		for _, repo := range repos {
			s := repo.String()
			again, perr := name.NewRepository(s, name.StrictValidation)
			if perr != nil || again.String() != s {
				t.Errorf("destination %.200q does not parse again to itself: %v", s, perr)
			}
			if s != strings.ToLower(s) {
				t.Errorf("destination %.200q is not lower-case", s)
			}
			host, _, _ := strings.Cut(s, "/")
			if !strings.ContainsAny(host, ".:") && host != "localhost" {
				t.Errorf("destination %.200q names no registry", s)
			}
			key := credentials.RegistryName(repo.RegistryStr()) + "/" + repo.RepositoryStr()
			if seen[key] {
				t.Errorf("destination %.200q is given twice", key)
			}
			seen[key] = true
			if !strings.Contains(strings.ToLower(v), strings.TrimPrefix(repo.RepositoryStr(), "library/")) {
				t.Errorf("destination %.200q is not in the input %.200q", s, v)
			}
		}
		hasEntry := false
		for _, l := range strings.Split(v, "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
				hasEntry = true
			}
		}
		if hasEntry && len(repos) == 0 && err == nil {
			t.Errorf("parseImages(%.200q) gave no destination and no error", v)
		}
		if !hasEntry && (len(repos) > 0 || err != nil) {
			t.Errorf("parseImages(%.200q) = %v, %v for an input with no entry", v, repos, err)
		}
	})
}

// FuzzParseRegistryAuth: whatever YAML comes in, the parser does not panic,
// every error is a short one-line error naming registry-auth, every login
// it accepts is for a registry host that is not GitHub's and named once,
// and every accepted password is among the masks.
func FuzzParseRegistryAuth(f *testing.F) {
	for _, s := range []string{
		"- username: hubber\n  password: dckr_pat_secret\n- registry: quay.io\n  username: robot\n  password: quay-secret",
		`[{registry: "registry.example.com:5000", username: 42, password: 12345}]`,
		"- registry: ghcr.io\n  username: octocat\n  password: ghs_x",
		"- registry: quay.io\n  username: a\n  password: x\n- registry: QUAY.IO\n  username: b\n  password: y",
		"- username: a\n  password: x\n- registry: registry-1.docker.io\n  username: b\n  password: y",
		"- registry: https://index.docker.io/v1/\n  username: u\n  password: x",
		"- registry: quay.io\n  username: &u robot\n  password: *u",
		"- &e {registry: quay.io, username: a, password: x}\n- *e\n- <<: *e",
		"registry: quay.io\nusername: robot\npassword: x",
		"- registry: quay.io\n  scope: acme/app@push\n  ecr: auto",
		"- registry: quay.io\n username: robot\n  password: x",
		"- registry: quay.io\n\tusername: robot",
		"- !!binary aGVsbG8=\n- {registry: !!int 5, password: !!null ~}",
		"a: &a [*a, *a, *a, *a]",
		"---\n- {}\n---\n- []",
		"- registry: " + strings.Repeat("a", 4*kib) + "\n  username: u\n  password: p",
		strings.Repeat("- registry: quay.io\n  username: u\n  password: p\n", kib),
		strings.Repeat("[", 4*kib),
		"- password: " + strings.Repeat("p", mib),
	} {
		f.Add(s)
	}
	for _, s := range hostile {
		f.Add(s)
	}
	github := credentials.GitHubRegistries("https://github.com")
	f.Fuzz(func(t *testing.T, v string) {
		logins, masks, err := parseRegistryAuth(v, github)
		joinedErrors(t, err, "registry-auth")
		seen := map[string]bool{}
		for _, l := range logins {
			if _, rerr := name.NewRegistry(l.Registry, name.StrictValidation); rerr != nil || hasControl(l.Registry, "") || strings.ContainsAny(l.Registry, " /") {
				t.Errorf("accepted registry %.200q is not a registry host: %v", l.Registry, rerr)
			}
			if github.Contains(l.Registry) {
				t.Errorf("accepted credentials for GitHub's registry %.200q", l.Registry)
			}
			key := credentials.RegistryName(l.Registry)
			if seen[key] {
				t.Errorf("registry %.200q accepted twice", l.Registry)
			}
			seen[key] = true
			masked := false
			for _, m := range masks {
				masked = masked || m.Password == l.Password
			}
			if !masked {
				t.Errorf("the password for %.200q is not among the masks", l.Registry)
			}
		}
	})
}

// FuzzRegistryAuthEntry: one entry written out by a YAML encoder, as a
// workflow's ${{ secrets.X }} expands into it. Accepted, it reads back
// exactly; refused, no message shows the password (marked with '#' so that
// no message's own text holds it), and the password is masked either way.
func FuzzRegistryAuthEntry(f *testing.F) {
	f.Add("quay.io", "robot", "#secret-1234")
	f.Add("", "hubber", "#dckr_pat_x")
	f.Add("ghcr.io", "octocat", "#ghs_token")
	f.Add("https://quay.io", "u", "#p: [x]")
	f.Add("quay.io", "", "#\n- registry: evil.example")
	f.Add("registry.example.com:5000", "u\x00", "#\"'\\")
	f.Add("quay.io", "u", "#"+strings.Repeat("p", 4*kib))
	github := credentials.GitHubRegistries("https://github.com")
	f.Fuzz(func(t *testing.T, registry, username, password string) {
		if !utf8.ValidString(registry) || !utf8.ValidString(username) || !utf8.ValidString(password) {
			t.Skip("YAML is UTF-8; the runner hands over text")
		}
		entry := map[string]string{"username": username, "password": password}
		if registry != "" {
			entry["registry"] = registry
		}
		doc, err := yaml.Marshal([]map[string]string{entry})
		if err != nil {
			t.Skip(err)
		}
		// What the document means, as yaml.v3 decodes it: its encoder
		// does not round-trip every string (a lone line break).
		var meant []map[string]string
		if err := yaml.Unmarshal(doc, &meant); err != nil || len(meant) != 1 {
			t.Skipf("yaml.v3 does not read back what it wrote: %v", err)
		}
		registry, username, password = meant[0]["registry"], meant[0]["username"], meant[0]["password"]
		logins, masks, err := parseRegistryAuth(string(doc), github)
		if err == nil {
			want := registry
			if want == "" {
				want = "docker.io"
			}
			if diff := cmp.Diff([]credentials.Login{{Registry: want, Username: username, Password: password}}, logins); diff != "" {
				t.Fatalf("parseRegistryAuth(%.200q) mismatch (-want +got):\n%.2000s", doc, diff)
			}
		}
		joinedErrors(t, err, "registry-auth")
		if err != nil && len(password) >= 8 && strings.Contains(password, "#") && !strings.Contains(registry, password) && strings.Contains(err.Error(), password) {
			t.Errorf("error %.300q shows the password", err)
		}
		masked := password == ""
		for _, m := range masks {
			masked = masked || m.Password == password
		}
		if !masked {
			t.Errorf("password %.200q is not among the masks", password)
		}
	})
}
