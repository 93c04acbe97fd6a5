// Package inputs reads the action's inputs and the workflow context once, up
// front, and turns them into typed values. Every bad input is reported at once,
// each naming the input and how to fix it, before anything touches a registry.
package inputs

import (
	"errors"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/sethvargo/go-githubactions"

	"github.com/ghcr-publish/publish-action/internal/credentials"
)

// Limits ghcr.io applies to what it shows on a package page (GitHub docs,
// "Working with the Container registry", Labelling container images).
const (
	MaxDescription = 512
	MaxLicenses    = 256
)

// Optional is an input that may be unset. Set with an empty Value means the
// user asked for the value to be left out (e.g. licenses: NOASSERTION).
type Optional struct {
	Value string
	Set   bool
}

// Inputs are the action's validated inputs.
type Inputs struct {
	// Sources are the images to publish, one per line of the source input;
	// several make one multi-platform index. None means metadata-only mode.
	Sources []*Source
	// Image is the destination repository: the primary one, the first of
	// Destinations.
	Image name.Repository
	// Images are the images input's destinations, in order, the first
	// being Image; none when images is not given. Destinations is what a
	// publish goes through.
	Images []name.Repository
	// ImageDerived is true when Image came from the context, not the input.
	ImageDerived bool
	// ImageLowercased is true when the name, derived or given, had to be
	// lower-cased: ghcr.io/${{ github.repository }} is how most workflows
	// write it, and it has capitals whenever the owner or repository has.
	ImageLowercased bool
	// Tags is the tags input as written: plain tags, full references and
	// docker/metadata-action's type= rules, which the plan step parses
	// (plan.ParseTagRules); empty means metadata-action's default rules.
	Tags string
	// Flavor is the flavor input as written (latest=, prefix=, suffix=).
	Flavor      string
	Labels      []KeyValue
	Annotations []KeyValue
	Description Optional
	Licenses    Optional
	SourceURL   Optional
	Token       string
	Username    string
	// Password is the password input: the credentials, with Username, of
	// the one destination registry that is neither GitHub's nor in
	// RegistryAuth (see Logins).
	Password string
	// RegistryAuth is the registry-auth input: credentials for registries
	// that are not GitHub's, one login per registry, entries a run cannot
	// use (empty values in a run that writes nothing) left out.
	RegistryAuth []credentials.Login
	// masks are every password the credential inputs hold, read or not:
	// a bad entry's secret is masked too (Secrets).
	masks []credentials.Login
	// Push is whether this run writes to the registry: the push input,
	// with auto resolved against the token this run has.
	Push bool
	// PushMode is the push input as given: auto, true or false.
	PushMode PushMode
	// PushSkipped says why push: auto writes nothing in this run (the
	// token cannot write); empty when it writes or push is not auto.
	PushSkipped string
	// RequirePublic fails a publish whose package cannot be pulled
	// anonymously.
	RequirePublic bool
	// PushByDigest writes the manifest by digest only, with no tag: what
	// matrix jobs do before a merge.
	PushByDigest bool
	// Platforms is the exact set of platforms the result must hold; nil
	// means no check.
	Platforms []v1.Platform
	// Attestations says what happens to build attestations in an index.
	Attestations Attestations
	// LinkCheck says what a package not linked to the repository means.
	LinkCheck LinkCheck
	// Prune says which package versions to delete after the publish;
	// none younger than PruneMinAge.
	Prune       Prune
	PruneMinAge time.Duration

	Context Context
	// extraGitHubRegistries are hosts that tests treat as GitHub's.
	extraGitHubRegistries []string
	// Warnings are problems with an input that do not stop the run.
	Warnings []*Error
}

