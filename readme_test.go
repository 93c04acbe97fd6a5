package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"

	"github.com/ghcr-publish/publish-action/internal/cli"
	"github.com/ghcr-publish/publish-action/internal/report"
)

func readme(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// TestReadmeRecipesMatchFiles keeps the README's workflows and the files
// actionlint checks identical.
func TestReadmeRecipesMatchFiles(t *testing.T) {
	t.Parallel()
	doc := readme(t)
	marker := regexp.MustCompile("<!-- recipe: (\\S+) -->\n```yaml\n((?s:.*?))```\n")
	shown := map[string]bool{}
	for _, m := range marker.FindAllStringSubmatch(doc, -1) {
		shown[m[1]] = true
		file, err := os.ReadFile(m[1])
		if err != nil {
			t.Errorf("README shows %s, which does not exist: %v", m[1], err)
			continue
		}
		if diff := cmp.Diff(string(file), m[2]); diff != "" {
			t.Errorf("README's copy of %s differs from the file (-file +README):\n%s", m[1], diff)
		}
	}
	files, _ := filepath.Glob("testdata/workflows/*.yml")
	if len(files) == 0 {
		t.Fatal("no recipe files")
	}
	for _, f := range files {
		if !shown[f] {
			t.Errorf("%s is not shown in the README (add <!-- recipe: %s --> and its text)", f, f)
		}
	}
}

// tableRows returns the first cells (without backticks) and the last cells
// of the markdown table following heading.
func tableRows(t *testing.T, doc, heading string) (names, lastCells []string) {
	t.Helper()
	_, after, ok := strings.Cut(doc, "\n"+heading+"\n")
	if !ok {
		t.Fatalf("README has no %q section", heading)
	}
	inTable := false
	for _, line := range strings.Split(after, "\n") {
		if !strings.HasPrefix(line, "|") {
			if inTable {
				break
			}
			continue
		}
		inTable = true
		cells := strings.Split(strings.Trim(line, "|"), " | ")
		first := strings.TrimSpace(cells[0])
		if !strings.HasPrefix(first, "`") {
			continue // header and separator rows
		}
		names = append(names, strings.Trim(first, "`"))
		lastCells = append(lastCells, strings.TrimSpace(cells[len(cells)-1]))
	}
	return names, lastCells
}

// declaredOutputs lists the outputs action.yml declares, in file order.
// Only this test needs them: the action writes its outputs from
// report.OutputNames, which the test holds to this list.
func declaredOutputs(t *testing.T, actionYAML []byte) []string {
	t.Helper()
	var doc struct {
		Outputs yaml.Node `yaml:"outputs"`
	}
	if err := yaml.Unmarshal(actionYAML, &doc); err != nil {
		t.Fatalf("parsing action.yml: %v", err)
	}
	var names []string
	for i := 0; i+1 < len(doc.Outputs.Content); i += 2 {
		names = append(names, doc.Outputs.Content[i].Value)
	}
	return names
}

// TestReadmeTablesMatchActionYML keeps the inputs and outputs tables in step
// with action.yml: same names, same order, and every default action.yml
// sets shown in the default column.
func TestReadmeTablesMatchActionYML(t *testing.T) {
	t.Parallel()
	raw, spec := actionSpec(t)
	doc := readme(t)

	var inputNames []string
	for _, in := range spec.Inputs {
		inputNames = append(inputNames, in.Name)
	}
	names, defaults := tableRows(t, doc, "## Inputs")
	if diff := cmp.Diff(inputNames, names); diff != "" {
		t.Errorf("README inputs table differs from action.yml (-action.yml +README):\n%s", diff)
	}
	for i, in := range spec.Inputs {
		if in.Default != "" && i < len(defaults) && !strings.Contains(defaults[i], "`"+in.Default+"`") {
			t.Errorf("README gives the default of %s as %q; action.yml says %q", in.Name, defaults[i], in.Default)
		}
	}

	outputNames := declaredOutputs(t, raw)
	names, _ = tableRows(t, doc, "## Outputs")
	if diff := cmp.Diff(outputNames, names); diff != "" {
		t.Errorf("README outputs table differs from action.yml (-action.yml +README):\n%s", diff)
	}
	// The report writes exactly the declared outputs, in action.yml's order.
	if diff := cmp.Diff(outputNames, report.OutputNames()); diff != "" {
		t.Errorf("report.OutputNames() differs from action.yml's outputs (-action.yml +report):\n%s", diff)
	}
}

// theirInputs are the inputs of the actions the Migrating table maps, as
// their action.yml files declare them (docker/metadata-action v6.2.0,
// docker/login-action v4.1.0, docker/build-push-action v7.3.0).
var theirInputs = map[string][]string{
	"metadata-action": {"context", "images", "tags", "flavor", "labels", "annotations", "sep-tags", "sep-labels", "sep-annotations", "bake-target", "github-token"},
	"login-action":    {"registry", "username", "password", "ecr", "scope", "logout", "registry-auth"},
	"build-push-action": {"add-hosts", "allow", "annotations", "attests", "build-args", "build-contexts", "builder",
		"cache-from", "cache-to", "call", "cgroup-parent", "context", "file", "labels", "load", "network", "no-cache",
		"no-cache-filters", "outputs", "platforms", "provenance", "pull", "push", "sbom", "secrets", "secret-envs",
		"secret-files", "shm-size", "ssh", "tags", "target", "ulimit", "github-token"},
}

// TestReadmeMigratingTable keeps the Migrating table whole and true: a row
// for every input of metadata-action, login-action and build-push-action,
// and in its "here" column only inputs action.yml declares (or —).
func TestReadmeMigratingTable(t *testing.T) {
	t.Parallel()
	_, spec := actionSpec(t)
	ours := map[string]bool{}
	for _, in := range spec.Inputs {
		ours[in.Name] = true
	}
	_, after, ok := strings.Cut(readme(t), "\n### Every input, mapped\n")
	if !ok {
		t.Fatal(`README has no "### Every input, mapped" section`)
	}
	mapped := map[string][]string{}
	inTable := false
	for _, line := range strings.Split(after, "\n") {
		if !strings.HasPrefix(line, "|") {
			if inTable {
				break
			}
			continue
		}
		inTable = true
		if strings.HasPrefix(line, "|---") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), " | ")
		if len(cells) != 4 {
			t.Errorf("row %q has %d cells, want 4 (action, input, here, how)", line, len(cells))
			continue
		}
		action, input, here := strings.TrimSpace(cells[0]), strings.Trim(strings.TrimSpace(cells[1]), "`"), strings.TrimSpace(cells[2])
		if _, known := theirInputs[action]; !known {
			continue // header and separator rows
		}
		mapped[action] = append(mapped[action], input)
		if here == "—" {
			continue
		}
		for _, name := range strings.Split(here, ", ") {
			if n := strings.Trim(name, "`"); !strings.HasPrefix(name, "`") || !ours[n] {
				t.Errorf("%s's %s maps to %s, which is not an input in action.yml (name one in backticks, or —)", action, input, name)
			}
		}
	}
	if diff := cmp.Diff(theirInputs, mapped); diff != "" {
		t.Errorf("Migrating table rows differ from the actions' inputs (-theirs +README):\n%s", diff)
	}
}

// actionSpec is action.yml, as written and as the command line reads it.
func actionSpec(t *testing.T) ([]byte, cli.Spec) {
	t.Helper()
	raw, err := os.ReadFile("action.yml")
	if err != nil {
		t.Fatal(err)
	}
	spec, err := cli.ParseSpec(raw)
	if err != nil {
		t.Fatal(err)
	}
	return raw, spec
}
