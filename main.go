// Command publish-action is a GitHub container action that publishes images
// to GitHub's Container registry with the repository's OCI metadata. Outside
// Actions it is a command-line tool with the same inputs as flags.
package main

import (
	"context"
	_ "embed"
	"os"
	"os/signal"
	"syscall"

	"github.com/ghcr-publish/publish-action/internal/cli"
)

// actionYAML declares the inputs, which the command line mirrors as flags.
//
//go:embed action.yml
var actionYAML []byte

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, actionYAML, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
