// Command bench compares publishing with this action against crane, regctl
// and skopeo, side by side on one machine, and prints a markdown table.
//
//	go run ./cmd/bench            # 1 GiB image, 5 runs of every scenario
//	go run ./cmd/bench -quick     # 64 MiB, 2 runs: a smoke test
//
// It starts the CNCF distribution registry on loopback, storing on disk,
// behind a counter of requests, body bytes and concurrent uploads;
// generates the images deterministically; builds the action and installs
// the pinned peers (crane and regctl from the Go module proxy, skopeo from
// Debian); then runs each scenario for every tool that can do it,
// alternating tools run by run, and reports medians: wall time, CPU (user
// plus system of the tool's processes), peak RSS, requests and bytes, and
// our wall time divided by the fastest peer's. Only ratios from one run of
// the benchmark mean anything: absolute figures depend on the machine.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ghcr-publish/publish-action/internal/push"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == rawCommand {
		if len(os.Args) != 5 {
			fmt.Fprintln(os.Stderr, "usage: bench raw-put HOST REPO LAYOUT")
			os.Exit(2)
		}
		if err := rawPut(context.Background(), os.Args[2], os.Args[3], os.Args[4]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == fanoutCommand {
		if len(os.Args) < 4 {
			fmt.Fprintln(os.Stderr, "usage: bench "+fanoutCommand+" LAYOUT REF...")
			os.Exit(2)
		}
		if err := fanoutPush(context.Background(), os.Args[2], os.Args[3:]...); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	if len(os.Args) == 3 && os.Args[1] == serveCommand {
		err := serve(ctx, os.Args[2], os.Stdout)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	err := realMain(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// serveCommand runs the benchmark's registry on its own, storing in DIR,
// until interrupted, to try a tool against it by hand: `bench serve DIR`.
const serveCommand = "serve"

func serve(ctx context.Context, dir string, stdout io.Writer) error {
	reg, err := startRegistry(dir)
	if err != nil {
		return err
	}
	defer reg.close()
	fmt.Fprintf(stdout, "registry on %s, storing in %s; interrupt to stop\n", reg.host, dir)
	<-ctx.Done()
	return nil
}

// config is what the flags say.
type config struct {
	runs      int
	size      int64
	scenarios map[string]bool
	work      string
	keep      bool
	out       string
	peersDir  string
	trace     bool
	// ours is a prebuilt action binary to measure instead of this tree's.
	ours string
	// smallBytes is the many-tags image's size, for its target.
	smallBytes int64
	// seeds is how many seeds of each fault process the faults scenario
	// runs, and faults which processes (empty: all).
	seeds  int
	faults map[string]bool
	// networks are where every scenario runs: loopback, and a wide-area
	// link of latency round trip and bandwidth bytes per second each way.
	networks  []string
	latency   time.Duration
	bandwidth float64
}

// The networks of -network.
const (
	loopback = "loopback"
	wan      = "wan"
)

// network is where one set of runs talks to the registry.
type network struct {
	id string
	// link is nil on loopback.
	link *link
}

func (n network) String() string {
	if n.link == nil {
		return "loopback"
	}
	return "wide area (" + n.link.String() + ")"
}

// flagValues are the command line as given, before checking.
type flagValues struct {
	runs, seeds                                                     *int
	size, list, faults, work, out, ours, peers, networks, bandwidth *string
	quick, keep, trace                                              *bool
	latency                                                         *time.Duration
}

func defineFlags(fs *flag.FlagSet) flagValues {
	cache, _ := os.UserCacheDir()
	return flagValues{
		runs:      fs.Int("runs", 5, "measured runs of each scenario for each tool"),
		size:      fs.String("size", "1GiB", "cold-push image size (8 layers of a eighth each), e.g. 1GiB, 256MiB"),
		list:      fs.String("scenarios", strings.Join(scenarioIDs(), ","), "comma-separated scenarios to run; add "+faultsID+" for publishes through seeded random registry faults"),
		seeds:     fs.Int("seeds", 40, "seeds of each fault process in the "+faultsID+" scenario"),
		faults:    fs.String("faults", "", "fault processes of the "+faultsID+" scenario to run: 503+429, 503, upload-unknown (default all)"),
		quick:     fs.Bool("quick", false, "a fast smoke run: -size 64MiB -runs 2 unless given"),
		work:      fs.String("work", "", "directory for images, the registry's storage and binaries (default: a new temporary one, removed afterwards)"),
		keep:      fs.Bool("keep", false, "keep the work directory"),
		out:       fs.String("o", "", "also write the report to this file"),
		trace:     fs.Bool("trace", false, "log every request of every run"),
		ours:      fs.String("ours", "", "measure this action binary instead of building this tree's"),
		peers:     fs.String("peers", filepath.Join(cache, "publish-action-bench"), "where crane and regctl are installed (reused between runs)"),
		networks:  fs.String("network", loopback+","+wan, "comma-separated networks every scenario runs on: "+loopback+", and "+wan+" (a wide-area link: -latency, -bandwidth)"),
		latency:   fs.Duration("latency", 10*time.Millisecond, "the wide-area link's round trip: every request waits it once, every new connection once more"),
		bandwidth: fs.String("bandwidth", "100MB/s", "the wide-area link's bandwidth each way, shared by every connection"),
	}
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	v := defineFlags(fs)
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *v.quick {
		if !set["size"] {
			*v.size = "64MiB"
		}
		if !set["runs"] {
			*v.runs = 2
		}
	}
	c := config{seeds: *v.seeds, runs: *v.runs, work: *v.work, keep: *v.keep, out: *v.out, peersDir: *v.peers, trace: *v.trace, ours: *v.ours, latency: *v.latency}
	var err error
	if c.bandwidth, err = parseRate(*v.bandwidth); err != nil {
		return c, fmt.Errorf("-bandwidth: %w", err)
	}
	if c.latency <= 0 {
		return c, fmt.Errorf("-latency %s: want a positive duration, e.g. 10ms or 50ms", c.latency)
	}
	if c.networks, err = parseNetworks(*v.networks); err != nil {
		return c, err
	}
	if c.size, err = parseSize(*v.size); err != nil {
		return c, err
	}
	if c.size < 8<<20 {
		return c, fmt.Errorf("-size %s: at least 8MiB", *v.size)
	}
	if c.runs < 1 {
		return c, fmt.Errorf("-runs %d: at least 1", c.runs)
	}
	if c.faults, err = parseFaults(*v.faults); err != nil {
		return c, err
	}
	c.scenarios, err = parseScenarios(*v.list)
	return c, err
}

// parseNetworks reads -network: loopback, wan or both, each once.
func parseNetworks(list string) ([]string, error) {
	var out []string
	for _, n := range strings.Split(list, ",") {
		n = strings.TrimSpace(n)
		switch {
		case n == "":
			continue
		case n != loopback && n != wan:
			return nil, fmt.Errorf("-network: unknown %q (known: %s, %s)", n, loopback, wan)
		case !slices.Contains(out, n):
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("-network: name %s, %s or both", loopback, wan)
	}
	return out, nil
}

// parseFaults reads -faults: the fault processes to run (none: all).
func parseFaults(list string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, f := range strings.Split(list, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		if !slices.ContainsFunc(faultProcesses(), func(p faultProcess) bool { return p.id == f }) {
			return nil, fmt.Errorf("-faults: unknown %q (known: 503+429, 503, upload-unknown)", f)
		}
		out[f] = true
	}
	return out, nil
}

// parseScenarios reads -scenarios.
func parseScenarios(list string) (map[string]bool, error) {
	known := map[string]bool{faultsID: true}
	for _, id := range scenarioIDs() {
		known[id] = true
	}
	out := map[string]bool{}
	for _, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !known[s] {
			return nil, fmt.Errorf("-scenarios: unknown %q (known: %s)", s, strings.Join(scenarioIDs(), ", "))
		}
		out[s] = true
	}
	return out, nil
}

// parseSize reads 1GiB, 512MiB, 64M, 1G or a plain count of bytes.
func parseSize(in string) (int64, error) {
	s, mult := in, int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}} {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = num, u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("size %q: want e.g. 1GiB or 256MiB", in)
	}
	return n * mult, nil
}

func realMain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	logf := func(format string, a ...any) {
		fmt.Fprintf(stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, a...)...)
	}
	work := cfg.work
	if work == "" {
		if work, err = os.MkdirTemp("", "publish-action-bench-"); err != nil {
			return err
		}
	}
	if !cfg.keep {
		defer os.RemoveAll(work)
	}
	b, ourBin, ourDesc, err := setUp(ctx, cfg, work, logf)
	if err != nil {
		return err
	}
	defer b.reg.close()
	nets := links(cfg)
	results, faults, err := b.runAll(ctx, cfg, nets, logf)
	if err != nil {
		return err
	}
	cfg.smallBytes = b.small.bytes()
	report := renderReport(results, nets, describeMachine(ctx, b.peers, ourBin, ourDesc), cfg) + faults
	fmt.Fprint(stdout, report)
	if cfg.out != "" {
		return os.WriteFile(cfg.out, []byte(report), 0o644)
	}
	return nil
}

