package confparse

import (
	"fmt"
	"strings"
	"time"
)

// A Definition is a factory definition built in Go: the code path to what a
// [Name] section of a factories.conf declares, for applications and tests.
// Define makes one; NewConfig validates them into a Config that
// factory.New takes exactly as it takes a parsed file.
type Definition struct {
	name    string
	entries []*entry // in the order given; later ones replace earlier ones
	secret  *Secret  // set by Credentials; replaces the passcode entry's value
}

// An Option sets keys of a Definition. Each key goes through the parser's
// own check for that key, so a value the file would reject is rejected,
// with the same message, naming the key.
type Option func(*Definition)

// Define declares a factory named name that connects to url: a URL list
// (tcp://a:61613,tcp://b:61613) or a pasted ActiveMQ failover URI
// (failover:(tcp://a:61616,tcp://b:61616)?maxReconnectAttempts=5), exactly
// as the url key of a file. Every key not set by an Option has the file's
// default, except type, which a file must give and which defaults here to
// generic. Options apply in order: a later one setting the same key
// replaces the earlier value (ssl_trusted and ssl_issuer, which a file may
// repeat, collect every value instead). Define checks nothing: NewConfig
// reports every problem of every definition at once.
func Define(name, url string, opts ...Option) *Definition {
	d := &Definition{name: name}
	d.set("type", "generic")
	d.set("url", url)
	for _, o := range opts {
		if o != nil {
			o(d)
		}
	}
	return d
}

// Name returns the factory name given to Define.
func (d *Definition) Name() string { return d.name }

