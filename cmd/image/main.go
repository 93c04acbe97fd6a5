// Command image builds the action's own container image without Docker, as
// ko does: the static binary, cross-compiled by the Go toolchain for each
// platform, in a single layer, assembled with go-containerregistry into an
// OCI layout holding one multi-platform index.
//
//	go run ./cmd/image -o DIR
//
// The result depends on the commit and the Go toolchain alone: file times
// and the created time come from SOURCE_DATE_EPOCH (default: the commit
// time of HEAD), the build ignores the caller's GOFLAGS, GOAMD64 and the
// like, and TLS roots are compiled into the binary
// (golang.org/x/crypto/x509roots/fallback) instead of copied from the
// building machine. So the same commit gives the same index digest on any
// machine, and the release workflow (.github/workflows/release.yml) pins
// action.yml to it. The index digest is printed on stdout.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

// run parses the command line, builds the layout and prints its index
// digest on stdout and one line per platform on stderr.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "directory to write the OCI layout to (must not exist or be empty)")
	platforms := fs.String("platforms", strings.Join(defaultPlatforms, ","), "comma-separated os/arch list")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("usage: go run ./cmd/image -o DIR")
	}
	opts := Options{Dir: *out, Getenv: getenv}
	for _, p := range strings.Split(*platforms, ",") {
		if p = strings.TrimSpace(p); p != "" {
			opts.Platforms = append(opts.Platforms, p)
		}
	}
	res, err := Build(ctx, opts)
	if err != nil {
		return err
	}
	for _, p := range res.Platforms {
		fmt.Fprintf(stderr, "%s\t%s\t%d bytes compressed\n", p.Platform, p.Digest, p.Size)
	}
	fmt.Fprintln(stdout, res.Digest)
	return nil
}
