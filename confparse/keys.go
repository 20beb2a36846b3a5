package confparse

import (
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/stompft/stompft/attempts"
	"github.com/stompft/stompft/sequential"
)

// Delivery queue defaults (subscription_queue_messages,
// subscription_queue_bytes): how much one subscription may hold, unread by
// the application, before the connection stops reading from the broker.
// 1000 messages is ActiveMQ's default STOMP prefetch.
const (
	DefaultSubscriptionQueueMessages       = 1000
	DefaultSubscriptionQueueBytes    int64 = 8 << 20
)

// Frame limit defaults (max_frame_size, max_header_length, max_headers,
// max_header_bytes): a client's, large enough for any message a broker
// accepts by default (ActiveMQ's STOMP transport caps frames at 100 MiB and
// header lines at 10 KiB, with 1000 headers), small enough that one hostile
// frame cannot take the process down. They equal internal/session's.
const (
	DefaultMaxFrameSize    = 64 << 20  // 64 MiB of body
	DefaultMaxHeaderLength = 64 << 10  // 64 KiB per header line
	DefaultMaxHeaders      = 1000      // header lines per frame
	DefaultMaxHeaderBytes  = 256 << 10 // 256 KiB for a frame's whole head
)

// keySpec describes one key of a factory section.
type keySpec struct {
	repeat bool // may appear more than once (values are collected)
	ssl    bool // only meaningful on an ssl:// factory
	apply  func(b *builder, e *entry)
}

// keySpecs is every key a factory accepts, by canonical name.
var keySpecs map[string]keySpec

// keyAliases maps accepted spellings to canonical keys.
var keyAliases = map[string]string{"client_id": "clientID"}

// legacyKeys are EMS keys this project does not use: a warning, not an
// error, so real EMS files load unchanged.
var legacyKeys = map[string]string{
	"multicast_enabled": "EMS multicast is not available over STOMP",
	"multicast_daemon":  "EMS multicast is not available over STOMP",
	"ssl_auth_only":     "the whole connection is encrypted",
	"ssl_vendor":        "Go's crypto/tls is always used",
	"ssl_trace":         "use the factory's logger instead",
	"ssl_debug_trace":   "use the factory's logger instead",
	"ssl_rand_file":     "Go's crypto/rand is always used",
	"ssl_rand_egd":      "Go's crypto/rand is always used",
	"ssl_rand_data":     "Go's crypto/rand is always used",
	"ssl_password":      "EMS never stores an ssl password in a factory; give the key unencrypted in ssl_private_key",
}

var factoryTypes = []string{"generic", "queue", "topic", "xageneric", "xaqueue", "xatopic"}

