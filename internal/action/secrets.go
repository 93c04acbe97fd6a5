package action

import (
	"encoding/base64"
	"strings"

	"github.com/ghcr-publish/publish-action/internal/inputs"
)

// secrets are values that must never be printed, in every form a server
// could echo them back in: as given, and inside Basic credentials. The
// runner masks what ::add-mask:: registers in the log, but not in errors we
// return through other channels, nor in the forms a registry invents.
type secrets []string

func newSecrets(in inputs.Inputs) secrets {
	var s secrets
	for _, v := range []string{in.Token, in.Password} {
		if len(v) < 4 {
			// Too short to redact without mangling ordinary text; such a
			// value protects nothing anyway.
			continue
		}
		basic := base64.StdEncoding.EncodeToString([]byte(in.Username + ":" + v))
		s = append(s, v, basic, base64.StdEncoding.EncodeToString([]byte(v)))
	}
	return s
}

func (s secrets) redact(msg string) string {
	for _, v := range s {
		msg = strings.ReplaceAll(msg, v, "***")
	}
	return msg
}

// redactErr keeps err's chain for errors.As, with a message cleared of
// secrets.
func (s secrets) redactErr(err error) error {
	if err == nil {
		return nil
	}
	if msg := s.redact(err.Error()); msg != err.Error() {
		return &redactedError{msg: msg, err: err}
	}
	return err
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