// setUp makes everything the runs share, in work: the tools (ours built
// as the Dockerfile builds it unless -ours names one, the peers
// installed), the images, and the registry. It also gives ours's path and
// what it is.
func setUp(ctx context.Context, cfg config, work string, logf func(string, ...any)) (b *bench, ourBin, ourDesc string, err error) {
	home := filepath.Join(work, "home")
	tmp := filepath.Join(work, "tmp")
	for _, d := range []string{home, tmp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, "", "", err
		}
	}
	logf("building the action and the launcher")
	ourBin = filepath.Join(work, "publish-action")
	launcher := filepath.Join(work, "launch")
	ourDesc = "this tree, built as the Dockerfile builds it (CGO_ENABLED=0, -trimpath, -ldflags=\"-s -w\")"
	if cfg.ours != "" {
		if ourBin, err = filepath.Abs(cfg.ours); err != nil {
			return nil, "", "", err
		}
		ourDesc = ourBin
	} else if err := build(ctx, ourBin, ".", "-ldflags=-s -w"); err != nil {
		return nil, "", "", err
	}
	if err := build(ctx, launcher, "./cmd/bench/launch"); err != nil {
		return nil, "", "", err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, "", "", err
	}
	pe := installPeers(ctx, cfg.peersDir, logf)
	for _, n := range pe.notes {
		logf("%s", n)
	}
	b = &bench{
		ours:      binary{path: ourBin, base: baseEnv(home, tmp)},
		peers:     pe,
		self:      self,
		launcher:  launcher,
		env:       baseEnv(home, tmp),
		workspace: work,
		trace:     cfg.trace,
	}
	logf("generating images (%s)", push.HumanBytes(cfg.size))
	if err := b.generate(filepath.Join(work, "images"), cfg.size); err != nil {
		return nil, "", "", err
	}
	if b.reg, err = startRegistry(filepath.Join(work, "registry")); err != nil {
		return nil, "", "", err
	}
	logf("registry on %s, storing in %s", b.reg.host, filepath.Join(work, "registry"))
	return b, ourBin, ourDesc, nil
}