func init() {
	keySpecs = map[string]keySpec{
		"type":                      {apply: (*builder).setType},
		"url":                       {apply: (*builder).setURL},
		"clientID":                  {apply: (*builder).setClientID},
		"connect_attempt_count":     {apply: countKey(func(f *Factory) *int { return &f.Connect.Count })},
		"connect_attempt_delay":     {apply: durKey(func(f *Factory) *time.Duration { return &f.Connect.Delay }, minAttemptDelay)},
		"connect_attempt_timeout":   {apply: timeoutKey(func(f *Factory) *time.Duration { return &f.Connect.Timeout })},
		"reconnect_attempt_count":   {apply: countKey(func(f *Factory) *int { return &f.Reconnect.Count })},
		"reconnect_attempt_delay":   {apply: durKey(func(f *Factory) *time.Duration { return &f.Reconnect.Delay }, minAttemptDelay)},
		"reconnect_attempt_timeout": {apply: timeoutKey(func(f *Factory) *time.Duration { return &f.Reconnect.Timeout })},
		"metric":                    {apply: (*builder).setMetric},

		"ssl_trusted": {repeat: true, ssl: true, apply: func(b *builder, e *entry) {
			for _, name := range b.strList(e) {
				b.f.SSL.Trusted = append(b.f.SSL.Trusted, name)
				b.trusted = append(b.trusted, e)
			}
		}},
		"ssl_identity":    {ssl: true, apply: strKey(func(f *Factory) *string { return &f.SSL.Identity })},
		"ssl_private_key": {ssl: true, apply: strKey(func(f *Factory) *string { return &f.SSL.PrivateKey })},
		"ssl_issuer": {repeat: true, ssl: true, apply: func(b *builder, e *entry) {
			for _, name := range b.strList(e) {
				b.f.SSL.Issuer = append(b.f.SSL.Issuer, name)
				b.issuer = append(b.issuer, e)
			}
		}},
		"ssl_verify_host":       {ssl: true, apply: disabledKey(func(f *Factory) *bool { return &f.SSL.InsecureSkipVerify })},
		"ssl_verify_hostname":   {ssl: true, apply: disabledKey(func(f *Factory) *bool { return &f.SSL.SkipHostnameCheck })},
		"ssl_expected_hostname": {ssl: true, apply: strKey(func(f *Factory) *string { return &f.SSL.ExpectedHostname })},
		"ssl_ciphers":           {ssl: true, apply: (*builder).setCiphers},

		"login":           {apply: headerKey(func(f *Factory) *string { return &f.Login })},
		"passcode":        {apply: (*builder).setPasscode},
		"passcode_file":   {apply: (*builder).setPasscodeFile},
		"vhost":           {apply: headerKey(func(f *Factory) *string { return &f.VHost })},
		"heartbeat":       {apply: (*builder).setHeartBeat},
		"heartbeat_grace": {apply: floatKey(func(f *Factory) *float64 { return &f.HeartBeatGrace }, 1, "1 or more")},

		"max_frame_size":    {apply: sizeKey(func(f *Factory) *int { return &f.MaxFrameSize })},
		"max_header_length": {apply: sizeKey(func(f *Factory) *int { return &f.MaxHeaderLength })},
		"max_headers":       {apply: sizeKey(func(f *Factory) *int { return &f.MaxHeaders })},
		"max_header_bytes":  {apply: sizeKey(func(f *Factory) *int { return &f.MaxHeaderBytes })},

		"reconnect_backoff_multiplier": {apply: floatKey(func(f *Factory) *float64 { return &f.BackoffMultiplier }, 1, "1 or more (1 = fixed delay, as EMS)")},
		"reconnect_max_delay":          {apply: durKey(func(f *Factory) *time.Duration { return &f.MaxReconnectDelay }, 0)},
		"reconnect_jitter":             {apply: (*builder).setJitter},
		"reconnect_spread":             {apply: durKey(func(f *Factory) *time.Duration { return &f.ReconnectSpread }, 0)},
		"randomize":                    {apply: boolKey(func(f *Factory) *bool { return &f.Randomize })},
		"priority_backup":              {apply: boolKey(func(f *Factory) *bool { return &f.PriorityBackup })},
		"reconnect_budget":             {apply: durKey(func(f *Factory) *time.Duration { return &f.ReconnectBudget }, 0)},
		"send_timeout":                 {apply: durKey(func(f *Factory) *time.Duration { return &f.SendTimeout }, 0)},
		"track_messages":               {apply: boolKey(func(f *Factory) *bool { return &f.TrackMessages })},
		"max_cache_size":               {apply: (*builder).setMaxCacheSize},
		"backup":                       {apply: boolKey(func(f *Factory) *bool { return &f.Backup })},

		"subscription_queue_messages": {apply: queueKey(func(f *Factory, n int64) { f.SubscriptionQueueMessages = int(n) })},
		"subscription_queue_bytes":    {apply: queueKey(func(f *Factory, n int64) { f.SubscriptionQueueBytes = n })},

		"scheduler_max_concurrency": {apply: (*builder).setMaxConcurrency},
		"scheduler_max_rate":        {apply: floatKey(func(f *Factory) *float64 { return &f.SchedulerMaxRate }, math.SmallestNonzeroFloat64, "more than 0")},
		"scheduler_min_rate":        {apply: floatKey(func(f *Factory) *float64 { return &f.SchedulerMinRate }, math.SmallestNonzeroFloat64, "more than 0")},
	}
}

