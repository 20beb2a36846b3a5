package confparse

// This file pins the API that factory and the examples build on.
// Implementations may add to it but must not change these names or types.

import (
	"fmt"
	"io"
	"strconv"
	"strings"
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
	Connect   attempts.Params // connect_attempt_count/delay/timeout; the parser makes a 0 timeout DefaultAttemptTimeout
	Reconnect attempts.Params // reconnect_attempt_count/delay/timeout; likewise
	Metric    sequential.Metric
	SSL       SSL

	// STOMP keys.
	Login          string
	Passcode       Secret
	VHost          string        // STOMP host header; "" means the dialled host
	HeartBeatSend  time.Duration // heartbeat = send,receive (ms); 0 = off
	HeartBeatRecv  time.Duration
	HeartBeatGrace float64 // multiplier on the receive interval before the peer is declared dead

	// Frame limits: what one frame from the broker may hold (CONNECTED
	// included); a frame over one ends the session with an error naming it.
	MaxFrameSize    int // max_frame_size: body bytes
	MaxHeaderLength int // max_header_length: bytes of one header line
	MaxHeaders      int // max_headers: header lines per frame
	MaxHeaderBytes  int // max_header_bytes: bytes of a frame's whole head

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

// SSL holds the ssl_* keys. Its zero value is the safe one: the server's
// certificate chain and host name are verified against the system roots
// (or RootsPEM). Turning a check off takes an explicit, plainly named
// field (InsecureSkipVerify, SkipHostnameCheck), so an SSL built in code
// without the parser never skips verification by accident.
type SSL struct {
	Trusted          []string // ssl_trusted: CA certificate files
	Identity         string   // ssl_identity: client certificate (PEM, may hold the key)
	PrivateKey       string   // ssl_private_key: client key file, when not in Identity
	Issuer           []string // ssl_issuer: issuer chain files (key may repeat)
	ExpectedHostname string   // ssl_expected_hostname, default: the URL's host
	Ciphers          string   // ssl_ciphers as written, default: Go's suites

	// InsecureSkipVerify turns certificate verification off: any server
	// can pose as the broker (ssl_verify_host = disabled). Default false.
	InsecureSkipVerify bool
	// SkipHostnameCheck verifies the certificate chain but not the name
	// in the certificate (ssl_verify_hostname = disabled). Default false.
	SkipHostnameCheck bool

	// CipherSuites are the IDs ssl_ciphers selects, in order; nil means
	// Go's default suites. The parser fills it (see ParseCipherSuites).
	CipherSuites []uint16

	// The contents of the files above, read once when the file is
	// parsed (or by ReadFiles), so that a dial never touches the file
	// system: the certificates of ssl_trusted and ssl_issuer, the
	// certificate blocks of ssl_identity, and the private key block
	// (from ssl_private_key, or from ssl_identity when it holds one).
	RootsPEM       []byte
	CertificatePEM []byte
	KeyPEM         Secret
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

// MarshalText implements encoding.TextMarshaler (JSON, XML, TOML, logs).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler. The redaction mark
// that MarshalText writes decodes as the empty Secret, so a config that
// went through an encoding never sends "******" as a passcode.
func (s *Secret) UnmarshalText(b []byte) error {
	*s = secretFrom(b)
	return nil
}

// GobEncode implements gob.GobEncoder: a gob stream carries the
// redaction mark, never the value.
func (s Secret) GobEncode() ([]byte, error) { return []byte(s.String()), nil }

// GobDecode implements gob.GobDecoder, as UnmarshalText.
func (s *Secret) GobDecode(b []byte) error {
	*s = secretFrom(b)
	return nil
}

func secretFrom(b []byte) Secret {
	if string(b) == redacted {
		return ""
	}
	return Secret(b)
}

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

// MaxReportedErrors caps how many errors ErrorList.Error renders; the
// rest are summed up as "and N more errors". The list itself keeps them
// all (range over it, or errors.As).
const MaxReportedErrors = 100

// Error renders one error per line, at most MaxReportedErrors of them,
// in time linear in what it prints.
func (l ErrorList) Error() string {
	var b strings.Builder
	for i, e := range l {
		if i == MaxReportedErrors {
			fmt.Fprintf(&b, "\nand %d more errors", len(l)-i)
			break
		}
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
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
