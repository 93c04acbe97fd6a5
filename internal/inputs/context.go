package inputs

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sethvargo/go-githubactions"

	"github.com/ghcr-publish/publish-action/internal/credentials"
)

// Context is what the workflow run tells us about itself: the GitHub host, the
// repository and the commit being built.
type Context struct {
	ServerURL string // e.g. https://github.com, no trailing slash
	APIURL    string // e.g. https://api.github.com, no trailing slash
	Owner     string // repository owner as GitHub spells it, e.g. "Acme"
	Repo      string // repository name as GitHub spells it, e.g. "Widget"
	OwnerType string // "User" or "Organization" when the event payload says so
	SHA       string
	Ref       string // e.g. refs/heads/main, refs/tags/v1.2.3, refs/pull/42/merge
	EventName string
	Actor     string
	Workspace string // where relative source paths resolve

	// SourceDateEpoch is SOURCE_DATE_EPOCH when set: the reproducible-builds
	// convention for "the time this source was last changed".
	SourceDateEpoch *time.Time
	// CommitTime is the head commit's timestamp from the event payload, when
	// the event carries one (push events do, pull requests do not).
	CommitTime *time.Time
	// InActions is true inside a GitHub Actions run (GITHUB_ACTIONS=true).
	InActions bool
	// DockerHost is DOCKER_HOST: where the Docker engine listens, for
	// docker-daemon sources; empty means the socket the runner mounts.
	DockerHost string
	// Head is where a pull request's head branch lives, as far as the
	// event payload proves it; HeadUnproven says what the payload lacks
	// when Head is Unproven.
	Head         HeadOrigin
	HeadUnproven string
	// FromFork is true for a pull request from a fork, whose GITHUB_TOKEN is
	// read-only whatever the workflow asks (GitHub docs, "Automatic token
	// authentication"), and for one whose payload does not prove its head
	// is this repository (Head is Fork or Unproven): every decision that
	// trusts the head reads this.
	FromFork bool
	// Dependabot is true for a run Dependabot triggered (the actor is
	// dependabot[bot]): its GITHUB_TOKEN is read-only as a fork's is
	// (GitHub docs, "Automating Dependabot with GitHub Actions").
	Dependabot bool
	// RepoVisibility is the repository's visibility as the event payload
	// states it: "public", "private" or "internal"; empty when it does not.
	RepoVisibility string

	// Event is what the tag rules read from the payload, as
	// docker/metadata-action does.
	Event EventInfo
	// Now is when the context was read: what {{date}} formats when
	// SOURCE_DATE_EPOCH is not set.
	Now time.Time
}

// EventInfo is what docker/metadata-action's tag rules read from the event
// payload and its environment variables.
type EventInfo struct {
	// DefaultBranch is the payload's repository.default_branch.
	DefaultBranch string
	// BaseRef is the payload's base_ref (a push) or merge_group.base_ref.
	BaseRef string
	// PRNumber is the payload's number, for pull_request_target's ref.
	PRNumber int
	// PRBaseRef, PRHeadRef and PRHeadSHA are the pull request's branches
	// and head commit.
	PRBaseRef, PRHeadRef, PRHeadSHA string
	// UsePRHeadSHA is DOCKER_METADATA_PR_HEAD_SHA=true: the rules and the
	// revision label use the pull request's head commit.
	UsePRHeadSHA bool
	// ShortSHALength is DOCKER_METADATA_SHORT_SHA_LENGTH; 0 means 7.
	ShortSHALength int
}

// dependabotActor is the login Dependabot's runs carry in GITHUB_ACTOR.
const dependabotActor = "dependabot[bot]"

// dependabotReadOnly are the events whose GITHUB_TOKEN is read-only when
// Dependabot triggers them (GitHub docs, "Troubleshooting Dependabot on
// GitHub Actions").
var dependabotReadOnly = map[string]bool{
	"pull_request": true, "pull_request_review": true, "pull_request_review_comment": true,
	"push": true, "create": true, "deployment": true, "deployment_status": true,
}

// ReadOnlyToken says why GITHUB_TOKEN cannot write packages in this run, or
// "" when nothing says so. pull_request_target runs in the base repository
// with its token, which may write, fork or not.
func (c Context) ReadOnlyToken() string {
	switch {
	case c.FromFork && c.EventName != "pull_request_target" && c.Head == Unproven:
		return "the event payload does not prove this pull request comes from this repository (" + c.HeadUnproven + "), so GITHUB_TOKEN is taken to be read-only, as a fork's is"
	case c.FromFork && c.EventName != "pull_request_target":
		return "this is a pull request from a fork, whose GITHUB_TOKEN is read-only"
	case c.Dependabot && dependabotReadOnly[c.EventName]:
		return "this run was triggered by Dependabot, whose GITHUB_TOKEN is read-only"
	}
	return ""
}

// Repository returns "owner/repo", or "" outside a workflow.
func (c Context) Repository() string {
	if c.Owner == "" || c.Repo == "" {
		return ""
	}
	return c.Owner + "/" + c.Repo
}

// ServerHost is the host of ServerURL, e.g. "github.com".
func (c Context) ServerHost() string {
	return credentials.ServerHost(c.ServerURL)
}

// Registry is the Container registry that belongs to the GitHub host:
// ghcr.io for github.com, containers.HOST for GitHub Enterprise Server with
// subdomain isolation and for GHE.com (GitHub docs, "Working with the
// Container registry").
func (c Context) Registry() string {
	host := c.ServerHost()
	if host == "" || host == "github.com" {
		return "ghcr.io"
	}
	return "containers." + host
}