// Keys returns every key a factory section accepts, sorted. Aliases
// (client_id) are not included.
func Keys() []string {
	out := make([]string, 0, len(keySpecs))
	for k := range keySpecs {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func canonicalKey(k string) string {
	if c, ok := keyAliases[k]; ok {
		return c
	}
	return k
}

// isPublicKey reports whether values of key may be quoted in messages:
// known keys except passcode. Unknown keys may be a mistyped passcode.
func isPublicKey(key string) bool {
	_, known := keySpecs[key]
	return known && key != "passcode"
}

// defaults returns a factory with every default filled in.
func defaults(name string, line int) *Factory {
	sc := attempts.DefaultSchedulerConfig()
	return &Factory{
		Name:                      name,
		Line:                      line,
		Connect:                   withAttemptTimeout(attempts.DefaultConnect),
		Reconnect:                 withAttemptTimeout(attempts.DefaultReconnect),
		Metric:                    sequential.MetricConnections,
		HeartBeatSend:             DefaultHeartBeat,
		HeartBeatRecv:             DefaultHeartBeat,
		HeartBeatGrace:            DefaultHeartBeatGrace,
		MaxFrameSize:              DefaultMaxFrameSize,
		MaxHeaderLength:           DefaultMaxHeaderLength,
		MaxHeaders:                DefaultMaxHeaders,
		MaxHeaderBytes:            DefaultMaxHeaderBytes,
		SubscriptionQueueMessages: DefaultSubscriptionQueueMessages,
		SubscriptionQueueBytes:    DefaultSubscriptionQueueBytes,
		BackoffMultiplier:         attempts.DefaultMultiplier,
		MaxReconnectDelay:         attempts.DefaultMaxDelay,
		Jitter:                    attempts.DefaultJitter,
		ReconnectSpread:           attempts.DefaultSpread,
		SendTimeout:               DefaultSendTimeout,
		MaxCacheSize:              DefaultMaxCacheSize,
		SchedulerMaxConcurrency:   sc.MaxConcurrency,
		SchedulerMaxRate:          sc.MaxRate,
		SchedulerMinRate:          sc.MinRate,
	}
}

// builder turns one section into a Factory.
type builder struct {
	p        *parser
	s        *section
	f        *Factory
	set      map[string]*entry // explicitly written keys
	failover []*entry          // settings taken from a failover: url
	urlEntry *entry
	trusted  []*entry // the entry of each SSL.Trusted file
	issuer   []*entry // the entry of each SSL.Issuer file
}

func (p *parser) factory(s *section) *Factory {
	b := &builder{p: p, s: s, f: defaults(s.name, s.line), set: make(map[string]*entry)}
	nerr := len(p.errs)
	for _, e := range s.entries {
		if p.full {
			return nil
		}
		spec, ok := keySpecs[e.key]
		if !ok {
			b.unknown(e)
			continue
		}
		if prev := b.set[e.key]; prev != nil && !spec.repeat {
			b.fail(e, "duplicate key (first set on line %d)", prev.line)
			continue
		}
		if b.set[e.key] == nil {
			b.set[e.key] = e
		}
		spec.apply(b, e)
	}
	for _, e := range b.failover {
		if prev := b.set[e.key]; prev != nil {
			p.warnf(prev.line, prev.col, s.name, e.key, "%s on line %d overrides %s", prev.written, prev.line, e.via)
			continue
		}
		keySpecs[e.key].apply(b, e)
	}
	for _, k := range []string{"type", "url"} {
		if b.set[k] == nil {
			p.errorf(s.line, s.col, s.name, k, nil, "factory [%s]: missing required key %q", clipName(s.name), k)
		}
	}
	if b.set["passcode"] != nil && b.set["passcode_file"] != nil {
		e := b.set["passcode_file"]
		if b.set["passcode"].line > e.line {
			e = b.set["passcode"]
		}
		b.fail(e, "give either passcode or passcode_file, not both")
	}
	if b.f.URLs != nil && b.f.URLs.Scheme() != sequential.SchemeSSL {
		for _, e := range s.entries {
			if spec, ok := keySpecs[e.key]; ok && spec.ssl {
				p.warnf(e.line, e.col, s.name, e.key, "%s: ignored: the url list uses %s://, not ssl://", e.written, b.f.URLs.Scheme())
			}
		}
	}
	if b.f.URLs != nil && b.f.URLs.Scheme() == sequential.SchemeSSL {
		b.readSSLFiles()
	}
	if b.f.SchedulerMinRate > b.f.SchedulerMaxRate {
		e := b.set["scheduler_min_rate"]
		if e == nil {
			e = b.set["scheduler_max_rate"]
		}
		if e != nil {
			b.fail(e, "scheduler_min_rate %v is above scheduler_max_rate %v", b.f.SchedulerMinRate, b.f.SchedulerMaxRate)
		}
	}
	if len(p.errs) > nerr {
		return nil
	}
	return b.f
}

// unknown reports a key that is not ours: a warning for EMS keys we do not
// use, an error with the closest known key otherwise.
func (b *builder) unknown(e *entry) {
	if why, ok := legacyKeys[e.key]; ok {
		b.p.warnf(e.line, e.col, b.s.name, e.key, "%s: EMS key not used by this project (%s); ignored", e.written, why)
		return
	}
	// The key as written is not repeated: a line such as "S3CRETpw = x"
	// (a passcode pasted on a line of its own) would print it. The
	// position names the line; a near known key is safe to name.
	msg := "unknown key"
	if s := suggest(e.written); s != "" {
		msg += "; did you mean " + s + "?"
	}
	b.p.errorf(e.line, e.col, b.s.name, "", nil, "%s", msg)
}

// readSSLFiles reads the ssl_* files once, at parse time, reporting each
// failure at the line that named the file.
func (b *builder) readSSLFiles() {
	b.f.SSL.readFiles(b.p.dir, func(key string, i int, err error) {
		var e *entry
		switch key {
		case "ssl_trusted":
			e = b.trusted[i]
		case "ssl_issuer":
			e = b.issuer[i]
		default:
			e = b.set[key]
		}
		b.p.errorf(e.line, e.col, b.s.name, key, err, "%s: %v", e.written, err)
	})
}

func (b *builder) setCiphers(e *entry) {
	s, ok := b.str(e)
	if !ok {
		return
	}
	ids, err := ParseCipherSuites(s)
	if err != nil {
		b.p.errorf(e.line, e.vcol, b.s.name, e.key, err, "%s: %v", e.written, err)
		return
	}
	b.f.SSL.Ciphers, b.f.SSL.CipherSuites = s, ids
}

// fail records an error about entry e, prefixed with its key (or the
// failover option it came from).
func (b *builder) fail(e *entry, format string, args ...any) {
	prefix := e.written
	if e.via != "" {
		prefix = e.via
	}
	b.p.errorf(e.line, e.col, b.s.name, e.key, nil, "%s: %s", prefix, fmt.Sprintf(format, args...))
}

func (b *builder) warn(e *entry, format string, args ...any) {
	prefix := e.written
	if e.via != "" {
		prefix = e.via
	}
	b.p.warnf(e.line, e.col, b.s.name, e.key, "%s: %s", prefix, fmt.Sprintf(format, args...))
}

// show renders a value for a message; only called for public keys.
func show(e *entry) string {
	if s, ok := e.val.(string); ok {
		return quote(s)
	}
	return clipName(e.raw)
}

// str returns a single string value. TOML numbers and booleans are taken
// as written (login = 007 is the string "007").
func (b *builder) str(e *entry) (string, bool) {
	switch v := e.val.(type) {
	case string:
		return v, true
	case []any, map[string]any:
		b.fail(e, "expected a single value, not a TOML array or table")
		return "", false
	}
	return e.raw, true
}

// strList accepts a string or a TOML array of strings.
func (b *builder) strList(e *entry) []string {
	arr, ok := e.val.([]any)
	if !ok {
		s, ok := b.str(e)
		if !ok {
			return nil
		}
		return []string{s}
	}
	out := make([]string, 0, len(arr))
	for _, x := range arr {
		s, ok := x.(string)
		if !ok {
			b.fail(e, "expected an array of strings")
			return nil
		}
		out = append(out, s)
	}
	return out
}

func (b *builder) integer(e *entry) (int64, bool) {
	switch v := e.val.(type) {
	case int64:
		return v, true
	case string:
		if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
			return n, true
		}
	}
	b.fail(e, "%s is not an integer", show(e))
	return 0, false
}

func (b *builder) float(e *entry) (float64, bool) {
	var x float64
	switch v := e.val.(type) {
	case int64:
		x = float64(v)
	case float64:
		x = v
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			b.fail(e, "%s is not a number", show(e))
			return 0, false
		}
		x = f
	default:
		b.fail(e, "%s is not a number", show(e))
		return 0, false
	}
	if math.IsNaN(x) || math.IsInf(x, 0) {
		b.fail(e, "%s is not a finite number", show(e))
		return 0, false
	}
	return x, true
}

