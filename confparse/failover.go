package confparse

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// failoverScheme starts an ActiveMQ failover URI in the url key.
const failoverScheme = "failover:"

// failoverOption maps one ActiveMQ failover transport option onto a
// factory key. convert turns the option's value into the key's value (in
// the key's own syntax); it returns "" and a message when the value cannot
// be mapped.
type failoverOption struct {
	key     string
	convert func(v string) (string, string)
}

func same(v string) (string, string) { return v, "" }

// failoverOptions are the ActiveMQ failover options with a meaning here.
// Names match case-insensitively.
var failoverOptions = map[string]failoverOption{
	"initialreconnectdelay": {key: "reconnect_attempt_delay", convert: same},
	"maxreconnectdelay":     {key: "reconnect_max_delay", convert: same},
	"backoffmultiplier":     {key: "reconnect_backoff_multiplier", convert: same},
	"maxreconnectattempts": {key: "reconnect_attempt_count", convert: func(v string) (string, string) {
		if n, err := strconv.Atoi(v); err == nil && n == 0 {
			return "", "0 (never reconnect) cannot be mapped: a factory always reconnects; use 1 for a single pass through the list"
		}
		return v, ""
	}},
	"startupmaxreconnectattempts": {key: "connect_attempt_count", convert: func(v string) (string, string) {
		// ActiveMQ counts retries after the first try; EMS counts passes.
		n, err := strconv.Atoi(v)
		switch {
		case err != nil:
			return "", fmt.Sprintf("%s is not an integer", quote(v))
		case n == -1:
			return "-1", ""
		case n < 0:
			return "", fmt.Sprintf("%d is not a count: use 0 or more, or -1 for forever", n)
		}
		return strconv.Itoa(n + 1), ""
	}},
	"randomize": {key: "randomize", convert: same},
	"timeout": {key: "send_timeout", convert: func(v string) (string, string) {
		if v == "-1" {
			return "0", "" // ActiveMQ's "wait forever"
		}
		return v, ""
	}},
	"trackmessages":  {key: "track_messages", convert: same},
	"maxcachesize":   {key: "max_cache_size", convert: same},
	"backup":         {key: "backup", convert: same},
	"prioritybackup": {key: "priority_backup", convert: same},
}

// failoverIgnored are well-known ActiveMQ failover options with no meaning
// here: a warning, like EMS's legacy keys.
var failoverIgnored = map[string]bool{
	"backuppoolsize":             true,
	"updateurissupported":        true,
	"updateurisurl":              true,
	"rebalanceupdateuris":        true,
	"reconnectsupported":         true,
	"tracktransactionproducers":  true,
	"warnafterreconnectattempts": true,
	"priorityuris":               true,
	"reconnectdelayexponent":     true,
}

// innerSchemes maps the schemes allowed inside a failover URI onto the
// URL list's tcp and ssl.
var innerSchemes = map[string]string{
	"tcp":           "tcp",
	"ssl":           "ssl",
	"stomp":         "tcp",
	"stomp+ssl":     "ssl",
	"stomp+nio":     "tcp",
	"stomp+nio+ssl": "ssl",
	"nio":           "tcp",
	"nio+ssl":       "ssl",
}

