package inputs

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/sethvargo/go-githubactions"
	"gopkg.in/yaml.v3"

	"github.com/ghcr-publish/publish-action/internal/credentials"
)

// registryAuthKeys are the keys of a registry-auth entry: docker/login-action's
// (src/context.ts, getAuthList), less scope and ecr, which are about Buildx's
// config and AWS's CLI, neither of which this action runs.
var registryAuthKeys = []string{"registry", "username", "password"}

// parseRegistryAuth reads the registry-auth input, docker/login-action's
// input of that name: a YAML list of entries, each with registry (Docker
// Hub when left out, as there), username and password. A registry may be
// named once (Docker Hub's names are one registry), and never one of
// github's: those get the token input. Empty values are kept: whether they
// matter depends on the run (readRegistryAuth). masks are every password
// the input holds, under any key but registry and username, good entry or
// bad, so that a mistyped entry's secret is masked too. Errors never quote
// a username or a password.
func parseRegistryAuth(v string, github credentials.Hosts) (logins, masks []credentials.Login, err error) {
	root, err := registryAuthList(v)
	if err != nil {
		return nil, nil, err
	}
	var errs []error
	seen := map[string]int{} // RegistryName → entry
	for i, item := range root.Content {
		n := i + 1
		login, m, err := registryAuthEntry(n, item)
		masks = append(masks, m...)
		if err != nil {
			errs = append(errs, Parts(err)...) // one *Error a part
			continue
		}
		if github.Contains(login.Registry) {
			errs = append(errs, errorf("registry-auth", "entry %d: %s is GitHub's registry, which gets the token input; remove the entry (to push there with another token, pass it as token)", n, truncate(login.Registry, 60)))
			continue
		}
		key := credentials.RegistryName(login.Registry)
		if first, dup := seen[key]; dup {
			errs = append(errs, errorf("registry-auth", "entry %d names %s, as entry %d does; give each registry once (docker.io, index.docker.io and registry-1.docker.io are one registry)", n, truncate(login.Registry, 60), first))
			continue
		}
		seen[key] = n
		logins = append(logins, login)
	}
	return logins, masks, errors.Join(errs...)
}

// registryAuthList parses v as YAML and returns its top-level list.
func registryAuthList(v string) (root *yaml.Node, err error) {
	// yaml.v3 has panicked on malformed documents before (CVE-2022-28948):
	// such input is bad, not a crash.
	defer func() {
		if recover() != nil {
			root, err = nil, errorf("registry-auth", "is not YAML this action can read; %s", registryAuthExample)
		}
	}()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(v), &doc); err != nil {
		// The parser's message says where and what (line 2: mapping
		// values are not allowed in this context), never the value.
		problem, _, _ := strings.Cut(strings.TrimPrefix(err.Error(), "yaml: "), "\n")
		return nil, errorf("registry-auth", "is not valid YAML (%s); %s", truncate(problem, 100), registryAuthExample)
	}
	if len(doc.Content) == 0 {
		return &yaml.Node{Kind: yaml.SequenceNode}, nil
	}
	if root = doc.Content[0]; root.Kind != yaml.SequenceNode {
		return nil, errorf("registry-auth", "is a YAML %s, not a list; %s", kindName(root.Kind), registryAuthExample)
	}
	return root, nil
}

// registryAuthExample says what registry-auth looks like, on one line.
const registryAuthExample = "write one list entry per registry, e.g. `- registry: quay.io` with username: and password: under it, as docker/login-action's registry-auth"

// registryAuthEntry reads entry n, a mapping of registryAuthKeys.
func registryAuthEntry(n int, item *yaml.Node) (login credentials.Login, masks []credentials.Login, err error) {
	if item.Kind != yaml.MappingNode {
		return login, nil, errorf("registry-auth", "entry %d is a YAML %s, not a mapping of registry, username and password; %s", n, kindName(item.Kind), registryAuthExample)
	}
	set := map[string]bool{}
	var errs []error
	for j := 0; j+1 < len(item.Content); j += 2 {
		key, value := item.Content[j], item.Content[j+1]
		k := key.Value
		if key.Kind != yaml.ScalarNode || !slices.Contains(registryAuthKeys, k) {
			if value.Kind == yaml.ScalarNode {
				masks = append(masks, credentials.Login{Password: value.Value})
			}
			errs = append(errs, errorf("registry-auth", "entry %d has the key %q; an entry takes registry, username and password only (docker/login-action's scope and ecr do not apply here)", n, truncate(k, 40)))
			continue
		}
		if set[k] {
			errs = append(errs, errorf("registry-auth", "entry %d gives %s twice; give it once", n, k))
			continue
		}
		set[k] = true
		if value.Kind != yaml.ScalarNode {
			errs = append(errs, errorf("registry-auth", "entry %d: %s is a YAML %s; give a string", n, k, kindName(value.Kind)))
			continue
		}
		v := value.Value
		if value.Tag == "!!null" {
			v = "" // password: ~ or password: with nothing after it
		}
		switch k {
		case "registry":
			login.Registry = v
		case "username":
			login.Username = v
		case "password":
			login.Password = v
		}
	}
	if set["password"] {
		masks = append(masks, credentials.Login{Username: login.Username, Password: login.Password})
	}
	if err := errors.Join(errs...); err != nil {
		return login, masks, err
	}
	login, err = checkLogin(n, login, set)
	return login, masks, err
}