// duration parses milliseconds (a bare integer) or a Go duration string.
func (b *builder) duration(e *entry) (time.Duration, bool) {
	d, msg := parseDuration(e.val)
	if msg != "" {
		b.fail(e, "%s %s", show(e), msg)
		return 0, false
	}
	return d, true
}

const notDuration = "is not a duration (milliseconds, or a Go duration such as 500ms)"

func parseDuration(v any) (time.Duration, string) {
	var ms int64
	switch v := v.(type) {
	case int64:
		ms = v
	case string:
		s := strings.TrimSpace(v)
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			d, derr := time.ParseDuration(s)
			if derr != nil {
				return 0, notDuration
			}
			if d < 0 {
				return 0, "is negative"
			}
			return d, ""
		}
		ms = n
	default:
		return 0, notDuration
	}
	if ms < 0 {
		return 0, "is negative"
	}
	if ms > math.MaxInt64/int64(time.Millisecond) {
		return 0, "is too large"
	}
	return time.Duration(ms) * time.Millisecond, ""
}

func (b *builder) boolean(e *entry) (bool, bool) {
	switch v := e.val.(type) {
	case bool:
		return v, true
	case string:
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "true", "enabled", "yes", "on":
			return true, true
		case "false", "disabled", "no", "off":
			return false, true
		}
	}
	b.fail(e, "%s is not a boolean (true, false, enabled or disabled)", show(e))
	return false, false
}

