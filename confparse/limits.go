package confparse

import (
	"strconv"
	"unicode/utf8"
)

// Limits on what one Parse collects and echoes, so that a hostile or
// mangled file costs bounded time and memory and yields bounded text.
const (
	// MaxErrors caps the errors Parse collects. On reaching it, checking
	// stops and the list ends with an entry saying so (ErrorList.Error
	// still prints at most MaxReportedErrors of them).
	MaxErrors = 1000
	// MaxWarnings caps the warnings Parse keeps; the last one kept says
	// how many more there were.
	MaxWarnings = 1000
	// MaxNesting caps how deeply TOML arrays and inline tables may nest
	// in one value. No key takes more than an array of strings; the cap
	// keeps a value such as [[[[...]]]] from exhausting the stack of the
	// TOML decoder (which recurses once per level).
	MaxNesting = 8
	// MaxArrayItems caps the items of the arrays (and keys of the inline
	// tables) of one value, all levels together: a file may list many
	// ssl_trusted files, not millions.
	MaxArrayItems = 10_000
	// MaxFailoverURILength caps a pasted failover: URI, options included
	// (the URL list inside it is held to sequential.MaxListLength). The
	// url value is kept as written in Factory.URL and printed with the
	// factory, so it must be bounded.
	MaxFailoverURILength = 4096
	// maxQuoted is how much of a value a message quotes; a longer value
	// is cut and its length given.
	maxQuoted = 64
	// maxPathLength is the longest file path a key may name (Linux's
	// PATH_MAX); a longer one is refused before the file system sees it.
	maxPathLength = 4096
)

// quote renders s for a message: quoted, cut to maxQuoted bytes (on a
// rune boundary) with its full length given when longer.
func quote(s string) string {
	if len(s) <= maxQuoted {
		return strconv.Quote(s)
	}
	return strconv.Quote(clip(s)) + "... (" + strconv.Itoa(len(s)) + " bytes)"
}

// clip cuts s to at most maxQuoted bytes, on a rune boundary.
func clip(s string) string {
	if len(s) <= maxQuoted {
		return s
	}
	n := maxQuoted
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// clipName renders a name (a factory's, an option's) for a message.
func clipName(s string) string {
	if len(s) <= maxQuoted {
		return s
	}
	return clip(s) + "... (" + strconv.Itoa(len(s)) + " bytes)"
}