// links are the networks of -network, the wide-area one shaped.
func links(cfg config) []network {
	var nets []network
	for _, id := range cfg.networks {
		n := network{id: id}
		if id == wan {
			n.link = newLink(cfg.latency, cfg.bandwidth)
		}
		nets = append(nets, n)
	}
	return nets
}

// runAll measures every scenario asked for on every network, then the
// faults scenario if asked for, rendered.
func (b *bench) runAll(ctx context.Context, cfg config, nets []network, logf func(string, ...any)) ([]result, string, error) {
	var results []result
	for _, sc := range scenarios() {
		if !cfg.scenarios[sc.id] {
			continue
		}
		for i, n := range nets {
			// Runs on each network are numbered apart: scenarios name
			// their repositories after the run, and a cold push must not
			// find the other network's blobs.
			r, err := b.measure(ctx, sc, n, i*(cfg.runs+1), cfg.runs, logf)
			if err != nil {
				return nil, "", fmt.Errorf("%s, %s: %w", sc.name, n.id, err)
			}
			results = append(results, r)
		}
	}
	if !cfg.scenarios[faultsID] {
		return results, "", nil
	}
	fr, err := b.measureFaults(ctx, cfg.seeds, cfg.faults, logf)
	if err != nil {
		return nil, "", fmt.Errorf("faults: %w", err)
	}
	return results, renderFaults(fr), nil
}

// build builds pkg (relative to this module's root) into out, statically
// (CGO_ENABLED=0) and without a module path in it (-trimpath).
func build(ctx context.Context, out, pkg string, flags ...string) error {
	gomod, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return fmt.Errorf("go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	args := append(append([]string{"build", "-trimpath"}, flags...), "-o", out, pkg)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building %s in %s: %w\n%s", pkg, root, err, b)
	}
	return nil
}

// generate writes every image the scenarios use.
func (b *bench) generate(dir string, size int64) error {
	var err error
	if b.big, err = writeLayout(filepath.Join(dir, "big"), imageSpec{Seed: "big", Layers: 8, LayerSize: size / 8}, layoutRef); err != nil {
		return err
	}
	if b.small, err = writeLayout(filepath.Join(dir, "small"), imageSpec{Seed: "small", Layers: 8, LayerSize: 1 << 20}, layoutRef); err != nil {
		return err
	}
	if b.amd, err = writeLayout(filepath.Join(dir, "amd64"), imageSpec{Seed: "amd64", Layers: 4, LayerSize: 1 << 20, Arch: "amd64"}, layoutRef); err != nil {
		return err
	}
	if b.arm, err = writeLayout(filepath.Join(dir, "arm64"), imageSpec{Seed: "arm64", Layers: 4, LayerSize: 1 << 20, Arch: "arm64"}, layoutRef); err != nil {
		return err
	}
	b.multi, err = writeIndexLayout(filepath.Join(dir, "multi"), multiSpecs(1<<20), layoutRef)
	return err
}