// parseFailover parses what follows "failover:", either (uri,uri)?options
// or the bare uri,uri form. It returns the equivalent EMS URL list and
// queues the options as settings; msg is non-empty when the URI's shape is
// wrong. A bad inner URI or option is reported (b.fail) and left out, and
// the rest is still read, so one run reports every problem.
func (b *builder) parseFailover(e *entry, s string) (list, msg string) {
	body, query := s, ""
	if strings.HasPrefix(s, "(") {
		end := strings.LastIndexByte(s, ')')
		if end < 0 {
			return "", "failover URI: missing ')'"
		}
		body, query = s[1:end], s[end+1:]
		if query != "" {
			if query[0] != '?' {
				return "", "failover URI: unexpected text after ')'; options go after ')?'"
			}
			query = query[1:]
		}
	}
	if strings.ContainsAny(body, "()") {
		return "", "failover URI: nested parentheses are not supported"
	}
	if strings.Contains(body, "|") {
		return "", "failover URI: '|' load balancing is EMS syntax; write a plain url list instead of failover:"
	}
	if !strings.HasPrefix(s, "(") && strings.Contains(body, "?") {
		return "", "failover URI: options in the bare failover:uri,uri form are ambiguous; write failover:(uri,uri)?options"
	}
	var uris []string
	for _, u := range strings.Split(body, ",") {
		u = strings.TrimSpace(u)
		if u == "" {
			b.fail(e, "failover URI: empty URI (stray ',')")
			continue
		}
		if i := strings.IndexByte(u, '?'); i >= 0 {
			b.fail(e, "failover URI: options on an inner URI (%s) are not supported; put failover options after the ')'", quote(redactUserinfo(u[:i])))
			continue
		}
		scheme, rest, ok := strings.Cut(u, "://")
		if ok {
			if mapped, known := innerSchemes[strings.ToLower(scheme)]; known {
				u = mapped + "://" + rest
			} else if strings.EqualFold(scheme, "failover") || strings.HasPrefix(strings.ToLower(u), "failover:") {
				b.fail(e, "failover URI: a failover URI cannot contain another")
				continue
			}
		}
		uris = append(uris, u)
	}
	seen := make(map[string]bool)
	useExp := true
	var pending []*entry
	for _, kv := range strings.Split(query, "&") {
		if kv == "" {
			continue
		}
		name, value, ok := strings.Cut(kv, "=")
		if !ok {
			b.fail(e, "failover URI: option %s has no value", quote(name))
			continue
		}
		if v, err := url.QueryUnescape(value); err == nil {
			value = v
		}
		lname := strings.ToLower(name)
		if seen[lname] {
			b.fail(e, "failover URI: option %s given twice", clipName(name))
			continue
		}
		seen[lname] = true
		if lname == "useexponentialbackoff" {
			switch strings.ToLower(value) {
			case "true":
			case "false":
				useExp = false
			default:
				b.fail(e, "failover URI: option useExponentialBackOff: %s is not a boolean", quote(value))
			}
			continue
		}
		if failoverIgnored[lname] {
			b.warn(e, "failover option %s has no meaning here; ignored", clipName(name))
			continue
		}
		opt, known := failoverOptions[lname]
		if !known {
			if strings.HasPrefix(lname, "nested.") {
				b.fail(e, "failover URI: nested options (%s) are not supported", clipName(name))
				continue
			}
			b.fail(e, "failover URI: unknown option %s%s", clipName(name), suggestOption(lname))
			continue
		}
		if lname == "startupmaxreconnectattempts" && strings.TrimSpace(value) == "-1" {
			seen[lname] = false // -1: as maxReconnectAttempts, resolved with the defaults below
			continue
		}
		v, m := opt.convert(value)
		if m != "" {
			b.fail(e, "failover option %s: %s", clipName(name), m)
			continue
		}
		pending = append(pending, b.failoverEntry(e, opt.key, v, "url: failover option "+name))
	}
	if !useExp {
		// useExponentialBackOff=false means a fixed delay, whatever
		// backOffMultiplier says.
		kept := pending[:0]
		for _, p := range pending {
			if p.key != "reconnect_backoff_multiplier" {
				kept = append(kept, p)
			}
		}
		pending = append(kept, b.failoverEntry(e, "reconnect_backoff_multiplier", "1", "url: failover option useExponentialBackOff"))
	}
	b.failover = append(b.failover, pending...)
	b.activeMQDefaults(e, seen, pending)
	return strings.Join(uris, ","), ""
}

func (b *builder) failoverEntry(e *entry, key, v, via string) *entry {
	return &entry{key: key, written: key, line: e.line, col: e.col, vcol: e.vcol, val: v, raw: v, native: true, via: via}
}

// FailoverMapping is one ActiveMQ failover transport option as a pasted
// failover: URI maps it: ActiveMQ's default, the factory key it sets, and
// the value that key takes when the URI leaves the option out.
type FailoverMapping struct {
	Option  string // ActiveMQ's option name
	Default string // ActiveMQ's default, in ActiveMQ's syntax
	Key     string // the factory key the option sets
	Value   string // the key's value when the URI leaves the option out, as Factory.Settings shows it
	Mapping string // how a value given in the URI maps
}

