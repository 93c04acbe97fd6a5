// Package action wires the steps of a publish together: inputs → plan →
// source → stamp → push → report. It is the only package that sees every
// step; each step sees only the ones before it.
package action

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"runtime/debug"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sethvargo/go-githubactions"

	"github.com/ghcr-publish/publish-action/internal/credentials"
	"github.com/ghcr-publish/publish-action/internal/githubapi"
	"github.com/ghcr-publish/publish-action/internal/inputs"
	"github.com/ghcr-publish/publish-action/internal/linkcheck"
	"github.com/ghcr-publish/publish-action/internal/plan"
	"github.com/ghcr-publish/publish-action/internal/push"
	"github.com/ghcr-publish/publish-action/internal/report"
	"github.com/ghcr-publish/publish-action/internal/source"
	"github.com/ghcr-publish/publish-action/internal/stamp"
)

// Options are the seams that only code can set: nothing a workflow writes
// (inputs, environment) reaches them.
type Options struct {
	// GitHubRegistries are extra registry hosts to treat as GitHub's, so
	// that tests and the local demo can stand a local registry in for
	// ghcr.io. They receive the token.
	GitHubRegistries []string
	// RegistryTransport and APITransport carry requests; nil means the
	// defaults.
	RegistryTransport http.RoundTripper
	APITransport      http.RoundTripper
	// TempDir receives unpacked archives; empty means os.TempDir().
	TempDir string
	// Link bounds the wait for GitHub to link a pushed package; zero
	// values mean verify's defaults (about 20 seconds).
	Link linkcheck.Options
	// DockerConfig lets registries the inputs give no credentials for use
	// the user's Docker config (~/.docker/config.json and its credential
	// helpers): for the command line, never inside Actions.
	DockerConfig bool
	// RegistryBackoff paces retries of failed registry requests; zero means
	// go-containerregistry's default (1 s, 3 s, 9 s).
	RegistryBackoff remote.Backoff
}

