package prune

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ghcr-publish/publish-action/internal/inputs"
)

// d makes a digest from a short name, so tables read as names.
func d(n string) string { return "sha256:" + strings.Repeat("0", 64-len(n)) + n }

var now = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

var old = now.Add(-72 * time.Hour)

// young is why a version pushed an hour before now is kept.
const young = "younger than prune-min-age 1d (pushed 2026-11-29T11:00:00Z)"

// release is a buildx-shaped index: two platform images and their
// attestations.
func release(c *Content, index string, tags []string, images ...string) {
	m := Manifest{}
	for _, img := range images {
		m.Children = append(m.Children, Child{Digest: d(img)})
	}
	for _, img := range images {
		m.Children = append(m.Children, Child{Digest: d("a" + img), AttestationOf: d(img)})
	}
	c.Manifests[d(index)] = m
	c.Versions = append(c.Versions, Version{Digest: d(index), Tags: tags, Created: old})
	for _, img := range images {
		c.Manifests[d(img)] = Manifest{}
		c.Manifests[d("a"+img)] = Manifest{}
		c.Versions = append(c.Versions, Version{Digest: d(img), Created: old}, Version{Digest: d("a" + img), Created: old})
	}
}

func names(vs []Version) []string {
	var out []string
	for _, v := range vs {
		out = append(out, strings.TrimLeft(strings.TrimPrefix(v.Digest, "sha256:"), "0"))
	}
	return out
}

func keptNames(ds []Decision) map[string]string {
	out := map[string]string{}
	for _, x := range ds {
		out[strings.TrimLeft(strings.TrimPrefix(x.Version.Digest, "sha256:"), "0")] = x.Reason
	}
	return out
}

