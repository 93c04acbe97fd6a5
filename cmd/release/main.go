// Command release holds the steps of .github/workflows/release.yml that
// decide something, so that tests run them: which tags a version gets,
// whether the published image can be pulled without credentials (the
// runner pulls a docker:// action image before any login step), and the
// release commit's action.yml, pinned to the image by digest.
//
//	go run ./cmd/release tags -ref v1.2.3            # key=value lines for GITHUB_OUTPUT
//	go run ./cmd/release public -image ghcr.io/OWNER/REPO@sha256:… [-org]
//	go run ./cmd/release pin -image ghcr.io/OWNER/REPO@sha256:… [-f action.yml]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
}

const usage = "usage: go run ./cmd/release tags|public|pin [flags] (-h for each)"

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	switch args[0] {
	case "tags":
		ref := fs.String("ref", "", "the pushed tag, e.g. v1.2.3 (github.ref_name)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		v, err := ParseVersion(*ref)
		if err != nil {
			return err
		}
		_, err = io.WriteString(stdout, v.Outputs())
		return err
	case "public":
		image := fs.String("image", "", "the published image by digest, REPOSITORY@sha256:…")
		org := fs.Bool("org", false, "the package's owner is an organization (for the settings URL)")
		server := fs.String("server", "https://github.com", "GITHUB_SERVER_URL, for the settings URL")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if err := CheckPublic(ctx, *image, *server, *org); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s can be pulled without credentials\n", *image)
		return nil
	case "pin":
		image := fs.String("image", "", "the published image by digest, REPOSITORY@sha256:…")
		file := fs.String("f", "action.yml", "the action metadata file to rewrite")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		raw, err := os.ReadFile(*file)
		if err != nil {
			return err
		}
		pinned, err := Pin(raw, *image)
		if err != nil {
			return fmt.Errorf("%s: %w", *file, err)
		}
		if err := os.WriteFile(*file, pinned, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: image: docker://%s\n", *file, *image)
		return nil
	}
	return fmt.Errorf("unknown command %q; %s", args[0], usage)
}
