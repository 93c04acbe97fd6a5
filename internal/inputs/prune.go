package inputs

import (
	"strconv"
	"strings"
	"time"
)

// Prune says which package versions to delete after a publish.
type Prune string

const (
	PruneOff Prune = "off"
	// PruneOrphans deletes what this publish orphaned, when no tag
	// reaches it any more.
	PruneOrphans Prune = "orphans"
	// PruneUntagged deletes every version no tag reaches.
	PruneUntagged Prune = "untagged"
)

func parsePrune(v string) (Prune, error) {
	switch p := Prune(strings.ToLower(v)); p {
	case "", "false":
		return PruneOff, nil
	case PruneOff, PruneOrphans, PruneUntagged:
		return p, nil
	}
	return PruneOff, errorf("prune", "%q is not a mode; use off, orphans or untagged", v)
}

// DefaultPruneMinAge is prune-min-age's default: a day outlasts any
// matrix build whose legs are pushed by digest before the merge tags them.
const DefaultPruneMinAge = 24 * time.Hour

// ParseAge reads prune-min-age: a Go duration (90m, 12h) or whole days or
// weeks (1d, 2w); 0 means no minimum.
func ParseAge(input, v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return DefaultPruneMinAge, nil
	}
	if v == "0" {
		return 0, nil
	}
	for suffix, unit := range map[string]time.Duration{"d": 24 * time.Hour, "w": 7 * 24 * time.Hour} {
		if n, ok := strings.CutSuffix(v, suffix); ok {
			if k, err := strconv.Atoi(n); err == nil && k >= 0 && k <= 3650 {
				return time.Duration(k) * unit, nil
			}
		}
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, errorf(input, "%q is not an age; write it like 1d, 2w, 12h or 90m", v)
	}
	return d, nil
}
