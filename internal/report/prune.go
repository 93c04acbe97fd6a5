package report

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ghcr-publish/publish-action/internal/prune"
	"github.com/ghcr-publish/publish-action/internal/stamp"
)

// pruneOutputs are the pruned and reachable outputs: the digests deleted,
// and every manifest digest that makes up what was published, one per
// line, for other clean-up tools to keep. Without a prune, reachable is
// what the stamp step published: the image or index and its entries.
func (r Report) pruneOutputs() (pruned, reachable string) {
	if r.Prune != nil {
		pruned = strings.Join(r.Prune.Pruned, "\n")
		if len(r.Prune.Reachable) > 0 {
			return pruned, strings.Join(r.Prune.Reachable, "\n")
		}
	}
	if r.Mode == MetadataOnly || r.Digest == "" {
		return pruned, ""
	}
	all := []string{r.Digest}
	for _, e := range r.Entries {
		if e.Digest != "" && e.Fate != stamp.Dropped && !slices.Contains(all, e.Digest) {
			all = append(all, e.Digest)
		}
	}
	slices.Sort(all)
	return pruned, strings.Join(all, "\n")
}

// maxPruneRows bounds the clean-up table: an untagged sweep of an old
// package can list thousands of versions; the log has them all.
const maxPruneRows = 50

type pruneRow struct {
	ID                    int64
	Digest, Tags, Outcome string
	Reason                string
}

// pruneSummary is the clean-up section of the job summary.
type pruneSummary struct {
	Line string
	Rows []pruneRow
	More int
}

func (r Report) pruneSummary() pruneSummary {
	if r.Prune == nil {
		return pruneSummary{}
	}
	p := r.Prune
	if p.Stopped != "" {
		// The reason quotes the registry or the API: one table cell's
		// escaping keeps it to the line.
		return pruneSummary{Line: "Stopped before deciding, so nothing was deleted: " + cell(p.Stopped) + ". The next run tries again."}
	}
	counts := map[prune.Outcome]int{}
	var s pruneSummary
	for i, d := range p.Decisions {
		counts[d.Outcome]++
		if i >= maxPruneRows {
			s.More++
			continue
		}
		s.Rows = append(s.Rows, pruneRow{ID: d.Version.ID, Digest: d.Version.Digest, Tags: strings.Join(d.Version.Tags, ", "), Outcome: string(d.Outcome), Reason: d.Reason})
	}
	var parts []string
	for _, o := range []prune.Outcome{prune.Deleted, prune.WouldDelete, prune.Kept, prune.Skipped, prune.Refused} {
		if counts[o] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[o], o))
		}
	}
	if len(parts) == 0 {
		parts = append(parts, "nothing to delete")
	}
	s.Line = fmt.Sprintf("%s, of %d versions; %d tagged versions and everything they reach are kept.", strings.Join(parts, ", "), p.Versions, p.Tagged)
	return s
}
