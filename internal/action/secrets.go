package action

import (
	"github.com/ghcr-publish/publish-action/internal/credentials"
	"github.com/ghcr-publish/publish-action/internal/inputs"
)

// secrets are the token and every password in every form a server could
// echo them back in; credentials owns which forms those are, inputs which
// secrets the run holds.
type secrets struct{ credentials.Secrets }

func newSecrets(in inputs.Inputs) secrets {
	return secrets{in.Secrets()}
}

func (s secrets) redact(msg string) string { return s.Redact(msg) }

// redactErr keeps err's chain for errors.As, and its parts for unpacking,
// with every message cleared of secrets.
func (s secrets) redactErr(err error) error { return s.RedactErr(err) }