// multiSpecs are the 2-platform layout's images: 4 layers of layerSize
// each for linux/amd64 and linux/arm64, the same images as the merge
// scenario's.
func multiSpecs(layerSize int64) []imageSpec {
	return []imageSpec{
		{Seed: "amd64", Layers: 4, LayerSize: layerSize, Arch: "amd64"},
		{Seed: "arm64", Layers: 4, LayerSize: layerSize, Arch: "arm64"},
	}
}

// sample is one measured run.
type sample struct {
	Wall, CPU time.Duration
	// RegistryCPU is this process's CPU time during the run: the
	// registry's, and the counter's.
	RegistryCPU time.Duration
	RSS         int64
	counts
	// Startup is from the first process's start to the first request the
	// registry saw.
	Startup  time.Duration
	Commands int
	// log is every request, with -trace, and started when the first
	// command started.
	log     []request
	started time.Time
}

// result is a scenario's samples on one network, by tool.
type result struct {
	scenario
	network network
	samples map[string][]sample
	// order lists the tools measured, in the scenario's order.
	order []string
}

// measure runs sc runs times for each tool that can do it on network net,
// rotating which tool goes first so that none always runs on a cold or
// warm machine. Runs are numbered from first.
func (b *bench) measure(ctx context.Context, sc scenario, net network, first, runs int, logf func(string, ...any)) (result, error) {
	r := result{scenario: sc, network: net, samples: map[string][]sample{}}
	for _, t := range sc.tools {
		if b.has(t) {
			r.order = append(r.order, t)
		}
	}
	if sc.setup != nil {
		logf("%s, %s: setting up", sc.name, net.id)
		if err := sc.setup(ctx, b); err != nil {
			return r, fmt.Errorf("setting up: %w", err)
		}
	}
	// Run 0 warms up (page cache, registry directories, the tools'
	// binaries) and is not counted.
	for n := 0; n <= runs; n++ {
		for i := range r.order {
			tool := r.order[(i+n)%len(r.order)]
			s, err := b.once(ctx, sc, net, tool, first+n)
			if err != nil {
				return r, fmt.Errorf("%s, run %d: %w", tool, n, err)
			}
			label := fmt.Sprintf("run %d/%d", n, runs)
			if n == 0 {
				label = "warm-up"
			}
			logf("%s, %s: %-6s %s: %.3f s, %.2f s CPU (registry %.2f s), %d requests (%d round trips, %d connections), %s up", sc.name, net.id, tool, label, s.Wall.Seconds(), s.CPU.Seconds(), s.RegistryCPU.Seconds(), s.Requests, s.RoundTrips, s.Conns, push.HumanBytes(s.Up))
			if b.trace {
				for _, q := range s.log {
					logf("    +%5.1f ms %5.1f ms %d %s %s?%s in=%d out=%d", float64(q.At.Sub(s.started))/1e6, float64(q.End.Sub(q.At))/1e6, q.Status, q.Method, q.Path, q.Query, q.In, q.Out)
				}
			}
			if n > 0 {
				r.samples[tool] = append(r.samples[tool], s)
			}
		}
	}
	return r, nil
}

// selfCPU is this process's user plus system time so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// once is one measured run of tool on net, with its unmeasured before
// and after (on loopback: the link shapes the measured run only).
func (b *bench) once(ctx context.Context, sc scenario, net network, tool string, n int) (sample, error) {
	if err := b.reg.rehost(); err != nil {
		return sample{}, err
	}
	if sc.before != nil {
		if err := sc.before(ctx, b, tool, n); err != nil {
			return sample{}, fmt.Errorf("before: %w", err)
		}
	}
	b.reg.reset()
	b.reg.shape(net.link)
	x := &execer{launcher: b.launcher}
	cpu0 := selfCPU()
	start := time.Now()
	err := sc.run(ctx, b, tool, n, x)
	wall := time.Since(start)
	registryCPU := selfCPU() - cpu0
	b.reg.shape(nil)
	k := b.reg.counts()
	if err != nil {
		return sample{}, err
	}
	if x.Commands > 0 {
		// The commands' own time, without the launcher's start-up.
		wall = x.Wall
	}
	s := sample{Wall: wall, CPU: x.CPU, RegistryCPU: registryCPU, RSS: x.RSS, counts: k, Commands: x.Commands}
	if b.trace {
		s.log, s.started = b.reg.requests(), x.Started
	}
	if !x.Started.IsZero() && !k.First.IsZero() {
		s.Startup = k.First.Sub(x.Started)
	}
	if sc.after != nil {
		if err := sc.after(ctx, b, tool, n); err != nil {
			return sample{}, fmt.Errorf("after: %w", err)
		}
	}
	return s, nil
}
