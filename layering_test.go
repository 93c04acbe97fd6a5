package main

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// pipeline is the flow of a publish, in order: a step may import steps
// before it (for their types), never one after it. README.md's "Code
// layout" diagram shows the same order.
var pipeline = []string{"inputs", "githubapi", "plan", "source", "stamp", "push", "linkcheck", "prune", "report"}

// ruleOwners are asked by any step: each owns one rule, and imports no step.
var ruleOwners = []string{
	"credentials",  // which host gets which secret
	"registryhttp", // how a registry request is retried, and when it has stalled
	"ocijson",      // the bytes of an OCI document the action writes (digests depend on them)
	"platform",     // how a platform is named and compared
	"bytecount",    // how the bytes read or written are counted
}

// allowed is every package under internal/ (test kits aside), sub-packages
// included, with the internal packages it may import: exactly the edges
// the design has, as go-containerregistry's depcheck lists them. A new
// edge is a change to this table, made on purpose and reviewed; an edge
// the code no longer uses is taken out, so the table stays the design.
var allowed = map[string][]string{
	"credentials":   {},
	"registryhttp":  {"credentials"}, // how a URL is shown without its secrets
	"ocijson":       {},
	"platform":      {},
	"bytecount":     {},
	"inputs":        {"credentials", "platform"},
	"githubapi":     {"credentials"},
	"plan":          {"githubapi", "inputs", "plan/tagrules"},
	"plan/tagrules": {"inputs"}, // for inputs' hardened quoting of user text in errors
	"source":        {"bytecount", "inputs", "ocijson", "platform", "registryhttp"},
	"stamp":         {"ocijson", "plan", "platform", "source"},
	"push":          {"registryhttp"},
	"linkcheck":     {"inputs", "registryhttp"},
	"prune":         {"inputs", "linkcheck"},
	"report":        {"linkcheck", "plan", "prune", "stamp"},
	// action wires the steps; cli is the command line around action.
	"action": {"credentials", "githubapi", "inputs", "linkcheck", "plan", "prune", "push", "registryhttp", "report", "source", "stamp"},
	"cli":    {"action", "inputs"},
}

// runtimeEdges may touch the GitHub runtime (go-githubactions): reading
// inputs, writing outputs and the summary, and the wiring.
var runtimeEdges = []string{"inputs", "report", "action", "cli"}

const module = "github.com/ghcr-publish/publish-action/"

func TestLayering(t *testing.T) {
	for _, pkg := range packages(t) {
		deps, known := allowed[pkg]
		if !known {
			t.Errorf("internal/%s is in no layer: add it to allowed in layering_test.go with the packages it may import (and to the diagram in README.md if it is a step)", pkg)
			continue
		}
		used := map[string]bool{}
		for _, imp := range imports(t, filepath.Join("internal", filepath.FromSlash(pkg))) {
			switch {
			case imp == "github.com/sethvargo/go-githubactions" && !slices.Contains(runtimeEdges, pkg):
				t.Errorf("internal/%s imports go-githubactions: only %v touch the GitHub runtime; return data and let the caller log or output it", pkg, runtimeEdges)
			case strings.HasPrefix(imp, module+"internal/testkit/"):
				t.Errorf("internal/%s imports %s: test kits are for tests and cmd/ only", pkg, strings.TrimPrefix(imp, module))
			case strings.HasPrefix(imp, module+"internal/"):
				dep := strings.TrimPrefix(imp, module+"internal/")
				used[dep] = true
				if !slices.Contains(deps, dep) {
					t.Errorf("internal/%s imports internal/%s, an edge the design does not have (allowed: %v); if it should, add it to allowed in layering_test.go", pkg, dep, deps)
				}
			case strings.HasPrefix(imp, module+"cmd/"):
				t.Errorf("internal/%s imports %s: nothing imports a program", pkg, strings.TrimPrefix(imp, module))
			}
		}
		for _, dep := range deps {
			if !used[dep] {
				t.Errorf("allowed lets internal/%s import internal/%s, which it does not: take the edge out of layering_test.go", pkg, dep)
			}
		}
	}
}

// TestLayeringTable checks the table against the flow: a step imports only
// the rule owners, steps before it, and its own sub-packages; a rule owner
// imports no step.
func TestLayeringTable(t *testing.T) {
	position := func(pkg string) int {
		top, _, _ := strings.Cut(pkg, "/")
		return slices.Index(pipeline, top)
	}
	for pkg, deps := range allowed {
		for _, dep := range deps {
			owner := slices.Contains(ruleOwners, dep)
			switch {
			case slices.Contains(ruleOwners, pkg) && !owner:
				t.Errorf("rule owner %s may import step %s: a rule owner imports no step", pkg, dep)
			case position(pkg) < 0 || owner:
				// The wiring (action, cli) may see every step.
			case strings.HasPrefix(dep, pkg+"/"):
				// A step's own sub-package.
			case position(dep) < 0 || position(dep) >= position(pkg) && !strings.HasPrefix(pkg, dep+"/"):
				t.Errorf("%s may import %s, which is not before it in the flow %v", pkg, dep, pipeline)
			}
		}
	}
}

// TestLayeringDiagram checks that README.md draws the pipeline in this order.
func TestLayeringDiagram(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Join(pipeline, " → ")
	if !strings.Contains(string(readme), "\n"+want+"\n") {
		t.Errorf("README.md's Code layout lacks the diagram line %q", want)
	}
}

// packages are the Go packages under internal/, as paths relative to it,
// sub-packages included; test kits and testdata are not the pipeline's.
func packages(t *testing.T) []string {
	t.Helper()
	var pkgs []string
	err := filepath.WalkDir("internal", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel("internal", path)
		if rel == "testkit" || d.Name() == "testdata" {
			return filepath.SkipDir
		}
		if goFiles, _ := filepath.Glob(filepath.Join(path, "*.go")); rel != "." && len(goFiles) > 0 {
			pkgs = append(pkgs, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pkgs
}

// imports lists what the non-test Go files in dir import.
func imports(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		parsed, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range parsed.Imports {
			path, err := strconv.Unquote(imp.Path.Value)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, path)
		}
	}
	return all
}
