package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ghcr-publish/publish-action/internal/push"
)

// median of the values f picks from samples.
func median[T int | int64 | time.Duration](samples []sample, f func(sample) T) T {
	vs := make([]T, len(samples))
	for i, s := range samples {
		vs[i] = f(s)
	}
	slices.Sort(vs)
	n := len(vs)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return vs[n/2]
	}
	return (vs[n/2-1] + vs[n/2]) / 2
}

// medians is the median of every figure, taken one by one.
func medians(samples []sample) sample {
	return sample{
		Wall:        median(samples, func(s sample) time.Duration { return s.Wall }),
		CPU:         median(samples, func(s sample) time.Duration { return s.CPU }),
		RegistryCPU: median(samples, func(s sample) time.Duration { return s.RegistryCPU }),
		RSS:         median(samples, func(s sample) int64 { return s.RSS }),
		Startup:     median(samples, func(s sample) time.Duration { return s.Startup }),
		Commands:    median(samples, func(s sample) int { return s.Commands }),
		counts: counts{
			Requests:     median(samples, func(s sample) int { return s.Requests }),
			Up:           median(samples, func(s sample) int64 { return s.Up }),
			Down:         median(samples, func(s sample) int64 { return s.Down }),
			BlobUp:       median(samples, func(s sample) int64 { return s.BlobUp }),
			Mounts:       median(samples, func(s sample) int { return s.Mounts }),
			ManifestPuts: median(samples, func(s sample) int { return s.ManifestPuts }),
			Errors:       median(samples, func(s sample) int { return s.Errors }),
			MaxUploads:   median(samples, func(s sample) int { return s.MaxUploads }),
			RoundTrips:   median(samples, func(s sample) int { return s.RoundTrips }),
			Conns:        median(samples, func(s sample) int { return s.Conns }),
		},
	}
}

// bestPeer is the fastest peer's median wall time, and which it is.
func (r result) bestPeer() (string, time.Duration) {
	best, bestWall := "", time.Duration(0)
	for _, t := range r.order {
		if t == ours || t == raw {
			continue
		}
		w := medians(r.samples[t]).Wall
		if best == "" || w < bestWall {
			best, bestWall = t, w
		}
	}
	return best, bestWall
}

// ratio is our median wall time over tool's ("" for the fastest peer).
func (r result) ratio(tool string) (float64, bool) {
	if len(r.samples[ours]) == 0 {
		return 0, false
	}
	var w time.Duration
	if tool == "" {
		_, w = r.bestPeer()
	} else if len(r.samples[tool]) > 0 {
		w = medians(r.samples[tool]).Wall
	}
	if w == 0 {
		return 0, false
	}
	return medians(r.samples[ours]).Wall.Seconds() / w.Seconds(), true
}

func renderReport(results []result, nets []network, machine string, cfg config) string {
	var b strings.Builder
	if len(results) == 0 {
		// Only the faults scenario ran: it has its own table.
		b.WriteString("### Machine\n\n" + machine)
		return b.String()
	}
	fmt.Fprintf(&b, "Medians of %d runs per tool; image %s (8 layers); tools alternate run by run. Networks:\n\n", cfg.runs, push.HumanBytes(cfg.size))
	for _, n := range nets {
		fmt.Fprintf(&b, "- %s\n", n)
	}
	b.WriteString("\nRound trips: the longest chain of requests each of which started after the one before it ended, the requests the tool waited for one after another (on loopback, requests sent together can finish before the next starts, so the wide-area count is the one to read). ")
	b.WriteString("`×N`: the tool needed N commands; their times, CPU and requests are added up, RSS is the largest.\n")
	if len(nets) > 1 {
		b.WriteString("\n### Summary\n\n")
		b.WriteString(renderSummary(results, nets))
	}
	for _, n := range nets {
		fmt.Fprintf(&b, "\n### %s\n\n", strings.ToUpper(n.String()[:1])+n.String()[1:])
		b.WriteString(renderTable(results, n.id))
	}
	b.WriteString("\nCPU is the tool's processes' user + system time; registry CPU is the benchmark process's own during the run (the registry, the counter and the link in front of it). ")
	b.WriteString("Connections: TCP connections the registry accepted (on the wide-area link each costs one more round trip). ")
	b.WriteString("First request: from the first process's start to the registry's first request.\n\n")

	b.WriteString("### Targets\n\n")
	for _, line := range targets(results, cfg) {
		b.WriteString("- " + line + "\n")
	}
	b.WriteString("\n### How each tool was run\n\n")
	seen := map[string]bool{}
	for _, r := range results {
		if seen[r.id] {
			continue
		}
		seen[r.id] = true
		fmt.Fprintf(&b, "- **%s** — %s.\n", r.name, r.what)
		for _, n := range r.notes {
			fmt.Fprintf(&b, "  - %s\n", n)
		}
	}
	b.WriteString("\n### Machine\n\n")
	b.WriteString(machine)
	return b.String()
}

