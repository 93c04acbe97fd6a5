package action

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/ghcr-publish/publish-action/internal/linkcheck"
	"github.com/ghcr-publish/publish-action/internal/registryhttp"
)

// denial is what is known about a refused push, to choose the advice.
type denial struct {
	registry string
	github   bool
	image    string // the destination repository, REGISTRY/OWNER/NAME
	// readOnly says why GITHUB_TOKEN cannot write in this run (a fork's
	// pull request, a Dependabot run), or "".
	readOnly   string
	repository string             // OWNER/REPO publishing
	pkg        *linkcheck.Package // nil when not a GitHub registry
	// exists says whether the package existed before this push; nil when
	// the API could not tell.
	exists *bool
	// credentials says the run sends the registry credentials
	// (credentials.Keychain.HasCredentials): without them, a 401 asks for
	// some, not for others.
	credentials bool
}

// explain adds what to do to a registry's refusal. It inspects the typed
// error go-containerregistry returns, never the message text.
func explain(err error, d denial) error {
	if registryhttp.Throttled(err) {
		// GitHub's secondary rate limit comes as 403 DENIED; no permission
		// is missing, and the retries have waited as long as they may.
		return fmt.Errorf("%w; %s is rate limiting this run, which is no permission problem: run the job again in a few minutes", err, d.registry)
	}
	var terr *transport.Error
	if !errors.As(err, &terr) {
		return err
	}
	denied := terr.StatusCode == http.StatusForbidden
	unauthorized := terr.StatusCode == http.StatusUnauthorized
	ownerGone := false
	for _, e := range terr.Errors {
		denied = denied || e.Code == transport.DeniedErrorCode
		unauthorized = unauthorized || e.Code == transport.UnauthorizedErrorCode
		ownerGone = ownerGone || e.Code == transport.DeniedErrorCode && ownerNotFound(e.Message)
	}
	switch {
	case !denied && !unauthorized:
		return err
	case !d.github && unauthorized && !d.credentials:
		return fmt.Errorf("%w; %s wants credentials and this run has none for it: add an entry for %s to registry-auth (registry, username, password)", err, d.registry, d.registry)
	case !d.github && unauthorized:
		return fmt.Errorf("%w; %s refused the credentials: check username and password", err, d.registry)
	case !d.github:
		return fmt.Errorf("%w; %s denied the push: check that username may write this repository", err, d.registry)
	case ownerGone:
		return fmt.Errorf("%w; %s", err, d.renamedOwner())
	case d.readOnly != "":
		return fmt.Errorf("%w; %s: leave push at auto (the default) to skip the registry writes in such runs, or publish from a push or workflow_run event", err, d.readOnly)
	case unauthorized:
		return fmt.Errorf("%w; %s refused the token, which is missing or invalid: pass token: ${{ github.token }} (the default), or a token with write:packages", err, d.registry)
	}
	permissions := "add permissions: { contents: read, packages: write } to the job (naming any permission sets the others to none)"
	connect := "connect the package to this repository"
	if d.pkg != nil {
		connect = fmt.Sprintf("in %s, under Manage Actions access, add %s with the Write role", d.pkg.SettingsURL, d.repository)
	}
	switch {
	case d.exists != nil && !*d.exists:
		return fmt.Errorf("%w; the package does not exist yet and the token may not create it: %s", err, permissions)
	case d.exists != nil:
		return fmt.Errorf("%w; the package already exists and this repository may not write it: %s (or %s if the job lacks it)", err, connect, permissions)
	}
	return fmt.Errorf("%w; the token may not write this package: %s, and if the package already exists, %s", err, permissions, connect)
}

// ownerNotFound reports whether a denial's message is ghcr.io's
// "not_found: owner not found": its messages are REASON: DETAIL, and this
// one is what the old name of a renamed user or organization answers.
func ownerNotFound(message string) bool {
	reason, detail, _ := strings.Cut(message, ":")
	return strings.TrimSpace(reason) == "not_found" && strings.TrimSpace(detail) == "owner not found"
}

// renamedOwner is the advice for an owner the registry does not know.
// Renaming a user or organization moves its packages to the new name, and
// the old one does not redirect.
func (d denial) renamedOwner() string {
	owner, pkgName := "", ""
	if _, path, ok := strings.Cut(d.image, "/"); ok {
		owner, pkgName, _ = strings.Cut(path, "/")
	}
	advice := fmt.Sprintf("%s has no owner named %q: an owner that was renamed takes its packages to the new name, and the old name does not redirect", d.registry, owner)
	current, _, _ := strings.Cut(d.repository, "/")
	if current != "" && !strings.EqualFold(current, owner) {
		return fmt.Sprintf("%s; publish under the repository's current owner, image: %s/%s/%s", advice, d.registry, strings.ToLower(current), pkgName)
	}
	return advice + "; set image to the owner's current name (pulls of the old name must change too)"
}
