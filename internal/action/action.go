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
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	specs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sethvargo/go-githubactions"

	"github.com/ghcr-publish/publish-action/internal/credentials"
	"github.com/ghcr-publish/publish-action/internal/githubapi"
	"github.com/ghcr-publish/publish-action/internal/inputs"
	"github.com/ghcr-publish/publish-action/internal/linkcheck"
	"github.com/ghcr-publish/publish-action/internal/plan"
	"github.com/ghcr-publish/publish-action/internal/push"
	"github.com/ghcr-publish/publish-action/internal/registryhttp"
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
	// Version names this build in the User-Agent sent to registries;
	// empty means "devel".
	Version string
	// RegistryRetry is the policy for retrying failed registry requests,
	// source reads and push alike; zero values mean registryhttp's
	// defaults (backoff from 0.5 s to 30 s with full jitter, 5 minutes in
	// all).
	RegistryRetry registryhttp.Policy

	// retry applies RegistryRetry for one run, logf logs from any
	// goroutine, and sessions authenticates to each registry once for
	// the run; Run sets them.
	retry    *registryhttp.Retrier
	logf     func(format string, args ...any)
	sessions *registryhttp.Sessions
}

// Run publishes according to the inputs gha reads. A returned error is
// for the user; input errors are joined *inputs.Error values. It only wires
// the steps: each step's result is the next one's input, and the report is
// built once, from all of them, at the end.
func Run(ctx context.Context, gha *githubactions.Action, opts Options) (err error) {
	var sec secrets
	defer func() { err = finish(ctx, err, sec) }()
	in, err := inputs.Read(gha, opts.GitHubRegistries...)
	// Mask before anything can be printed, even when inputs are bad: every
	// form a server could echo, not only the value as given.
	sec = newSecrets(in)
	for _, form := range sec.Forms() {
		gha.AddMask(form)
	}
	if err != nil {
		// Bad tags or flavor lines are reported with the other inputs.
		return errors.Join(err, plan.CheckTags(in))
	}

	log := &phases{gha: gha}
	defer log.end()
	log.start("Resolve: inputs, repository, metadata")
	opts.logf, opts.retry = registryRetry(gha, opts.RegistryRetry)
	keychain := newKeychain(in, opts)
	opts.RegistryTransport = registryTransport(keychain, opts)
	opts.sessions = newSessions(in, keychain, opts)
	gh := newGitHub(gha, in, sec, opts)
	// The sources are read while the GitHub API is asked about the
	// repository: neither needs the other.
	rd := startReading(ctx, gha, in, opts)
	defer rd.close()
	p, err := resolve(ctx, gha, in, gh, sec, opts)
	if err != nil || len(in.Sources) == 0 {
		r := report.From(p, nil, false, linkcheck.Result{})
		if err == nil && in.Prune != inputs.PruneOff {
			log.start("Prune: package versions no tag reaches")
			r.Prune = gh.sweep(ctx, in, p, opts)
		}
		log.end()
		return writeReport(gha, err, r)
	}

	log.start("Stamp: read the source, write the metadata")
	stamped, err := stampSources(gha, in, p, rd)
	if perr := rd.probed(); perr != nil {
		return explain(perr, gh.denial(ctx, p.Image))
	}
	ro := registryOptions(ctx, keychain, opts)
	if err != nil || !in.Push {
		r := report.From(p, stamped.report(), false, linkcheck.Result{})
		if err == nil {
			r = dryRun(gha, in, p, stamped, r)
			r.Prune = gh.prune(ctx, in, p, stamped, nil, ro)
		}
		log.end()
		return writeReport(gha, err, r)
	}

	log.start("Push: " + p.Image.String())
	previous := gh.previousDigests(ctx, in, p, ro)
	if err := publish(ctx, gha, in, p, stamped, gh, opts); err != nil {
		return err
	}
	log.start("Verify: the package's link to the repository and its visibility")
	link, err := gh.checkLink(ctx, in, p.Image, stamped.source())
	if err == nil {
		link, err = gh.checkVisibility(ctx, in, p.Image, stamped, link, opts)
	}
	rep := report.From(p, stamped.report(), true, link)
	if err == nil && in.Prune != inputs.PruneOff {
		// Last, once the publish is complete and verified.
		log.start("Prune: package versions no tag reaches")
		rep.Prune = gh.prune(ctx, in, p, stamped, previous, ro)
	}
	log.end()
	return writeReport(gha, err, rep)
}

