package action

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/sethvargo/go-githubactions"
)

// contextKeys are the variables the runner sets that the action may read
// (GitHub docs, "Variables reference"); go-githubactions' Context reads them
// all.
var contextKeys = []string{
	"GITHUB_ACTION", "GITHUB_ACTION_PATH", "GITHUB_ACTION_REPOSITORY", "GITHUB_ACTIONS", "GITHUB_ACTOR",
	"GITHUB_ACTOR_ID", "GITHUB_API_URL", "GITHUB_BASE_REF", "GITHUB_ENV", "GITHUB_EVENT_NAME", "GITHUB_EVENT_PATH",
	"GITHUB_GRAPHQL_URL", "GITHUB_HEAD_REF", "GITHUB_JOB", "GITHUB_PATH", "GITHUB_REF", "GITHUB_REF_NAME",
	"GITHUB_REF_PROTECTED", "GITHUB_REF_TYPE", "GITHUB_REPOSITORY", "GITHUB_REPOSITORY_OWNER", "GITHUB_RETENTION_DAYS",
	"GITHUB_RUN_ATTEMPT", "GITHUB_RUN_ID", "GITHUB_RUN_NUMBER", "GITHUB_SERVER_URL", "GITHUB_SHA", "GITHUB_STEP_SUMMARY",
	"GITHUB_TRIGGERING_ACTOR", "GITHUB_WORKFLOW", "GITHUB_WORKSPACE", "GITHUB_OUTPUT", "SOURCE_DATE_EPOCH",
	// Docker's own variable, for docker-daemon sources.
	"DOCKER_HOST",
	// docker/metadata-action's, which a migrated workflow may set: the tag
	// rules honour them.
	"DOCKER_METADATA_PR_HEAD_SHA", "DOCKER_METADATA_SHORT_SHA_LENGTH",
	// Where temporary files may go: the runner's temp dir, else HOME.
	"RUNNER_TEMP", "HOME",
	// The file a step declares what it published in (runner 2.336), for
	// actions/attest.
	"GITHUB_ARTIFACTS",
}

// declaredInputs reads the input names from action.yml, so that reading an
// input action.yml does not declare fails the test: the runner would never
// set it.
func declaredInputs(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	inInputs := false
	key := regexp.MustCompile(`^  ([a-z][a-z-]*):\s*$`)
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "inputs:":
			inInputs = true
		case line != "" && !strings.HasPrefix(line, " "):
			inInputs = false
		case inInputs:
			if m := key.FindStringSubmatch(line); m != nil {
				names = append(names, m[1])
			}
		}
	}
	if len(names) == 0 {
		t.Fatal("found no inputs in action.yml")
	}
	return names
}

// strictEnv is the environment of one run: the variables given, and a test
// failure for any read of a variable the runner does not document, so the
// action cannot grow a hidden dependency on the environment.
type strictEnv struct {
	t     *testing.T
	vars  map[string]string
	known map[string]bool

	mu   sync.Mutex
	read map[string]bool
}

func newStrictEnv(t *testing.T, vars map[string]string) *strictEnv {
	known := map[string]bool{}
	for _, k := range contextKeys {
		known[k] = true
	}
	for _, in := range declaredInputs(t) {
		// The runner's naming: upper-case, spaces to '_', dashes kept.
		known["INPUT_"+strings.ToUpper(strings.ReplaceAll(in, " ", "_"))] = true
	}
	for k := range vars {
		if !known[k] {
			t.Fatalf("test sets %q, which the runner never sets for this action", k)
		}
	}
	return &strictEnv{t: t, vars: vars, known: known, read: map[string]bool{}}
}

func (e *strictEnv) getenv(k string) string {
	if !e.known[k] {
		e.t.Errorf("the action read undeclared environment variable %q", k)
	}
	e.mu.Lock()
	e.read[k] = true
	e.mu.Unlock()
	return e.vars[k]
}

// result is what one run of the action left behind.
type result struct {
	err     error
	log     string            // everything written to stdout: commands and logs
	outputs map[string]string // parsed from the GITHUB_OUTPUT file
	summary string            // the GITHUB_STEP_SUMMARY file
	raw     string            // the GITHUB_OUTPUT file as written
}

// runAction drives the real entrypoint with vars on top of a GitHub-like
// base environment, with temporary output and summary files.
func runAction(t *testing.T, vars map[string]string, opts Options) result {
	t.Helper()
	dir := t.TempDir()
	outFile := filepath.Join(dir, "output")
	summaryFile := filepath.Join(dir, "summary")
	for _, f := range []string{outFile, summaryFile} {
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	all := map[string]string{
		"GITHUB_OUTPUT":       outFile,
		"GITHUB_STEP_SUMMARY": summaryFile,
	}
	for k, v := range vars {
		all[k] = v
	}
	env := newStrictEnv(t, all)
	var log bytes.Buffer
	gha := githubactions.New(githubactions.WithGetenv(env.getenv), githubactions.WithWriter(&log))
	if opts.TempDir == "" {
		opts.TempDir = t.TempDir()
	}
	err := Run(context.Background(), gha, opts)

	rawOut, err2 := os.ReadFile(outFile)
	if err2 != nil {
		t.Fatal(err2)
	}
	summary, err2 := os.ReadFile(summaryFile)
	if err2 != nil {
		t.Fatal(err2)
	}
	return result{err: err, log: log.String(), outputs: parseOutputs(t, string(rawOut)), summary: string(summary), raw: string(rawOut)}
}

// parseOutputs reads the runner's file-command format, name<<DELIM, value
// lines, DELIM (GitHub docs, "Workflow commands", multiline strings).
func parseOutputs(t *testing.T, s string) map[string]string {
	t.Helper()
	out := map[string]string{}
	lines := strings.Split(s, "\n")
	for i := 0; i < len(lines); i++ {
		if lines[i] == "" {
			continue
		}
		name, delim, ok := strings.Cut(lines[i], "<<")
		if !ok {
			t.Fatalf("GITHUB_OUTPUT line %q is not name<<DELIMITER", lines[i])
		}
		var value []string
		for i++; i < len(lines) && lines[i] != delim; i++ {
			value = append(value, lines[i])
		}
		if i == len(lines) {
			t.Fatalf("GITHUB_OUTPUT value of %s is not closed by %s", name, delim)
		}
		if _, dup := out[name]; dup {
			t.Errorf("output %s written twice", name)
		}
		out[name] = strings.Join(value, "\n")
	}
	return out
}
