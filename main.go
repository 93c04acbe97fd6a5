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

	// TLS roots compiled in, used when the system has none: the prebuilt
	// image (go run ./cmd/image) ships no CA file, so that its digest
	// depends on the commit alone and not on the building machine's bundle.
	_ "golang.org/x/crypto/x509roots/fallback"

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