// failoverMappings is the mapping, in the order of ActiveMQ's failover
// transport reference. Its Default column is what activeMQDefaults
// applies; FailoverMappings returns it for documentation.
var failoverMappings = []FailoverMapping{
	{"maxReconnectAttempts", "-1", "reconnect_attempt_count", "-1 (forever)", "n reconnect attempts = n passes; -1 forever; 0 (never reconnect) is an error: a factory always reconnects"},
	{"startupMaxReconnectAttempts", "-1", "connect_attempt_count", "-1 (forever)", "n retries after the first try = n+1 passes; -1 (the default) takes maxReconnectAttempts' limit, as ActiveMQ does"},
	{"initialReconnectDelay", "10", "reconnect_attempt_delay", "10ms", "milliseconds"},
	{"maxReconnectDelay", "30000", "reconnect_max_delay", "30s", "milliseconds"},
	{"useExponentialBackOff", "true", "reconnect_backoff_multiplier", "2", "false → 1 (a fixed delay), whatever backOffMultiplier says"},
	{"backOffMultiplier", "2.0", "reconnect_backoff_multiplier", "2", "as given"},
	{"randomize", "true", "randomize", "true", "as given"},
	{"timeout", "-1", "send_timeout", "0 (none)", "milliseconds; -1 → 0 (a send waits for a connection for ever)"},
	{"trackMessages", "false", "track_messages", "false", "as given"},
	{"maxCacheSize", "131072", "max_cache_size", "131072", "bytes"},
	{"backup", "false", "backup", "false", "as given"},
	{"priorityBackup", "false", "priority_backup", "false", "as given"},
}

// FailoverMappings returns how each ActiveMQ failover option maps onto a
// factory key, with ActiveMQ's default (see FailoverMapping).
func FailoverMappings() []FailoverMapping {
	return append([]FailoverMapping(nil), failoverMappings...)
}

// applyKey applies an entry through keySpecs; set in init because
// keySpecs itself refers (through setURL) to the failover parser.
var applyKey func(b *builder, e *entry)

func init() {
	applyKey = func(b *builder, e *entry) { keySpecs[e.key].apply(b, e) }
}

// activeMQDefaults gives every failover option the URI left out its
// ActiveMQ default, so a pasted URI behaves as it did under ActiveMQ;
// a key the section writes itself wins, silently (it is not overriding
// anything the file says). seen holds the options the URI gave, pending
// the settings they made.
func (b *builder) activeMQDefaults(e *entry, seen map[string]bool, pending []*entry) {
	explicit := make(map[string]bool)
	for _, se := range b.s.entries {
		explicit[se.key] = true
	}
	for _, p := range pending {
		explicit[p.key] = true // set by the URI itself
	}
	maxAttempts := "-1"
	for _, m := range failoverMappings {
		lname := strings.ToLower(m.Option)
		if lname == "maxreconnectattempts" && seen[lname] {
			for _, p := range pending {
				if p.key == m.Key {
					maxAttempts = p.val.(string)
				}
			}
		}
		if seen[lname] || explicit[m.Key] || lname == "useexponentialbackoff" {
			continue
		}
		v := m.Default
		if lname == "startupmaxreconnectattempts" {
			v = maxAttempts // ActiveMQ: -1 means "as maxReconnectAttempts"
		}
		if opt, ok := failoverOptions[lname]; ok {
			var msg string
			if v, msg = opt.convert(v); msg != "" {
				continue // cannot happen: the defaults convert
			}
		}
		n := len(b.p.warns)
		applyKey(b, b.failoverEntry(e, m.Key, v, "url: ActiveMQ default of "+m.Option))
		// ActiveMQ's own defaults (10 ms is below EMS's minimum delay)
		// are not the file's doing: no warning for them.
		b.p.warns = b.p.warns[:n]
		explicit[m.Key] = true
	}
}

// suggestOption returns "; did you mean X?" for a near-miss option name.
func suggestOption(lname string) string {
	names := []string{"initialReconnectDelay", "maxReconnectDelay", "useExponentialBackOff", "backOffMultiplier",
		"maxReconnectAttempts", "startupMaxReconnectAttempts", "randomize", "timeout", "trackMessages",
		"maxCacheSize", "backup", "priorityBackup"}
	best, bestD := "", -1
	for _, n := range names {
		if d := levenshtein(lname, strings.ToLower(n)); bestD < 0 || d < bestD {
			best, bestD = n, d
		}
	}
	if bestD < 0 || bestD > max(2, len(lname)/3) {
		return ""
	}
	return "; did you mean " + best + "?"
}

// redactUserinfo hides a user:password@ part of a URI quoted in a message.
func redactUserinfo(u string) string {
	at := strings.LastIndexByte(u, '@')
	if at < 0 {
		return u
	}
	start := strings.Index(u, "://")
	if start < 0 || start > at {
		return redacted + u[at:]
	}
	return u[:start+3] + redacted + u[at:]
}
