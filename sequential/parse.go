package sequential

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// ParseError reports a URL list (or a single URL) that cannot be used.
//
// Input, Element and the error text never contain user information: an
// element such as tcp://user:secret@host:7222 is reported as
// tcp://******@host:7222.
type ParseError struct {
	Input   string // the whole input, user information redacted
	Offset  int    // byte offset of Element in the original input; 0 for whole-list errors
	Element string // the offending URL, trimmed and redacted; "" for whole-list errors
	Msg     string // what is wrong
}

// Error returns `url list: element "tcp://a:x" at offset 12: port "x" is not a number`,
// or `url list: <msg>` when the whole list is at fault.
func (e *ParseError) Error() string {
	if e.Element == "" && !e.emptyElement() {
		return "url list: " + e.Msg
	}
	return fmt.Sprintf("url list: element %q at offset %d: %s", e.Element, e.Offset, e.Msg)
}

// emptyElement reports whether the error is about an empty element, which
// has Element == "" but still a meaningful offset (possibly 0).
func (e *ParseError) emptyElement() bool { return e.Msg == msgEmpty }

// GoString keeps %#v as safe as %v: Input is already redacted, but the
// method makes that explicit and stable.
func (e *ParseError) GoString() string {
	return fmt.Sprintf("&sequential.ParseError{Input:%q, Offset:%d, Element:%q, Msg:%q}", e.Input, e.Offset, e.Element, e.Msg)
}

const (
	msgEmpty  = "empty URL (stray ',' or '|', or nothing between them)"
	redaction = "******"
)

// Parse parses an EMS URL list: ',' separates the fault-tolerant URLs of a
// group, '|' separates load-balanced groups (a1,a2|b1,b2). Each URL is
// tcp://host:port or ssl://host:port (scheme case-insensitive, stored lower
// case), tcp://port for DefaultHost, or tcp://[v6addr]:port. Host names are
// stored lower case and IPv6 literals in canonical form, so List.String is
// a normal form. Whitespace around URLs is ignored. All URLs must share one
// scheme, none may repeat, and the list is at most MaxListLength bytes.
// Errors are *ParseError.
func Parse(s string) (*List, error) {
	l, errs := parse(s, false)
	if len(errs) > 0 {
		return nil, errs[0]
	}
	return l, nil
}

// ParseAll is Parse reporting every bad URL of the list, in input order,
// instead of only the first; the list is nil when there is any. Errors
// about the whole input (too long, empty, user information) come alone:
// such an input is not split.
func ParseAll(s string) (*List, []*ParseError) {
	return parse(s, true)
}

