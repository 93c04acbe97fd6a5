package githubtest

import "strings"

// SHA is the commit the runner environment names in GITHUB_SHA: the one
// the recorded API (repos/acme/widget/commits/SHA.json) and the recorded
// event payloads (events/*.json) know.
const SHA = "0123456789abcdef0123456789abcdef01234567"

// UnreachableAPI is a GITHUB_API_URL nothing answers at: the API is
// optional, and a run without it warns and goes on.
const UnreachableAPI = "http://127.0.0.1:1"

// RunnerEnv is what the runner sets for a workflow run of Acme/Widget on
// github.com at SHA on main (GitHub docs, "Variables reference"), with the
// GitHub API unreachable, and overrides on top: an override of "" unsets
// the variable, as a runner that does not set it would. Callers add what
// their run needs (the workspace, the event, the inputs); the getenv that
// reads the map, strict or not, is the caller's.
func RunnerEnv(overrides map[string]string) map[string]string {
	return runnerEnv(UnreachableAPI, overrides)
}

// RunnerEnv is RunnerEnv with GITHUB_API_URL pointing at this API.
func (a *API) RunnerEnv(overrides map[string]string) map[string]string {
	return runnerEnv(strings.TrimSuffix(a.URL, "/"), overrides)
}

func runnerEnv(apiURL string, overrides map[string]string) map[string]string {
	env := map[string]string{
		"GITHUB_ACTIONS":    "true",
		"GITHUB_SERVER_URL": "https://github.com",
		"GITHUB_API_URL":    apiURL,
		"GITHUB_REPOSITORY": "Acme/Widget",
		"GITHUB_SHA":        SHA,
		"GITHUB_REF":        "refs/heads/main",
	}
	for k, v := range overrides {
		if v == "" {
			delete(env, k)
			continue
		}
		env[k] = v
	}
	return env
}