// Run publishes according to the inputs gha reads. A returned error is
// for the user; input errors are joined *inputs.Error values.
func Run(ctx context.Context, gha *githubactions.Action, opts Options) (err error) {
	var sec secrets
	defer func() {
		// The runner sends SIGTERM (then SIGKILL) when a job is cancelled
		// or times out; say plainly what state that leaves.
		if err != nil && ctx.Err() != nil {
			err = fmt.Errorf("cancelled before the publish finished (%v): no tag points at incomplete content; run the step again to finish, uploaded blobs are reused", context.Cause(ctx))
		}
		// A registry may echo credentials back in its error body.
		err = sec.redactErr(err)
	}()
	in, err := inputs.Read(gha, opts.GitHubRegistries...)
	// Mask before anything can be printed, even when inputs are bad.
	for _, secret := range []string{in.Token, in.Password} {
		if secret != "" {
			gha.AddMask(secret)
		}
	}
	sec = newSecrets(in)
	if err != nil {
		return err
	}

	phases := &phases{gha: gha}
	defer phases.end()
	phases.start("Resolve: inputs, repository, metadata")
	info := lookUpRepository(ctx, gha, in, sec, opts)
	p, err := plan.Make(in, info)
	if err != nil {
		return err
	}
	for _, n := range p.Notices {
		gha.Noticef("%s", n)
	}
	for _, w := range p.Warnings {
		if w.Input == "" {
			gha.Warningf("%s", w)
			continue
		}
		// Titled like input errors, so the annotation points at the input.
		gha.WithFieldsMap(map[string]string{"title": "input " + w.Input}).Warningf("%s", w)
	}

	gha.Infof("Image: %s", p.Image)
	gha.Infof("Tags: %s", tagList(p.Tags))
	r := report.Report{Image: p.Image, Tags: p.Tags}
	if len(in.Sources) == 0 {
		res := stamp.Preview(p)
		r.Mode, r.Labels, r.Annotations = report.MetadataOnly, res.Labels, res.Annotations
		phases.end()
		return report.Write(gha, r)
	}

	keychain := credentials.Keychain{
		GitHubHosts: append(in.Context.GitHubRegistries(), opts.GitHubRegistries...),
		Username:    in.Username,
		Token:       in.Token,
		Password:    in.Password,
	}
	if !in.IsGitHubRegistry(p.Image.RegistryStr()) {
		keychain.PasswordHost = p.Image.RegistryStr()
	}
	if opts.DockerConfig {
		keychain.Fallback = authn.DefaultKeychain
	}

	if opts.TempDir == "" {
		dir, err := scratchDir(gha, in)
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		opts.TempDir = dir
	}

	phases.start("Stamp: read the source, write the metadata")
	var loaded []*source.Loaded
	defer func() {
		for _, l := range loaded {
			l.Close()
		}
	}()
	for _, src := range in.Sources {
		gha.Infof("Reading %s", src.Line)
		l, err := source.Load(ctx, src, source.Options{Keychain: keychain, Transport: opts.RegistryTransport, TempDir: opts.TempDir, DockerHost: in.Context.DockerHost})
		if err != nil {
			return &inputs.Error{Input: "source", Msg: err.Error()}
		}
		loaded = append(loaded, l)
	}

	artifact, res, err := stampAll(loaded, p, in.Attestations)
	if err != nil {
		return err
	}
	if in.Platforms != nil {
		if err := stamp.CheckPlatforms(res.Entries, in.Platforms); err != nil {
			return &inputs.Error{Input: "platforms", Msg: err.Error()}
		}
	}
	r.Labels, r.Annotations, r.Entries = res.Labels, res.Annotations, res.Entries
	for _, e := range res.Entries {
		kind := ""
		if e.Attestation {
			kind = "attestation of "
		}
		gha.Infof("%s%s: %s %s", kind, e.Platform, e.Fate, e.Digest)
	}
	if res.ConvertedToOCI {
		note := "A Docker v2 schema 2 manifest or manifest list was rewritten with OCI media types, because the Docker schemas have no annotations; layer blobs are unchanged."
		gha.Noticef("%s", note)
		r.Notes = append(r.Notes, note)
	}
	if !res.Changed {
		r.Notes = append(r.Notes, "The source already carried this metadata, so it was published unchanged, with its original digest.")
	}
	for _, e := range res.Entries {
		if e.Fate == stamp.Dropped {
			gha.Warningf("attestations: drop removed the attestation of %s from %s; its provenance is no longer published", e.Platform, e.Source)
		}
	}

	digest, err := artifact.Digest()
	if err != nil {
		return fmt.Errorf("computing digest: %w", err)
	}
	r.Digest = digest.String()
	if !in.Push {
		r.Mode = report.DryRun
		gha.Infof("push: false, so nothing was written; %s would be %s", p.Image, digest)
		phases.end()
		return report.Write(gha, r)
	}

	phases.start("Push: " + p.Image.String())
	github := newGitHub(gha, in, info, sec, opts)
	pushOpts := push.Options{Keychain: keychain, Transport: opts.RegistryTransport, UserAgent: userAgent(), Backoff: opts.RegistryBackoff, Logf: gha.Infof}
	// Probe push access before any layer bytes move, so a denied push
	// fails in seconds, not after gigabytes. A source already on the
	// destination registry is mounted, not uploaded: its first write is a
	// tiny mount request that a refusal stops just as early.
	if !onRegistry(in.Sources, p.Image.RegistryStr()) {
		if err := push.Probe(ctx, p.Image, pushOpts); err != nil {
			return explain(err, github.denial(ctx, p.Image))
		}
	}
	gha.Infof("Pushing %s@%s", p.Image, digest)
	if _, err := push.All(ctx, artifact, p.Image, p.Tags, pushOpts); err != nil {
		return explain(err, github.denial(ctx, p.Image))
	}
	r.Mode = report.Published
	for _, t := range p.Tags {
		gha.Infof("Tagged %s", t)
	}
	phases.start("Verify: the package's link to the repository")
	if err := github.checkLink(ctx, &r, p); err != nil {
		return err
	}
	phases.end()
	return report.Write(gha, r)
}