// dryRun says what a run that writes nothing would have published, and,
// when push: auto chose not to write, why: in a notice and the summary.
func dryRun(gha *githubactions.Action, in inputs.Inputs, p plan.Plan, s stamped, r report.Report) report.Report {
	gha.Infof("push: %s, so nothing was written; %s would be %s", in.PushMode, p.Image, s.digest)
	if in.PushSkipped == "" {
		return r
	}
	note := fmt.Sprintf("push: auto wrote nothing: %s. Everything else ran, as with push: false; the digest is what a publish would give.", in.PushSkipped)
	gha.WithFieldsMap(map[string]string{"title": "nothing pushed"}).Noticef("%s", note)
	r.Skipped, r.Notes = in.PushSkipped, append(r.Notes, note)
	return r
}

// finish says plainly what a cancelled run leaves, and redacts what a
// registry may have echoed back of the credentials.
func finish(ctx context.Context, err error, sec secrets) error {
	// The runner sends SIGTERM (then SIGKILL) when a job is cancelled or
	// times out.
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("cancelled before the publish finished (%w): no tag points at incomplete content; run the step again to finish, uploaded blobs are reused", context.Cause(ctx))
	}
	return sec.redactErr(err)
}

// writeReport writes the outputs and the summary unless a step failed.
func writeReport(gha *githubactions.Action, err error, r report.Report) error {
	if err != nil {
		return err
	}
	return report.Write(gha, r)
}

// resolve asks the API what the repository knows and makes the plan,
// logging what the plan notes.
func resolve(ctx context.Context, gha *githubactions.Action, in inputs.Inputs, gh *gitHubSide, sec secrets, opts Options) (plan.Plan, error) {
	p, err := plan.Make(in, lookUpRepository(ctx, gha, in, gh, sec))
	if err != nil {
		return p, err
	}
	if p.NeedsRegistryTags() {
		p = p.WithRegistryTags(registryTags(ctx, gha, p, sec, opts))
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
	return p, nil
}

// registryTags reads the tags the destination has now, for latest=auto: it
// moves latest only to the highest release. A registry that cannot say
// leaves latest to the rules alone, as docker/metadata-action does.
func registryTags(ctx context.Context, gha *githubactions.Action, p plan.Plan, sec secrets, opts Options) []string {
	tags, err := push.Tags(ctx, p.Image, push.Options{Sessions: opts.sessions})
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			gha.Warningf("flavor latest=auto: could not read the tags of %s (%s), so latest is added without checking for a higher release", p.Image, sec.redact(err.Error()))
		}
		return nil
	}
	return tags
}

// registryTransport carries every registry request: each one, token
// exchanges and redirects included, is checked against the keychain's rule
// as it leaves, and one that stops moving mid-answer fails instead of
// holding the job.
func registryTransport(keychain credentials.Keychain, opts Options) http.RoundTripper {
	return keychain.Transport(registryhttp.Stalls(opts.RegistryTransport, 0))
}

// newKeychain gives each registry the credentials the inputs allow it.
func newKeychain(in inputs.Inputs, opts Options) credentials.Keychain {
	keychain := credentials.Keychain{
		GitHubHosts: in.GitHubRegistries(),
		Username:    in.Username,
		Token:       in.Token,
		Password:    in.Password,
	}
	if !in.IsGitHubRegistry(in.Image.RegistryStr()) {
		keychain.PasswordHost = in.Image.RegistryStr()
	}
	if opts.DockerConfig {
		keychain.Fallback = authn.DefaultKeychain
	}
	return keychain
}

// stamped is what the stamp step made: the artifact to push and its digest.
type stamped struct {
	artifact push.Artifact
	result   stamp.Result
	digest   v1.Hash
}

// source is the org.opencontainers.image.source annotation as published.
func (s stamped) source() string {
	for _, e := range s.result.Annotations {
		if e.Key == specs.AnnotationSource {
			return e.Value
		}
	}
	return ""
}

func (s stamped) report() *report.Stamped {
	return &report.Stamped{Result: s.result, Digest: s.digest.String()}
}

// registryRetry is one retry policy and budget for every registry request
// of the run, and a log function that retries, progress and throttling
// may call from the uploads' goroutines.
func registryRetry(gha *githubactions.Action, policy registryhttp.Policy) (func(string, ...any), *registryhttp.Retrier) {
	var mu sync.Mutex
	logf := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		gha.Infof(format, args...)
	}
	if policy.Logf == nil {
		policy.Logf = logf
	}
	return logf, registryhttp.New(policy)
}