// Read reads and validates every input and the workflow context through gha.
// The returned error joins one *Error per bad input, in the order of the
// groups below. extraGitHubRegistries lets tests stand a local registry in
// for GitHub's; no input or environment variable reaches it.
func Read(gha *githubactions.Action, extraGitHubRegistries ...string) (Inputs, error) {
	ctx, err := readContext(gha)
	if err != nil {
		return Inputs{}, err
	}
	in := Inputs{Context: ctx, extraGitHubRegistries: extraGitHubRegistries}
	var bad problems
	in.readImage(gha, &bad)
	in.readMetadata(gha, &bad)
	in.readCredentials(gha)
	in.readPush(gha, &bad)
	in.readRegistryAuth(gha, &bad)
	in.readPolicies(gha, &bad)
	in.checkToken(&bad)
	return in, errors.Join(bad...)
}

// problems collects the bad inputs, so that Read reports them all at once.
type problems []error

func (p *problems) add(err error) {
	if err != nil {
		*p = append(*p, err)
	}
}

// readImage reads what to publish and where: source, image, tags and flavor.
func (in *Inputs) readImage(gha *githubactions.Action, bad *problems) {
	var err error
	in.readDestinations(gha, bad)
	// GetInput trims, which would eat meaningful whitespace only at the ends
	// of multi-line values: each line is trimmed again anyway. Bare digests
	// in source resolve against the (primary) image, so it comes first.
	if v := gha.GetInput("source"); v != "" {
		in.Sources, err = ParseSources(v, in.Context.Workspace, in.Image)
		bad.add(err)
	}
	in.Tags, in.Flavor = gha.GetInput("tags"), gha.GetInput("flavor")
}

// readDestinations reads where to publish: images, several destinations,
// or image, one (derived from the context when neither is given).
func (in *Inputs) readDestinations(gha *githubactions.Action, bad *problems) {
	var err error
	image := gha.GetInput("image")
	if v := gha.GetInput("images"); v != "" {
		in.Images, in.ImageLowercased, err = parseImages(v, in.Context)
		bad.add(err)
		if image != "" {
			bad.add(errorf("images", "is set, and so is image; list every destination in images (the first is the primary) and remove image"))
		}
		if len(in.Images) > 0 {
			in.Image = in.Images[0]
			return
		}
		if err != nil || image != "" {
			return
		}
		// Only comments: as if images were not given.
	}
	in.Image, in.ImageDerived, in.ImageLowercased, err = parseImage(image, in.Context)
	bad.add(err)
}

// readMetadata reads the metadata to stamp: labels, annotations,
// description, licenses and source-url.
func (in *Inputs) readMetadata(gha *githubactions.Action, bad *problems) {
	var err error
	in.Labels, err = ParseKeyValues("labels", gha.GetInput("labels"))
	bad.add(err)
	in.Annotations, err = ParseKeyValues("annotations", gha.GetInput("annotations"))
	bad.add(err)
	for _, kv := range in.Annotations {
		if kv.Value == "" {
			bad.add(errorf("annotations", "%q has no value; give key=value (an empty value is only meaningful in labels, where it removes the label)", truncate(kv.Key, 60)))
		}
	}
	if v := gha.GetInput("description"); v != "" {
		in.Description = Optional{Value: v, Set: true}
		if n := utf8.RuneCountInString(v); n > MaxDescription {
			bad.add(errorf("description", "is %d characters; ghcr.io shows at most %d, shorten it", n, MaxDescription))
		}
		if strings.ContainsRune(v, 0) {
			bad.add(errorf("description", "contains a NUL character; remove it"))
		}
	}
	if v := gha.GetInput("licenses"); v != "" {
		in.Licenses, err = parseLicenses(v)
		bad.add(err)
	}
	if v := gha.GetInput("source-url"); v != "" {
		in.SourceURL = Optional{Value: v, Set: true}
		in.checkSourceURL(v, bad)
	}
}

// checkSourceURL refuses a source-url that is not an http(s) URL, and warns
// about one that ghcr.io would not link.
func (in *Inputs) checkSourceURL(v string, bad *problems) {
	u, err := url.Parse(v)
	switch {
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		bad.add(errorf("source-url", "%q is not an http(s) URL; give the repository's address, e.g. %s/OWNER/REPO", truncate(v, 80), in.Context.ServerURL))
	case strings.HasSuffix(v, ".git"):
		// docker/build-push-action#221: ghcr.io does not link a package
		// whose source label ends in .git.
		in.Warnings = append(in.Warnings, errorf("source-url", "%q ends in .git, which stops ghcr.io from linking the package to the repository; drop the .git", truncate(v, 120)))
	}
}

