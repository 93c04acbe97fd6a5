package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/sethvargo/go-githubactions"

	"github.com/ghcr-publish/publish-action/internal/action"
	"github.com/ghcr-publish/publish-action/internal/inputs"
)

// Main runs the action and returns the process's exit code. Inside GitHub
// Actions (GITHUB_ACTIONS=true) it reads the environment as the runner set
// it; anywhere else args are flags named after action.yml's inputs.
func Main(ctx context.Context, actionYAML []byte, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	var gha *githubactions.Action
	v, _ := Version()
	opts := action.Options{Version: v}
	if getenv("GITHUB_ACTIONS") == "true" {
		gha = githubactions.New(githubactions.WithGetenv(getenv), githubactions.WithWriter(stdout))
	} else {
		spec, err := ParseSpec(actionYAML)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		env, err := Env(spec, args, getenv, stderr)
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		if errors.Is(err, errVersion) {
			v, c := Version()
			fmt.Fprintf(stdout, "publish-action %s (commit %s)\n", v, c)
			return 0
		}
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		gha = githubactions.New(githubactions.WithGetenv(env), githubactions.WithWriter(Console(stdout)))
		opts.DockerConfig = true
	}
	err := action.Run(ctx, gha, opts)
	if err == nil {
		return 0
	}
	// One annotation per part of the error, titled with its input when it
	// names one, so each shows next to the step in the Actions UI. Each
	// part's own text is printed, never the *inputs.Error inside it: the
	// action redacted every part on its own, and the input error under a
	// redacted part still holds what was redacted.
	for _, part := range inputs.Parts(err) {
		if in := inputs.InputOf(part); in != "" {
			gha.WithFieldsMap(map[string]string{"title": "input " + in}).Errorf("%s", part)
			continue
		}
		gha.Errorf("%s", part)
	}
	return 1
}

// Env parses args as flags mirroring the inputs and returns the
// environment the action reads: INPUT_<NAME> from the flag, else from the
// process environment, else the default; the process environment for
// everything else. An input whose action.yml
// default is a workflow expression falls back to the variable that means
// the same thing outside a workflow (GITHUB_TOKEN for the token, USER for
// the user name). --help prints the flags and returns flag.ErrHelp;
// --version returns errVersion for the caller to print the version.
func Env(spec Spec, args []string, getenv func(string) string, stderr io.Writer) (func(string) string, error) {
	fs := flag.NewFlagSet("publish-action", flag.ContinueOnError)
	fs.SetOutput(stderr)
	values := map[string]*string{}
	for _, in := range spec.Inputs {
		values[in.Name] = fs.String(in.Name, "", usage(in))
	}
	showVersion := fs.Bool("version", false, "print the version and the commit it was built from")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: publish-action [--flag value ...]\n\nPublishes a container image with its repository's OCI metadata. Flags mirror the\naction's inputs (action.yml); outputs print as key=value. Credentials for registries\nother than GitHub's come from the Docker config (~/.docker/config.json).\n\nFlags:\n")
		printFlags(stderr, spec)
		fmt.Fprintf(stderr, "  --version\n\tprint the version and the commit it was built from\n  --help\n\tprint this help\n")
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if *showVersion {
		return nil, errVersion
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q: every value is a flag, e.g. --source oci:out (see --help)", fs.Arg(0))
	}
	env := map[string]string{}
	for _, in := range spec.Inputs {
		v := *values[in.Name]
		if v == "" {
			// Another CI system may set INPUT_ variables as the runner does.
			v = getenv(envName(in.Name))
		}
		if v == "" {
			if fallback, ok := expressionDefaults[in.Default]; ok {
				v = getenv(fallback)
			} else if !strings.Contains(in.Default, "${{") {
				v = in.Default
			}
		}
		env[envName(in.Name)] = v
	}
	return func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		return getenv(k)
	}, nil
}

// errVersion asks Main to print the version.
var errVersion = errors.New("version requested")

// printFlags lists the inputs as flags, GNU style (--name value) as the
// README and crane and regctl write them; Go's flag package accepts both
// -name and --name, but its own listing shows only -name.
func printFlags(w io.Writer, spec Spec) {
	for _, in := range spec.Inputs {
		fmt.Fprintf(w, "  --%s value\n\t%s\n", in.Name, usage(in))
	}
}

func usage(in Input) string {
	text := strings.Join(strings.Fields(in.Description), " ")
	switch fallback, ok := expressionDefaults[in.Default]; {
	case ok:
		text += fmt.Sprintf(" (default: $%s)", fallback)
	case in.Default != "":
		text += fmt.Sprintf(" (default: %s)", in.Default)
	}
	return text
}
