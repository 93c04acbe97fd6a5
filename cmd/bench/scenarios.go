package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrlayout "github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	specs "github.com/opencontainers/image-spec/specs-go/v1"
)

// The tools compared. raw is the ceiling: the same blobs PUT with a plain
// HTTP client, two at a time, nothing checked.
const (
	ours   = "ours"
	crane  = "crane"
	regctl = "regctl"
	skopeo = "skopeo"
	raw    = "raw"
)

// layoutRef is the name every generated layout gives its image in
// index.json, which regctl and skopeo need to pick it.
const layoutRef = "latest"

// metadata is what every tool stamps where a scenario stamps: the labels
// that link, describe and license a package on ghcr.io.
var metadata = []struct{ key, value string }{
	{specs.AnnotationSource, "https://github.com/acme/widget"},
	{specs.AnnotationDescription, "Widget, as published by the benchmark"},
	{specs.AnnotationLicenses, "Apache-2.0"},
}

// bench is one benchmark's world: the registry, the tools and the images.
type bench struct {
	reg   *registry
	ours  publisher
	peers peers
	// self is this program, which also is the raw ceiling's client;
	// launcher starts and measures every command (see ./launch).
	self, launcher string
	// env is what peers run with.
	env []string
	// workspace is GITHUB_WORKSPACE for our runs.
	workspace string

	// big is the cold-push image (8 layers making up -size), small the
	// many-tags one, amd and arm the per-platform images merged, multi
	// a layout of both under one index (the faults scenario's).
	big, small, amd, arm, multi layout

	// merged are the digests of the per-platform images the merge
	// scenario starts from, already carrying the metadata (pushed by us).
	merged []string
	// rerun is our digest from the re-run scenario's first publish.
	rerun string
	// fanoutHosts are the two registry hosts of a two-registries run.
	fanoutHosts [2]string
	// trace logs every request of every run.
	trace bool
}

func (b *bench) host() string { return b.reg.host }