// checkLogin checks entry n's values: a registry host (Docker Hub when left
// out, as in docker/login-action), and both username and password keys.
func checkLogin(n int, login credentials.Login, set map[string]bool) (credentials.Login, error) {
	if !set["registry"] {
		login.Registry = "docker.io"
	}
	if _, err := name.NewRegistry(login.Registry, name.StrictValidation); err != nil || strings.ContainsFunc(login.Registry, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return login, errorf("registry-auth", "entry %d: registry %q is not a registry host; give the host (and port) only, e.g. quay.io, with no scheme or path (leave registry out for Docker Hub)", n, truncate(login.Registry, 60))
	}
	for _, k := range []string{"username", "password"} {
		if !set[k] {
			return login, errorf("registry-auth", "entry %d (%s) has no %s; add %s: ${{ secrets.… }} (or ${{ vars.… }} for a user name)", n, truncate(login.Registry, 60), k, k)
		}
	}
	return login, nil
}

// kindName names a YAML node kind in an error.
func kindName(k yaml.Kind) string {
	switch k {
	case yaml.SequenceNode:
		return "list"
	case yaml.MappingNode:
		return "mapping"
	case yaml.ScalarNode:
		return "string"
	case yaml.AliasNode:
		return "alias (*name)"
	}
	return fmt.Sprintf("node of kind %d", k)
}

// readRegistryAuth reads registry-auth, and checks how the password input
// fits with it. It runs after readPush: an empty username or password (a
// secret this run cannot read, as in a pull request from a fork) is an
// error only in a run that writes; elsewhere the entry is kept and gives
// nothing (the keychain skips a login without a password).
func (in *Inputs) readRegistryAuth(gha *githubactions.Action, bad *problems) {
	v := gha.GetInput("registry-auth")
	if v != "" {
		logins, masks, err := parseRegistryAuth(v, in.GitHubRegistries())
		in.RegistryAuth, in.masks = logins, masks
		bad.add(err)
	}
	writes := in.Push && len(in.Sources) > 0
	for _, l := range in.RegistryAuth {
		for _, empty := range []struct{ key, value string }{{"username", l.Username}, {"password", l.Password}} {
			if empty.value == "" && writes {
				bad.add(errorf("registry-auth", "the entry for %s has an empty %s (a secret this run cannot read is empty, as in a pull request from a fork); give it, or set push: false", truncate(l.Registry, 60), empty.key))
			}
		}
		if in.Token != "" && l.Password == in.Token {
			bad.add(errorf("registry-auth", "the password for %s is the GitHub token, which goes to GitHub's registries only; give %s's own password", truncate(l.Registry, 60), truncate(l.Registry, 60)))
		}
	}
	in.checkPassword(v != "", bad)
}

// checkPassword refuses a password input that cannot be placed: it goes to
// the one destination registry that is neither GitHub's nor in
// registry-auth, so it is ambiguous with two such registries, and
// pointless, once registry-auth is given, with none. Without
// registry-auth, a password with only GitHub's registries as destinations
// is ignored, as it always was.
func (in *Inputs) checkPassword(registryAuth bool, bad *problems) {
	if in.Password == "" {
		return
	}
	regs := in.passwordRegistries()
	switch {
	case len(regs) > 1:
		bad.add(errorf("password", "is for one registry, and %d destination registries have no credentials in registry-auth (%s); give each its own entry in registry-auth, and remove password", len(regs), truncate(strings.Join(regs, ", "), 120)))
	case len(regs) == 0 && registryAuth:
		bad.add(errorf("password", "goes to no registry: registry-auth gives credentials for every destination that is not GitHub's; remove password, or move it into registry-auth"))
	case len(regs) == 1 && in.Password == in.Token:
		bad.add(errorf("password", "is the GitHub token, which goes to GitHub's registries only; give %s's own password", truncate(regs[0], 60)))
	}
}

// passwordRegistries are the destination registries the password input
// may be for: neither GitHub's nor in registry-auth, each once.
func (in Inputs) passwordRegistries() []string {
	var regs []string
	seen := map[string]bool{}
	for _, d := range in.Destinations() {
		r := d.RegistryStr()
		key := credentials.RegistryName(r)
		if in.IsGitHubRegistry(r) || in.hasRegistryAuth(r) || seen[key] {
			continue
		}
		seen[key] = true
		regs = append(regs, r)
	}
	return regs
}

func (in Inputs) hasRegistryAuth(registry string) bool {
	key := credentials.RegistryName(registry)
	return slices.ContainsFunc(in.RegistryAuth, func(l credentials.Login) bool { return credentials.RegistryName(l.Registry) == key })
}

// Logins are the credentials of registries that are not GitHub's, for the
// keychain: registry-auth's, and the password input's, with username, for
// the one destination registry that is neither GitHub's nor in
// registry-auth. GitHub's registries get the token (GitHubRegistries).
func (in Inputs) Logins() []credentials.Login {
	logins := slices.Clone(in.RegistryAuth)
	if regs := in.passwordRegistries(); in.Password != "" && len(regs) == 1 {
		logins = append(logins, credentials.Login{Registry: regs[0], Username: in.Username, Password: in.Password})
	}
	return logins
}

// Secrets are every form of every secret the inputs hold, to mask and to
// redact: the token and the password (with username), and each password
// registry-auth holds, with its own user name, whether or not its entry
// was good. User names are not secrets (the runner masks any that come
// from secrets itself).
func (in Inputs) Secrets() credentials.Secrets {
	s := credentials.NewSecrets(in.Username, in.Token, in.Password)
	for _, l := range append(slices.Clone(in.masks), in.RegistryAuth...) {
		s = s.With(l.Username, l.Password)
	}
	return s
}