// NewConfig validates the definitions, with every default filled in, into
// a Config for factory.New. The error is an ErrorList of every problem of
// every definition, each *ParseError naming the factory and the key, its
// position reading Define("Name"). Warnings (a value below an EMS minimum,
// an ssl_* key on a tcp:// url, ...) are in Config.Warnings, as for a
// file. Config.File is "".
func NewConfig(defs ...*Definition) (*Config, error) {
	cfg := &Config{}
	var errs ErrorList
	seen := make(map[string]bool)
	for i, d := range defs {
		if d == nil {
			errs = append(errs, &ParseError{File: "NewConfig", Msg: fmt.Sprintf("definition %d is nil", i+1)})
			continue
		}
		label := "Define(" + quote(d.name) + ")"
		if seen[d.name] {
			errs = append(errs, &ParseError{File: label, Factory: d.name, Msg: fmt.Sprintf("duplicate factory [%s]: defined twice", d.name)})
			continue
		}
		seen[d.name] = true
		f, warns, err := d.build(label)
		cfg.Warnings = append(cfg.Warnings, warns...)
		if err != nil {
			errs = append(errs, err...)
			continue
		}
		cfg.Factories = append(cfg.Factories, f)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return cfg, nil
}

// build runs the parser's builder over the definition's entries.
func (d *Definition) build(label string) (*Factory, []Warning, ErrorList) {
	p := newParser(label)
	p.dir = "." // a relative passcode_file is relative to the working directory
	switch {
	case strings.TrimSpace(d.name) == "":
		p.errorf(0, 0, d.name, "", nil, "empty factory name")
	case hasControl(d.name):
		p.errorf(0, 0, d.name, "", nil, "factory name contains a control character")
	}
	if len(p.errs) > 0 {
		return nil, nil, p.errs
	}
	f := p.factory(&section{name: d.name, entries: d.entries})
	if d.secret != nil && f != nil {
		// The passcode given to Credentials gets the file's check too.
		e := &entry{key: "passcode", written: "passcode"}
		if !(&builder{p: p, s: &section{name: d.name}, f: f}).headerSafe(e, string(*d.secret)) {
			f = nil
		}
	}
	for i := range p.warns {
		// The builder speaks of lines; a definition has none.
		p.warns[i].Msg = strings.Replace(p.warns[i].Msg, " on line 0 overrides", " overrides", 1)
	}
	if len(p.errs) > 0 {
		return nil, p.warns, p.errs
	}
	if d.secret != nil {
		f.Passcode = *d.secret
	}
	return f, p.warns, nil
}

// set records key = value as the file's native syntax would (an unquoted
// value, decoded as a string), replacing an earlier value of the key
// unless the key may repeat.
func (d *Definition) set(key string, val any) {
	canon := canonicalKey(key)
	if spec, ok := keySpecs[canon]; !ok || !spec.repeat {
		kept := d.entries[:0]
		for _, e := range d.entries {
			if e.key != canon {
				kept = append(kept, e)
			}
		}
		d.entries = kept
	}
	if canon == "passcode" || canon == "passcode_file" {
		d.secret = nil
	}
	raw := fmt.Sprint(val)
	if canon == "passcode" {
		raw = "" // never kept where a message could quote it
	}
	d.entries = append(d.entries, &entry{key: canon, written: key, val: val, raw: raw, native: true})
}

// Set sets any key of the reference (docs/keys.md, Keys) to value, written
// as in a file: Set("reconnect_attempt_delay", "1.5s"),
// Set("heartbeat", "5000,5000"), Set("passcode", "${ORDERS_PASSCODE}"). An
// unknown key is an error naming the closest known one; an EMS key this
// project does not use is a warning.
func Set(key, value string) Option {
	return func(d *Definition) { d.set(key, value) }
}

// Credentials sets the STOMP login and passcode. The passcode is taken as
// given (no ${ENV} expansion; use Set("passcode", "${VAR}") for that) and
// never printed.
func Credentials(login string, passcode Secret) Option {
	return func(d *Definition) {
		d.set("login", login)
		d.set("passcode", "")
		s := passcode
		d.secret = &s
	}
}

// ClientID sets the client id sent to the broker (clientID; at most
// MaxClientIDLength bytes).
func ClientID(id string) Option {
	return func(d *Definition) { d.set("clientID", id) }
}

// VHost sets the STOMP host header (vhost); RabbitMQ needs "/".
func VHost(host string) Option {
	return func(d *Definition) { d.set("vhost", host) }
}

// ConnectAttempts sets connect_attempt_count (passes through the URL list
// for the first connection; -1 is forever), connect_attempt_delay (between
// passes) and connect_attempt_timeout (one attempt to one URL; 0 means
// DefaultAttemptTimeout).
func ConnectAttempts(count int, delay, timeout time.Duration) Option {
	return func(d *Definition) {
		d.set("connect_attempt_count", int64(count))
		d.set("connect_attempt_delay", durationValue(delay))
		d.set("connect_attempt_timeout", durationValue(timeout))
	}
}

// ReconnectAttempts sets reconnect_attempt_count (passes through the URL
// list after a loss; -1 is forever), reconnect_attempt_delay (the base
// wait between passes) and reconnect_attempt_timeout (one attempt to one
// URL; 0 means DefaultAttemptTimeout).
func ReconnectAttempts(count int, delay, timeout time.Duration) Option {
	return func(d *Definition) {
		d.set("reconnect_attempt_count", int64(count))
		d.set("reconnect_attempt_delay", durationValue(delay))
		d.set("reconnect_attempt_timeout", durationValue(timeout))
	}
}

// Heartbeat sets the STOMP heart-beat intervals offered to the broker
// (heartbeat = send,receive); 0, 0 turns heart-beats off.
func Heartbeat(send, recv time.Duration) Option {
	return func(d *Definition) {
		d.set("heartbeat", []any{durationValue(send), durationValue(recv)})
	}
}

// SendTimeout sets how long a send waits for a connection during a
// failover (send_timeout).
func SendTimeout(t time.Duration) Option {
	return func(d *Definition) { d.set("send_timeout", durationValue(t)) }
}

// durationValue writes a duration the way the parser reads one: a Go
// duration string, so sub-millisecond values survive and a negative one
// gets the file's "is negative".
func durationValue(t time.Duration) string { return t.String() }
