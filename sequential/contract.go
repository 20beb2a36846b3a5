package sequential

// This file pins the API that confparse and factory build on. Implementations
// may add to it but must not change these names or signatures.

import (
	"net"
	"strconv"
)

// Schemes accepted in a URL list.
const (
	SchemeTCP = "tcp"
	SchemeSSL = "ssl"
)

// MaxListLength is the longest URL list accepted, in bytes (EMS's limit).
const MaxListLength = 1000

// DefaultHost is the host used by the port-only shorthand (tcp://7222).
const DefaultHost = "localhost"

// Endpoint is one broker address of a URL list.
type Endpoint struct {
	Scheme string // SchemeTCP or SchemeSSL
	Host   string // host name or IP literal, without IPv6 brackets
	Port   int
}

// Address returns host:port for net.Dial (IPv6 literals bracketed).
func (e Endpoint) Address() string { return net.JoinHostPort(e.Host, strconv.Itoa(e.Port)) }

// String returns the normalised URL, scheme://host:port.
func (e Endpoint) String() string { return e.Scheme + "://" + e.Address() }

// Metric selects the load-balancing group of a '|' list.
type Metric string

// Metrics for '|' lists (EMS's factory `metric` key).
const (
	MetricConnections Metric = "connections" // fewest live connections from this process
	MetricByteRate    Metric = "byte_rate"   // fewest bytes sent recently by this process
)

// Chooser decides the order of one pass (one attempt) over the servers.
// lost is the endpoint whose connection was just lost, nil for a first
// connection. Walker implements it; applications may plug in their own
// (AMQ JavaScript's connection_details, stompit's connectFunction).
type Chooser interface {
	Pass(lost *Endpoint) []Endpoint
}

// ChooserFunc adapts a function to Chooser.
type ChooserFunc func(lost *Endpoint) []Endpoint

// Pass calls f.
func (f ChooserFunc) Pass(lost *Endpoint) []Endpoint { return f(lost) }

// List is a parsed URL list: one or more '|' load-balanced groups, each an
// ordered ',' fault-tolerant list. Every endpoint has the same Scheme.
type List struct {
	Groups [][]Endpoint
}

// Endpoints returns every endpoint, groups in order, flattened.
func (l *List) Endpoints() []Endpoint {
	var out []Endpoint
	for _, g := range l.Groups {
		out = append(out, g...)
	}
	return out
}

// Scheme returns the list's scheme (SchemeTCP or SchemeSSL).
func (l *List) Scheme() string {
	for _, g := range l.Groups {
		for _, e := range g {
			return e.Scheme
		}
	}
	return ""
}

// String returns the normalised list: groups joined by '|', URLs by ','.
func (l *List) String() string {
	s := ""
	for i, g := range l.Groups {
		if i > 0 {
			s += "|"
		}
		for j, e := range g {
			if j > 0 {
				s += ","
			}
			s += e.String()
		}
	}
	return s
}