func parse(s string, all bool) (*List, []*ParseError) {
	if err := checkWhole(s); err != nil {
		return nil, []*ParseError{err}
	}
	var errs []*ParseError
	l := &List{}
	seen := make(map[Endpoint]bool)
	scheme := ""
	pos := 0
	for _, group := range strings.Split(s, "|") {
		var g []Endpoint
		for _, raw := range strings.Split(group, ",") {
			elem, off := trim(raw, pos)
			pos += len(raw) + 1 // the separator, ',' or '|'
			e, msg := parseElement(elem)
			if msg == "" && scheme != "" && e.Scheme != scheme {
				msg = fmt.Sprintf("scheme %q differs from the list's scheme %q (tcp and ssl cannot be mixed)", e.Scheme, scheme)
			}
			if msg == "" && seen[e] {
				msg = fmt.Sprintf("%s appears more than once", e)
			}
			if msg != "" {
				errs = append(errs, &ParseError{Input: s, Offset: off, Element: elem, Msg: msg})
				if !all {
					return nil, errs
				}
				continue
			}
			scheme = e.Scheme
			seen[e] = true
			g = append(g, e)
		}
		l.Groups = append(l.Groups, g)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return l, nil
}

// ParseEndpoint parses one URL with the rules of Parse (no ',' or '|').
// Errors are *ParseError.
func ParseEndpoint(s string) (Endpoint, error) {
	if err := checkWhole(s); err != nil {
		return Endpoint{}, err
	}
	elem, off := trim(s, 0)
	var e Endpoint
	msg := "a single URL was expected, not a list"
	if !strings.ContainsAny(elem, ",|") {
		e, msg = parseElement(elem)
	}
	if msg != "" {
		return Endpoint{}, &ParseError{Input: s, Offset: off, Element: elem, Msg: msg}
	}
	return e, nil
}

// checkWhole rejects what must be caught before splitting: user
// information (a password may itself contain ',' or '|', so splitting first
// could echo part of it), an empty input and an overlong one.
func checkWhole(s string) *ParseError {
	if start, last, ok := userinfo(s); ok {
		elemStart := strings.LastIndexAny(s[:start], ",|") + 1
		elemEnd := len(s)
		if i := strings.IndexAny(s[last:], ",|"); i >= 0 {
			elemEnd = last + i
		}
		red := s[elemStart:start] + redaction + s[last:elemEnd]
		elem, _ := trim(red, 0)
		off := elemStart + (len(red) - len(strings.TrimLeft(red, spaces)))
		return &ParseError{
			Input:   redactAll(s),
			Offset:  off,
			Element: elem,
			Msg:     "user information (user:password@) is not allowed in a URL; give credentials in the factory instead",
		}
	}
	if len(s) > MaxListLength {
		return &ParseError{Input: s, Msg: fmt.Sprintf("%d bytes, longer than the maximum of %d", len(s), MaxListLength)}
	}
	if strings.Trim(s, spaces) == "" {
		return &ParseError{Input: s, Msg: "empty (at least one URL such as tcp://localhost:7222 is required)"}
	}
	return nil
}

// redactAll replaces every userinfo part of s (from "://" up to the last
// '@' before the next "://") with the redaction mark.
func redactAll(s string) string {
	var b strings.Builder
	for {
		start, last, ok := userinfo(s)
		if !ok {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:start])
		b.WriteString(redaction)
		b.WriteByte('@')
		s = s[last+1:]
	}
}

// userinfo finds the first userinfo part of s: it runs from the "://"
// before the first '@' (or the start of s) to the last '@' before the next
// "://", since a password may contain '@', ',' or '|'. start is its first
// byte, last the index of its closing '@'.
func userinfo(s string) (start, last int, ok bool) {
	at := strings.IndexByte(s, '@')
	if at < 0 {
		return 0, 0, false
	}
	start = strings.LastIndex(s[:at], "://")
	if start < 0 {
		start = 0
	} else {
		start += 3
	}
	end := len(s)
	if i := strings.Index(s[at:], "://"); i >= 0 {
		end = at + i
	}
	return start, start + strings.LastIndexByte(s[start:end], '@'), true
}

const spaces = " \t\r\n"

// trim strips surrounding whitespace from raw, which starts at byte pos of
// the input, and returns the element and its offset.
func trim(raw string, pos int) (string, int) {
	left := strings.TrimLeft(raw, spaces)
	return strings.TrimRight(left, spaces), pos + len(raw) - len(left)
}

// parseElement parses one trimmed URL; a non-empty msg says what is wrong.
func parseElement(elem string) (Endpoint, string) {
	if elem == "" {
		return Endpoint{}, msgEmpty
	}
	if strings.Contains(elem, "+") {
		return Endpoint{}, "unshared-state failover (a+b) is not supported; use ',' for fault-tolerant URLs"
	}
	i := strings.Index(elem, "://")
	if i < 0 {
		return Endpoint{}, "missing scheme: write tcp://host:port or ssl://host:port"
	}
	scheme := strings.ToLower(elem[:i])
	if scheme != SchemeTCP && scheme != SchemeSSL {
		return Endpoint{}, fmt.Sprintf("scheme %q is not supported (tcp or ssl)", elem[:i])
	}
	rest := elem[i+3:]
	if j := strings.IndexAny(rest, "/?#"); j >= 0 {
		return Endpoint{}, "a path, query or fragment is not allowed; write scheme://host:port only"
	}
	if rest == "" {
		return Endpoint{}, "host and port are missing"
	}
	host, portStr, msg := splitHostPort(rest)
	if msg != "" {
		return Endpoint{}, msg
	}
	port, msg := parsePort(portStr)
	if msg != "" {
		return Endpoint{}, msg
	}
	return Endpoint{Scheme: scheme, Host: host, Port: port}, ""
}

