package action

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/sethvargo/go-githubactions"

	"github.com/ghcr-publish/publish-action/internal/credentials"
	"github.com/ghcr-publish/publish-action/internal/githubapi"
	"github.com/ghcr-publish/publish-action/internal/inputs"
	"github.com/ghcr-publish/publish-action/internal/plan"
	"github.com/ghcr-publish/publish-action/internal/push"
	"github.com/ghcr-publish/publish-action/internal/registryhttp"
	"github.com/ghcr-publish/publish-action/internal/report"
)

// run is one publish in progress: what the inputs ask, the access built
// for it (registries, the GitHub API), and the sources being read. Its
// methods are the phases, in the order Run calls them and the log shows
// them: resolve (the sources are read beside it), stamp, publish, verify,
// prune, report.
type run struct {
	gha *githubactions.Action
	in  inputs.Inputs
	sec secrets
	// logf logs from any goroutine: retries, upload progress and
	// throttling call it from the uploads' goroutines.
	logf func(format string, args ...any)
	reg  *registry
	// keychain is who gets which credentials, for the advice on a refusal
	// (a registry given none).
	keychain credentials.Keychain
	gh       *gitHubSide
	// tempDir receives unpacked archives; empty: a scratch directory the
	// run makes, and removes at close.
	tempDir string
	rd      *reading
	log     phases
}

// newRun builds what the run needs once: the registry access and the
// GitHub API client. It prints nothing: what it has to say is said in the
// Resolve phase.
func newRun(gha *githubactions.Action, in inputs.Inputs, sec secrets, opts Options) *run {
	logf := lockedLog(gha)
	dest := destination{images: in.Destinations(), keychain: newKeychain(in, opts), push: in.Push && len(in.Sources) > 0}
	return &run{
		gha: gha, in: in, sec: sec, logf: logf, keychain: dest.keychain,
		reg:     newRegistry(dest, in.Sources, opts, logf),
		gh:      newGitHub(gha, in, sec, opts),
		tempDir: opts.TempDir,
		log:     phases{gha: gha},
	}
}

// lockedLog is gha.Infof for any goroutine.
func lockedLog(gha *githubactions.Action) func(string, ...any) {
	var mu sync.Mutex
	return func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		gha.Infof(format, args...)
	}
}

// phase opens the log group of the next phase.
func (r *run) phase(name string) { r.log.start(name) }

// close stops reading, releases what was read, and closes the log group.
func (r *run) close() {
	if r.rd != nil {
		r.rd.close()
	}
	r.log.end()
}

// resolve asks the API what the repository knows and makes the plan,
// logging what the plan notes.
func (r *run) resolve(ctx context.Context) (plan.Plan, error) {
	p, err := plan.Make(r.in, r.lookUpRepository(ctx))
	if err != nil {
		return p, err
	}
	if p.NeedsRegistryTags() {
		p = p.WithRegistryTags(r.registryTags(ctx, p))
	}
	for _, n := range p.Notices {
		r.gha.Noticef("%s", n)
	}
	for _, w := range p.Warnings {
		if w.Input == "" {
			r.gha.Warningf("%s", w)
			continue
		}
		// Titled like input errors, so the annotation points at the input.
		r.gha.WithFieldsMap(map[string]string{"title": "input " + w.Input}).Warningf("%s", w)
	}
	r.gha.Infof("Image: %s", p.Image)
	r.gha.Infof("Tags: %s", tagList(p.Tags))
	return p, nil
}

// lookUpRepository asks the API for the repository's description, license
// and the commit's date. It never fails the run: a missing answer costs
// metadata, not the publish, so it warns once and goes on.
func (r *run) lookUpRepository(ctx context.Context) githubapi.Info {
	gh, c := r.gh, r.in.Context
	if gh.client == nil {
		gh.warnUnreachable()
	}
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
		r.gha.Warningf("asking the GitHub API about %s: %s; continuing with what the workflow context gives (set description and licenses to choose them)", c.Repository(), r.sec.redact(err.Error()))
	}
	gh.info = info
	return info
}

// registryTags reads the tags the destination has now, for latest=auto: it
// moves latest only to the highest release. A registry that cannot say
// leaves latest to the rules alone, as docker/metadata-action does.
//
// A run that writes nothing (no source, or push: false) does not wait on
// the registry for it: the list only refines metadata nobody publishes, so
// it is a bounded lookup (a few tries, DefaultLookup in all) rather than
// the publish's five-minute budget. A publish waits for it: latest must
// not move backwards, and the push needs the registry anyway.
func (r *run) registryTags(ctx context.Context, p plan.Plan) []string {
	if !r.reg.writes {
		var cancel context.CancelFunc
		ctx, cancel = r.reg.sessions.Retry().Lookup(ctx)
		defer cancel()
	}
	tags, err := push.Tags(ctx, p.Image, push.Options{Sessions: r.reg.sessions})
	if err == nil {
		return tags
	}
	if bound, ok := registryhttp.Abandoned(ctx); ok {
		r.gha.Warningf("flavor latest=auto: skipped reading the tags of %s: %s did not answer within %s, and a run that pushes nothing does not wait on a registry; latest is added without checking for a higher release", p.Image, p.Image.RegistryStr(), bound)
		return nil
	}
	if !errors.Is(err, context.Canceled) {
		r.gha.Warningf("flavor latest=auto: could not read the tags of %s (%s), so latest is added without checking for a higher release", p.Image, r.sec.redact(err.Error()))
	}
	return nil
}

// dryRun says what a run that writes nothing would have published, and,
// when push: auto chose not to write, why: in a notice and the summary.
func (r *run) dryRun(p plan.Plan, s stamped, rep report.Report) report.Report {
	r.gha.Infof("push: %s, so nothing was written; %s would be %s", r.in.PushMode, p.Image, s.digest)
	if r.in.PushSkipped == "" {
		return rep
	}
	note := fmt.Sprintf("push: auto wrote nothing: %s. Everything else ran, as with push: false; the digest is what a publish would give.", r.in.PushSkipped)
	r.gha.WithFieldsMap(map[string]string{"title": "nothing pushed"}).Noticef("%s", note)
	rep.Skipped, rep.Notes = r.in.PushSkipped, append(rep.Notes, note)
	return rep
}

// report writes the outputs and the summary unless a phase failed.
func (r *run) report(err error, rep report.Report) error {
	r.log.end()
	if err != nil {
		return err
	}
	return report.Write(r.gha, r.atEveryDestination(rep))
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
