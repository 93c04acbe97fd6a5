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
	// FromFork is true for a pull request from a fork, whose GITHUB_TOKEN is
	// read-only whatever the workflow asks (GitHub docs, "Automatic token
	// authentication").
	FromFork bool
	// Dependabot is true for a run Dependabot triggered (the actor is
	// dependabot[bot]): its GITHUB_TOKEN is read-only as a fork's is
	// (GitHub docs, "Automating Dependabot with GitHub Actions").
	Dependabot bool
	// RepoVisibility is the repository's visibility as the event payload
	// states it: "public", "private" or "internal"; empty when it does not.
	RepoVisibility string
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

// GitHubRegistries lists the registry hosts that may receive the token:
// exactly the registries of this run's GitHub (credentials owns the rule).
func (c Context) GitHubRegistries() credentials.Hosts {
	return credentials.GitHubRegistries(c.ServerURL)
}

// readContext collects the workflow context through gha, so that every
// environment read goes through its injected getenv.
func readContext(gha *githubactions.Action) (Context, error) {
	ghc, err := gha.Context()
	if err != nil {
		return Context{}, fmt.Errorf("reading the workflow context: %w", err)
	}
	c := Context{
		ServerURL: strings.TrimSuffix(ghc.ServerURL, "/"),
		APIURL:    strings.TrimSuffix(ghc.APIURL, "/"),
		SHA:       ghc.SHA,
		Ref:       ghc.Ref,
		EventName: ghc.EventName,
		Actor:     ghc.Actor,
		Workspace: ghc.Workspace,
		InActions: ghc.Actions,
	}
	if ghc.Repository != "" {
		owner, repo, ok := strings.Cut(ghc.Repository, "/")
		if !ok || owner == "" || repo == "" || strings.Contains(repo, "/") {
			return Context{}, &Error{Input: "GITHUB_REPOSITORY", Msg: fmt.Sprintf("%q is not OWNER/REPO; it is set by the runner, do not override it", ghc.Repository)}
		}
		c.Owner, c.Repo = owner, repo
	}
	if repo, ok := ghc.Event["repository"].(map[string]any); ok {
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
	}
	c.Dependabot = strings.EqualFold(ghc.Actor, dependabotActor)
	if pr, ok := ghc.Event["pull_request"].(map[string]any); ok {
		head, _ := pr["head"].(map[string]any)
		base, _ := pr["base"].(map[string]any)
		headRepo, _ := head["repo"].(map[string]any)
		baseRepo, _ := base["repo"].(map[string]any)
		if headRepo != nil && baseRepo != nil {
			fork, _ := headRepo["fork"].(bool)
			c.FromFork = fork || headRepo["full_name"] != baseRepo["full_name"]
		}
	}
	if head, ok := ghc.Event["head_commit"].(map[string]any); ok {
		if ts, ok := head["timestamp"].(string); ok {
			if t, err := time.Parse(time.RFC3339, ts); err == nil {
				t = t.UTC()
				c.CommitTime = &t
			}
		}
	}
	c.DockerHost = strings.TrimSpace(gha.Getenv("DOCKER_HOST"))
	if v := strings.TrimSpace(gha.Getenv("SOURCE_DATE_EPOCH")); v != "" {
		secs, err := strconv.ParseInt(v, 10, 64)
		if err != nil || secs < 0 {
			return Context{}, &Error{Input: "SOURCE_DATE_EPOCH", Msg: fmt.Sprintf("%q is not a count of seconds since 1970; set it to e.g. $(git log -1 --format=%%ct) or unset it", v)}
		}
		t := time.Unix(secs, 0).UTC()
		c.SourceDateEpoch = &t
	}
	return c, nil
}
