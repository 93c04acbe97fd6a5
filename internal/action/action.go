// Package action wires the steps of a publish together. A run resolves
// (the inputs, the repository's metadata from the GitHub API, the plan)
// while it reads the sources, then stamps them, pushes, verifies the
// package's link and visibility, prunes old versions and reports (outputs
// and the job summary). It is the only package that sees every step; each
// step sees only the ones before it.
package action

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/sethvargo/go-githubactions"

	"github.com/ghcr-publish/publish-action/internal/inputs"
	"github.com/ghcr-publish/publish-action/internal/linkcheck"
	"github.com/ghcr-publish/publish-action/internal/plan"
	"github.com/ghcr-publish/publish-action/internal/registryhttp"
	"github.com/ghcr-publish/publish-action/internal/report"
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
	// TempDir receives unpacked archives and engine exports; empty means
	// a directory of the run's own, under RUNNER_TEMP or the first
	// writable of os.TempDir(), HOME and the workspace, removed at the end.
	TempDir string
	// Link bounds the wait for GitHub to link a pushed package; zero
	// values mean linkcheck's defaults (asking for 20 seconds, the first
	// pause one second).
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
	// all). Its Lookup bounds what a run that writes nothing reads only
	// to refine metadata (latest=auto's tag list): 10 s by default.
	RegistryRetry registryhttp.Policy
}

// Run publishes according to the inputs gha reads. A returned error is
// for the user; input errors are joined *inputs.Error values. It only wires
// the phases, in the order the log shows them: each phase's result is the
// next one's input, and the report is built once, from all of them, at the
// end.
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

	r := newRun(gha, in, sec, opts)
	defer r.close()
	r.phase("Resolve: inputs, repository, metadata")
	// The sources are read while the GitHub API is asked about the
	// repository: neither needs the other.
	r.read(ctx)
	p, err := r.resolve(ctx)
	if err != nil || len(in.Sources) == 0 {
		rep := report.From(p, nil, false, linkcheck.Result{})
		if err == nil && in.Prune != inputs.PruneOff {
			r.phase("Prune: package versions no tag reaches")
			rep.Prune = r.prune(ctx, p, stamped{}, nil)
		}
		return r.report(err, rep)
	}

	r.phase("Stamp: read the source, write the metadata")
	s, err := r.stamp(ctx, p)
	if err != nil || !in.Push {
		rep := report.From(p, s.report(), false, linkcheck.Result{})
		if err == nil {
			rep = r.dryRun(p, s, rep)
			rep.Prune = r.prune(ctx, p, s, nil)
		}
		return r.report(err, rep)
	}

	r.phase("Push: " + destinationList(in.Destinations()))
	previous := r.previousDigests(ctx, p)
	if err := r.publish(ctx, p, s); err != nil {
		return err
	}
	r.phase("Verify: the package's link to the repository and its visibility")
	link, err := r.verify(ctx, s)
	rep := report.From(p, s.report(), true, link)
	if err == nil && in.Prune != inputs.PruneOff {
		// Last, once the publish is complete and verified.
		r.phase("Prune: package versions no tag reaches")
		rep.Prune = r.prune(ctx, p, s, previous)
	}
	return r.report(err, rep)
}

// finish says plainly what a cancelled run leaves, and redacts what a
// registry may have echoed back of the credentials.
func finish(ctx context.Context, err error, sec secrets) error {
	// The runner sends SIGTERM (then SIGKILL) when a job is cancelled or
	// times out.
	if err != nil && ctx.Err() != nil {
		err = &cancelledError{cause: context.Cause(ctx), step: err}
	}
	return sec.redactErr(err)
}

// cancelledError is a run stopped by its context. Its text is the advice;
// it unwraps to the step's own error (a *transport.Error, say), whose
// chain holds the cancellation too, so callers can still tell what the
// step was doing. One chain, not two: the command line prints each part
// of a joined error on its own.
type cancelledError struct {
	cause, step error
}

func (e *cancelledError) Error() string {
	return fmt.Sprintf("cancelled before the publish finished (%v): no tag points at incomplete content; run the step again to finish, uploaded blobs are reused", e.cause)
}

func (e *cancelledError) Unwrap() error { return e.step }

// phases opens one collapsible log group per phase of the run, so the
// Actions log reads as resolve, stamp, push, verify, prune; the summary
// stays the one place to look.
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
