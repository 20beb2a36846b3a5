//go:build !unix

package confparse

// openNonBlocking: no named pipes to guard against here.
const openNonBlocking = 0