// readCredentials reads token, password and username, which any value
// passes: the registry is the judge.
func (in *Inputs) readCredentials(gha *githubactions.Action) {
	in.Token = gha.GetInput("token")
	in.Password = gha.GetInput("password")
	in.Username = gha.GetInput("username")
	if in.Username == "" {
		in.Username = in.Context.Actor
	}
	if in.Username == "" {
		// ghcr.io accepts any non-empty user name with a token.
		in.Username = "github-actions"
	}
}

// readPush reads how the image is written: push (auto resolved against the
// token, so after readCredentials), require-public and push-by-digest.
func (in *Inputs) readPush(gha *githubactions.Action, bad *problems) {
	var err error
	in.PushMode, err = parsePushMode(gha.GetInput("push"))
	bad.add(err)
	in.Push = in.PushMode != PushFalse
	if in.PushMode == PushAuto && len(in.Sources) > 0 {
		in.PushSkipped = in.TokenReadOnly()
		in.Push = in.PushSkipped == ""
	}
	in.RequirePublic, err = parseBool("require-public", gha.GetInput("require-public"), false)
	bad.add(err)
	// With push-by-digest, tags write nothing: they only decide the version
	// (org.opencontainers.image.version), so that matrix legs given the
	// merge job's tags stamp what the merge job stamps.
	in.PushByDigest, err = parseBool("push-by-digest", gha.GetInput("push-by-digest"), false)
	bad.add(err)
}

// readPolicies reads what the result must hold and what follows the push:
// platforms, attestations, link-check, prune and prune-min-age.
func (in *Inputs) readPolicies(gha *githubactions.Action, bad *problems) {
	var err error
	if v := gha.GetInput("platforms"); v != "" {
		in.Platforms, err = ParsePlatforms(v)
		bad.add(err)
	}
	in.Attestations, err = parseAttestations(gha.GetInput("attestations"))
	bad.add(err)
	in.LinkCheck, err = parseLinkCheck(gha.GetInput("link-check"))
	bad.add(err)
	in.Prune, err = parsePrune(gha.GetInput("prune"))
	bad.add(err)
	in.PruneMinAge, err = ParseAge("prune-min-age", gha.GetInput("prune-min-age"))
	bad.add(err)
}

// checkToken refuses a token that cannot do what the other inputs ask:
// none where a push to GitHub's registry needs one, or a kind GitHub
// Packages does not accept.
func (in *Inputs) checkToken(bad *problems) {
	// Outside Actions the Docker config may hold credentials instead.
	if host := in.gitHubDestination(); in.Context.InActions && in.Push && len(in.Sources) > 0 && in.Token == "" && host != "" {
		bad.add(errorf("token", "is empty, and pushing to %s needs one; pass token: ${{ github.token }} and give the job permissions: packages: write", host))
	}
	if in.usesGitHubRegistry() && strings.HasPrefix(in.Token, fineGrainedPrefix) {
		// Checked by prefix, so the token goes nowhere to find out.
		bad.add(errorf("token", "is a fine-grained personal access token (github_pat_…), which GitHub Packages does not accept; use token: ${{ github.token }} with permissions: packages: write, or a classic personal access token (ghp_…) with the write:packages scope"))
	}
}

// Token prefixes GitHub gives its tokens (GitHub blog, "Behind GitHub's new
// authentication token formats"). GitHub Packages accepts GITHUB_TOKEN
// (ghs_) and classic personal access tokens (ghp_), not fine-grained ones
// (GitHub docs, "About permissions for GitHub Packages").
const (
	fineGrainedPrefix = "github_pat_"
	classicPATPrefix  = "ghp_"
)

