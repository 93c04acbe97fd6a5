package inputs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
)

// repoNames are repos as strings, for comparing.
func repoNames(repos []name.Repository) []string {
	var out []string
	for _, r := range repos {
		out = append(out, r.String())
	}
	return out
}

// msgs are the messages of err's *Errors, each checked to name input.
func msgs(t *testing.T, err error, input string) []string {
	t.Helper()
	var out []string
	for _, e := range Errors(err) {
		if e.Input != input {
			t.Errorf("error %q names %q, want %q", e, e.Input, input)
		}
		if strings.ContainsAny(e.Msg, "\r\n") {
			t.Errorf("error %q spans several lines", e)
		}
		out = append(out, e.Msg)
	}
	return out
}

// TestParseImages: docker/metadata-action's images syntax, its own test
// cases (__tests__/image.test.ts) among them, with registries added: this
// action wants every entry to name one.
func TestParseImages(t *testing.T) {
	t.Parallel()
	ctx := Context{ServerURL: "https://github.com"}
	tests := []struct {
		name      string
		v         string
		want      []string
		lowercase bool
		errs      []string // a phrase of each error, in order
	}{
		{"one", "docker.io/name/foo", []string{"index.docker.io/name/foo"}, false, nil},
		{"comma-separated, the older format", "docker.io/name/foo,ghcr.io/name/bar", []string{"index.docker.io/name/foo", "ghcr.io/name/bar"}, false, nil},
		{"comma-separated with spaces", " docker.io/name/foo , ghcr.io/name/bar ", []string{"index.docker.io/name/foo", "ghcr.io/name/bar"}, false, nil},
		{"one per line", "docker.io/name/foo\nghcr.io/name/bar", []string{"index.docker.io/name/foo", "ghcr.io/name/bar"}, false, nil},
		{"name=, enable=", "name=docker.io/name/bar\ndocker.io/name/foo,enable=false\nname=ghcr.io/UserName/Foo,enable=true", []string{"index.docker.io/name/bar", "ghcr.io/username/foo"}, false, nil},
		{"keys in any case, CRLF and comments", "# Docker Hub\r\nNAME=quay.io/acme/app , Enable=TRUE\r\n\r\n  # off for now\r\ndocker.io/acme/app,enable=False\r\nghcr.io/acme/app#1", []string{"quay.io/acme/app"}, false,
			[]string{`"ghcr.io/acme/app#1" is not a valid repository name`}},
		{"a # inside a line is kept", "ghcr.io/acme/app\nquay.io/acme/app # mirror", []string{"ghcr.io/acme/app"}, false, []string{"is not a valid repository name"}},
		{"only comments", "# docker.io/acme/app", nil, false, nil},
		{"the first lower-cased", "ghcr.io/Acme/App\nquay.io/acme/app", []string{"ghcr.io/acme/app", "quay.io/acme/app"}, true, nil},
		{"another lower-cased", "ghcr.io/acme/app\nquay.io/Acme/App", []string{"ghcr.io/acme/app", "quay.io/acme/app"}, false, nil},
		{"Docker Hub's names, an official image", "registry-1.docker.io/nginx", []string{"index.docker.io/library/nginx"}, false, nil},
		{"Docker Hub's names in capitals", "Index.Docker.IO/acme/app", []string{"index.docker.io/acme/app"}, false, nil},
		{"localhost and a port", "localhost/acme/app\nregistry.example.com:5000/app", []string{"localhost/acme/app", "registry.example.com:5000/app"}, false, nil},
		{"a disabled entry is not checked", "ghcr.io/acme/app\nname=docker.io/${{ vars.ORG }}/app,enable=false\nquay.io/acme/app,enable=false", []string{"ghcr.io/acme/app"}, false, nil},

		{"value= is not a key", "value=docker.io/name/foo", nil, false, []string{`line 1: unknown key "value"; an entry takes name= and enable= only`}},
		{"enable not a boolean", "docker.io/name/foo,enable=bar", nil, false, []string{`line 1: enable="bar" is not true or false`}},
		{"an expression the runner left", "docker.io/name/foo,enable=${{ github.ref == 'refs/heads/main' }}", nil, false, []string{"enable=\"${{ github.ref == 'refs/heads/main' }}\" is not true or false"}},
		{"unknown key", "docker.io/name/foo,bar=baz", nil, false, []string{`line 1: unknown key "bar"`}},
		{"an empty name", "name=,enable=true", nil, false, []string{`line 1 "name=,enable=true" has an empty name or field`}},
		{"two names", "docker.io/name/foo,name=docker.io/name/bar,enable=true", nil, false, []string{`line 1 "docker.io/name/foo,name=docker.io/name/bar,enable=true" names two images; write one destination per line`}},
		{"two names on a line of several", "ghcr.io/acme/app\ndocker.io/a/b,quay.io/a/b", []string{"ghcr.io/acme/app"}, false, []string{`line 2 "docker.io/a/b,quay.io/a/b" names two images`}},
		{"an empty field", "docker.io/name/foo,,enable=true", nil, false, []string{"has an empty name or field"}},
		{"a trailing comma", "docker.io/name/foo,enable=true,", nil, false, []string{"has an empty name or field"}},
		{"an empty entry in a list", "docker.io/name/foo,,ghcr.io/name/bar", []string{"index.docker.io/name/foo", "ghcr.io/name/bar"}, false, []string{`entry 2 of "docker.io/name/foo,,ghcr.io/name/bar" is empty`}},
		{"enable alone", "enable=true", nil, false, []string{`line 1 "enable=true" names no image`}},
		{"no registry", "name/foo", nil, false, []string{`entry 1 "name/foo" names no registry; write docker.io/name/foo for Docker Hub or ghcr.io/name/foo for GitHub's registry`}},
		{"no registry, an official image", "nginx,enable=true", nil, false, []string{`line 1 "nginx" names no registry; write docker.io/nginx`}},
		{"unparsable", "ghcr.io/acme/wid get", nil, false, []string{`entry 1: "ghcr.io/acme/wid get" is not a valid repository name`}},
		{"a tag", "ghcr.io/acme/app:1.0", nil, false, []string{`entry 1: "ghcr.io/acme/app:1.0" has a tag; give the repository only (ghcr.io/acme/app) and put "1.0" in tags`}},
		{"a digest", "ghcr.io/acme/app@sha256:abc", nil, false, []string{"has a digest"}},
		{"an empty path component", "ghcr.io/acme//app", nil, false, []string{"has an empty path component"}},
		{"no owner on GitHub's registry", "ghcr.io/app", nil, false, []string{"names no owner"}},
		{"GitHub's retired registry", "docker.pkg.github.com/acme/widget/app", nil, false, []string{"use ghcr.io/acme/app"}},
		{"one repository twice", "ghcr.io/acme/app\nghcr.io/acme/app", []string{"ghcr.io/acme/app"}, false, []string{`line 2 "ghcr.io/acme/app" names ghcr.io/acme/app, as line 1 does; list each destination once`}},
		{"one repository twice, in capitals", "ghcr.io/acme/app,GHCR.IO/Acme/App", []string{"ghcr.io/acme/app"}, false, []string{"entry 2"}},
		{"Docker Hub's names are one", "docker.io/acme/app\nindex.docker.io/acme/app\nregistry-1.docker.io/acme/app", []string{"index.docker.io/acme/app"}, false,
			[]string{"line 2 \"index.docker.io/acme/app\" names index.docker.io/acme/app, as line 1 does", "line 3"}},
		{"library/ is implied on Docker Hub", "docker.io/library/nginx,docker.io/nginx", []string{"index.docker.io/library/nginx"}, false, []string{"names index.docker.io/library/nginx, as entry 1 does"}},
		{"every entry disabled", "docker.io/a/b,enable=false\nghcr.io/a/b,enable=false", nil, false, []string{"every entry has enable=false, so there is nowhere to publish"}},
		{"every bad entry reported", "name/foo\nghcr.io/a/b,enable=maybe\nghcr.io/a/b:1\nghcr.io/a/c\nghcr.io/a/c", []string{"ghcr.io/a/c"}, false,
			[]string{"line 2: enable=", "line 1 \"name/foo\" names no registry", "line 3: \"ghcr.io/a/b:1\" has a tag", "line 5"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			repos, lowercased, err := parseImages(tt.v, ctx)
			if diff := cmp.Diff(tt.want, repoNames(repos)); diff != "" {
				t.Errorf("parseImages(%q) destinations mismatch (-want +got):\n%s", tt.v, diff)
			}
			if lowercased != tt.lowercase {
				t.Errorf("parseImages(%q) lower-cased the first = %v, want %v", tt.v, lowercased, tt.lowercase)
			}
			got := msgs(t, err, "images")
			if len(got) != len(tt.errs) {
				t.Fatalf("parseImages(%q) errors:\n%s\nwant %d", tt.v, strings.Join(got, "\n"), len(tt.errs))
			}
			for i, phrase := range tt.errs {
				if !strings.Contains(got[i], phrase) {
					t.Errorf("error %d = %q, want it to say %q", i+1, got[i], phrase)
				}
			}
		})
	}
}

