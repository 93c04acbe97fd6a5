package action

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// explain adds what to do to a registry's refusal. It inspects the typed
// error go-containerregistry returns, never the message text.
func explain(err error, registry string, github bool) error {
	var terr *transport.Error
	if !errors.As(err, &terr) {
		return err
	}
	denied := terr.StatusCode == http.StatusForbidden
	unauthorized := terr.StatusCode == http.StatusUnauthorized
	for _, d := range terr.Errors {
		denied = denied || d.Code == transport.DeniedErrorCode
		unauthorized = unauthorized || d.Code == transport.UnauthorizedErrorCode
	}
	switch {
	case unauthorized && github:
		return fmt.Errorf("%w; %s refused the token: pass token: ${{ github.token }} (the default) or a token with write:packages", err, registry)
	case unauthorized:
		return fmt.Errorf("%w; %s refused the credentials: check username and password", err, registry)
	case denied && github:
		return fmt.Errorf("%w; the token may not write this package: give the job permissions: { contents: read, packages: write }, and if the package already exists, connect it to this repository with Write role under Manage Actions access in the package's settings", err)
	case denied:
		return fmt.Errorf("%w; %s denied the push: check that username may write this repository", err, registry)
	}
	return err
}
