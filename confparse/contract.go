package confparse

// This file pins the API that factory and the examples build on.
// Implementations may add to it but must not change these names or types.

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/stompft/stompft/attempts"
	"github.com/stompft/stompft/sequential"
)

// Config is a parsed, validated factories.conf.
type Config struct {
	File      string     // path as given to ParseFile (or the name given to Parse)
	Factories []*Factory // in file order
	Warnings  []Warning
}

// Factory is one validated connection factory with every default filled in.
type Factory struct {
	Name string
	Line int // line of the [name] header

	// EMS keys.
	Type      string           // generic, queue, topic, xageneric, xaqueue, xatopic
	URL       string           // the url value as written (passcode-free by construction)
	URLs      *sequential.List // parsed url
	ClientID  string
	Connect   attempts.Params // connect_attempt_count/delay/timeout
	Reconnect attempts.Params // reconnect_attempt_count/delay/timeout
	Metric    sequential.Metric
	SSL       SSL

	// STOMP keys.
	Login          string
	Passcode       Secret
	VHost          string        // STOMP host header; "" means the dialled host
	HeartBeatSend  time.Duration // heartbeat = send,receive (ms); 0 = off
	HeartBeatRecv  time.Duration
	HeartBeatGrace float64 // multiplier on the receive interval before the peer is declared dead

	// Failover keys beyond EMS.
	BackoffMultiplier float64         // reconnect_backoff_multiplier
	MaxReconnectDelay time.Duration   // reconnect_max_delay; 0 = no cap
	Jitter            attempts.Jitter // reconnect_jitter
	ReconnectSpread   time.Duration   // reconnect_spread: window the first reconnect attempt is spread over
	Randomize         bool            // randomize
	PriorityBackup    bool            // priority_backup
	ReconnectBudget   time.Duration   // reconnect_budget; 0 = none
	SendTimeout       time.Duration   // send_timeout
	TrackMessages     bool            // track_messages
	MaxCacheSize      int64           // max_cache_size, bytes
	Backup            bool            // backup (hot standby)

	// Subscription delivery-queue limits; 0 = the factory package's defaults.
	SubscriptionQueueMessages int   // subscription_queue_messages
	SubscriptionQueueBytes    int64 // subscription_queue_bytes

	// Reconnect scheduler limits (per factory).
	SchedulerMaxConcurrency int     // scheduler_max_concurrency
	SchedulerMaxRate        float64 // scheduler_max_rate, attempts per second
	SchedulerMinRate        float64 // scheduler_min_rate, attempts per second
}

// SSL holds the ssl_* keys.
type SSL struct {
	Trusted          []string // ssl_trusted: CA certificate files
	Identity         string   // ssl_identity: client certificate (PEM, may hold the key)
	PrivateKey       string   // ssl_private_key: client key file, when not in Identity
	Issuer           []string // ssl_issuer: issuer chain files (key may repeat)
	VerifyHost       bool     // ssl_verify_host, default true
	VerifyHostname   bool     // ssl_verify_hostname, default true
	ExpectedHostname string   // ssl_expected_hostname, default: the URL's host
	Ciphers          string   // ssl_ciphers, default: Go's
}

// Secret is a string that never prints: String, GoString, Format and the
// Marshal methods all produce "******". Reveal returns the value.
type Secret string

const redacted = "******"

// Reveal returns the secret value.
func (s Secret) Reveal() string { return string(s) }

// String implements fmt.Stringer.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString implements fmt.GoStringer.
func (s Secret) GoString() string { return `confparse.Secret("` + s.String() + `")` }

// MarshalText implements encoding.TextMarshaler (JSON, TOML, logs).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Format implements fmt.Formatter so that every verb, including %d, %x and
// %q, prints the redacted form: without it fmt's bad-verb path would print
// the raw string.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = io.WriteString(f, s.GoString())
		return
	}
	_, _ = io.WriteString(f, s.String())
}

// Warning is a non-fatal finding, positioned like a ParseError.
type Warning struct {
	File    string
	Line    int
	Col     int
	Factory string
	Key     string
	Msg     string
}

// String renders FILE:LINE:COL: warning: message.
func (w Warning) String() string {
	return position(w.File, w.Line, w.Col) + "warning: " + w.Msg
}

// ParseError is one positioned error in a factories.conf.
type ParseError struct {
	File    string
	Line    int
	Col     int
	Factory string // the [name] section, "" outside one
	Key     string // the key, "" when not about a key
	Msg     string // message after the position, e.g. `reconnect_attempt_delay: "5x" is not a duration ...`
	Err     error  // underlying cause, if any
}

// Error renders FILE:LINE:COL: message.
func (e *ParseError) Error() string { return position(e.File, e.Line, e.Col) + e.Msg }

// Unwrap returns the cause.
func (e *ParseError) Unwrap() error { return e.Err }

// ErrorList is every error found in one file, in file order.
type ErrorList []*ParseError

// Error renders one error per line.
func (l ErrorList) Error() string {
	s := ""
	for i, e := range l {
		if i > 0 {
			s += "\n"
		}
		s += e.Error()
	}
	return s
}

// Unwrap lets errors.As find the individual *ParseError values.
func (l ErrorList) Unwrap() []error {
	out := make([]error, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}

func position(file string, line, col int) string {
	if file == "" {
		file = "factories.conf"
	}
	s := file + ":"
	if line > 0 {
		s += strconv.Itoa(line) + ":"
		if col > 0 {
			s += strconv.Itoa(col) + ":"
		}
	}
	return s + " "
}