func strKey(field func(*Factory) *string) func(*builder, *entry) {
	return func(b *builder, e *entry) {
		if s, ok := b.str(e); ok {
			*field(b.f) = s
		}
	}
}

// headerKey sets a string that is sent in a STOMP CONNECT header (login,
// vhost); see headerSafe.
func headerKey(field func(*Factory) *string) func(*builder, *entry) {
	return func(b *builder, e *entry) {
		if s, ok := b.str(e); ok && b.headerSafe(e, s) {
			*field(b.f) = s
		}
	}
}

// headerSafe reports whether s can be sent as a STOMP header value: valid
// UTF-8 without control characters (a NUL ends the frame; a quoted TOML
// value or a Define can carry what a native line cannot). The message
// never quotes s, which may be a passcode.
func (b *builder) headerSafe(e *entry, s string) bool {
	switch {
	case !utf8.ValidString(s):
		b.fail(e, "the value is not valid UTF-8 (it is sent in a STOMP header, which is UTF-8)")
	case hasControl(s):
		b.fail(e, "the value contains a control character or a line break, which a STOMP header cannot carry")
	default:
		return true
	}
	return false
}

func boolKey(field func(*Factory) *bool) func(*builder, *entry) {
	return func(b *builder, e *entry) {
		if v, ok := b.boolean(e); ok {
			*field(b.f) = v
		}
	}
}

