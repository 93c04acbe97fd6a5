// Package credentials decides which registry host gets which credentials.
// Its one rule is the action's security promise: the GitHub token goes to
// GitHub's registries and nowhere else.
package credentials

import (
	"context"
	"encoding/base64"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

// Keychain resolves credentials per registry host: the one table of who
// gets what, which Resolve answers from and Transport enforces on every
// request.
type Keychain struct {
	// GitHubHosts are the registry hosts that get Username and Token, and
	// nothing else.
	GitHubHosts []string
	Username    string
	Token       string
	// Logins are the credentials of registries that are not GitHub's, one
	// per registry (RegistryName): each goes to its own registry alone,
	// and for Docker Hub to its other names and its token service
	// (CredentialHosts). A login for one of GitHubHosts is never used
	// (those get the token), nor one whose password is the token: the
	// token goes to GitHub's registries and nowhere else.
	Logins []Login
	// Fallback, when set, answers for every host the rules above leave
	// without credentials: the user's Docker config, outside Actions.
	// Transport lets what it gives a host go to that host only.
	Fallback authn.Keychain
}

// Login is one registry's credentials, as docker/login-action's
// registry-auth entries give them.
type Login struct {
	// Registry is the registry's host (and port), e.g. quay.io; any of
	// Docker Hub's names means Docker Hub.
	Registry string
	Username string
	Password string
}

// Resolve implements authn.Keychain. Hosts it has nothing for get anonymous
// access, never a credential meant for another host.
func (k Keychain) Resolve(target authn.Resource) (authn.Authenticator, error) {
	if auth := k.fixed(target.RegistryStr()); auth != nil {
		return auth, nil
	}
	return k.fallback(target)
}

// HasCredentials reports whether Resolve gives registry credentials: the
// token for one of GitHub's, a login, or what Fallback holds for it. When
// it does not, a registry's 401 means none were sent, and the fix is to
// give some (registry-auth), not to correct them.
func (k Keychain) HasCredentials(registry string) bool {
	if k.fixed(registry) != nil {
		return true
	}
	if k.Fallback == nil {
		return false
	}
	reg, err := name.NewRegistry(registry, name.Insecure)
	if err != nil {
		return false
	}
	auth, err := k.Fallback.Resolve(reg)
	return err == nil && auth != authn.Anonymous
}

// fixed is what the inputs give host (the token, a login), or nil when it
// is left to the fallback.
func (k Keychain) fixed(host string) authn.Authenticator {
	if Hosts(k.GitHubHosts).Contains(host) {
		if k.Token == "" {
			return nil
		}
		// Basic credentials, which go-containerregistry exchanges for a
		// bearer token at ghcr.io/token; a raw RegistryToken would skip
		// that exchange and be refused.
		return &authn.Basic{Username: k.Username, Password: k.Token}
	}
	if l, ok := k.login(host); ok {
		return &authn.Basic{Username: l.Username, Password: l.Password}
	}
	return nil
}

// login is the usable login for registry: its password set and not the
// token.
func (k Keychain) login(registry string) (Login, bool) {
	want := RegistryName(registry)
	for _, l := range k.Logins {
		if l.Password != "" && !k.isToken(l.Password) && RegistryName(l.Registry) == want {
			return l, true
		}
	}
	return Login{}, false
}

func (k Keychain) isToken(secret string) bool { return k.Token != "" && secret == k.Token }

// fallbackGrants are the credentials Fallback holds for host, granted to
// host alone (and so to a token realm on host), or to Docker Hub's hosts
// (see CredentialHosts): the Docker config keys each credential by its
// registry, and a realm elsewhere is not it.
func (k Keychain) fallbackGrants(ctx context.Context, host string) []Grant {
	if k.fixed(host) != nil {
		return nil
	}
	reg, err := name.NewRegistry(host, name.Insecure)
	if err != nil {
		return nil
	}
	auth, err := k.fallback(reg)
	if err != nil {
		return nil
	}
	cfg, err := authn.Authorization(ctx, auth)
	if err != nil {
		return nil
	}
	secrets := []string{cfg.Password, cfg.IdentityToken, cfg.RegistryToken, cfg.Auth}
	if raw, err := base64.StdEncoding.DecodeString(cfg.Auth); err == nil {
		// "auth" is base64 of USER:PASSWORD (Docker's config.json).
		if _, password, ok := strings.Cut(string(raw), ":"); ok {
			secrets = append(secrets, password)
		}
	}
	var grants []Grant
	for _, secret := range secrets {
		if secret != "" {
			grants = append(grants, Grant{Secret: secret, Hosts: CredentialHosts(host), What: "the Docker config's credentials for " + host})
		}
	}
	return grants
}

func (k Keychain) fallback(target authn.Resource) (authn.Authenticator, error) {
	if k.Fallback == nil {
		return authn.Anonymous, nil
	}
	return k.Fallback.Resolve(target)
}
