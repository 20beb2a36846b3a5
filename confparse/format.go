package confparse

import (
	"strconv"
	"strings"
	"time"
)

// Setting is one effective key = value of a factory, as Settings lists it.
type Setting struct {
	Key   string
	Value string
}

// Settings lists every effective setting of the factory, defaults filled
// in, in the order of the reference table, for people to read: durations
// as Go durations, counts of -1 as "-1 (forever)", a zero time as
// "0 (none)", except an attempt timeout, whose 0 means DefaultAttemptTimeout
// and prints as that limit: what will happen, not what was written. The ssl_* keys are listed for ssl:// factories only. A
// passcode shows as ****** when set, "" when not.
func (f *Factory) Settings() []Setting {
	d := func(x time.Duration) string { return x.String() }
	none := func(x time.Duration) string {
		if x == 0 {
			return "0 (none)"
		}
		return x.String()
	}
	attempt := func(x time.Duration) string {
		if x == 0 {
			return DefaultAttemptTimeout.String()
		}
		return x.String()
	}
	b := strconv.FormatBool
	fl := func(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
	count := func(n int) string {
		if n == -1 {
			return "-1 (forever)"
		}
		return strconv.Itoa(n)
	}
	urls := ""
	if f.URLs != nil {
		urls = f.URLs.String()
	}
	s := []Setting{
		{"type", f.Type},
		{"url", urls},
		{"clientID", f.ClientID},
		{"connect_attempt_count", count(f.Connect.Count)},
		{"connect_attempt_delay", d(f.Connect.Delay)},
		{"connect_attempt_timeout", attempt(f.Connect.Timeout)},
		{"reconnect_attempt_count", count(f.Reconnect.Count)},
		{"reconnect_attempt_delay", d(f.Reconnect.Delay)},
		{"reconnect_attempt_timeout", attempt(f.Reconnect.Timeout)},
		{"metric", string(f.Metric)},
	}
	if f.URLs != nil && f.URLs.Scheme() == "ssl" {
		s = append(s,
			Setting{"ssl_trusted", strings.Join(f.SSL.Trusted, ", ")},
			Setting{"ssl_identity", f.SSL.Identity},
			Setting{"ssl_private_key", f.SSL.PrivateKey},
			Setting{"ssl_issuer", strings.Join(f.SSL.Issuer, ", ")},
			Setting{"ssl_verify_host", b(!f.SSL.InsecureSkipVerify)},
			Setting{"ssl_verify_hostname", b(!f.SSL.SkipHostnameCheck)},
			Setting{"ssl_expected_hostname", f.SSL.ExpectedHostname},
			Setting{"ssl_ciphers", f.SSL.Ciphers},
		)
	}
	return append(s,
		Setting{"login", f.Login},
		Setting{"passcode", f.Passcode.String()},
		Setting{"vhost", f.VHost},
		Setting{"heartbeat", strconv.FormatInt(f.HeartBeatSend.Milliseconds(), 10) + "," + strconv.FormatInt(f.HeartBeatRecv.Milliseconds(), 10)},
		Setting{"heartbeat_grace", fl(f.HeartBeatGrace)},
		Setting{"max_frame_size", strconv.Itoa(f.MaxFrameSize)},
		Setting{"subscription_queue_messages", strconv.Itoa(f.SubscriptionQueueMessages)},
		Setting{"subscription_queue_bytes", strconv.FormatInt(f.SubscriptionQueueBytes, 10)},
		Setting{"max_header_length", strconv.Itoa(f.MaxHeaderLength)},
		Setting{"max_headers", strconv.Itoa(f.MaxHeaders)},
		Setting{"max_header_bytes", strconv.Itoa(f.MaxHeaderBytes)},
		Setting{"reconnect_backoff_multiplier", fl(f.BackoffMultiplier)},
		Setting{"reconnect_max_delay", none(f.MaxReconnectDelay)},
		Setting{"reconnect_jitter", string(f.Jitter)},
		Setting{"reconnect_spread", none(f.ReconnectSpread)},
		Setting{"randomize", b(f.Randomize)},
		Setting{"priority_backup", b(f.PriorityBackup)},
		Setting{"reconnect_budget", none(f.ReconnectBudget)},
		Setting{"send_timeout", none(f.SendTimeout)},
		Setting{"track_messages", b(f.TrackMessages)},
		Setting{"max_cache_size", strconv.FormatInt(f.MaxCacheSize, 10)},
		Setting{"backup", b(f.Backup)},
		Setting{"scheduler_max_concurrency", strconv.Itoa(f.SchedulerMaxConcurrency)},
		Setting{"scheduler_max_rate", fl(f.SchedulerMaxRate)},
		Setting{"scheduler_min_rate", fl(f.SchedulerMinRate)},
	)
}

// String returns a one-line summary, [Name] type url login; the passcode
// is never printed. It also serves %v and %+v of a *Factory.
func (f *Factory) String() string {
	if f == nil {
		return "<nil>"
	}
	s := "[" + f.Name + "] type=" + f.Type + " url=" + f.URL
	if f.ClientID != "" {
		s += " clientID=" + strconv.Quote(f.ClientID)
	}
	if f.Login != "" {
		s += " login=" + strconv.Quote(f.Login)
	}
	if f.Passcode != "" {
		s += " passcode=" + f.Passcode.String()
	}
	return s
}
