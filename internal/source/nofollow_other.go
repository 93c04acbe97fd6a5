//go:build !unix

package source

// noFollow is O_NOFOLLOW where there is one; elsewhere the Lstat before
// the open refuses a link.
const noFollow = 0
