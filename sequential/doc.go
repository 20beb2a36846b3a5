// Package sequential parses TIBCO-EMS-style URL lists and decides, pass
// after pass, in which order a client tries the servers. It knows nothing
// of STOMP: package factory dials what a Walker hands it.
//
// # URL lists
//
// A URL list is the value of a factory's url key:
//
//	tcp://primary:7222,tcp://backup:7222
//	ssl://7243
//	tcp://a1:7222,tcp://a2:7222|tcp://b1:7222,tcp://b2:7222
//
// ',' separates fault-tolerant URLs, '|' separates load-balanced groups.
// Each URL is scheme://host:port with scheme tcp or ssl (never both in one
// list), scheme://port for DefaultHost, or scheme://[ipv6]:port. Whitespace
// around URLs is ignored; empty URLs, paths, queries, user information,
// duplicates, EMS's unshared-state "a+b" form and lists longer than
// MaxListLength bytes are errors. Parse returns a *ParseError naming the
// offending URL and its byte offset, with any user:password@ redacted.
// List.String gives the normalised form (lower case, port shorthand
// expanded, canonical IPv6), which parses back to the same List unless the
// expansion pushed it past MaxListLength.
//
// # Walking
//
// A Walker follows EMS: one Pass is one attempt, and an attempt tries every
// URL once, in list order. A first connection starts at the first URL. A
// reconnect starts at the URL after the one just lost and wraps around, so
// the server that just failed is tried last. The caller decides how many
// passes to make and how long to wait between them (package attempts).
// WalkOptions adds ActiveMQ's randomize (shuffle every pass, the lost
// server still last) and priorityBackup (the first URL is home: tried
// first in every pass and reported by Walker.Preferred). AddServer and
// SetList change the list while connections use it.
//
// # Load-balanced groups
//
// With '|' groups a first connection picks the least loaded group, by
// Metric: MetricConnections counts this process's live connections to the
// group's servers, MetricByteRate the bytes it sent them recently (a
// decayed average with half-life ByteRateHalfLife). Ties are broken at
// random. Load is what a Tracker has seen in this process; DefaultTracker
// is shared by every Walker that is not given its own. A reconnect stays in
// the group of the lost server. Each pass continues with the other groups,
// least loaded first, so a client never sticks to a group that is down.
package sequential