// usesGitHubRegistry reports whether the run sends the token to one of
// GitHub's registries: to publish there, or to read a source from there.
func (in Inputs) usesGitHubRegistry() bool {
	if len(in.Sources) == 0 {
		return false
	}
	if in.gitHubDestination() != "" {
		return true
	}
	for _, src := range in.Sources {
		// Reference is set for every source read from a registry.
		if src.Reference != nil && in.IsGitHubRegistry(src.Reference.Context().RegistryStr()) {
			return true
		}
	}
	return false
}

// TokenReadOnly says why the token cannot write a destination in this run,
// or "" when it can or nothing says otherwise. Only GITHUB_TOKEN is
// read-only in a fork's pull request or a Dependabot run: a classic
// personal access token (from Dependabot secrets, say) writes as its
// owner, and a registry that is not GitHub's gets its own credentials,
// not the token. One destination the token cannot write is enough: a
// publish goes to all of them or to none.
func (in Inputs) TokenReadOnly() string {
	if in.gitHubDestination() == "" || strings.HasPrefix(in.Token, classicPATPrefix) {
		return ""
	}
	return in.Context.ReadOnlyToken()
}

// Destinations are the repositories the run publishes to, in order: the
// images input's, or Image alone. The first is Image, the primary: the one
// the outputs, the package link and prune are about.
func (in Inputs) Destinations() []name.Repository {
	if len(in.Images) > 0 {
		return in.Images
	}
	if in.Image.RegistryStr() == "" {
		return nil
	}
	return []name.Repository{in.Image}
}

// gitHubDestination is the registry of the first destination on GitHub's
// registry, "" when none is.
func (in Inputs) gitHubDestination() string {
	for _, d := range in.Destinations() {
		if in.IsGitHubRegistry(d.RegistryStr()) {
			return d.RegistryStr()
		}
	}
	return ""
}

// legacyRegistry reports whether host is GitHub's old Docker registry:
// docker.pkg.github.com, or docker.HOST on GitHub Enterprise Server (GitHub
// docs, "Migrating to the Container registry from the Docker registry").
func legacyRegistry(host string, ctx Context) bool {
	host = strings.ToLower(host)
	if host == "docker.pkg.github.com" {
		return true
	}
	server := ctx.ServerHost()
	return server != "" && server != "github.com" && host == "docker."+server
}

// migratedName is where the migration put an image:
// docker.pkg.github.com/OWNER/REPO/IMAGE became ghcr.io/OWNER/IMAGE.
func migratedName(repo name.Repository, ctx Context) string {
	parts := strings.Split(repo.RepositoryStr(), "/")
	if len(parts) >= 3 {
		parts = append(parts[:1], parts[len(parts)-1])
	}
	return ctx.Registry() + "/" + strings.Join(parts, "/")
}

