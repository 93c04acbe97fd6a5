package credentials

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/url"
	"slices"
	"strings"
)

// Secrets are the values that must never be printed, in every form a
// server could echo them back in: as given, inside Basic credentials,
// base64-, URL- and hex-encoded. The runner masks only what ::add-mask::
// registers, so every form is registered, and errors returned through
// other channels are redacted too.
type Secrets struct {
	forms []string
}

// minSecret is the shortest value redacted: anything shorter would mangle
// ordinary text, and protects nothing anyway.
const minSecret = 4

// NewSecrets lists the forms of values as user's credentials.
func NewSecrets(user string, values ...string) Secrets {
	return Secrets{}.With(user, values...)
}

// With is s and the forms of values as user's credentials: a run holds
// several users' (the token's, each registry login's), and each Basic form
// pairs a password with its own user.
func (s Secrets) With(user string, values ...string) Secrets {
	out := Secrets{forms: slices.Clone(s.forms)}
	seen := map[string]bool{}
	for _, f := range s.forms {
		seen[f] = true
	}
	add := func(v string) {
		if len(v) >= minSecret && !seen[v] {
			seen[v] = true
			out.forms = append(out.forms, v)
		}
	}
	for _, v := range values {
		if len(v) < minSecret {
			continue
		}
		add(v)
		for _, raw := range []string{user + ":" + v, v} {
			add(base64.StdEncoding.EncodeToString([]byte(raw)))
			add(base64.RawStdEncoding.EncodeToString([]byte(raw)))
			add(base64.URLEncoding.EncodeToString([]byte(raw)))
			add(base64.RawURLEncoding.EncodeToString([]byte(raw)))
		}
		add(url.QueryEscape(v))
		add(url.PathEscape(v))
		add(hex.EncodeToString([]byte(v)))
		add(strings.ToUpper(hex.EncodeToString([]byte(v))))
	}
	// Longest first, so a form containing another is replaced whole.
	sortByLength(out.forms)
	return out
}

// Forms are the values to mask, longest first.
func (s Secrets) Forms() []string { return s.forms }

// Redact replaces every form of every secret in msg with ***.
func (s Secrets) Redact(msg string) string {
	for _, v := range s.forms {
		msg = strings.ReplaceAll(msg, v, "***")
	}
	return msg
}

// RedactErr returns err with its message cleared of secrets. A joined
// error stays joined, each part redacted on its own, so a caller that
// unpacks it (one annotation per bad input) still shows only redacted
// text; every part keeps its chain for errors.As.
func (s Secrets) RedactErr(err error) error {
	if err == nil {
		return nil
	}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		parts := joined.Unwrap()
		redacted := make([]error, len(parts))
		changed := false
		for i, p := range parts {
			redacted[i] = s.RedactErr(p)
			changed = changed || redacted[i] != p
		}
		if changed {
			return &redactedJoin{errs: redacted}
		}
		return err
	}
	if msg := s.Redact(err.Error()); msg != err.Error() {
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

// redactedJoin is errors.Join's shape over redacted parts.
type redactedJoin struct{ errs []error }

func (e *redactedJoin) Error() string   { return errors.Join(e.errs...).Error() }
func (e *redactedJoin) Unwrap() []error { return e.errs }

func sortByLength(v []string) {
	for i := 1; i < len(v); i++ {
		for j := i; j > 0 && len(v[j]) > len(v[j-1]); j-- {
			v[j], v[j-1] = v[j-1], v[j]
		}
	}
}