// phases opens one collapsible log group per phase of the run, so the
// Actions log reads as resolve, stamp, push, verify; the summary stays the
// one place to look.
type phases struct {
	gha  *githubactions.Action
	open bool
}

func (ph *phases) start(name string) {
	ph.end()
	ph.gha.Group(name)
	ph.open = true
}

// end closes the open group, so that a final error prints outside it.
func (ph *phases) end() {
	if ph.open {
		ph.gha.EndGroup()
		ph.open = false
	}
}

// onRegistry reports whether every source is an image on registry.
func onRegistry(sources []*inputs.Source, registry string) bool {
	for _, src := range sources {
		if src.Transport != inputs.Registry || !strings.EqualFold(src.Reference.Context().RegistryStr(), registry) {
			return false
		}
	}
	return len(sources) > 0
}

// tagList is the tags for the log.
func tagList(tags []name.Tag) string {
	if len(tags) == 0 {
		return "none (by digest only)"
	}
	names := make([]string, len(tags))
	for i, t := range tags {
		names[i] = t.TagStr()
	}
	return strings.Join(names, ", ")
}

// stampAll stamps one image on its own, or anything else (an index, or
// several sources to merge) as one index.
func stampAll(loaded []*source.Loaded, p plan.Plan, policy inputs.Attestations) (push.Artifact, stamp.Result, error) {
	if len(loaded) == 1 && loaded[0].Image != nil {
		img, res, err := stamp.Image(loaded[0].Image, p)
		if err != nil {
			return nil, stamp.Result{}, fmt.Errorf("stamping %s: %w", loaded[0].Line, err)
		}
		entry, err := stamp.ImageEntry(loaded[0].Line, img, res)
		if err != nil {
			return nil, stamp.Result{}, err
		}
		res.Entries = []stamp.Entry{entry}
		return img, res, nil
	}
	idx, res, err := stamp.Index(loaded, p, policy)
	if err != nil {
		var inputErr *inputs.Error
		if errors.As(err, &inputErr) {
			return nil, stamp.Result{}, inputErr
		}
		return nil, stamp.Result{}, fmt.Errorf("stamping the index: %w", err)
	}
	return idx, res, nil
}

// scratchDir makes a private directory for unpacked archives and engine
// exports. A container action runs on scratch, which has no /tmp: the
// runner's mounted HOME (/github/home) or the workspace stand in for it.
func scratchDir(gha *githubactions.Action, in inputs.Inputs) (string, error) {
	var tried []string
	for _, base := range []string{gha.Getenv("RUNNER_TEMP"), os.TempDir(), gha.Getenv("HOME"), in.Context.Workspace} {
		if base == "" {
			continue
		}
		if fi, err := os.Stat(base); err != nil || !fi.IsDir() {
			tried = append(tried, base)
			continue
		}
		dir, err := os.MkdirTemp(base, "publish-action-")
		if err == nil {
			return dir, nil
		}
		tried = append(tried, base)
	}
	return "", fmt.Errorf("no writable directory for temporary files (tried %s); set TMPDIR or mount one", strings.Join(tried, ", "))
}

// lookUpRepository asks the API for the repository's description, license
// and the commit's date. It never fails the run: a missing answer costs
// metadata, not the publish, so it warns once and goes on.
func lookUpRepository(ctx context.Context, gha *githubactions.Action, in inputs.Inputs, sec secrets, opts Options) githubapi.Info {
	c := in.Context
	if c.Repository() == "" {
		return githubapi.Info{}
	}
	sha := ""
	if plan.NeedsCommitTime(c) {
		sha = c.SHA
	}
	info, err := githubapi.Fetch(ctx, c.Owner, c.Repo, sha, githubapi.Options{APIURL: c.APIURL, Token: in.Token, Transport: opts.APITransport})
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return info
		}
		gha.Warningf("asking the GitHub API about %s: %s; continuing with what the workflow context gives (set description and licenses to choose them)", c.Repository(), sec.redact(err.Error()))
	}
	return info
}

func userAgent() string {
	version := "devel"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		version = bi.Main.Version
	}
	return "ghcr-publish-action/" + version
}
