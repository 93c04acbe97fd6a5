package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestReleaseWorkflow keeps release.yml wired to the commands tested here
// and in ./cmd/image: the layout it builds is the one it publishes, the
// action checks the link and the platforms, and the pin uses the digest
// the publish step reports.
func TestReleaseWorkflow(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join("..", "..", ".github", "workflows", "release.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var wf struct {
		On struct {
			Push struct{ Tags []string }
		}
		Permissions map[string]string
		Jobs        map[string]struct {
			Steps []struct {
				ID   string
				Uses string
				Run  string
				With map[string]string
				Env  map[string]string
			}
		}
	}
	if err := yaml.Unmarshal(raw, &wf); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(wf.On.Push.Tags, []string{"v[0-9]+.[0-9]+.[0-9]+*"}) {
		t.Errorf("tag filter %q: the moving tags v1 and v1.2 must not start a release", wf.On.Push.Tags)
	}
	if wf.Permissions["contents"] != "write" || wf.Permissions["packages"] != "write" {
		t.Errorf("permissions %v: the release commit and tags need contents: write, the publish packages: write", wf.Permissions)
	}
	var runs []string
	published := false
	for _, s := range wf.Jobs["release"].Steps {
		runs = append(runs, s.Run)
		if s.Uses == "./" {
			published = true
			if s.ID != "publish" || s.With["source"] != "oci:_image" || s.With["link-check"] != "error" ||
				s.With["platforms"] != strings.Join(defaultPlatformsForTest, ",") {
				t.Errorf("the publish step: id %q with %v", s.ID, s.With)
			}
		}
		if strings.Contains(s.Run, "./cmd/release public") || strings.Contains(s.Run, "./cmd/release pin") {
			if s.Env["IMAGE"] != "${{ steps.publish.outputs.image }}" {
				t.Errorf("step %q takes IMAGE=%q, want the publish step's image output", s.Run, s.Env["IMAGE"])
			}
		}
	}
	if !published {
		t.Error("no step publishes with uses: ./")
	}
	all := strings.Join(runs, "\n")
	for _, want := range []string{
		`go run ./cmd/release tags -ref "$REF_NAME" >> "$GITHUB_OUTPUT"`,
		"go run ./cmd/image -o _image",
		`go run ./cmd/release public -image "$IMAGE"`,
		`go run ./cmd/release pin -image "$IMAGE" -f action.yml`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("release.yml does not run %s", want)
		}
	}
}

// defaultPlatformsForTest are cmd/image's default platforms (a separate
// main package, so repeated here).
var defaultPlatformsForTest = []string{"linux/amd64", "linux/arm64"}
