// Command demo runs the action's main job on this machine, with nothing to
// set up beyond Go: it starts a real registry (CNCF distribution, in process,
// with ghcr.io-style token authentication standing in for ghcr.io), serves
// the GitHub API from recorded answers in testdata/github, builds a sample
// image as an OCI layout, publishes it exactly as a workflow step would, and
// prints the step's outputs, its job summary, and what the registry now holds.
//
//	go run ./cmd/demo
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sethvargo/go-githubactions"

	"github.com/ghcr-publish/publish-action/internal/action"
	"github.com/ghcr-publish/publish-action/internal/testkit/githubtest"
	"github.com/ghcr-publish/publish-action/internal/testkit/registrytest"
	"github.com/ghcr-publish/publish-action/internal/testkit/sample"
)

// demoToken plays GITHUB_TOKEN, which the first embedded registry alone
// accepts; demoPassword is the second registry's own. Neither is a secret.
const (
	demoToken    = "ghs_demo_token_not_a_secret"
	demoPassword = "demo_registry_password"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	root, err := repoRoot()
	if err != nil {
		return err
	}
	reg, err := registrytest.Start(registrytest.Options{Passwords: []string{demoToken}})
	if err != nil {
		return fmt.Errorf("starting the registry: %w", err)
	}
	defer reg.Close()
	// A second registry stands in for Docker Hub or Quay: it wants a
	// password of its own, given in registry-auth, and never the token.
	other, err := registrytest.Start(registrytest.Options{Passwords: []string{demoPassword}})
	if err != nil {
		return fmt.Errorf("starting the second registry: %w", err)
	}
	defer other.Close()
	api := githubtest.Start(os.DirFS(filepath.Join(root, "testdata", "github")))
	defer api.Close()

	work, err := os.MkdirTemp("", "publish-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	workspace := filepath.Join(work, "workspace")
	img, err := sample.Image(sample.Options{Seed: "demo", Labels: map[string]string{"maintainer": "Acme <oss@acme.example>"}})
	if err != nil {
		return err
	}
	if err := sample.WriteLayout(filepath.Join(workspace, "out"), img, ""); err != nil {
		return err
	}
	outputs := filepath.Join(work, "output")
	summary := filepath.Join(work, "summary.md")
	for _, f := range []string{outputs, summary} {
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			return err
		}
	}

	image := reg.Host() + "/acme/widget"
	mirror := other.Host() + "/acme/widget"
	env := api.RunnerEnv(map[string]string{
		"GITHUB_REF":          "refs/tags/v1.2.3",
		"GITHUB_EVENT_NAME":   "push",
		"GITHUB_EVENT_PATH":   filepath.Join(root, "testdata", "github", "events", "push-tag.json"),
		"GITHUB_ACTOR":        "octocat",
		"GITHUB_WORKSPACE":    workspace,
		"GITHUB_OUTPUT":       outputs,
		"GITHUB_STEP_SUMMARY": summary,
		"INPUT_SOURCE":        "oci:out",
		"INPUT_IMAGES":        image + "\n" + mirror,
		"INPUT_REGISTRY-AUTH": fmt.Sprintf("- registry: %s\n  username: acme\n  password: %s\n", other.Host(), demoPassword),
		"INPUT_TAGS":          "1.2.3\nlatest",
		"INPUT_TOKEN":         demoToken,
		"INPUT_USERNAME":      "octocat",
		"INPUT_PUSH":          "true",
	})
	fmt.Printf("== Publishing a sample OCI layout to the embedded registries at %s and %s\n", reg.Host(), other.Host())
	fmt.Println("   (the first stands in for ghcr.io and gets the token; the second for Docker Hub, with its own password")
	fmt.Println("   from registry-auth; the GitHub API is served from testdata/github)")
	fmt.Println()
	gha := githubactions.New(githubactions.WithGetenv(func(k string) string { return env[k] }))
	if err := action.Run(ctx, gha, action.Options{GitHubRegistries: []string{reg.Host()}, TempDir: work}); err != nil {
		return fmt.Errorf("the action failed: %w", err)
	}

	rawOutputs, err := os.ReadFile(outputs)
	if err != nil {
		return err
	}
	rawSummary, err := os.ReadFile(summary)
	if err != nil {
		return err
	}
	fmt.Println()
	fmt.Println("== Step outputs (GITHUB_OUTPUT)")
	fmt.Println(strings.TrimSpace(string(rawOutputs)))
	fmt.Println()
	fmt.Println("== Job summary (GITHUB_STEP_SUMMARY)")
	fmt.Println(strings.TrimSpace(string(rawSummary)))
	fmt.Println()
	if err := readBack(ctx, image+":1.2.3", demoToken); err != nil {
		return err
	}
	return readBack(ctx, mirror+":1.2.3", demoPassword)
}

// readBack shows what a client pulling the image now sees.
func readBack(ctx context.Context, ref, password string) error {
	tag, err := name.NewTag(ref)
	if err != nil {
		return err
	}
	img, err := remote.Image(tag, remote.WithContext(ctx), remote.WithAuth(&authn.Basic{Username: "reader", Password: password}))
	if err != nil {
		return fmt.Errorf("reading %s back: %w", ref, err)
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	m, err := img.Manifest()
	if err != nil {
		return err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	fmt.Printf("== Read back from the registry: %s is %s, %s\n", ref, digest, m.MediaType)
	fmt.Println("   config labels:")
	for _, k := range sortedKeys(cf.Config.Labels) {
		fmt.Printf("     %s=%s\n", k, cf.Config.Labels[k])
	}
	fmt.Println("   manifest annotations:")
	for _, k := range sortedKeys(m.Annotations) {
		fmt.Printf("     %s=%s\n", k, m.Annotations[k])
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// repoRoot finds the module root, where testdata/ lives, from the working
// directory, so the demo runs from anywhere inside the checkout.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run the demo from inside the repository checkout (go run ./cmd/demo)")
		}
		dir = parent
	}
}