// toolName is a tool as a table row names it: with ×N when it needed N
// commands.
func toolName(t string, m sample) string {
	if m.Commands > 1 {
		return fmt.Sprintf("%s ×%d", t, m.Commands)
	}
	return t
}

// ratioCell is our wall time over the best peer's, bold, naming the peer.
func ratioCell(r result) string {
	x, ok := r.ratio("")
	if !ok {
		return ""
	}
	best, _ := r.bestPeer()
	return fmt.Sprintf("**%.2f** (%s)", x, best)
}

// renderTable is every figure of every tool on one network.
func renderTable(results []result, net string) string {
	var b strings.Builder
	b.WriteString("| scenario | tool | wall | round trips | requests | connections | CPU | peak RSS | up | down | uploads at once | first request | registry CPU | ours ÷ best peer |\n")
	b.WriteString("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, r := range results {
		if r.network.id != net {
			continue
		}
		for _, t := range r.order {
			m := medians(r.samples[t])
			ratio := ""
			if t == ours {
				ratio = ratioCell(r)
			}
			fmt.Fprintf(&b, "| %s | %s | %.3f s | %d | %d | %d | %.2f s | %.0f MiB | %s | %s | %d | %.0f ms | %.2f s | %s |\n",
				r.name, toolName(t, m), m.Wall.Seconds(), m.RoundTrips, m.Requests, m.Conns, m.CPU.Seconds(), float64(m.RSS)/(1<<20),
				push.HumanBytes(m.Up), push.HumanBytes(m.Down), m.MaxUploads, float64(m.Startup)/float64(time.Millisecond), m.RegistryCPU.Seconds(), ratio)
		}
	}
	return b.String()
}

// renderSummary puts each tool's wall time and round trips on every
// network side by side, one row per scenario and tool.
func renderSummary(results []result, nets []network) string {
	var b strings.Builder
	b.WriteString("| scenario | tool |")
	align := "|---|---|"
	for _, n := range nets {
		fmt.Fprintf(&b, " %s wall | %s round trips | %s ours ÷ best peer |", n.id, n.id, n.id)
		align += "--:|--:|--:|"
	}
	b.WriteString("\n" + align + "\n")
	byScenario := map[string]map[string]result{}
	var ids []string
	for _, r := range results {
		if byScenario[r.id] == nil {
			byScenario[r.id] = map[string]result{}
			ids = append(ids, r.id)
		}
		byScenario[r.id][r.network.id] = r
	}
	for _, id := range ids {
		var tools []string
		var name string
		for _, n := range nets {
			r, ok := byScenario[id][n.id]
			if !ok {
				continue
			}
			name = r.name
			for _, t := range r.order {
				if !slices.Contains(tools, t) {
					tools = append(tools, t)
				}
			}
		}
		for _, t := range tools {
			label := t
			var cells strings.Builder
			for _, n := range nets {
				r, ok := byScenario[id][n.id]
				if !ok || len(r.samples[t]) == 0 {
					cells.WriteString(" | | |")
					continue
				}
				m := medians(r.samples[t])
				label = toolName(t, m)
				ratio := ""
				if t == ours {
					ratio = ratioCell(r)
				}
				fmt.Fprintf(&cells, " %.3f s | %d | %s |", m.Wall.Seconds(), m.RoundTrips, ratio)
			}
			fmt.Fprintf(&b, "| %s | %s |%s\n", name, label, cells.String())
		}
	}
	return b.String()
}

