package registryhttp

// ParseChallenge is parseChallenge, for the table test.
var ParseChallenge = parseChallenge
