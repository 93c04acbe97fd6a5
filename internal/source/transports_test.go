package source

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/ghcr-publish/publish-action/internal/inputs"
)

// TestEveryTransportDescribed: every transport inputs accepts (each
// constant of type inputs.Transport) has its entry in transports, with a
// Load; and there is no entry for a transport inputs does not know. inputs
// cannot import this package (the flow runs the other way), so the list is
// read from its source.
func TestEveryTransportDescribed(t *testing.T) {
	t.Parallel()
	accepted := transportConstants(t, filepath.Join("..", "inputs"))
	if len(accepted) == 0 {
		t.Fatal("found no constant of type Transport in internal/inputs")
	}
	for _, tr := range accepted {
		d, ok := transports[tr]
		switch {
		case !ok:
			t.Errorf("transport %q (accepted by inputs) has no entry in transports: add one in internal/source", tr)
		case d.Load == nil:
			t.Errorf("transports[%q] has no Load", tr)
		}
	}
	for tr := range transports {
		if !slices.Contains(accepted, tr) {
			t.Errorf("transports has an entry for %q, which inputs does not accept", tr)
		}
	}
}

// transportConstants are the values of the constants of type Transport
// declared in the non-test files of dir.
func transportConstants(t *testing.T, dir string) []inputs.Transport {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var out []inputs.Transport
	fset := token.NewFileSet()
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, path, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			out = append(out, constantsOfType(t, decl, "Transport")...)
		}
	}
	return out
}

func constantsOfType(t *testing.T, decl ast.Decl, typ string) []inputs.Transport {
	t.Helper()
	gd, ok := decl.(*ast.GenDecl)
	if !ok || gd.Tok != token.CONST {
		return nil
	}
	var out []inputs.Transport
	for _, spec := range gd.Specs {
		vs := spec.(*ast.ValueSpec)
		if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != typ {
			continue
		}
		for _, v := range vs.Values {
			lit, ok := v.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				t.Fatalf("a %s constant is not a string literal: %#v", typ, v)
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, inputs.Transport(s))
		}
	}
	return out
}

// TestTransportQuestions: what the publish asks of each kind of source.
func TestTransportQuestions(t *testing.T) {
	t.Parallel()
	dest, err := name.NewRepository("ghcr.io/acme/widget")
	if err != nil {
		t.Fatal(err)
	}
	const digest = "sha256:0000000000000000000000000000000000000000000000000000000000000001"
	ref := func(s string) name.Reference {
		r, err := name.ParseReference(s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	tests := []struct {
		name       string
		src        *inputs.Source
		slow       bool
		scopes     []string
		inRepoWant string
	}{
		{name: "oci", src: &inputs.Source{Transport: inputs.OCILayout}},
		{name: "oci-archive", src: &inputs.Source{Transport: inputs.OCIArchive}, slow: true},
		{name: "docker-archive", src: &inputs.Source{Transport: inputs.DockerArchive}, slow: true},
		{name: "docker-daemon", src: &inputs.Source{Transport: inputs.DockerDaemon}, slow: true},
		{name: "by tag", src: &inputs.Source{Transport: inputs.Registry, Reference: ref("ghcr.io/acme/widget:1")},
			scopes: []string{"repository:acme/widget:pull"}},
		{name: "by digest, elsewhere", src: &inputs.Source{Transport: inputs.Registry, Reference: ref("ghcr.io/acme/other@" + digest)},
			scopes: []string{"repository:acme/other:pull"}},
		{name: "by digest, in the destination", src: &inputs.Source{Transport: inputs.Registry, Reference: ref("ghcr.io/acme/widget@" + digest)},
			scopes: []string{"repository:acme/widget:pull"}, inRepoWant: digest},
	}
	for _, tc := range tests {
		if got := SlowToRead(tc.src); got != tc.slow {
			t.Errorf("%s: SlowToRead = %v, want %v", tc.name, got, tc.slow)
		}
		var scopes []string
		for _, s := range Scopes(tc.src) {
			if s.Action != transport.PullScope {
				t.Errorf("%s: Scopes has action %q, want pull", tc.name, s.Action)
			}
			scopes = append(scopes, s.Repository.Scope(s.Action))
		}
		if diff := cmp.Diff(tc.scopes, scopes); diff != "" {
			t.Errorf("%s: Scopes mismatch (-want +got):\n%s", tc.name, diff)
		}
		got, ok := InRepository(tc.src, dest)
		if got != tc.inRepoWant || ok != (tc.inRepoWant != "") {
			t.Errorf("%s: InRepository = %q, %v; want %q", tc.name, got, ok, tc.inRepoWant)
		}
	}
}