// disabledKey sets a skip-a-check field from an EMS enabled/disabled key:
// ssl_verify_host = disabled sets SSL.InsecureSkipVerify.
func disabledKey(field func(*Factory) *bool) func(*builder, *entry) {
	return func(b *builder, e *entry) {
		if v, ok := b.boolean(e); ok {
			*field(b.f) = !v
		}
	}
}

func floatKey(field func(*Factory) *float64, min float64, want string) func(*builder, *entry) {
	return func(b *builder, e *entry) {
		v, ok := b.float(e)
		if !ok {
			return
		}
		if v < min {
			b.fail(e, "%s is too small: must be %s", show(e), want)
			return
		}
		*field(b.f) = v
	}
}

// sizeKey sets a frame limit: a whole number from 1 to 2^31-1.
func sizeKey(field func(*Factory) *int) func(*builder, *entry) {
	return func(b *builder, e *entry) {
		n, ok := b.integer(e)
		if !ok {
			return
		}
		if n < 1 || n > math.MaxInt32 {
			b.fail(e, "%s is out of range 1..%d", show(e), math.MaxInt32)
			return
		}
		*field(b.f) = int(n)
	}
}

// countKey sets an attempt count: -1 is forever. 0 is below EMS's minimum
// of 1 and is accepted with a warning as 1 (zero passes would never
// connect, and attempts.Policy rejects 0); other negatives are errors.
func countKey(field func(*Factory) *int) func(*builder, *entry) {
	return func(b *builder, e *entry) {
		n, ok := b.integer(e)
		if !ok {
			return
		}
		if n < attempts.Forever {
			b.fail(e, "%s is not a count: use 1 or more, or -1 for forever", show(e))
			return
		}
		if n == 0 {
			b.warn(e, "0 is below the EMS minimum of 1; using 1")
			n = 1
		}
		if n > math.MaxInt32 {
			n = attempts.Forever // more passes than could ever run
		}
		*field(b.f) = int(n)
	}
}

// durKey sets a duration; min > 0 is EMS's documented minimum, below
// which the value is kept with a warning (0 is "none" for timeouts).
func durKey(field func(*Factory) *time.Duration, min time.Duration) func(*builder, *entry) {
	return func(b *builder, e *entry) {
		d, ok := b.duration(e)
		if !ok {
			return
		}
		if min > 0 && d < min && !(d == 0 && min == minAttemptTimeout) {
			b.warn(e, "%v is below the EMS minimum of %v; kept", d, min)
		}
		*field(b.f) = d
	}
}

// timeoutKey sets an attempt timeout. EMS's 0 ("none") means
// DefaultAttemptTimeout: an attempt is always bounded, and the value the
// factory will use is the one the parsed config (and confcheck) shows.
func timeoutKey(field func(*Factory) *time.Duration) func(*builder, *entry) {
	set := durKey(field, minAttemptTimeout)
	return func(b *builder, e *entry) {
		set(b, e)
		if *field(b.f) == 0 {
			*field(b.f) = DefaultAttemptTimeout
		}
	}
}

// withAttemptTimeout fills in DefaultAttemptTimeout when p has none.
func withAttemptTimeout(p attempts.Params) attempts.Params {
	if p.Timeout == 0 {
		p.Timeout = DefaultAttemptTimeout
	}
	return p
}

func (b *builder) setType(e *entry) {
	s, ok := b.str(e)
	if !ok {
		return
	}
	t := strings.ToLower(strings.TrimSpace(s))
	for _, ft := range factoryTypes {
		if t == ft {
			b.f.Type = t
			return
		}
	}
	b.fail(e, "%s is not a factory type (%s)", show(e), strings.Join(factoryTypes, ", "))
}

