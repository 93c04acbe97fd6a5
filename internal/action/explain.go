package action

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/ghcr-publish/publish-action/internal/linkcheck"
)

// denial is what is known about a refused push, to choose the advice.
type denial struct {
	registry   string
	github     bool
	fromFork   bool
	repository string             // OWNER/REPO publishing
	pkg        *linkcheck.Package // nil when not a GitHub registry
	// exists says whether the package existed before this push; nil when
	// the API could not tell.
	exists *bool
}

// explain adds what to do to a registry's refusal. It inspects the typed
// error go-containerregistry returns, never the message text.
func explain(err error, d denial) error {
	var terr *transport.Error
	if !errors.As(err, &terr) {
		return err
	}
	denied := terr.StatusCode == http.StatusForbidden
	unauthorized := terr.StatusCode == http.StatusUnauthorized
	for _, e := range terr.Errors {
		denied = denied || e.Code == transport.DeniedErrorCode
		unauthorized = unauthorized || e.Code == transport.UnauthorizedErrorCode
	}
	switch {
	case !denied && !unauthorized:
		return err
	case !d.github && unauthorized:
		return fmt.Errorf("%w; %s refused the credentials: check username and password", err, d.registry)
	case !d.github:
		return fmt.Errorf("%w; %s denied the push: check that username may write this repository", err, d.registry)
	case d.fromFork:
		return fmt.Errorf("%w; this is a pull request from a fork, whose GITHUB_TOKEN is read-only: publish from a push or workflow_run event instead", err)
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
