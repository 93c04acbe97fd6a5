package credentials

import (
	"net/url"
	"slices"
	"strings"
)

// Hosts is a set of registry hosts that may receive the GitHub token.
type Hosts []string

// GitHubRegistries are the registry hosts of the GitHub at serverURL
// (GITHUB_SERVER_URL), the only ones that may receive its token: ghcr.io and
// docker.pkg.github.com for github.com; containers.HOST and docker.HOST for
// GitHub Enterprise Server and GHE.com (GitHub docs, "Working with the
// Container registry"). An Enterprise token is no credential for
// github.com's registry, so ghcr.io is not in an Enterprise's list: there
// it is just another registry. extra are hosts that tests and the demo
// stand in for GitHub's; nothing a workflow writes reaches them.
func GitHubRegistries(serverURL string, extra ...string) Hosts {
	host := ServerHost(serverURL)
	hosts := Hosts{"ghcr.io", "docker.pkg.github.com"}
	if host != "" && host != "github.com" {
		hosts = Hosts{"containers." + host, "docker." + host}
	}
	return append(hosts, extra...)
}

// ServerHost is the lower-cased host of serverURL, "" when it has none.
func ServerHost(serverURL string) string {
	u, err := url.Parse(serverURL)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Host)
}

// Contains reports whether host is one of h, compared as registries name
// hosts: case-insensitively, port included, a trailing dot not ignored (a
// look-alike such as ghcr.io. or ghcr.io.evil.example is another host).
func (h Hosts) Contains(host string) bool {
	host = strings.ToLower(host)
	for _, x := range h {
		if host == strings.ToLower(x) {
			return true
		}
	}
	return false
}

// dockerHub are Docker Hub's names: one registry, whichever a reference
// or a Docker config uses (go-containerregistry writes index.docker.io,
// the API answers at registry-1.docker.io), and the token service its
// registry names as the Bearer realm (Docker docs, "Token authentication
// specification": https://auth.docker.io/token).
var dockerHub = Hosts{"docker.io", "index.docker.io", "registry-1.docker.io", "auth.docker.io"}

// CredentialHosts are the hosts that may receive the credentials given for
// registry: the registry itself and, for Docker Hub, its other names and
// its token service, the one realm on another host that is the same
// registry's. Every other realm elsewhere is refused (see Guard).
func CredentialHosts(registry string) Hosts {
	if IsDockerHub(registry) {
		return slices.Clone(dockerHub)
	}
	return Hosts{registry}
}

// RegistryName is the name credentials know registry by: lower-cased (host
// names are case-insensitive, RFC 4343), and Docker Hub's names as one,
// index.docker.io, which go-containerregistry asks for whichever name a
// reference uses. Two registries with one RegistryName get one set of
// credentials.
func RegistryName(registry string) string {
	if IsDockerHub(registry) {
		return dockerHub[1]
	}
	return strings.ToLower(registry)
}

// IsDockerHub reports whether registry is one of Docker Hub's names.
func IsDockerHub(registry string) bool { return dockerHub[:3].Contains(registry) }