func (b *builder) setClientID(e *entry) {
	s, ok := b.str(e)
	if !ok {
		return
	}
	if len(s) > MaxClientIDLength {
		b.fail(e, "%d bytes, longer than EMS's maximum of %d", len(s), MaxClientIDLength)
		return
	}
	if !b.headerSafe(e, s) {
		return
	}
	b.f.ClientID = s
}

func (b *builder) setMetric(e *entry) {
	s, ok := b.str(e)
	if !ok {
		return
	}
	switch m := sequential.Metric(strings.ToLower(strings.TrimSpace(s))); m {
	case sequential.MetricConnections, sequential.MetricByteRate:
		b.f.Metric = m
	default:
		b.fail(e, "%s is not a metric (connections or byte_rate)", show(e))
	}
}

func (b *builder) setURL(e *entry) {
	s, ok := b.str(e)
	if !ok {
		return
	}
	b.urlEntry = e
	list := s
	nerr := len(b.p.errs)
	if len(s) >= len(failoverScheme) && strings.EqualFold(s[:len(failoverScheme)], failoverScheme) {
		if len(s) > MaxFailoverURILength {
			b.fail(e, "failover URI of %d bytes, longer than the limit of %d (MaxFailoverURILength)", len(s), MaxFailoverURILength)
			return
		}
		var msg string
		list, msg = b.parseFailover(e, s[len(failoverScheme):])
		if msg != "" {
			b.fail(e, "%s", msg)
			return
		}
	}
	if list == "" && len(b.p.errs) > nerr {
		return // every URI of the failover URI was at fault, and reported
	}
	// Every bad URL of the list is reported, not only the first (a
	// failover URI's own problems are already reported).
	l, errs := sequential.ParseAll(list)
	for _, se := range errs {
		col := e.vcol
		if list == s && (se.Element != "" || se.Offset > 0) {
			col += se.Offset
			if !e.native {
				col++ // the opening quote
			}
		}
		msg := se.Msg
		if se.Element != "" {
			msg = fmt.Sprintf("%q: %s", se.Element, se.Msg)
		}
		b.p.errorf(e.line, col, b.s.name, e.key, se, "%s: %s", e.written, msg)
	}
	if len(b.p.errs) > nerr {
		return
	}
	b.f.URL, b.f.URLs = s, l
}

func (b *builder) setPasscode(e *entry) {
	s, ok := e.val.(string)
	if !ok {
		switch e.val.(type) {
		case []any, map[string]any:
			b.fail(e, "expected a single value, not a TOML array or table")
			return
		}
		s = e.raw
	}
	if strings.HasPrefix(s, "${") && strings.HasSuffix(s, "}") {
		name := s[2 : len(s)-1]
		if !isEnvName(name) {
			b.fail(e, "${...} must name an environment variable (letters, digits, '_')")
			return
		}
		v, ok := b.p.lookupEnv(name)
		if !ok {
			b.fail(e, "environment variable %s is not set", clipName(name))
			return
		}
		s = v
	}
	if !b.headerSafe(e, s) {
		return
	}
	b.f.Passcode = Secret(s)
}

func (b *builder) setPasscodeFile(e *entry) {
	path, ok := b.str(e)
	if !ok {
		return
	}
	if path == "" {
		b.fail(e, "empty path")
		return
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(b.p.dir, path)
	}
	data, err := b.p.readFile(path, MaxPasscodeFileSize)
	if err != nil {
		// The *PathError names the file and the cause, never the content.
		b.p.errorf(e.line, e.col, b.s.name, e.key, err, "%s: %v", e.written, err)
		return
	}
	s := strings.TrimRight(string(data), "\r\n")
	if s == "" {
		b.fail(e, "%s is empty", clipName(path))
		return
	}
	if !b.headerSafe(e, s) {
		return
	}
	b.f.Passcode = Secret(s)
}