// splitHostPort splits the authority; a bare number is the port-only
// shorthand for DefaultHost.
func splitHostPort(a string) (host, port, msg string) {
	if strings.HasPrefix(a, "[") {
		end := strings.IndexByte(a, ']')
		if end < 0 {
			return "", "", "missing ']' after the IPv6 address"
		}
		h, msg := parseIPv6(a[1:end])
		if msg != "" {
			return "", "", msg
		}
		after := a[end+1:]
		if after == "" {
			return "", "", "a port is required: write [" + a[1:end] + "]:port"
		}
		if after[0] != ':' {
			return "", "", fmt.Sprintf("unexpected %q after the IPv6 address", after)
		}
		return h, after[1:], ""
	}
	if allDigits(a) {
		return DefaultHost, a, ""
	}
	c := strings.IndexByte(a, ':')
	if c < 0 {
		return "", "", fmt.Sprintf("a port is required: write %s:port (or just the port for %s)", a, DefaultHost)
	}
	if strings.IndexByte(a[c+1:], ':') >= 0 {
		return "", "", "an IPv6 address must be in brackets: [addr]:port"
	}
	h, msg := parseHost(a[:c])
	return h, a[c+1:], msg
}

func parseIPv6(s string) (string, string) {
	ip, err := netip.ParseAddr(s)
	if err != nil || !ip.Is6() {
		return "", fmt.Sprintf("%q in brackets is not an IPv6 address", s)
	}
	if z := ip.Zone(); z != "" && !hostChars(z) {
		return "", fmt.Sprintf("IPv6 zone %q contains characters other than letters, digits, '.', '-' and '_'", z)
	}
	return ip.String(), ""
}

// parseHost checks a host name or IPv4 literal and lower-cases it.
func parseHost(h string) (string, string) {
	if h == "" {
		return "", fmt.Sprintf("host is empty (write just the port for %s)", DefaultHost)
	}
	if len(h) > 253 {
		return "", "host name is longer than 253 bytes"
	}
	for i := 0; i < len(h); i++ {
		if !isHostChar(h[i]) && h[i] != '.' {
			return "", fmt.Sprintf("host %q contains %q; only letters, digits, '.', '-' and '_' are allowed", h, string(rune(h[i])))
		}
	}
	h = strings.ToLower(h)
	numeric := true
	for _, label := range strings.Split(h, ".") {
		if label == "" {
			return "", fmt.Sprintf("host %q has an empty label", h)
		}
		if len(label) > 63 {
			return "", fmt.Sprintf("host %q has a label longer than 63 bytes", h)
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return "", fmt.Sprintf("host %q has a label starting or ending with '-'", h)
		}
		numeric = numeric && allDigits(label)
	}
	if numeric && strings.Contains(h, ".") {
		ip, err := netip.ParseAddr(h)
		if err != nil || !ip.Is4() {
			return "", fmt.Sprintf("host %q is not a valid IPv4 address", h)
		}
		return ip.String(), ""
	}
	return h, ""
}

func parsePort(p string) (int, string) {
	if p == "" {
		return 0, "port is empty"
	}
	if !allDigits(p) {
		return 0, fmt.Sprintf("port %q is not a number", p)
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Sprintf("port %s is out of range 1..65535", p)
	}
	return n, ""
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isHostChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

func hostChars(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isHostChar(s[i]) && s[i] != '.' {
			return false
		}
	}
	return true
}
