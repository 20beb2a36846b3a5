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
// queues the options as settings; msg is non-empty on error.
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
			return "", "failover URI: empty URI (stray ',')"
		}
		if i := strings.IndexByte(u, '?'); i >= 0 {
			return "", fmt.Sprintf("failover URI: options on an inner URI (%s) are not supported; put failover options after the ')'", quote(redactUserinfo(u[:i])))
		}
		scheme, rest, ok := strings.Cut(u, "://")
		if ok {
			if mapped, known := innerSchemes[strings.ToLower(scheme)]; known {
				u = mapped + "://" + rest
			} else if strings.EqualFold(scheme, "failover") || strings.HasPrefix(strings.ToLower(u), "failover:") {
				return "", "failover URI: a failover URI cannot contain another"
			}
		}
		uris = append(uris, u)
	}
	if query == "" {
		return strings.Join(uris, ","), ""
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
			return "", fmt.Sprintf("failover URI: option %s has no value", quote(name))
		}
		if v, err := url.QueryUnescape(value); err == nil {
			value = v
		}
		lname := strings.ToLower(name)
		if seen[lname] {
			return "", fmt.Sprintf("failover URI: option %s given twice", clipName(name))
		}
		seen[lname] = true
		if lname == "useexponentialbackoff" {
			switch strings.ToLower(value) {
			case "true":
			case "false":
				useExp = false
			default:
				return "", fmt.Sprintf("failover URI: option useExponentialBackOff: %s is not a boolean", quote(value))
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
				return "", fmt.Sprintf("failover URI: nested options (%s) are not supported", clipName(name))
			}
			return "", fmt.Sprintf("failover URI: unknown option %s%s", clipName(name), suggestOption(lname))
		}
		v, m := opt.convert(value)
		if m != "" {
			return "", fmt.Sprintf("failover option %s: %s", clipName(name), m)
		}
		pending = append(pending, &entry{
			key: opt.key, written: opt.key, line: e.line, col: e.col, vcol: e.vcol,
			val: v, raw: v, native: true, via: "url: failover option " + name,
		})
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
		pending = append(kept, &entry{
			key: "reconnect_backoff_multiplier", written: "reconnect_backoff_multiplier", line: e.line, col: e.col,
			vcol: e.vcol, val: "1", raw: "1", native: true, via: "url: failover option useExponentialBackOff",
		})
	}
	b.failover = append(b.failover, pending...)
	return strings.Join(uris, ","), ""
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
