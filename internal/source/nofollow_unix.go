//go:build unix

package source

import "syscall"

// noFollow makes open(2) refuse a link as the last component (ELOOP).
const noFollow = syscall.O_NOFOLLOW
