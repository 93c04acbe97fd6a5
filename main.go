// Command publish-action is a GitHub container action that publishes images
// to GitHub's Container registry with the repository's OCI metadata.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/sethvargo/go-githubactions"

	"github.com/ghcr-publish/publish-action/internal/action"
	"github.com/ghcr-publish/publish-action/internal/inputs"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	gha := githubactions.New()
	err := action.Run(ctx, gha, action.Options{})
	stop()
	if err == nil {
		return
	}
	// One annotation per bad input, titled with the input, so each shows
	// next to the step in the Actions UI; anything else once.
	if bad := inputs.Errors(err); len(bad) > 0 {
		for _, e := range bad {
			gha.WithFieldsMap(map[string]string{"title": "input " + e.Input}).Errorf("%s", e)
		}
	} else {
		gha.Errorf("%s", err)
	}
	os.Exit(1)
}
