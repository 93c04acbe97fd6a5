package main

import "slices"

// roundTrips is the length of the longest chain of requests in which each
// request started after the one before it had ended: the requests a client
// waited for one after another, its critical path counted in requests. On
// a wide-area link each of them costs at least a round trip however fast
// the registry answers, so this, not the request count, is what latency
// multiplies. Requests in flight together count once; a request that has
// not ended (End zero) ends no chain.
//
// Sorted by start, the longest chain ending in request i is one more than
// the longest ending in any request that ended by the time i started, and
// every such request sorts before i: a dynamic program over the prefix.
func roundTrips(reqs []request) int {
	rs := slices.Clone(reqs)
	slices.SortStableFunc(rs, func(a, b request) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		return a.End.Compare(b.End)
	})
	chain := make([]int, len(rs))
	longest := 0
	for i, r := range rs {
		chain[i] = 1
		for j, before := range rs[:i] {
			if !before.End.IsZero() && !before.End.After(r.At) {
				chain[i] = max(chain[i], chain[j]+1)
			}
		}
		longest = max(longest, chain[i])
	}
	return longest
}