// TestReadImages: images gives Destinations, the first as Image; image
// gives one; both is an error; a destination on GitHub's registry makes
// the token matter as it does for image.
func TestReadImages(t *testing.T) {
	t.Parallel()
	ws := t.TempDir()
	if err := os.Mkdir(filepath.Join(ws, "out"), 0o755); err != nil {
		t.Fatal(err)
	}
	events := filepath.Join("..", "..", "testdata", "github", "events")
	fork := map[string]string{"GITHUB_EVENT_PATH": filepath.Join(events, "pull-request-fork.json"), "GITHUB_EVENT_NAME": "pull_request", "GITHUB_REF": "refs/pull/42/merge"}
	publish := func(kv ...string) map[string]string {
		m := map[string]string{"INPUT_SOURCE": "oci:out", "GITHUB_WORKSPACE": ws}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	with := func(base map[string]string, kv ...string) map[string]string {
		m := publish(kv...)
		for k, v := range base {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name    string
		vars    map[string]string
		want    []string // Destinations; the first is Image
		push    bool
		input   string // the input the one error names; "" for none
		errWant string
	}{
		{"images", publish("INPUT_IMAGES", "quay.io/acme/widget\nghcr.io/acme/widget"), []string{"quay.io/acme/widget", "ghcr.io/acme/widget"}, true, "", ""},
		{"image", publish("INPUT_IMAGE", "ghcr.io/acme/other"), []string{"ghcr.io/acme/other"}, true, "", ""},
		{"neither", publish(), []string{"ghcr.io/acme/widget"}, true, "", ""},
		{"images, only comments", publish("INPUT_IMAGES", "# quay.io/acme/widget"), []string{"ghcr.io/acme/widget"}, true, "", ""},
		{"both", publish("INPUT_IMAGES", "quay.io/acme/widget", "INPUT_IMAGE", "ghcr.io/acme/widget"), []string{"quay.io/acme/widget"}, true,
			"images", "is set, and so is image; list every destination in images (the first is the primary) and remove image"},
		{"no token, GitHub's registry second", publish("INPUT_IMAGES", "quay.io/acme/widget\nghcr.io/acme/widget", "INPUT_TOKEN", ""), []string{"quay.io/acme/widget", "ghcr.io/acme/widget"}, true,
			"token", "pushing to ghcr.io needs one"},
		{"no token, no GitHub registry", publish("INPUT_IMAGES", "quay.io/acme/widget\ndocker.io/acme/widget", "INPUT_TOKEN", ""), []string{"quay.io/acme/widget", "index.docker.io/acme/widget"}, true, "", ""},
		// A publish goes to every destination or to none: GITHUB_TOKEN
		// cannot write the second, so push: auto writes nothing.
		{"fork, GitHub's registry second", with(fork, "INPUT_IMAGES", "quay.io/acme/widget\nghcr.io/acme/widget"), []string{"quay.io/acme/widget", "ghcr.io/acme/widget"}, false, "", ""},
		{"fork, no GitHub registry", with(fork, "INPUT_IMAGES", "quay.io/acme/widget"), []string{"quay.io/acme/widget"}, true, "", ""},
		{"fine-grained token, GitHub's registry second", publish("INPUT_IMAGES", "quay.io/acme/widget\nghcr.io/acme/widget", "INPUT_TOKEN", "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz"), []string{"quay.io/acme/widget", "ghcr.io/acme/widget"}, true,
			"token", "fine-grained"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := readWanting(t, tt.vars, tt.input, tt.errWant)
			if diff := cmp.Diff(tt.want, repoNames(in.Destinations())); diff != "" {
				t.Errorf("Destinations() mismatch (-want +got):\n%s", diff)
			}
			if in.Image.String() != tt.want[0] {
				t.Errorf("Image = %s, want the first destination %s", in.Image, tt.want[0])
			}
			if in.Push != tt.push {
				t.Errorf("Push = %v, want %v (PushSkipped %q)", in.Push, tt.push, in.PushSkipped)
			}
		})
	}
}
