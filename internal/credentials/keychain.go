// Package credentials decides which registry host gets which credentials.
// Its one rule is the action's security promise: the GitHub token goes to
// GitHub's registries and nowhere else.
package credentials

import (
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
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
	Fallback authn.Keychain
}

// Resolve implements authn.Keychain. Hosts it has nothing for get anonymous
// access, never a credential meant for another host.
func (k Keychain) Resolve(target authn.Resource) (authn.Authenticator, error) {
	host := strings.ToLower(target.RegistryStr())
	for _, h := range k.GitHubHosts {
		if host == strings.ToLower(h) {
			if k.Token == "" {
				return k.fallback(target)
			}
			// Basic credentials, which go-containerregistry exchanges for a
			// bearer token at ghcr.io/token; a raw RegistryToken would skip
			// that exchange and be refused.
			return &authn.Basic{Username: k.Username, Password: k.Token}, nil
		}
	}
	if k.Password != "" && host == strings.ToLower(k.PasswordHost) {
		return &authn.Basic{Username: k.Username, Password: k.Password}, nil
	}
	return k.fallback(target)
}

func (k Keychain) fallback(target authn.Resource) (authn.Authenticator, error) {
	if k.Fallback == nil {
		return authn.Anonymous, nil
	}
	return k.Fallback.Resolve(target)
}