func isEnvName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// setHeartBeat accepts "send,receive" (each milliseconds or a Go duration)
// or a TOML array of two.
func (b *builder) setHeartBeat(e *entry) {
	var parts []any
	switch v := e.val.(type) {
	case string:
		for _, p := range strings.Split(v, ",") {
			parts = append(parts, p)
		}
	case []any:
		parts = v
	}
	if len(parts) != 2 {
		b.fail(e, "%s is not send,receive in milliseconds (e.g. 5000,5000; 0,0 turns heartbeats off)", show(e))
		return
	}
	var d [2]time.Duration
	for i, p := range parts {
		x, msg := parseDuration(p)
		if msg != "" {
			b.fail(e, "%s is not send,receive in milliseconds (e.g. 5000,5000; 0,0 turns heartbeats off)", show(e))
			return
		}
		// STOMP's heart-beat header carries whole milliseconds: a
		// smaller or fractional value would be offered as something
		// other than what the client enforces.
		if x != 0 && (x < time.Millisecond || x%time.Millisecond != 0) {
			b.fail(e, "%v is not a whole number of milliseconds of at least 1ms (heart-beats are milliseconds on the wire; 0 turns one direction off)", x)
			return
		}
		d[i] = x
	}
	b.f.HeartBeatSend, b.f.HeartBeatRecv = d[0], d[1]
}

func (b *builder) setJitter(e *entry) {
	s, ok := b.str(e)
	if !ok {
		return
	}
	j, err := attempts.ParseJitter(s)
	if err != nil || strings.TrimSpace(s) == "" {
		b.fail(e, "%s is not a jitter mode (none, full, equal or decorrelated)", show(e))
		return
	}
	b.f.Jitter = j
}

func (b *builder) setMaxCacheSize(e *entry) {
	n, ok := b.integer(e)
	if !ok {
		return
	}
	if n < 0 {
		b.fail(e, "%s is negative", show(e))
		return
	}
	b.f.MaxCacheSize = n
}

// queueKey sets a subscription delivery-queue limit: 1..MaxInt32.
func queueKey(set func(*Factory, int64)) func(*builder, *entry) {
	return func(b *builder, e *entry) {
		n, ok := b.integer(e)
		if !ok {
			return
		}
		if n < 1 || n > math.MaxInt32 {
			b.fail(e, "%s is out of range 1..%d", show(e), math.MaxInt32)
			return
		}
		set(b.f, n)
	}
}

func (b *builder) setMaxConcurrency(e *entry) {
	n, ok := b.integer(e)
	if !ok {
		return
	}
	if n < 1 || n > math.MaxInt32 {
		b.fail(e, "%s is out of range 1..%d", show(e), math.MaxInt32)
		return
	}
	b.f.SchedulerMaxConcurrency = int(n)
}

// suggestCandidates is every name suggest may offer, sorted (built once).
var suggestCandidates = sync.OnceValue(func() []string {
	cands := Keys()
	for a := range keyAliases {
		cands = append(cands, a)
	}
	for l := range legacyKeys {
		cands = append(cands, l)
	}
	sort.Strings(cands)
	return cands
})

// suggest returns the known key closest to k, or "" when none is close
// (an edit distance above max(2, len(k)/3)). A candidate whose length
// differs from k's by more than that cannot be close and costs nothing.
func suggest(k string) string {
	limit := max(2, len(k)/3)
	best, bestD := "", -1
	lk := strings.ToLower(k)
	for _, c := range suggestCandidates() {
		if diff := len(c) - len(k); diff > limit || -diff > limit {
			continue
		}
		d := levenshtein(lk, strings.ToLower(c))
		if bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	if bestD < 0 || bestD > limit {
		return ""
	}
	return best
}

func levenshtein(a, b string) int {
	if len(a) > 256 || len(b) > 256 {
		return max(len(a), len(b))
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
