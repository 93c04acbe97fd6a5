package inputs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ghcr-publish/publish-action/internal/credentials"
)

// TestParseRegistryAuth: docker/login-action's registry-auth, its README's
// example among the cases, and every error. No error quotes a user name or
// a password.
func TestParseRegistryAuth(t *testing.T) {
	t.Parallel()
	github := credentials.GitHubRegistries("https://github.com")
	tests := []struct {
		name string
		v    string
		want []credentials.Login
		errs []string // a phrase of each error, in order
	}{
		{"login-action's README, less its GitHub entry", "- username: hubber\n  password: dckr_pat_secret1\n- registry: quay.io\n  username: robot\n  password: quay-secret-2",
			[]credentials.Login{{Registry: "docker.io", Username: "hubber", Password: "dckr_pat_secret1"}, {Registry: "quay.io", Username: "robot", Password: "quay-secret-2"}}, nil},
		{"flow style, a port, numbers as strings", `[{registry: "registry.example.com:5000", username: 42, password: 12345}]`,
			[]credentials.Login{{Registry: "registry.example.com:5000", Username: "42", Password: "12345"}}, nil},
		{"empty values are kept", "- registry: quay.io\n  username: ''\n  password:\n- registry: registry.example.com\n  username: u\n  password: ~",
			[]credentials.Login{{Registry: "quay.io"}, {Registry: "registry.example.com", Username: "u"}}, nil},
		{"only a comment", "# none yet", nil, nil},

		{"not YAML", "- registry: quay.io\n username: robot\n  password: x", nil, []string{"is not valid YAML (line 1: did not find expected '-' indicator); write one list entry per registry"}},
		{"a tab", "- registry: quay.io\n\tusername: robot", nil, []string{"is not valid YAML (line 2: found a tab character that violates indentation)"}},
		{"a mapping, not a list", "registry: quay.io\nusername: robot\npassword: x", nil, []string{"is a YAML mapping, not a list; write one list entry per registry"}},
		{"a string", "quay.io", nil, []string{"is a YAML string, not a list"}},
		{"an entry not a mapping", "- quay.io", nil, []string{"entry 1 is a YAML string, not a mapping of registry, username and password"}},
		{"an unknown key", "- registry: quay.io\n  username: robot\n  pasword: x", nil, []string{`entry 1 has the key "pasword"; an entry takes registry, username and password only`}},
		{"login-action's scope", "- registry: quay.io\n  username: robot\n  password: x\n  scope: acme/app@push", nil, []string{`entry 1 has the key "scope"`}},
		{"a key twice", "- registry: quay.io\n  username: robot\n  password: x\n  password: y", nil, []string{"entry 1 gives password twice; give it once"}},
		{"a list as a value", "- registry: quay.io\n  username: [a, b]\n  password: x", nil, []string{"entry 1: username is a YAML list; give a string"}},
		{"an alias as a value", "- registry: quay.io\n  username: &u robot\n  password: x\n- registry: docker.io\n  username: *u\n  password: y",
			[]credentials.Login{{Registry: "quay.io", Username: "robot", Password: "x"}}, []string{"entry 2: username is a YAML alias (*name); give a string"}},
		{"no password", "- registry: quay.io\n  username: robot", nil, []string{"entry 1 (quay.io) has no password; add password: ${{ secrets.… }}"}},
		{"no username", "- password: x", nil, []string{"entry 1 (docker.io) has no username"}},
		{"a URL for a registry", "- registry: https://index.docker.io/v1/\n  username: u\n  password: x", nil, []string{`entry 1: registry "https://index.docker.io/v1/" is not a registry host; give the host (and port) only`}},
		{"an empty registry", "- registry: ''\n  username: u\n  password: x", nil, []string{`entry 1: registry "" is not a registry host`}},
		{"a registry with a space", "- registry: quay .io\n  username: u\n  password: x", nil, []string{"is not a registry host"}},
		{"GitHub's registry", "- registry: ghcr.io\n  username: octocat\n  password: x", nil, []string{"entry 1: ghcr.io is GitHub's registry, which gets the token input; remove the entry"}},
		{"GitHub's registry in capitals", "- registry: GHCR.IO\n  username: octocat\n  password: x", nil, []string{"GHCR.IO is GitHub's registry"}},
		{"a registry twice", "- registry: quay.io\n  username: a\n  password: x\n- registry: QUAY.IO\n  username: b\n  password: y",
			[]credentials.Login{{Registry: "quay.io", Username: "a", Password: "x"}}, []string{"entry 2 names QUAY.IO, as entry 1 does; give each registry once"}},
		{"Docker Hub's names are one", "- username: a\n  password: x\n- registry: registry-1.docker.io\n  username: b\n  password: y\n- registry: index.docker.io\n  username: c\n  password: z",
			[]credentials.Login{{Registry: "docker.io", Username: "a", Password: "x"}}, []string{"entry 2 names registry-1.docker.io, as entry 1 does", "entry 3 names index.docker.io, as entry 1 does"}},
		{"every bad entry reported", "- registry: quay.io\n  username: a\n  password: x\n- quay.io\n- registry: ghcr.io\n  username: a\n  password: x\n  extra: 1",
			[]credentials.Login{{Registry: "quay.io", Username: "a", Password: "x"}}, []string{"entry 2 is a YAML string", `entry 3 has the key "extra"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, masks, err := parseRegistryAuth(tt.v, github)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parseRegistryAuth(%q) mismatch (-want +got):\n%s", tt.v, diff)
			}
			msgs := msgs(t, err, "registry-auth")
			if len(msgs) != len(tt.errs) {
				t.Fatalf("parseRegistryAuth(%q) errors:\n%s\nwant %d", tt.v, strings.Join(msgs, "\n"), len(tt.errs))
			}
			for i, phrase := range tt.errs {
				if !strings.Contains(msgs[i], phrase) {
					t.Errorf("error %d = %q, want it to say %q", i+1, msgs[i], phrase)
				}
			}
			for _, m := range masks {
				for _, msg := range msgs {
					if len(m.Password) > 1 && strings.Contains(msg, m.Password) {
						t.Errorf("error %q shows a password", msg)
					}
				}
			}
		})
	}
}

// TestRegistryAuthMasks: every password is masked, a bad entry's and one
// under a misspelt key included.
func TestRegistryAuthMasks(t *testing.T) {
	t.Parallel()
	in, err := Read(env(t, map[string]string{
		"INPUT_REGISTRY-AUTH": "- registry: quay.io\n  username: robot\n  password: quay-secret-1\n- registry: ghcr.io\n  username: o\n  password: ghcr-secret-2\n- registry: example.com\n  username: u\n  pasword: typo-secret-3\n- registry: x.example\n  username: [a]\n  password: bad-entry-secret-4",
		"INPUT_PASSWORD":      "password-input-5",
	}))
	if err == nil {
		t.Fatal("Read() = nil, want the bad entries reported")
	}
	s := in.Secrets()
	for _, secret := range []string{"quay-secret-1", "ghcr-secret-2", "typo-secret-3", "bad-entry-secret-4", "password-input-5", "ghs_secret"} {
		if got := s.Redact("echoed " + secret); got != "echoed ***" {
			t.Errorf("Redact(%q) = %q, want it masked", secret, got)
		}
	}
	if got := s.Redact("robot octocat quay.io"); got != "robot octocat quay.io" {
		t.Errorf("Redact() = %q: user names and registries are not secrets", got)
	}
}

// TestReadCredentials: which registry gets which login (Logins, what the
// keychain is built from), and every error about how password,
// registry-auth and the destinations combine.
func TestReadCredentials(t *testing.T) {
	t.Parallel()
	ws := t.TempDir()
	if err := os.Mkdir(filepath.Join(ws, "out"), 0o755); err != nil {
		t.Fatal(err)
	}
	const hub = "- username: hubber\n  password: hub-secret\n"
	const quay = "- registry: quay.io\n  username: robot\n  password: quay-secret\n"
	publish := func(kv ...string) map[string]string {
		m := map[string]string{"INPUT_SOURCE": "oci:out", "GITHUB_WORKSPACE": ws}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	hubLogin := credentials.Login{Registry: "docker.io", Username: "hubber", Password: "hub-secret"}
	quayLogin := credentials.Login{Registry: "quay.io", Username: "robot", Password: "quay-secret"}
	tests := []struct {
		name  string
		vars  map[string]string
		want  []credentials.Login
		input string // the one error's input; "" for none
		say   string
	}{
		{"password, one other registry, as before", publish("INPUT_IMAGE", "quay.io/acme/widget", "INPUT_PASSWORD", "pw-1"),
			[]credentials.Login{{Registry: "quay.io", Username: "octocat", Password: "pw-1"}}, "", ""},
		{"password, GitHub's registry only, ignored as before", publish("INPUT_PASSWORD", "pw-1"), nil, "", ""},
		{"password, GitHub's registry and Docker Hub", publish("INPUT_IMAGES", "ghcr.io/acme/widget\ndocker.io/acme/widget", "INPUT_PASSWORD", "pw-1", "INPUT_USERNAME", "hubber"),
			[]credentials.Login{{Registry: "index.docker.io", Username: "hubber", Password: "pw-1"}}, "", ""},
		{"registry-auth for every other registry", publish("INPUT_IMAGES", "ghcr.io/acme/widget\ndocker.io/acme/widget\nquay.io/acme/widget", "INPUT_REGISTRY-AUTH", hub+quay),
			[]credentials.Login{hubLogin, quayLogin}, "", ""},
		{"registry-auth for one, password for the other", publish("INPUT_IMAGES", "docker.io/acme/widget\nquay.io/acme/widget", "INPUT_REGISTRY-AUTH", hub, "INPUT_PASSWORD", "pw-1"),
			[]credentials.Login{hubLogin, {Registry: "quay.io", Username: "octocat", Password: "pw-1"}}, "", ""},
		{"registry-auth for a source's registry", publish("INPUT_SOURCE", "quay.io/acme/base:1", "INPUT_REGISTRY-AUTH", quay),
			[]credentials.Login{quayLogin}, "", ""},
		{"password for two registries", publish("INPUT_IMAGES", "docker.io/acme/widget\nquay.io/acme/widget", "INPUT_PASSWORD", "pw-1"), nil,
			"password", "is for one registry, and 2 destination registries have no credentials in registry-auth (index.docker.io, quay.io); give each its own entry in registry-auth"},
		{"password and registry-auth name one registry", publish("INPUT_IMAGES", "ghcr.io/acme/widget\ndocker.io/acme/widget", "INPUT_REGISTRY-AUTH", hub, "INPUT_PASSWORD", "pw-1"), []credentials.Login{hubLogin},
			"password", "goes to no registry: registry-auth gives credentials for every destination that is not GitHub's; remove password, or move it into registry-auth"},
		// Logins passes it on; the keychain never sends the token there.
		{"password is the token", publish("INPUT_IMAGE", "quay.io/acme/widget", "INPUT_PASSWORD", "ghs_secret"), []credentials.Login{{Registry: "quay.io", Username: "octocat", Password: "ghs_secret"}},
			"password", "is the GitHub token, which goes to GitHub's registries only; give quay.io's own password"},
		{"registry-auth password is the token", publish("INPUT_IMAGE", "quay.io/acme/widget", "INPUT_REGISTRY-AUTH", "- registry: quay.io\n  username: u\n  password: ghs_secret"),
			[]credentials.Login{{Registry: "quay.io", Username: "u", Password: "ghs_secret"}},
			"registry-auth", "the password for quay.io is the GitHub token"},
		{"an empty password in a run that pushes", publish("INPUT_IMAGE", "quay.io/acme/widget", "INPUT_REGISTRY-AUTH", "- registry: quay.io\n  username: u\n  password: ''"),
			[]credentials.Login{{Registry: "quay.io", Username: "u"}},
			"registry-auth", "the entry for quay.io has an empty password (a secret this run cannot read is empty, as in a pull request from a fork); give it, or set push: false"},
		{"an empty username in a run that pushes", publish("INPUT_IMAGE", "quay.io/acme/widget", "INPUT_REGISTRY-AUTH", "- registry: quay.io\n  username:\n  password: x1234"),
			[]credentials.Login{{Registry: "quay.io", Password: "x1234"}},
			"registry-auth", "has an empty username"},
		{"an empty password in a dry run", publish("INPUT_IMAGE", "quay.io/acme/widget", "INPUT_PUSH", "false", "INPUT_REGISTRY-AUTH", "- registry: quay.io\n  username: u\n  password: ''"),
			[]credentials.Login{{Registry: "quay.io", Username: "u"}}, "", ""},
		{"an empty password, metadata only", map[string]string{"INPUT_REGISTRY-AUTH": "- registry: quay.io\n  username: u\n  password: ''"},
			[]credentials.Login{{Registry: "quay.io", Username: "u"}}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := readWanting(t, tt.vars, tt.input, tt.say)
			if diff := cmp.Diff(tt.want, in.Logins()); diff != "" {
				t.Errorf("Logins() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// readWanting reads vars as the runner gives them, wanting no error when
// input is "", else exactly one error, naming input and saying say.
func readWanting(t *testing.T, vars map[string]string, input, say string) Inputs {
	t.Helper()
	in, err := Read(env(t, vars))
	errs := Errors(err)
	switch {
	case input == "" && err != nil:
		t.Fatalf("Read() = %v", err)
	case input != "" && (len(errs) != 1 || errs[0].Input != input || !strings.Contains(errs[0].Msg, say)):
		t.Fatalf("Read() = %v; want one error naming %s that says %q", err, input, say)
	}
	return in
}
