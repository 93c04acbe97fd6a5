package main

import (
	"testing"
	"time"
)

func TestRoundTrips(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	// span is a request from ms a to ms b after t0; b < 0 has not ended.
	span := func(a, b int) request {
		r := request{At: t0.Add(time.Duration(a) * time.Millisecond)}
		if b >= 0 {
			r.End = t0.Add(time.Duration(b) * time.Millisecond)
		}
		return r
	}
	for _, tc := range []struct {
		name string
		log  []request
		want int
	}{
		{"none", nil, 0},
		{"one", []request{span(0, 1)}, 1},
		{"one after another", []request{span(0, 1), span(2, 3), span(4, 5)}, 3},
		{"all at once", []request{span(0, 5), span(1, 4), span(2, 6)}, 1},
		{"ping, four HEADs together, a PUT", []request{span(0, 1), span(2, 5), span(2, 6), span(3, 5), span(3, 4), span(7, 8)}, 3},
		{"a start at the instant the previous ended follows it", []request{span(0, 2), span(2, 4)}, 2},
		{"order of the log does not matter", []request{span(4, 5), span(0, 1), span(2, 3)}, 3},
		// Starting from the first request and taking whatever comes next
		// would give 2 (the long one, then the last).
		{"the longest chain, not the first", []request{span(0, 10), span(1, 2), span(3, 4), span(11, 12)}, 3},
		{"a request still running ends no chain", []request{span(0, 1), span(2, -1), span(3, 4)}, 2},
		{"a long upload beside many short requests", []request{span(0, 100), span(1, 2), span(3, 4), span(5, 6), span(7, 8), span(101, 102)}, 5},
		{"zero-length requests at one instant", []request{span(1, 1), span(1, 1), span(1, 2)}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := roundTrips(tc.log); got != tc.want {
				t.Errorf("roundTrips = %d, want %d", got, tc.want)
			}
		})
	}
}
