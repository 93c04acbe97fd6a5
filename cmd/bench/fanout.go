package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/ghcr-publish/publish-action/internal/inputs"
	"github.com/ghcr-publish/publish-action/internal/push"
	"github.com/ghcr-publish/publish-action/internal/registryhttp"
	"github.com/ghcr-publish/publish-action/internal/source"
)

// fanoutCommand makes this program our side of the two-registries
// scenario: `bench fanout-push LAYOUT REF...` publishes the layout's image
// to every REF (HOST/REPO:TAG) at once, as the action's publish to several
// registries does. Until the action takes several destinations as inputs,
// the benchmark measures the push step itself, in a process of its own as
// every tool is.
const fanoutCommand = "fanout-push"

// fanoutPush reads the OCI layout at dir as the action's source step does
// (its blobs then go out from their files, by sendfile) and publishes it
// unchanged with push.Destinations: one destination per ref, one session
// per registry host, anonymous (the benchmark's registry wants no token),
// read back as the action reads back.
func fanoutPush(ctx context.Context, dir string, refs ...string) error {
	if len(refs) == 0 {
		return errors.New("no destination: name at least one HOST/REPO:TAG")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	loaded, err := source.Load(ctx, &inputs.Source{Line: "oci:" + abs, Transport: inputs.OCILayout, Path: abs}, source.Options{})
	if err != nil {
		return fmt.Errorf("reading %s: %w", dir, err)
	}
	defer loaded.Close()
	var artifact push.Artifact = loaded.Image
	if loaded.Index != nil {
		artifact = loaded.Index
	}
	sessions := map[string]*registryhttp.Sessions{}
	var dests []push.Destination
	for _, ref := range refs {
		tag, err := name.NewTag(ref, name.Insecure)
		if err != nil {
			return fmt.Errorf("destination %q: %w", ref, err)
		}
		host := tag.RegistryStr()
		if sessions[host] == nil {
			sessions[host] = registryhttp.NewSessions(nil, nil, "", registryhttp.New(registryhttp.Policy{}))
		}
		dests = append(dests, push.Destination{Repository: tag.Context(), Tags: []name.Tag{tag}, Sessions: sessions[host]})
	}
	_, err = push.Destinations(ctx, artifact, dests, push.Options{ReadBack: true})
	return err
}

// twoRegistries publishes the 2-platform layout to two registries. The
// benchmark's registry answers on a second loopback port for it: to every
// tool two hosts are two registries (a session, a token, blobs known to
// each apart, no mount from one to the other), and each run writes a new
// repository on each, so every blob crosses to each host.
func twoRegistries() scenario {
	refs := func(b *bench, tool string, n int) []string {
		return []string{
			fmt.Sprintf("%s/fanout-%s-%d-a:1.0", b.fanoutHosts[0], tool, n),
			fmt.Sprintf("%s/fanout-%s-%d-b:1.0", b.fanoutHosts[1], tool, n),
		}
	}
	return scenario{
		id:    "fanout",
		name:  "two registries",
		what:  "a 2-platform image (an index of two images, 4 layers each) to two registries, a new repository on each",
		tools: []string{ours, crane, regctl},
		before: func(ctx context.Context, b *bench, tool string, n int) error {
			// The run's host, and one more for the second registry.
			first := b.host()
			if err := b.reg.rehost(); err != nil {
				return err
			}
			b.fanoutHosts = [2]string{first, b.host()}
			return nil
		},
		run: func(ctx context.Context, b *bench, tool string, n int, x *execer) error {
			switch tool {
			case ours:
				if b.self == "" {
					// Tests: in process, as they run the action.
					return fanoutPush(ctx, b.multi.Dir, refs(b, tool, n)...)
				}
				_, err := x.run(ctx, append([]string{b.self, fanoutCommand, b.multi.Dir}, refs(b, tool, n)...), b.env, nil)
				return err
			case crane:
				for _, ref := range refs(b, tool, n) {
					if _, err := x.run(ctx, []string{b.peers.crane, "push", b.multi.Dir, ref}, b.env, nil); err != nil {
						return err
					}
				}
				return nil
			case regctl:
				for _, ref := range refs(b, tool, n) {
					argv := []string{b.peers.regctl, "--host", "reg=" + b.fanoutHosts[0] + ",tls=disabled", "--host", "reg=" + b.fanoutHosts[1] + ",tls=disabled", "image", "copy", "ocidir://" + b.multi.Dir + ":" + layoutRef, ref}
					if _, err := x.run(ctx, argv, b.env, nil); err != nil {
						return err
					}
				}
				return nil
			}
			return errUnsupported
		},
		notes: []string{
			"ours: `bench " + fanoutCommand + " DIR REF_A REF_B`, the push step's `push.Destinations` on the layout read by the source step, unchanged (not stamped), both registries at once, each manifest by digest everywhere before either tag, then each tag read back: the code the action runs for `images` after it has read and stamped the source",
			"crane: `crane push DIR REF` once per registry; regctl: `regctl image copy ocidir://DIR:latest REF` once per registry (a copy per registry)",
			"skopeo left out: the comparison asked for is with crane and regctl",
		},
	}
}