// parseBool reads a boolean input; empty means def.
func parseBool(input, v string, def bool) (bool, error) {
	switch strings.ToLower(v) {
	case "":
		return def, nil
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return def, errorf(input, "%q is not a boolean; use true or false", v)
}

// GitHubRegistries are the registry hosts that may receive the token: this
// run's GitHub's, and the hosts tests stand in for them. The rule is
// credentials'; inputs only asks it.
func (in Inputs) GitHubRegistries() credentials.Hosts {
	return credentials.GitHubRegistries(in.Context.ServerURL, in.extraGitHubRegistries...)
}

// IsGitHubRegistry reports whether host is one of GitHubRegistries.
func (in Inputs) IsGitHubRegistry(host string) bool {
	return in.GitHubRegistries().Contains(host)
}

// parseImage validates the image input, or derives the default
// <registry>/<owner>/<repo> from the context.
func parseImage(v string, ctx Context) (repo name.Repository, derived, lowercased bool, err error) {
	if v == "" {
		if ctx.Repository() == "" {
			return name.Repository{}, true, false, errorf("image", "is empty and GITHUB_REPOSITORY is not set; give the destination, e.g. ghcr.io/OWNER/NAME")
		}
		full := ctx.Registry() + "/" + ctx.Repository()
		lower := strings.ToLower(full)
		repo, err := name.NewRepository(lower, name.StrictValidation)
		if err != nil {
			return name.Repository{}, true, false, errorf("image", "cannot derive a repository name from %q: %v; set image explicitly", full, err)
		}
		return repo, true, lower != full, nil
	}
	repo, lowercased, err = parseRepository("image", v, ctx)
	return repo, false, lowercased, err
}

// parseRepository validates a destination repository given in input:
// no tag or digest, no empty path component, lower-cased if it must be,
// not GitHub's retired registry, and an owner on GitHub's.
func parseRepository(input, v string, ctx Context) (repo name.Repository, lowercased bool, err error) {
	if strings.ContainsAny(v, "@") {
		return name.Repository{}, false, errorf(input, "%q has a digest; give the repository only, e.g. %s", truncate(v, 80), truncate(strings.SplitN(v, "@", 2)[0], 80))
	}
	if i := strings.LastIndex(v, ":"); i > strings.LastIndex(v, "/") {
		return name.Repository{}, false, errorf(input, "%q has a tag; give the repository only (%s) and put %q in tags", truncate(v, 80), truncate(v[:i], 80), truncate(v[i+1:], 40))
	}
	if strings.HasPrefix(v, "/") || strings.HasSuffix(v, "/") || strings.Contains(v, "//") {
		// go-containerregistry accepts ghcr.io//acme/widget, and a
		// registry may store it under a name no one meant.
		return name.Repository{}, false, errorf(input, "%q has an empty path component; give REGISTRY/OWNER/NAME with no leading, trailing or doubled /, e.g. %s", truncate(v, 80), truncate(strings.Trim(strings.Join(strings.FieldsFunc(v, func(r rune) bool { return r == '/' }), "/"), "/"), 80))
	}
	// A bare OWNER/NAME means GitHub's registry here, not Docker Hub: this
	// action publishes to GitHub.
	ref := v
	if _, _, ok := cutRegistryHost(v); !ok {
		ref = ctx.Registry() + "/" + v
	}
	repo, err = name.NewRepository(ref, name.StrictValidation)
	if err != nil {
		// Registries refuse capitals, and ghcr.io/${{ github.repository }}
		// has them whenever the owner or repository does: lower-case it
		// (the plan says so in a notice) rather than fail the run.
		lower := strings.ToLower(ref)
		if lower == ref {
			return name.Repository{}, false, errorf(input, "%q is not a valid repository name (lower-case letters, digits, and . _ - / separators), e.g. ghcr.io/OWNER/NAME", truncate(v, 80))
		}
		if repo, err = name.NewRepository(lower, name.StrictValidation); err != nil {
			return name.Repository{}, false, errorf(input, "%q is not a valid repository name, even lower-cased (lower-case letters, digits, and . _ - / separators), e.g. ghcr.io/OWNER/NAME", truncate(v, 80))
		}
		lowercased = true
	}
	if legacy := legacyRegistry(repo.RegistryStr(), ctx); legacy {
		return name.Repository{}, false, errorf(input, "%s is GitHub's retired Docker registry, replaced by %s; use %s", repo.RegistryStr(), ctx.Registry(), truncate(migratedName(repo, ctx), 120))
	}
	if repo.RepositoryStr() == "" || !strings.Contains(repo.RepositoryStr(), "/") && repo.RegistryStr() == ctx.Registry() {
		return name.Repository{}, false, errorf(input, "%q names no owner; GitHub's registry needs %s/OWNER/NAME", truncate(v, 80), repo.RegistryStr())
	}
	return repo, lowercased, nil
}

// cutRegistryHost splits a name whose first component is a registry host
// — it has a dot or a port, or is localhost, as the distribution reference
// grammar tells a host from a path component — into the host and the rest.
// ok is false when the name has no such host.
func cutRegistryHost(v string) (host, rest string, ok bool) {
	host, rest, found := strings.Cut(v, "/")
	if !found || !(strings.ContainsAny(host, ".:") || host == "localhost") {
		return "", v, false
	}
	return host, rest, true
}