// targets checks the targets against the medians.
func targets(results []result, cfg config) []string {
	var out []string
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "**missed**"
	}
	for _, r := range results {
		if len(r.samples[ours]) == 0 {
			continue
		}
		if r.network.id == wan {
			out = append(out, wideAreaTargets(r, verdict)...)
			continue
		}
		m := medians(r.samples[ours])
		switch r.id {
		case "cold":
			if x, ok := r.ratio(crane); ok {
				out = append(out, fmt.Sprintf("loopback cold push ≤ 1.0× crane: %.2f — %s", x, verdict(x <= 1.0)))
			}
			if x, ok := r.ratio(raw); ok {
				out = append(out, fmt.Sprintf("loopback cold push ≤ 1.1× the raw ceiling: %.2f× — %s", x, verdict(x <= 1.1)))
			}
			perGiB := m.CPU.Seconds() / (float64(cfg.size) / (1 << 30))
			out = append(out, fmt.Sprintf("cold push, client CPU ≤ 0.6 s per GiB (no corrupt layer ever tagged): %.2f s per GiB — %s", perGiB, verdict(perGiB <= 0.6)))
			out = append(out, fmt.Sprintf("cold push, peak RSS ≤ 64 MiB: %.0f MiB — %s", float64(m.RSS)/(1<<20), verdict(m.RSS <= 64<<20)))
			out = append(out, fmt.Sprintf("start to first registry request ≤ 50 ms: %.0f ms — %s", float64(m.Startup)/float64(time.Millisecond), verdict(m.Startup <= 50*time.Millisecond)))
		case "relabel":
			out = append(out, fmt.Sprintf("relabel, 0 layer bytes uploaded: %s of blob content uploaded (the new config), %d mounts — %s", push.HumanBytes(m.BlobUp), m.Mounts, verdict(m.BlobUp < 64<<10)))
			out = append(out, fmt.Sprintf("relabel, request bytes ≤ 64 KiB: %s — %s", push.HumanBytes(m.Up), verdict(m.Up <= 64<<10)))
			out = append(out, fmt.Sprintf("relabel, fewer than 23 requests: %d — %s", m.Requests, verdict(m.Requests < 23)))
			if x, ok := r.ratio(crane); ok {
				out = append(out, fmt.Sprintf("relabel, ratio ≤ 1.0 against crane: %.2f — %s", x, verdict(x <= 1.0)))
			}
		case "merge":
			out = append(out, fmt.Sprintf("merge, 0 layer bytes moved: %s of blob content — %s", push.HumanBytes(m.BlobUp), verdict(m.BlobUp == 0)))
			out = append(out, fmt.Sprintf("merge without restamping, ≤ 13 requests: %d — %s", m.Requests, verdict(m.Requests <= 13)))
			if x, ok := r.ratio(regctl); ok {
				out = append(out, fmt.Sprintf("merge, ratio ≤ 1.0 against regctl: %.2f — %s", x, verdict(x <= 1.0)))
			}
		case "restamp":
			out = append(out, fmt.Sprintf("merge with restamping, 0 layer bytes moved: %s of blob content (the two new configs) — %s", push.HumanBytes(m.BlobUp), verdict(m.BlobUp < 64<<10)))
			if x, ok := r.ratio(regctl); ok {
				out = append(out, fmt.Sprintf("merge with restamping, ratio against regctl: %.2f (no target)", x))
			}
		case "rerun":
			out = append(out, fmt.Sprintf("re-run, no blob uploaded: %s — %s; same digest every run: checked by each run", push.HumanBytes(m.BlobUp), verdict(m.BlobUp == 0)))
			out = append(out, fmt.Sprintf("re-run, ≤ 10 requests per tag (1 tag): %d — %s", m.Requests, verdict(m.Requests <= 10)))
		case "tags":
			out = append(out, fmt.Sprintf("many tags, manifest uploaded once per tag: %d manifest PUTs for %d tags (one more by digest) — %s", m.ManifestPuts, tagCount, verdict(m.ManifestPuts <= tagCount+1)))
			out = append(out, fmt.Sprintf("many tags, blobs once: %s of blob content for an image of %s (its new config included) — %s", push.HumanBytes(m.BlobUp), push.HumanBytes(cfg.smallBytes), verdict(m.BlobUp <= cfg.smallBytes+64<<10)))
		}
	}
	return out
}