// oursEnv is the environment of one of our runs: a workflow-like context
// for acme/widget with the GitHub API unreachable (the action warns and
// goes on with the inputs), a fixed SOURCE_DATE_EPOCH so that digests are
// reproducible, the metadata as inputs, and extra on top.
func (b *bench) oursEnv(extra map[string]string) map[string]string {
	env := map[string]string{
		"GITHUB_REPOSITORY": "acme/widget",
		"GITHUB_SERVER_URL": "https://github.com",
		"GITHUB_API_URL":    "http://127.0.0.1:1",
		"GITHUB_WORKSPACE":  b.workspace,
		"SOURCE_DATE_EPOCH": "1767323045",
		"INPUT_PUSH":        "true",
		"INPUT_LINK-CHECK":  "off",
		"INPUT_SOURCE-URL":  metadata[0].value,
		"INPUT_DESCRIPTION": metadata[1].value,
		"INPUT_LICENSES":    metadata[2].value,
		// The version label is otherwise derived from the first tag; set
		// it so that images pushed by digest carry the same metadata as
		// the tagged index they are merged into.
		"INPUT_LABELS": specs.AnnotationVersion + "=1.0",
	}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

// scenario is one thing a user does, done by each tool that can.
type scenario struct {
	// id names it on the command line (-scenarios).
	id         string
	name, what string
	tools      []string
	// setup runs once before the first run; before and after around every
	// run. None of them is measured.
	setup         func(ctx context.Context, b *bench) error
	before, after func(ctx context.Context, b *bench, tool string, n int) error
	// run is one measured run of tool, the nth (from 0).
	run func(ctx context.Context, b *bench, tool string, n int, x *execer) error
	// notes say which peers cannot do it, and how the others were run.
	notes []string
}

// scenarioIDs lists every scenario's id, in order.
func scenarioIDs() []string {
	var ids []string
	for _, s := range scenarios() {
		ids = append(ids, s.id)
	}
	return ids
}

// scenarios are the issue's, in its order.
func scenarios() []scenario {
	return []scenario{coldPush(), relabel(), merge(), mergeRestamp(), rerun(), manyTags(), twoRegistries()}
}

func (b *bench) regctlArgs(args ...string) []string {
	return append([]string{b.peers.regctl, "--host", "reg=" + b.host() + ",tls=disabled"}, args...)
}

// peerPush is a peer's cold push of the big layout to ref; the re-run
// scenario repeats exactly that command.
func (b *bench) peerPush(ctx context.Context, x *execer, tool, ref string) error {
	var argv []string
	switch tool {
	case crane:
		argv = []string{b.peers.crane, "push", b.big.Dir, ref}
	case regctl:
		argv = b.regctlArgs("image", "copy", "ocidir://"+b.big.Dir+":"+layoutRef, ref)
	case skopeo:
		argv = b.skopeoArgs("copy", "--dest-tls-verify=false", "oci:"+b.big.Dir+":"+layoutRef, "docker://"+ref)
	default:
		return errUnsupported
	}
	_, err := x.run(ctx, argv, b.env, nil)
	return err
}

func (b *bench) skopeoArgs(args ...string) []string {
	return append([]string{b.peers.skopeo, "--insecure-policy"}, args...)
}

// labelArgs are the metadata as repeated flag=key=value arguments.
func labelArgs(flag string) []string {
	var out []string
	for _, m := range metadata {
		out = append(out, flag, m.key+"="+m.value)
	}
	return out
}

func coldPush() scenario {
	return scenario{
		id:    "cold",
		name:  "cold push",
		what:  "the OCI layout to an empty repository (a new one each run)",
		tools: []string{ours, crane, regctl, skopeo, raw},
		run: func(ctx context.Context, b *bench, tool string, n int, x *execer) error {
			ref := fmt.Sprintf("%s/cold-%s-%d:1.0", b.host(), tool, n)
			switch tool {
			case ours:
				_, err := b.ours.publish(ctx, x, b.oursEnv(map[string]string{
					"INPUT_SOURCE": "oci:" + b.big.Dir,
					"INPUT_IMAGE":  strings.TrimSuffix(ref, ":1.0"),
					"INPUT_TAGS":   "1.0",
				}))
				return err
			case crane, regctl, skopeo:
				return b.peerPush(ctx, x, tool, ref)
			case raw:
				_, err := x.run(ctx, []string{b.self, rawCommand, b.host(), fmt.Sprintf("cold-%s-%d", tool, n), b.big.Dir}, b.env, nil)
				return err
			}
			return errUnsupported
		},
		notes: []string{
			"ours: `source: oci:DIR`, tags `1.0`, stamping source, description and licenses (so config and manifest are new); layers sent from their files (sendfile), each checked against its digest by the registry, which refuses a mismatch",
			"crane: `crane push DIR REF`; regctl: `regctl image copy ocidir://DIR:latest REF`; skopeo: `skopeo copy oci:DIR:latest docker://REF` (all three push the layout unchanged)",
			"raw: a plain Go HTTP client, POST then monolithic PUT of each layer blob from its file, two at a time, nothing hashed",
		},
	}
}

func relabel() scenario {
	base := func(b *bench) string { return b.host() + "/base:1.0" }
	return scenario{
		id:    "relabel",
		name:  "relabel",
		what:  "add labels to the image in the registry, tag it in a new repository of the same registry",
		tools: []string{ours, crane, regctl},
		setup: func(ctx context.Context, b *bench) error {
			return seed(ctx, b.big, base(b))
		},
		run: func(ctx context.Context, b *bench, tool string, n int, x *execer) error {
			repo := fmt.Sprintf("%s/relabel-%s-%d", b.host(), tool, n)
			switch tool {
			case ours:
				_, err := b.ours.publish(ctx, x, b.oursEnv(map[string]string{
					"INPUT_SOURCE": "docker://" + base(b),
					"INPUT_IMAGE":  repo,
					"INPUT_TAGS":   "1.0",
				}))
				return err
			case crane:
				args := append([]string{b.peers.crane, "mutate", base(b)}, labelArgs("--label")...)
				args = append(args, labelArgs("--annotation")...)
				_, err := x.run(ctx, append(args, "-t", repo+":1.0"), b.env, nil)
				return err
			case regctl:
				args := append(b.regctlArgs("image", "mod", base(b)), labelArgs("--label")...)
				_, err := x.run(ctx, append(args, "--label-to-annotation", "--create", repo+":1.0"), b.env, nil)
				return err
			}
			return errUnsupported
		},
		notes: []string{
			"ours: `source: docker://HOST/base:1.0` with the metadata inputs; crane: `crane mutate --label … --annotation … -t NEW`; regctl: `regctl image mod --label … --label-to-annotation --create NEW`",
			"skopeo cannot change labels: left out",
		},
	}
}

func merge() scenario {
	return scenario{
		id:    "merge",
		name:  "merge",
		what:  "two per-platform images in the registry, already carrying the metadata → one annotated index, tagged",
		tools: []string{ours, crane, regctl},
		setup: func(ctx context.Context, b *bench) error {
			// The per-platform images are what a matrix of our own
			// push-by-digest steps leaves behind: stamped already.
			b.merged = nil
			for _, l := range []layout{b.amd, b.arm} {
				out, err := b.ours.publish(ctx, &execer{}, b.oursEnv(map[string]string{
					"INPUT_SOURCE":         "oci:" + l.Dir,
					"INPUT_IMAGE":          b.host() + "/merge",
					"INPUT_PUSH-BY-DIGEST": "true",
				}))
				if err != nil {
					return err
				}
				b.merged = append(b.merged, out["digest"])
			}
			return nil
		},
		run: func(ctx context.Context, b *bench, tool string, n int, x *execer) error {
			repo := b.host() + "/merge"
			var children []string
			for _, d := range b.merged {
				children = append(children, repo+"@"+d)
			}
			switch tool {
			case ours:
				_, err := b.ours.publish(ctx, x, b.oursEnv(map[string]string{
					"INPUT_SOURCE": strings.Join(children, "\n"),
					"INPUT_IMAGE":  repo,
					"INPUT_TAGS":   "1.0",
				}))
				return err
			case regctl:
				args := b.regctlArgs("index", "create", repo+":regctl")
				for _, c := range children {
					args = append(args, "--ref", c)
				}
				_, err := x.run(ctx, append(args, labelArgs("--annotation")...), b.env, nil)
				return err
			case crane:
				return craneMerge(ctx, b, x, repo, children)
			}
			return errUnsupported
		},
		after: func(ctx context.Context, b *bench, tool string, n int) error {
			// Delete the index (not the images), so every run starts cold.
			tags := map[string][]string{ours: {"1.0"}, regctl: {"regctl"}, crane: {"crane", "crane-tmp"}}[tool]
			for _, t := range tags {
				if err := deleteTag(ctx, b.host()+"/merge:"+t); err != nil {
					return err
				}
			}
			return nil
		},
		notes: []string{
			"ours: two `source` lines `HOST/merge@sha256:…` (pushed by our own `push-by-digest` steps, so the images already carry the metadata and are not restamped), tags `1.0`",
			"regctl: `regctl index create REF --ref A --ref B --annotation …`",
			"crane: three commands, since `crane mutate` refuses annotations on an index: `crane index append -m A -m B -t TMP`, `crane manifest TMP`, then `crane edit manifest TMP -t REF` with the annotated JSON on stdin",
			"skopeo cannot create an index: left out",
		},
	}
}

// craneMerge is crane's way to an annotated index.
func craneMerge(ctx context.Context, b *bench, x *execer, repo string, children []string) error {
	args := []string{b.peers.crane, "index", "append"}
	for _, c := range children {
		args = append(args, "-m", c)
	}
	if _, err := x.run(ctx, append(args, "-t", repo+":crane-tmp"), b.env, nil); err != nil {
		return err
	}
	raw, err := x.run(ctx, []string{b.peers.crane, "manifest", repo + ":crane-tmp"}, b.env, nil)
	if err != nil {
		return err
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("crane manifest: %w", err)
	}
	ann := map[string]any{}
	for _, kv := range metadata {
		ann[kv.key] = kv.value
	}
	m["annotations"] = ann
	edited, err := json.Marshal(m)
	if err != nil {
		return err
	}
	_, err = x.run(ctx, []string{b.peers.crane, "edit", "manifest", repo + ":crane-tmp", "-t", repo + ":crane"}, b.env, edited)
	return err
}

func mergeRestamp() scenario {
	repo := func(b *bench, tool string, n int) string {
		return fmt.Sprintf("%s/restamp-%s-%d", b.host(), tool, n)
	}
	children := func(b *bench, tool string, n int) []string {
		return []string{repo(b, tool, n) + "@" + b.amd.Digest.String(), repo(b, tool, n) + "@" + b.arm.Digest.String()}
	}
	return scenario{
		id:    "restamp",
		name:  "merge, restamped",
		what:  "two bare per-platform images in the registry → one index, every image and the index stamped, tagged",
		tools: []string{ours, regctl},
		before: func(ctx context.Context, b *bench, tool string, n int) error {
			for i, l := range []layout{b.amd, b.arm} {
				if err := seed(ctx, l, children(b, tool, n)[i]); err != nil {
					return err
				}
			}
			return nil
		},
		run: func(ctx context.Context, b *bench, tool string, n int, x *execer) error {
			switch tool {
			case ours:
				_, err := b.ours.publish(ctx, x, b.oursEnv(map[string]string{
					"INPUT_SOURCE": strings.Join(children(b, tool, n), "\n"),
					"INPUT_IMAGE":  repo(b, tool, n),
					"INPUT_TAGS":   "1.0",
				}))
				return err
			case regctl:
				ref := repo(b, tool, n) + ":1.0"
				args := b.regctlArgs("index", "create", ref)
				for _, c := range children(b, tool, n) {
					args = append(args, "--ref", c)
				}
				if _, err := x.run(ctx, append(args, labelArgs("--annotation")...), b.env, nil); err != nil {
					return err
				}
				args = append(b.regctlArgs("image", "mod", ref), labelArgs("--label")...)
				_, err := x.run(ctx, append(args, "--label-to-annotation", "--replace"), b.env, nil)
				return err
			}
			return errUnsupported
		},
		notes: []string{
			"ours: the same two `source` lines, images without the metadata (a new repository each run)",
			"regctl: `regctl index create … --annotation …` then `regctl image mod REF --label … --label-to-annotation --replace`",
			"crane would need a `crane mutate` per image, then the three index commands: left out; skopeo cannot: left out",
		},
	}
}

func rerun() scenario {
	ref := func(b *bench, tool string) string { return fmt.Sprintf("%s/rerun-%s:1.0", b.host(), tool) }
	return scenario{
		id:    "rerun",
		name:  "re-run",
		what:  "publish the cold-push source again to the same tag",
		tools: []string{ours, crane, regctl, skopeo},
		setup: func(ctx context.Context, b *bench) error {
			// Each tool's first publish, not measured.
			for _, tool := range []string{ours, crane, regctl, skopeo} {
				if !b.has(tool) {
					continue
				}
				if err := rerun().run(ctx, b, tool, -1, &execer{}); err != nil {
					return err
				}
			}
			return nil
		},
		run: func(ctx context.Context, b *bench, tool string, n int, x *execer) error {
			r := ref(b, tool)
			switch tool {
			case ours:
				out, err := b.ours.publish(ctx, x, b.oursEnv(map[string]string{
					"INPUT_SOURCE": "oci:" + b.big.Dir,
					"INPUT_IMAGE":  strings.TrimSuffix(r, ":1.0"),
					"INPUT_TAGS":   "1.0",
				}))
				if err != nil {
					return err
				}
				if n < 0 {
					b.rerun = out["digest"]
				} else if out["digest"] != b.rerun {
					return fmt.Errorf("re-run published %s, the first run %s", out["digest"], b.rerun)
				}
				return nil
			case crane, regctl, skopeo:
				return b.peerPush(ctx, x, tool, r)
			}
			return errUnsupported
		},
		notes: []string{"each tool repeats its own cold-push command to the repository it already published to"},
	}
}

// tagCount is how many tags the many-tags scenario writes.
const tagCount = 10

func manyTags() scenario {
	tags := make([]string, tagCount)
	for i := range tags {
		tags[i] = fmt.Sprintf("t%d", i+1)
	}
	return scenario{
		id:    "tags",
		name:  "many tags",
		what:  fmt.Sprintf("a small image (8 × 1 MiB) to a new repository with %d tags", tagCount),
		tools: []string{ours, crane, regctl, skopeo},
		run: func(ctx context.Context, b *bench, tool string, n int, x *execer) error {
			repo := fmt.Sprintf("%s/tags-%s-%d", b.host(), tool, n)
			switch tool {
			case ours:
				_, err := b.ours.publish(ctx, x, b.oursEnv(map[string]string{
					"INPUT_SOURCE": "oci:" + b.small.Dir,
					"INPUT_IMAGE":  repo,
					"INPUT_TAGS":   strings.Join(tags, ","),
				}))
				return err
			case crane:
				if _, err := x.run(ctx, []string{b.peers.crane, "push", b.small.Dir, repo + ":" + tags[0]}, b.env, nil); err != nil {
					return err
				}
				for _, t := range tags[1:] {
					if _, err := x.run(ctx, []string{b.peers.crane, "tag", repo + ":" + tags[0], t}, b.env, nil); err != nil {
						return err
					}
				}
				return nil
			case regctl:
				if _, err := x.run(ctx, b.regctlArgs("image", "copy", "ocidir://"+b.small.Dir+":"+layoutRef, repo+":"+tags[0]), b.env, nil); err != nil {
					return err
				}
				for _, t := range tags[1:] {
					if _, err := x.run(ctx, b.regctlArgs("image", "copy", repo+":"+tags[0], repo+":"+t), b.env, nil); err != nil {
						return err
					}
				}
				return nil
			case skopeo:
				for _, t := range tags {
					if _, err := x.run(ctx, b.skopeoArgs("copy", "--dest-tls-verify=false", "oci:"+b.small.Dir+":"+layoutRef, "docker://"+repo+":"+t), b.env, nil); err != nil {
						return err
					}
				}
				return nil
			}
			return errUnsupported
		},
		notes: []string{
			"ours: one run with `tags: t1,…,t10`; crane: `crane push` then nine `crane tag`; regctl: `regctl image copy` then nine `regctl image copy REF:t1 REF:tN`; skopeo: ten `skopeo copy` (the later ones find every blob present)",
		},
	}
}

// has reports whether tool can run here.
func (b *bench) has(tool string) bool {
	switch tool {
	case crane:
		return b.peers.crane != ""
	case regctl:
		return b.peers.regctl != ""
	case skopeo:
		return b.peers.skopeo != ""
	case raw:
		return b.self != ""
	}
	return true
}

// seed pushes a generated layout's image to ref (a tag or a digest) with
// go-containerregistry, outside any measurement.
func seed(ctx context.Context, l layout, ref string) error {
	r, err := name.ParseReference(ref)
	if err != nil {
		return err
	}
	p, err := ggcrlayout.FromPath(l.Dir)
	if err != nil {
		return err
	}
	img, err := p.Image(l.Digest)
	if err != nil {
		return err
	}
	if err := remote.Write(r, img, remote.WithContext(ctx)); err != nil {
		return fmt.Errorf("seeding %s: %w", ref, err)
	}
	return nil
}

// deleteTag deletes the manifest ref points at, if any (distribution
// deletes by digest only, and untags it).
func deleteTag(ctx context.Context, ref string) error {
	r, err := name.ParseReference(ref)
	if err != nil {
		return err
	}
	desc, err := remote.Head(r, remote.WithContext(ctx))
	if err != nil {
		if isNotFound(err) {
			return nil
		}
		return err
	}
	return remote.Delete(r.Context().Digest(desc.Digest.String()), remote.WithContext(ctx))
}

func isNotFound(err error) bool {
	var terr *transport.Error
	return errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound
}

// errUnsupported is a tool asked for a scenario it cannot do: a bug in
// the scenario table.
var errUnsupported = errors.New("tool not supported by this scenario")