// readContext collects the workflow context through gha, so that every
// environment read goes through its injected getenv.
func readContext(gha *githubactions.Action) (Context, error) {
	ghc, err := gha.Context()
	if err != nil {
		return Context{}, fmt.Errorf("reading the workflow context: %w", err)
	}
	c := Context{
		ServerURL:  strings.TrimSuffix(ghc.ServerURL, "/"),
		APIURL:     strings.TrimSuffix(ghc.APIURL, "/"),
		SHA:        ghc.SHA,
		Ref:        ghc.Ref,
		EventName:  ghc.EventName,
		Actor:      ghc.Actor,
		Workspace:  ghc.Workspace,
		InActions:  ghc.Actions,
		Dependabot: strings.EqualFold(ghc.Actor, dependabotActor),
		DockerHost: strings.TrimSpace(gha.Getenv("DOCKER_HOST")),
		Now:        time.Now().UTC(),
	}
	if ghc.Repository != "" {
		owner, repo, ok := strings.Cut(ghc.Repository, "/")
		if !ok || owner == "" || repo == "" || strings.Contains(repo, "/") {
			return Context{}, &Error{Input: "GITHUB_REPOSITORY", Msg: fmt.Sprintf("%q is not OWNER/REPO; it is set by the runner, do not override it", ghc.Repository)}
		}
		c.Owner, c.Repo = owner, repo
	}
	readRepositoryPayload(&c, ghc.Event)
	readRefsPayload(&c, ghc.Event)
	readPullRequestPayload(&c, ghc.Event)
	c.CommitTime = headCommitTime(ghc.Event)
	if err := readMetadataEnv(&c, gha); err != nil {
		return Context{}, err
	}
	return c, nil
}

// readRepositoryPayload reads the payload's repository object: the owner's
// type, the visibility and the default branch.
func readRepositoryPayload(c *Context, event map[string]any) {
	repo, ok := event["repository"].(map[string]any)
	if !ok {
		return
	}
	if owner, ok := repo["owner"].(map[string]any); ok {
		c.OwnerType, _ = owner["type"].(string)
	}
	// visibility is newer than private, and alone tells internal
	// (GitHub Enterprise) from private.
	c.RepoVisibility, _ = repo["visibility"].(string)
	if private, ok := repo["private"].(bool); ok && c.RepoVisibility == "" {
		c.RepoVisibility = "public"
		if private {
			c.RepoVisibility = "private"
		}
	}
	c.Event.DefaultBranch, _ = repo["default_branch"].(string)
}

// readRefsPayload reads the refs the tag rules compare with: a push's
// base_ref, a merge queue's, and the pull request's number.
func readRefsPayload(c *Context, event map[string]any) {
	c.Event.BaseRef, _ = event["base_ref"].(string)
	if mg, ok := event["merge_group"].(map[string]any); ok {
		c.Event.BaseRef, _ = mg["base_ref"].(string)
	}
	if n, ok := event["number"].(float64); ok {
		c.Event.PRNumber = int(n)
	}
}

// readPullRequestPayload reads the pull request's branches and where its
// head lives. The head's branch name is read whatever the origin: the tag
// rules decide what a fork's may do (plan's tagContext).
func readPullRequestPayload(c *Context, event map[string]any) {
	c.Head, c.HeadUnproven = headOrigin(c.EventName, event)
	c.FromFork = c.Head == Fork || c.Head == Unproven
	pr, ok := event["pull_request"].(map[string]any)
	if !ok {
		return
	}
	head, _ := pr["head"].(map[string]any)
	base, _ := pr["base"].(map[string]any)
	c.Event.PRHeadRef, _ = head["ref"].(string)
	c.Event.PRHeadSHA, _ = head["sha"].(string)
	c.Event.PRBaseRef, _ = base["ref"].(string)
}

// headCommitTime is the head commit's timestamp, which push events carry.
func headCommitTime(event map[string]any) *time.Time {
	head, ok := event["head_commit"].(map[string]any)
	if !ok {
		return nil
	}
	ts, _ := head["timestamp"].(string)
	t, err := time.Parse(time.RFC3339, ts)
	if err != nil {
		return nil
	}
	t = t.UTC()
	return &t
}

// readMetadataEnv reads docker/metadata-action's environment variables, so
// that a workflow that sets them gets the same tags here, and
// SOURCE_DATE_EPOCH.
func readMetadataEnv(c *Context, gha *githubactions.Action) error {
	c.Event.UsePRHeadSHA = strings.EqualFold(strings.TrimSpace(gha.Getenv("DOCKER_METADATA_PR_HEAD_SHA")), "true")
	if v := strings.TrimSpace(gha.Getenv("DOCKER_METADATA_SHORT_SHA_LENGTH")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 40 {
			return &Error{Input: "DOCKER_METADATA_SHORT_SHA_LENGTH", Msg: fmt.Sprintf("%q is not a length between 1 and 40; set it to e.g. 7, or unset it", v)}
		}
		c.Event.ShortSHALength = n
	}
	if v := strings.TrimSpace(gha.Getenv("SOURCE_DATE_EPOCH")); v != "" {
		secs, err := strconv.ParseInt(v, 10, 64)
		if err != nil || secs < 0 {
			return &Error{Input: "SOURCE_DATE_EPOCH", Msg: fmt.Sprintf("%q is not a count of seconds since 1970; set it to e.g. $(git log -1 --format=%%ct) or unset it", v)}
		}
		t := time.Unix(secs, 0).UTC()
		c.SourceDateEpoch = &t
	}
	return nil
}