// wideAreaTargets are the targets on the wide-area link: our wall
// time at most the best peer's, and fewer sequential round trips than any
// peer (each peer does the scenario's work, in one command or several).
func wideAreaTargets(r result, verdict func(bool) string) []string {
	var out []string
	if x, ok := r.ratio(""); ok {
		best, _ := r.bestPeer()
		out = append(out, fmt.Sprintf("wide area, %s: ≤ 1.0× the best peer (%s): %.2f — %s", r.name, best, x, verdict(x <= 1.0)))
	}
	fewest, fewestTool := 0, ""
	for _, t := range r.order {
		if t == ours || t == raw || len(r.samples[t]) == 0 {
			continue
		}
		if n := medians(r.samples[t]).RoundTrips; fewestTool == "" || n < fewest {
			fewest, fewestTool = n, t
		}
	}
	if fewestTool != "" {
		n := medians(r.samples[ours]).RoundTrips
		v := verdict(n < fewest)
		if n == 1 && fewest == 1 {
			// No publish takes fewer than one.
			v = "level, at the floor of one"
		}
		out = append(out, fmt.Sprintf("wide area, %s: fewer sequential round trips than any peer: %d, fewest of a peer %d (%s) — %s", r.name, n, fewest, fewestTool, v))
	}
	return out
}

// describeMachine says what the figures were measured on.
func describeMachine(ctx context.Context, p peers, ourBin, ourDesc string) string {
	var b strings.Builder
	cpu := firstField("/proc/cpuinfo", "model name")
	mem := firstField("/proc/meminfo", "MemTotal")
	if kb, err := strconv.ParseInt(strings.TrimSuffix(mem, " kB"), 10, 64); err == nil {
		mem = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
	}
	kernel, _ := exec.CommandContext(ctx, "uname", "-r").Output()
	goVersion, _ := exec.CommandContext(ctx, "go", "version").Output()
	fmt.Fprintf(&b, "- CPU: %s, %d cores (GOMAXPROCS %d)\n", cpu, runtime.NumCPU(), runtime.GOMAXPROCS(0))
	fmt.Fprintf(&b, "- memory: %s\n", mem)
	fmt.Fprintf(&b, "- kernel: Linux %s\n", strings.TrimSpace(string(kernel)))
	fmt.Fprintf(&b, "- Go: %s\n", strings.TrimSpace(string(goVersion)))
	registry := "distribution (version unknown)"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/distribution/distribution/v3" {
				registry = "github.com/distribution/distribution/v3 " + d.Version
			}
		}
	}
	fmt.Fprintf(&b, "- registry: %s in process, filesystem storage, loopback HTTP, no auth\n", registry)
	if fi, err := os.Stat(ourBin); err == nil {
		fmt.Fprintf(&b, "- ours: %s, %.1f MB\n", ourDesc, float64(fi.Size())/1e6)
	}
	for _, t := range []string{crane, regctl, skopeo} {
		v := p.versions[t]
		if v == "" {
			v = "not available"
		}
		fmt.Fprintf(&b, "- %s: %s\n", t, v)
	}
	for _, n := range p.notes {
		fmt.Fprintf(&b, "- note: %s\n", n)
	}
	return b.String()
}

// firstField is the value of the first "key : value" line for key.
func firstField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}
