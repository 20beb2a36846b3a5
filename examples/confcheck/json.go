package main

import (
	"encoding/json"
	"io"
	"time"

	"github.com/stompft/stompft/confparse"
)

// The -json document. The keys of jsonDoc, jsonFactory and jsonAttempts
// named in the issue are fixed; the others are extra and may grow.
type jsonDoc struct {
	Factories []jsonFactory `json:"factories"`
	Warnings  []string      `json:"warnings"`
}

type jsonAttempts struct {
	AttemptCount     int   `json:"attempt_count"` // -1 = forever
	AttemptDelayMS   int64 `json:"attempt_delay_ms"`
	AttemptTimeoutMS int64 `json:"attempt_timeout_ms"` // effective: never 0 (see attemptTimeout)
}

type jsonSSL struct {
	Trusted          []string `json:"trusted"`
	Identity         string   `json:"identity"`
	PrivateKey       string   `json:"private_key"`
	Issuer           []string `json:"issuer"`
	VerifyHost       bool     `json:"verify_host"`
	VerifyHostname   bool     `json:"verify_hostname"`
	ExpectedHostname string   `json:"expected_hostname"`
	Ciphers          string   `json:"ciphers"`
}

type jsonFactory struct {
	Name      string       `json:"name"`
	Type      string       `json:"type"`
	URLs      []string     `json:"urls"` // scheme://host:port, in list order
	ClientID  string       `json:"client_id"`
	Connect   jsonAttempts `json:"connect"`
	Reconnect jsonAttempts `json:"reconnect"`

	Line                    int      `json:"line"`
	URL                     string   `json:"url"` // as written
	Groups                  int      `json:"groups"`
	Metric                  string   `json:"metric"`
	SSL                     *jsonSSL `json:"ssl,omitempty"` // ssl:// factories only
	Login                   string   `json:"login"`
	PasscodeSet             bool     `json:"passcode_set"`
	VHost                   string   `json:"vhost"`
	HeartBeatSendMS         int64    `json:"heartbeat_send_ms"`
	HeartBeatRecvMS         int64    `json:"heartbeat_receive_ms"`
	HeartBeatGrace          float64  `json:"heartbeat_grace"`
	BackoffMultiplier       float64  `json:"reconnect_backoff_multiplier"`
	MaxReconnectDelayMS     int64    `json:"reconnect_max_delay_ms"`
	Jitter                  string   `json:"reconnect_jitter"`
	ReconnectSpreadMS       int64    `json:"reconnect_spread_ms"`
	Randomize               bool     `json:"randomize"`
	PriorityBackup          bool     `json:"priority_backup"`
	ReconnectBudgetMS       int64    `json:"reconnect_budget_ms"`
	SendTimeoutMS           int64    `json:"send_timeout_ms"`
	TrackMessages           bool     `json:"track_messages"`
	MaxCacheSize            int64    `json:"max_cache_size"`
	Backup                  bool     `json:"backup"`
	SchedulerMaxConcurrency int      `json:"scheduler_max_concurrency"`
	SchedulerMaxRate        float64  `json:"scheduler_max_rate"`
	SchedulerMinRate        float64  `json:"scheduler_min_rate"`
}

func toJSON(cfg *confparse.Config) jsonDoc {
	doc := jsonDoc{Factories: []jsonFactory{}, Warnings: []string{}}
	for _, w := range cfg.Warnings {
		doc.Warnings = append(doc.Warnings, w.String())
	}
	for _, f := range cfg.Factories {
		jf := jsonFactory{
			Name: f.Name, Type: f.Type, URLs: []string{}, ClientID: f.ClientID,
			Connect:   jsonAttempts{f.Connect.Count, f.Connect.Delay.Milliseconds(), attemptTimeout(f.Connect.Timeout).Milliseconds()},
			Reconnect: jsonAttempts{f.Reconnect.Count, f.Reconnect.Delay.Milliseconds(), attemptTimeout(f.Reconnect.Timeout).Milliseconds()},
			Line:      f.Line, URL: f.URL, Metric: string(f.Metric),
			Login: f.Login, PasscodeSet: f.Passcode != "", VHost: f.VHost,
			HeartBeatSendMS: f.HeartBeatSend.Milliseconds(), HeartBeatRecvMS: f.HeartBeatRecv.Milliseconds(),
			HeartBeatGrace: f.HeartBeatGrace, BackoffMultiplier: f.BackoffMultiplier,
			MaxReconnectDelayMS: f.MaxReconnectDelay.Milliseconds(), Jitter: string(f.Jitter),
			ReconnectSpreadMS: f.ReconnectSpread.Milliseconds(), Randomize: f.Randomize, PriorityBackup: f.PriorityBackup,
			ReconnectBudgetMS: f.ReconnectBudget.Milliseconds(), SendTimeoutMS: f.SendTimeout.Milliseconds(),
			TrackMessages: f.TrackMessages, MaxCacheSize: f.MaxCacheSize, Backup: f.Backup,
			SchedulerMaxConcurrency: f.SchedulerMaxConcurrency, SchedulerMaxRate: f.SchedulerMaxRate,
			SchedulerMinRate: f.SchedulerMinRate,
		}
		if f.URLs != nil {
			jf.Groups = len(f.URLs.Groups)
			for _, e := range f.URLs.Endpoints() {
				jf.URLs = append(jf.URLs, e.String())
			}
			if f.URLs.Scheme() == "ssl" {
				jf.SSL = &jsonSSL{
					Trusted: nonNil(f.SSL.Trusted), Identity: f.SSL.Identity, PrivateKey: f.SSL.PrivateKey,
					Issuer: nonNil(f.SSL.Issuer), VerifyHost: !f.SSL.InsecureSkipVerify, VerifyHostname: !f.SSL.SkipHostnameCheck,
					ExpectedHostname: f.SSL.ExpectedHostname, Ciphers: f.SSL.Ciphers,
				}
			}
		}
		doc.Factories = append(doc.Factories, jf)
	}
	return doc
}

// attemptTimeout is the limit the factory applies to one attempt: an
// attempt timeout of 0 means confparse.DefaultAttemptTimeout, never "none".
// confcheck prints what will happen, not what was written.
func attemptTimeout(d time.Duration) time.Duration {
	if d <= 0 {
		return confparse.DefaultAttemptTimeout
	}
	return d
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func writeJSON(w io.Writer, cfg *confparse.Config) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(toJSON(cfg))
}
