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

// Keychain resolves credentials per registry host.
type Keychain struct {
	// GitHubHosts are the registry hosts that get Username and Token.
	GitHubHosts []string
	Username    string
	Token       string
	// PasswordHost is the one non-GitHub registry that gets Username and
	// Password: the destination, when it is not GitHub's.
	PasswordHost string
	Password     string
	// Fallback, when set, answers for every host the rules above leave
	// without credentials: the user's Docker config, outside Actions.
	// Transport lets what it gives a host go to that host only.
	Fallback authn.Keychain
}

// Resolve implements authn.Keychain. Hosts it has nothing for get anonymous
// access, never a credential meant for another host.
func (k Keychain) Resolve(target authn.Resource) (authn.Authenticator, error) {
	if auth := k.fixed(target.RegistryStr()); auth != nil {
		return auth, nil
	}
	return k.fallback(target)
}

// fixed is what the inputs give host (the token, the password), or nil
// when it is left to the fallback.
func (k Keychain) fixed(host string) authn.Authenticator {
	host = strings.ToLower(host)
	for _, h := range k.GitHubHosts {
		if host == strings.ToLower(h) {
			if k.Token == "" {
				return nil
			}
			// Basic credentials, which go-containerregistry exchanges for a
			// bearer token at ghcr.io/token; a raw RegistryToken would skip
			// that exchange and be refused.
			return &authn.Basic{Username: k.Username, Password: k.Token}
		}
	}
	if k.Password != "" && host == strings.ToLower(k.PasswordHost) {
		return &authn.Basic{Username: k.Username, Password: k.Password}
	}
	return nil
}

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
