package main

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// pipeline is the flow of a publish, in order: a step may import the steps
// before it (for their types), never one after it. README.md's "Code
// layout" diagram shows the same order, and this test keeps both true, as
// go-containerregistry's internal/depcheck keeps its layering.
var pipeline = []string{"inputs", "githubapi", "plan", "source", "stamp", "push", "linkcheck", "prune", "report"}

// rules are the packages outside the pipeline's order: rule owners any step
// may ask, and the wiring that may see every step.
var rules = map[string][]string{
	// credentials owns which host gets which secret: every step asks it.
	"credentials": {},
	// registryhttp owns how a registry request is retried: every step
	// that talks to a registry uses it.
	"registryhttp": {},
	// ocijson owns how a rewritten OCI document is written, so that its
	// digest depends only on its content: source and stamp both use it.
	"ocijson": {},
	// bytecount is the one byte counter for readers and writers (source
	// uses it, and so does cmd/bench).
	"bytecount": {},
	// action wires the steps; cli is the command line around action.
	"action": append([]string{"credentials", "registryhttp"}, pipeline...),
	"cli":    {"action", "inputs"},
}

// runtimeEdges may touch the GitHub runtime (go-githubactions): reading
// inputs, writing outputs and the summary, and the wiring.
var runtimeEdges = []string{"inputs", "report", "action", "cli"}

const module = "github.com/ghcr-publish/publish-action/"

func TestLayering(t *testing.T) {
	allowed := map[string][]string{}
	for i, step := range pipeline {
		allowed[step] = append([]string{"credentials", "registryhttp", "ocijson", "bytecount"}, pipeline[:i]...)
	}
	for pkg, deps := range rules {
		allowed[pkg] = deps
	}
	dirs, err := os.ReadDir("internal")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if !d.IsDir() || d.Name() == "testkit" {
			continue
		}
		pkg := d.Name()
		deps, known := allowed[pkg]
		if !known {
			t.Errorf("internal/%s is in no layer: add it to pipeline (at its step) or rules in layering_test.go, and to the diagram in README.md", pkg)
			continue
		}
		for _, imp := range imports(t, filepath.Join("internal", pkg)) {
			switch {
			case imp == "github.com/sethvargo/go-githubactions" && !slices.Contains(runtimeEdges, pkg):
				t.Errorf("internal/%s imports go-githubactions: only %v touch the GitHub runtime; return data and let the caller log or output it", pkg, runtimeEdges)
			case strings.HasPrefix(imp, module+"internal/testkit/"):
				t.Errorf("internal/%s imports %s: test kits are for tests and cmd/ only", pkg, strings.TrimPrefix(imp, module))
			case strings.HasPrefix(imp, module+"internal/"):
				// A sub-package (plan/tagrules) is part of its parent's step.
				dep, _, _ := strings.Cut(strings.TrimPrefix(imp, module+"internal/"), "/")
				if dep != pkg && !slices.Contains(deps, dep) {
					t.Errorf("internal/%s imports internal/%s, which is not before it in the flow (allowed: %v)", pkg, dep, deps)
				}
			case strings.HasPrefix(imp, module+"cmd/"):
				t.Errorf("internal/%s imports %s: nothing imports a program", pkg, strings.TrimPrefix(imp, module))
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
