package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ghcr-publish/publish-action/internal/push"
	"github.com/ghcr-publish/publish-action/internal/testkit/registrytest"
)

// faultsID names the faults scenario on the command line. It is not a
// timed scenario like the others: every tool publishes through the same
// seeded fault processes, and what counts is whether it converged.
const faultsID = "faults"

// faultProcess is one seeded random fault process, as the issue states it.
type faultProcess struct {
	// id names it for -faults.
	id    string
	name  string
	rates map[registrytest.Fault]float64
	match func(*http.Request) bool
}

func faultProcesses() []faultProcess {
	return []faultProcess{
		{"503+429", "15% 503 + 10% ghcr-style 429 on writes", map[registrytest.Fault]float64{registrytest.Unavailable: 0.15, registrytest.GHCRRateLimited: 0.10}, registrytest.Writes},
		{"503", "30% 503 on every request", map[registrytest.Fault]float64{registrytest.Unavailable: 0.30}, nil},
		{"upload-unknown", "10% BLOB_UPLOAD_UNKNOWN on upload commits", map[registrytest.Fault]float64{registrytest.UploadUnknown: 0.10}, registrytest.Commits},
	}
}

// faultRun is one tool's publish through one seed of one process.
type faultRun struct {
	converged bool
	// index says the tag read back is an index.
	index bool
	bytes int64
	wall  time.Duration
	err   string
}

// faultResult is every run of the faults scenario.
type faultResult struct {
	seeds int
	// size is the layout's blob bytes.
	size  int64
	tools []string
	// clean is each tool's request body bytes through a fault-free proxy.
	clean map[string]int64
	runs  map[string]map[string][]faultRun // process → tool → runs
}

// measureFaults publishes the 2-platform layout with every tool through every
// fault process, seeds 1..seeds each: the same seed draws the same fault
// for the nth request of any tool.
func (b *bench) measureFaults(ctx context.Context, seeds int, only map[string]bool, logf func(string, ...any)) (faultResult, error) {
	res := faultResult{seeds: seeds, size: b.multi.bytes(), clean: map[string]int64{}, runs: map[string]map[string][]faultRun{}}
	for _, t := range []string{ours, crane, regctl, skopeo} {
		if b.has(t) {
			res.tools = append(res.tools, t)
		}
	}
	want := map[string]string{}
	for _, tool := range res.tools {
		r, digest := b.faultyPublish(ctx, tool, "clean", nil)
		if !r.converged || digest == "" {
			return res, fmt.Errorf("%s: the clean publish failed: %s", tool, r.err)
		}
		if !r.index {
			return res, fmt.Errorf("%s: the clean publish tagged a single image, not the layout's index", tool)
		}
		res.clean[tool], want[tool] = r.bytes, digest
	}
	for _, fp := range faultProcesses() {
		if len(only) > 0 && !only[fp.id] {
			continue
		}
		res.runs[fp.name] = map[string][]faultRun{}
		for seed := 1; seed <= seeds; seed++ {
			for _, tool := range res.tools {
				schedule := registrytest.Random(uint64(seed), fp.rates, fp.match)
				r, digest := b.faultyPublish(ctx, tool, fmt.Sprintf("f%d-s%d", len(res.runs), seed), schedule)
				if r.converged && digest != want[tool] {
					r.converged, r.err = false, fmt.Sprintf("tag points at %s, clean publish gave %s", digest, want[tool])
				}
				res.runs[fp.name][tool] = append(res.runs[fp.name][tool], r)
				status := "converged"
				if !r.converged {
					status = "FAILED: " + lastLine(r.err)
				}
				logf("faults: %s, seed %d, %-6s %.2f s, %s sent: %s", fp.name, seed, tool, r.wall.Seconds(), push.HumanBytes(r.bytes), status)
			}
		}
	}
	return res, nil
}