// stampSources stamps every source, as rd reads them, into one artifact.
func stampSources(gha *githubactions.Action, in inputs.Inputs, p plan.Plan, rd *reading) (stamped, error) {
	for _, src := range in.Sources {
		gha.Infof("Reading %s", src.Line)
	}
	results, err := rd.wait()
	if err != nil {
		return stamped{}, err
	}
	var loaded []*source.Loaded
	for i, src := range in.Sources {
		if results[i].err != nil {
			return stamped{}, inputs.Wrap("source", results[i].err)
		}
		l := results[i].l
		loaded = append(loaded, l)
		for _, n := range l.Notices {
			gha.Noticef("%s: %s", src.Line, n)
		}
		if lacks := l.Lacks(in.Platforms); len(lacks) > 0 {
			return stamped{}, &inputs.Error{Input: "platforms", Msg: fmt.Sprintf("%s lacks the blobs of %s (the engine has only part of the image); pull it (docker pull --platform %s) or drop it from platforms", src.Line, strings.Join(lacks, ", "), lacks[0])}
		}
	}

	artifact, res, err := stampAll(loaded, p, in.Attestations)
	if err != nil {
		return stamped{}, err
	}
	for _, w := range res.Warnings {
		gha.WithFieldsMap(map[string]string{"title": "labels from the image"}).Warningf("%s", w)
	}
	if in.Platforms != nil {
		if err := stamp.CheckPlatforms(res.Entries, in.Platforms); err != nil {
			return stamped{}, inputs.Wrap("platforms", err)
		}
	}
	for _, e := range res.Entries {
		kind := ""
		if e.Attestation {
			kind = "attestation of "
		}
		gha.Infof("%s%s: %s %s", kind, e.Platform, e.Fate, e.Digest)
	}
	if res.ConvertedToOCI {
		gha.Noticef("%s", report.ConvertedNote)
	}
	for _, e := range res.Entries {
		if e.Fate == stamp.Dropped {
			gha.Warningf("attestations: drop removed the attestation of %s from %s; its provenance is no longer published", e.Platform, e.Source)
		}
	}
	digest, err := artifact.Digest()
	if err != nil {
		return stamped{}, fmt.Errorf("computing digest: %w", err)
	}
	return stamped{artifact: artifact, result: res, digest: digest}, nil
}

// publish writes the stamped artifact and its tags. A refusal comes back
// with advice on what to change.
func publish(ctx context.Context, gha *githubactions.Action, in inputs.Inputs, p plan.Plan, s stamped, gh *gitHubSide, opts Options) error {
	pushOpts := push.Options{Sessions: opts.sessions, Logf: opts.logf, ReadBack: true}
	gha.Infof("Pushing %s@%s", p.Image, s.digest)
	res, err := push.All(ctx, s.artifact, p.Image, p.WriteOrder(), pushOpts)
	if err != nil {
		return explain(err, gh.denial(ctx, p.Image))
	}
	for _, w := range res.Warnings {
		gha.Warningf("%s", w)
	}
	for _, t := range p.Tags {
		gha.Infof("Tagged %s", t)
	}
	return nil
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

// newSessions authenticates to each registry once for the run, with one
// token for every scope the run will use there: pull on each registry
// source, push on the destination (pull when nothing is pushed).
func newSessions(in inputs.Inputs, keychain credentials.Keychain, opts Options) *registryhttp.Sessions {
	s := registryhttp.NewSessions(keychain, source.BoundManifests(opts.RegistryTransport), userAgent(opts.Version), opts.retry)
	for _, src := range in.Sources {
		if src.Transport == inputs.Registry {
			s.Declare(src.Reference.Context(), transport.PullScope)
		}
	}
	if in.Push {
		s.Declare(in.Image, transport.PushScope)
	} else {
		s.Declare(in.Image, transport.PullScope)
	}
	return s
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
	idx, res, err := stamp.Index(loaded, p, stamp.AttestationPolicy(policy))
	if err != nil {
		var dup *stamp.DuplicatePlatformError
		if errors.As(err, &dup) {
			return nil, stamp.Result{}, inputs.Wrap("source", err)
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
func lookUpRepository(ctx context.Context, gha *githubactions.Action, in inputs.Inputs, gh *gitHubSide, sec secrets) githubapi.Info {
	c := in.Context
	// Without a client newGitHub has said why already.
	if c.Repository() == "" || gh.client == nil {
		return githubapi.Info{}
	}
	sha := ""
	if plan.NeedsCommitTime(c) {
		sha = c.SHA
	}
	info, err := githubapi.Fetch(ctx, c.Owner, c.Repo, sha, gh.apiOptions)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return info
		}
		gha.Warningf("asking the GitHub API about %s: %s; continuing with what the workflow context gives (set description and licenses to choose them)", c.Repository(), sec.redact(err.Error()))
	}
	gh.info = info
	return info
}

// userAgent names the action to registries, as their logs and rate limits
// see it.
func userAgent(version string) string {
	if version == "" {
		version = "devel"
	}
	return "ghcr-publish-action/" + version
}