func TestPlan(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		build    func(c *Content)
		mode     inputs.Prune
		orphaned []string
		moved    []string
		minAge   time.Duration
		wantDel  []string
		wantKept map[string]string
	}{{
		name: "re-published release",
		build: func(c *Content) {
			release(c, "1", nil, "11", "12")             // the old 1.0
			release(c, "2", []string{"1.0"}, "21", "22") // the new 1.0
		},
		mode:    inputs.PruneUntagged,
		wantDel: []string{"1", "11", "12", "a11", "a12"},
		wantKept: map[string]string{
			"21": "in index " + Short(d("2")), "22": "in index " + Short(d("2")),
			"a21": "in index " + Short(d("2")), "a22": "in index " + Short(d("2")),
		},
	}, {
		name: "shared platform image stays",
		build: func(c *Content) {
			release(c, "1", nil, "11", "12")
			release(c, "2", []string{"latest"}, "11", "22")
			c.Versions = c.Versions[:len(c.Versions)-4] // 11 and a11 listed once
			c.Versions = append(c.Versions, Version{Digest: d("22"), Created: old}, Version{Digest: d("a22"), Created: old})
		},
		mode:    inputs.PruneUntagged,
		wantDel: []string{"1", "12", "a12"},
		wantKept: map[string]string{
			"11":  "in index " + Short(d("1")), // reached from both; 1 sorts first
			"a11": "in index " + Short(d("1")),
			"22":  "in index " + Short(d("2")), "a22": "in index " + Short(d("2")),
		},
	}, {
		name: "orphans mode touches only what the publish orphaned",
		build: func(c *Content) {
			release(c, "1", nil, "11", "12")
			release(c, "2", []string{"1.0"}, "21", "22")
			release(c, "3", nil, "31", "32") // someone else's old orphan
		},
		mode:     inputs.PruneOrphans,
		orphaned: []string{d("1")},
		wantDel:  []string{"1", "11", "12", "a11", "a12"},
	}, {
		name: "young leg and what it needs stay",
		build: func(c *Content) {
			release(c, "1", nil, "11", "12")
			c.Versions[0].Created = now.Add(-time.Hour)
			c.Versions = append(c.Versions, Version{Digest: d("9"), Created: now.Add(-time.Minute)})
			c.Manifests[d("9")] = Manifest{}
		},
		mode:   inputs.PruneUntagged,
		minAge: 24 * time.Hour,
		wantKept: map[string]string{
			"1":  "younger than prune-min-age 1d (pushed 2026-11-29T11:00:00Z)",
			"9":  "younger than prune-min-age 1d (pushed 2026-11-29T11:59:00Z)",
			"11": "in index " + Short(d("1")), "12": "in index " + Short(d("1")),
			"a11": "in index " + Short(d("1")), "a12": "in index " + Short(d("1")),
		},
	}, {
		name: "signatures and referrers stay with what they sign",
		build: func(c *Content) {
			release(c, "2", []string{"1.0"}, "21", "22")
			release(c, "1", nil, "11", "12")
			add := func(n string, m Manifest, tags ...string) {
				c.Manifests[d(n)] = m
				c.Versions = append(c.Versions, Version{Digest: d(n), Tags: tags, Created: old})
			}
			add("5", Manifest{}, "sha256-"+strings.TrimPrefix(d("2"), "sha256:")+".sig")                              // cosign signature of the kept index
			add("6", Manifest{Subject: d("21")})                                                                      // an OCI referrer of a kept image
			add("7", Manifest{Children: []Child{{Digest: d("6")}}}, "sha256-"+strings.TrimPrefix(d("21"), "sha256:")) // its fallback tag index
			add("8", Manifest{}, "sha256-"+strings.TrimPrefix(d("1"), "sha256:")+".sig")                              // signature of the old index
			add("9", Manifest{Subject: d("11")})                                                                      // referrer of an old image
			add("10", Manifest{}, "sha256-"+strings.TrimPrefix(d("ffff"), "sha256:")+".att")                          // signs an image elsewhere
		},
		mode:    inputs.PruneUntagged,
		wantDel: []string{"8", "1", "9", "11", "12", "a11", "a12"},
		wantKept: map[string]string{
			"21": "in index " + Short(d("2")), "22": "in index " + Short(d("2")),
			"a21": "in index " + Short(d("2")), "a22": "in index " + Short(d("2")),
			"5":  "tag sha256-" + strings.TrimPrefix(d("2"), "sha256:") + ".sig of kept " + Short(d("2")),
			"6":  "its subject " + Short(d("21")) + " is kept",
			"7":  "tag sha256-" + strings.TrimPrefix(d("21"), "sha256:") + " of kept " + Short(d("21")),
			"10": "tag sha256-" + strings.TrimPrefix(d("ffff"), "sha256:") + ".att names a digest this package does not hold",
		},
	}, {
		name: "no created_at counts as young",
		build: func(c *Content) {
			release(c, "1", nil, "11", "12")
			c.Versions[0].Created = time.Time{}
		},
		mode:   inputs.PruneUntagged,
		minAge: 24 * time.Hour,
		wantKept: map[string]string{
			"1":  "no created_at in the listing: its age is unknown",
			"11": "in index " + Short(d("1")), "12": "in index " + Short(d("1")),
			"a11": "in index " + Short(d("1")), "a12": "in index " + Short(d("1")),
		},
	}, {
		// A tag re-published every hour: the index it moved away from
		// minutes ago, and its children, are not in flight.
		name: "what the publish moved a tag from goes at any age",
		build: func(c *Content) {
			release(c, "1", nil, "11", "12")
			release(c, "2", []string{"edge"}, "21", "22")
			release(c, "3", nil, "31", "32") // a young leg, never tagged
			for i := range c.Versions {
				c.Versions[i].Created = now.Add(-time.Hour)
			}
			c.Versions[0].Created = time.Time{}
		},
		mode:    inputs.PruneOrphans,
		moved:   []string{d("1")},
		minAge:  24 * time.Hour,
		wantDel: []string{"1", "11", "12", "a11", "a12"},
	}, {
		name: "the same, in untagged mode: the young leg stays",
		build: func(c *Content) {
			release(c, "1", nil, "11", "12")
			release(c, "2", []string{"edge"}, "21", "22")
			release(c, "3", nil, "31", "32")
			for i := range c.Versions {
				c.Versions[i].Created = now.Add(-time.Hour)
			}
		},
		mode:    inputs.PruneUntagged,
		moved:   []string{d("1")},
		minAge:  24 * time.Hour,
		wantDel: []string{"1", "11", "12", "a11", "a12"},
		wantKept: map[string]string{
			"3": young, "31": young, "32": young, "a31": young, "a32": young,
			"21": young, "22": young, "a21": young, "a22": young,
		},
	}, {
		// The listing lags: the new index is listed without its tag, and
		// shares its platform images with the one the tag moved from.
		name: "what this run wrote is kept, and what it reaches",
		build: func(c *Content) {
			release(c, "1", nil, "11", "12")
			release(c, "2", nil, "11", "12")
			c.Versions = c.Versions[:6] // 11, 12 and their attestations listed once
			c.Versions = append(c.Versions, Version{Digest: d("2"), Created: now})
			c.Pinned = map[string]string{d("2"): "written by this run"}
		},
		mode:    inputs.PruneOrphans,
		moved:   []string{d("1")},
		wantDel: []string{"1"},
		wantKept: map[string]string{
			"11": "in index " + Short(d("2")), "12": "in index " + Short(d("2")),
			"a11": "in index " + Short(d("2")), "a12": "in index " + Short(d("2")),
		},
	}, {
		name: "an index tagged at the registry but not listed keeps its children",
		build: func(c *Content) {
			release(c, "1", nil, "11", "12")
			c.Versions = c.Versions[1:] // the index is not listed yet
			c.Pinned = map[string]string{d("1"): "tag stable at the registry (not listed by the API yet)"}
		},
		mode: inputs.PruneUntagged,
		wantKept: map[string]string{
			"11": "in index " + Short(d("1")), "12": "in index " + Short(d("1")),
			"a11": "in index " + Short(d("1")), "a12": "in index " + Short(d("1")),
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := Content{Manifests: map[string]Manifest{}}
			tc.build(&c)
			roots := Roots(c, tc.minAge, now, Descendants(c, tc.moved))
			del, kept := plan(c, roots, tc.mode, append(tc.orphaned, tc.moved...))
			if diff := cmp.Diff(tc.wantDel, names(del)); diff != "" {
				t.Errorf("deleted mismatch (-want +got):\n%s", diff)
			}
			if tc.wantKept == nil {
				tc.wantKept = map[string]string{}
			}
			if diff := cmp.Diff(tc.wantKept, keptNames(kept)); diff != "" {
				t.Errorf("kept mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestArtifactSubject(t *testing.T) {
	t.Parallel()
	hex := strings.Repeat("ab", 32)
	for tag, want := range map[string]string{
		"sha256-" + hex:                  "sha256:" + hex,
		"sha256-" + hex + ".sig":         "sha256:" + hex,
		"sha256-" + hex + ".sbom":        "sha256:" + hex,
		"sha256-" + hex[:60]:             "",
		"latest":                         "",
		"sha256-" + hex + ".":            "",
		"sha256-" + hex + "x":            "",
		"sha256-" + hex + ".s/g":         "",
		"sha256-" + strings.ToUpper(hex): "",
		"sha256:" + hex:                  "",
	} {
		if got := ArtifactSubject(tag); got != want {
			t.Errorf("ArtifactSubject(%q) = %q, want %q", tag, got, want)
		}
	}
}

// BenchmarkPlan decides over 1,000 releases (5,000 versions), one tagged
// in ten, as an old package's first untagged sweep does.
func BenchmarkPlan(b *testing.B) {
	c := Content{Manifests: map[string]Manifest{}}
	for i := range 1000 {
		var tags []string
		if i%10 == 0 {
			tags = []string{fmt.Sprintf("v%d", i)}
		}
		n := fmt.Sprintf("%x", i)
		release(&c, "f"+n, tags, "1"+n, "2"+n)
	}
	roots := Roots(c, 24*time.Hour, now, nil)
	b.ResetTimer()
	for range b.N {
		del, _ := plan(c, roots, inputs.PruneUntagged, nil)
		if len(del) != 4500 {
			b.Fatalf("deleting %d, want 4500", len(del))
		}
	}
}