// faultyPublish publishes the 2-platform layout (an index of two images)
// with tool through a new fault proxy in front of the registry, to a
// repository of its own, and reads the tag back from the registry itself
// (not through the faults). Every tool pushes the whole index: crane push
// of a layout whose index.json names an index, regctl image copy from
// ocidir:// (every platform unless told otherwise), skopeo copy --all.
func (b *bench) faultyPublish(ctx context.Context, tool, run string, schedule registrytest.Schedule) (faultRun, string) {
	proxy := registrytest.NewFaultProxy(b.host(), schedule)
	defer proxy.Close()
	repo := fmt.Sprintf("faults-%s-%s", tool, run)
	ref := proxy.Host() + "/" + repo + ":1.0"
	x := &execer{launcher: b.launcher}
	// The job's timeout, in effect: no tool may take longer.
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	start := time.Now()
	var err error
	switch tool {
	case ours:
		_, err = b.ours.publish(ctx, x, b.oursEnv(map[string]string{
			"INPUT_SOURCE": "oci:" + b.multi.Dir,
			"INPUT_IMAGE":  proxy.Host() + "/" + repo,
			"INPUT_TAGS":   "1.0",
		}))
	case crane:
		_, err = x.run(ctx, []string{b.peers.crane, "push", b.multi.Dir, ref}, b.env, nil)
	case regctl:
		_, err = x.run(ctx, []string{b.peers.regctl, "--host", "reg=" + proxy.Host() + ",tls=disabled", "image", "copy", "ocidir://" + b.multi.Dir + ":" + layoutRef, ref}, b.env, nil)
	case skopeo:
		_, err = x.run(ctx, b.skopeoArgs("copy", "--all", "--dest-tls-verify=false", "oci:"+b.multi.Dir+":"+layoutRef, "docker://"+ref), b.env, nil)
	}
	r := faultRun{wall: time.Since(start), bytes: proxy.BytesIn()}
	if x.Commands > 0 {
		r.wall = x.Wall
	}
	if err != nil {
		r.err = err.Error()
		return r, ""
	}
	tag, terr := name.NewTag(b.host()+"/"+repo+":1.0", name.Insecure)
	if terr != nil {
		r.err = terr.Error()
		return r, ""
	}
	desc, herr := remote.Head(tag, remote.WithContext(ctx))
	if herr != nil {
		r.err = "reading the tag back: " + herr.Error()
		return r, ""
	}
	r.converged, r.index = true, desc.MediaType.IsIndex()
	return r, desc.Digest.String()
}

// renderFaults is the faults table: per process and tool, converged runs
// of all, bytes sent relative to the tool's clean publish (median and
// worst), and median wall time.
func renderFaults(res faultResult) string {
	var b strings.Builder
	b.WriteString("\n## Faults\n\nConverged publishes under seeded random faults. ")
	fmt.Fprintf(&b, "Seeds 1–%d of each process; every tool publishes the same 2-platform layout (an index of a linux/amd64 and a linux/arm64 image, 4 layers each, %s in all) through a fault proxy drawing the same fault for the nth request under the same seed. Converged: the tool succeeded and the tag reads back, from the registry itself, as the clean publish's digest (an index, checked on the clean publish). Bytes: request body bytes that reached the proxy, ÷ the tool's own fault-free publish.\n\n", res.seeds, push.HumanBytes(res.size))
	b.WriteString("| faults | tool | converged | bytes ÷ clean (median) | bytes ÷ clean (worst) | wall (median) |\n|---|---|--:|--:|--:|--:|\n")
	for _, fp := range faultProcesses() {
		if res.runs[fp.name] == nil {
			continue
		}
		for _, tool := range res.tools {
			runs := res.runs[fp.name][tool]
			conv := 0
			var ratios []float64
			var walls []time.Duration
			for _, r := range runs {
				if r.converged {
					conv++
				}
				if c := res.clean[tool]; c > 0 {
					ratios = append(ratios, float64(r.bytes)/float64(c))
				}
				walls = append(walls, r.wall)
			}
			slices.Sort(ratios)
			slices.Sort(walls)
			med, worst := 0.0, 0.0
			if len(ratios) > 0 {
				med, worst = ratios[len(ratios)/2], ratios[len(ratios)-1]
			}
			var wall time.Duration
			if len(walls) > 0 {
				wall = walls[len(walls)/2]
			}
			fmt.Fprintf(&b, "| %s | %s | %d/%d | %.2f | %.2f | %.2f s |\n", fp.name, tool, conv, len(runs), med, worst, wall.Seconds())
		}
	}
	b.WriteString("\nTargets (ours): 100% converged in every process; bytes ≤ 1.5× a clean publish.\n")
	for _, fp := range faultProcesses() {
		if res.runs[fp.name] == nil {
			continue
		}
		runs := res.runs[fp.name][ours]
		conv, worst := 0, 0.0
		for _, r := range runs {
			if r.converged {
				conv++
			}
			if c := res.clean[ours]; c > 0 {
				worst = max(worst, float64(r.bytes)/float64(c))
			}
		}
		verdict := "met"
		if conv != len(runs) || worst > 1.5 {
			verdict = "**missed**"
		}
		fmt.Fprintf(&b, "- %s: %d/%d converged, worst bytes %.2f× clean — %s\n", fp.name, conv, len(runs), worst, verdict)
	}
	return b.String()
}
