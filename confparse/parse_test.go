package confparse

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stompft/stompft/attempts"
	"github.com/stompft/stompft/sequential"
)

// parseCase is one file and what must come out of it: the named factory's
// fields (checked by want) or the exact error and warning lines.
type parseCase struct {
	name     string
	in       string
	factory  string               // factory to check with want
	want     func(f *Factory) any // value extracted from the factory...
	expect   any                  // ...must equal this
	errs     []string             // exact error lines, when the file is invalid
	warnings []string             // exact warning lines (valid files)
}

const emsFT = `###########################################################
# factories.conf written by the EMS admin tool
###########################################################

[FTQueueConnectionFactory]
  type                     = queue
  url                      = tcp://127.0.0.1:7222,tcp://127.0.0.1:7224
  clientID                 = "Sample Client ID"
  connect_attempt_count    = 10
  connect_attempt_delay    = 500
  reconnect_attempt_count  = 9999
  reconnect_attempt_delay  = 5000
  multicast_enabled        = false
[SSLQueueConnectionFactory]
  type                  = queue
  url                   = ssl://7243
  ssl_verify_host       = disabled
`

const tomlFT = `# the same factories written as TOML
[FTQueueConnectionFactory]
type = "queue"
url = "tcp://127.0.0.1:7222,tcp://127.0.0.1:7224"
clientID = "Sample Client ID"
connect_attempt_count = 10
connect_attempt_delay = 500
reconnect_attempt_count = 9999
reconnect_attempt_delay = "5s"
randomize = false
ssl_issuer = []

["SSLQueueConnectionFactory"]
type = 'queue'
url = "ssl://7243"
ssl_verify_host = false
ssl_issuer = [
  "certs/issuer1.pem",   # intermediate
  "certs/issuer2.pem",
]
`

func fieldConnect(f *Factory) any   { return f.Connect }
func fieldReconnect(f *Factory) any { return f.Reconnect }

// nativeCases are valid files; each checks one rule.
var nativeCases = []parseCase{
	{name: "EMS sample: connect", in: emsFT, factory: "FTQueueConnectionFactory", want: fieldConnect,
		expect: attempts.Params{Count: 10, Delay: 500 * time.Millisecond, Timeout: DefaultAttemptTimeout}},
	{name: "EMS sample: reconnect", in: emsFT, factory: "FTQueueConnectionFactory", want: fieldReconnect,
		expect: attempts.Params{Count: 9999, Delay: 5 * time.Second, Timeout: DefaultAttemptTimeout}},
	{name: "EMS sample: quoted clientID", in: emsFT, factory: "FTQueueConnectionFactory",
		want: func(f *Factory) any { return f.ClientID }, expect: "Sample Client ID"},
	{name: "EMS sample: urls in order", in: emsFT, factory: "FTQueueConnectionFactory",
		want: func(f *Factory) any { return f.URLs.String() }, expect: "tcp://127.0.0.1:7222,tcp://127.0.0.1:7224"},
	{name: "EMS sample: section right after a value line, port-only ssl", in: emsFT, factory: "SSLQueueConnectionFactory",
		want: func(f *Factory) any {
			return []any{f.Line, f.URLs.String(), !f.SSL.InsecureSkipVerify, !f.SSL.SkipHostnameCheck}
		},
		expect: []any{14, "ssl://localhost:7243", false, true}},
	{name: "EMS sample: legacy key warns", in: emsFT, factory: "FTQueueConnectionFactory",
		want: func(f *Factory) any { return f.Type }, expect: "queue",
		warnings: []string{"t.conf:13:3: warning: multicast_enabled: EMS key not used by this project (EMS multicast is not available over STOMP); ignored"}},
	{name: "TOML sample: same connect", in: tomlFT, factory: "FTQueueConnectionFactory", want: fieldConnect,
		expect: attempts.Params{Count: 10, Delay: 500 * time.Millisecond, Timeout: DefaultAttemptTimeout}},
	{name: "TOML sample: duration string", in: tomlFT, factory: "FTQueueConnectionFactory", want: fieldReconnect,
		expect: attempts.Params{Count: 9999, Delay: 5 * time.Second, Timeout: DefaultAttemptTimeout}},
	{name: "TOML sample: quoted header, bool, multi-line array", in: tomlFT, factory: "SSLQueueConnectionFactory",
		want:   func(f *Factory) any { return []any{!f.SSL.InsecureSkipVerify, f.SSL.Issuer} },
		expect: []any{false, []string{"certs/issuer1.pem", "certs/issuer2.pem"}}},
	{name: "defaults", in: "[F]\ntype = generic\nurl = tcp://7222\n", factory: "F",
		want: func(f *Factory) any {
			return []any{f.Connect, f.Reconnect, f.Metric, f.HeartBeatSend, f.HeartBeatRecv, f.HeartBeatGrace,
				f.BackoffMultiplier, f.MaxReconnectDelay, f.Jitter, f.ReconnectSpread, f.Randomize, f.SendTimeout,
				f.MaxCacheSize, f.SchedulerMaxConcurrency, !f.SSL.InsecureSkipVerify, f.URLs.String()}
		},
		expect: []any{withAttemptTimeout(attempts.DefaultConnect), withAttemptTimeout(attempts.DefaultReconnect), sequential.MetricConnections,
			10 * time.Second, 10 * time.Second, 2.5, attempts.DefaultMultiplier, attempts.DefaultMaxDelay,
			attempts.DefaultJitter, attempts.DefaultSpread, false, 30 * time.Second, int64(131072),
			attempts.DefaultSchedulerConfig().MaxConcurrency, true, "tcp://localhost:7222"}},
	{name: "count -1 is forever, Go durations", in: "[F]\ntype = queue\nurl = tcp://7222\nreconnect_attempt_count = -1\nreconnect_attempt_delay = 1.5s\nreconnect_attempt_timeout = 750ms\n",
		factory: "F", want: fieldReconnect, expect: attempts.Params{Count: -1, Delay: 1500 * time.Millisecond, Timeout: 750 * time.Millisecond}},
	{name: "client_id alias", in: "[F]\ntype = queue\nurl = tcp://7222\nclient_id = app-1\n", factory: "F",
		want: func(f *Factory) any { return f.ClientID }, expect: "app-1"},
	{name: "below EMS minimum warns", in: "[F]\n  type = queue\n  url = tcp://7222\n  connect_attempt_delay = 100\n", factory: "F",
		want: fieldConnect, expect: attempts.Params{Count: 2, Delay: 100 * time.Millisecond, Timeout: DefaultAttemptTimeout},
		warnings: []string{"t.conf:4:3: warning: connect_attempt_delay: 100ms is below the EMS minimum of 250ms; kept"}},
	{name: "count 0 is below the EMS minimum: 1, with a warning", in: "[F]\ntype = queue\nurl = tcp://7222\nreconnect_attempt_count = 0\n", factory: "F",
		want: fieldReconnect, expect: attempts.Params{Count: 1, Delay: 500 * time.Millisecond, Timeout: DefaultAttemptTimeout},
		warnings: []string{"t.conf:4:1: warning: reconnect_attempt_count: 0 is below the EMS minimum of 1; using 1"}},
	{name: "STOMP keys", in: "[F]\ntype = queue\nurl = tcp://[::1]:61613\nlogin = guest\npasscode = guest\nvhost = /\nheartbeat = 5000,4000\nheartbeat_grace = 2\n",
		factory: "F", want: func(f *Factory) any {
			return []any{f.Login, f.Passcode.Reveal(), f.VHost, f.HeartBeatSend, f.HeartBeatRecv, f.HeartBeatGrace, f.URLs.String()}
		},
		expect: []any{"guest", "guest", "/", 5 * time.Second, 4 * time.Second, 2.0, "tcp://[::1]:61613"}},
	{name: "TOML heartbeat array and off", in: "[F]\ntype = \"queue\"\nurl = \"tcp://7222\"\nheartbeat = [0, 0]\n", factory: "F",
		want: func(f *Factory) any { return []time.Duration{f.HeartBeatSend, f.HeartBeatRecv} }, expect: []time.Duration{0, 0}},
	{name: "failover extensions", in: `[F]
type = queue
url = tcp://1,tcp://2
reconnect_backoff_multiplier = 1.5
reconnect_max_delay = 10000
reconnect_jitter = equal
reconnect_spread = 2s
randomize = true
priority_backup = enabled
reconnect_budget = 5m
send_timeout = 0
track_messages = yes
max_cache_size = 1024
backup = true
scheduler_max_concurrency = 4
scheduler_max_rate = 10
scheduler_min_rate = 0.5
`, factory: "F", want: func(f *Factory) any {
		return []any{f.BackoffMultiplier, f.MaxReconnectDelay, f.Jitter, f.ReconnectSpread, f.Randomize, f.PriorityBackup,
			f.ReconnectBudget, f.SendTimeout, f.TrackMessages, f.MaxCacheSize, f.Backup, f.SchedulerMaxConcurrency,
			f.SchedulerMaxRate, f.SchedulerMinRate}
	}, expect: []any{1.5, 10 * time.Second, attempts.JitterEqual, 2 * time.Second, true, true, 5 * time.Minute,
		time.Duration(0), true, int64(1024), true, 4, 10.0, 0.5}},
	{name: "repeated ssl_issuer collected", in: "[S]\ntype = queue\nurl = ssl://1\nssl_issuer = a.pem\nssl_trusted = ca1.pem\nssl_issuer = b.pem\nssl_trusted = [\"ca2.pem\", \"ca3.pem\"]\n",
		factory: "S", want: func(f *Factory) any { return [][]string{f.SSL.Issuer, f.SSL.Trusted} },
		expect: [][]string{{"a.pem", "b.pem"}, {"ca1.pem", "ca2.pem", "ca3.pem"}}},
	{name: "ssl key on tcp factory warns", in: "[F]\ntype = queue\nurl = tcp://1\nssl_trusted = ca.pem\n", factory: "F",
		want: func(f *Factory) any { return f.SSL.Trusted }, expect: []string{"ca.pem"},
		warnings: []string{"t.conf:4:1: warning: ssl_trusted: ignored: the url list uses tcp://, not ssl://"}},
	{name: "comments: trailing, and # inside a word", in: "# banner\n[F] # the factory\ntype = queue # a queue\nurl = tcp://1 # one\nlogin = a#b\n",
		factory: "F", want: func(f *Factory) any { return []string{f.Type, f.URL, f.Login} }, expect: []string{"queue", "tcp://1", "a#b"}},
	{name: "load-balanced groups and metric", in: "[F]\ntype = queue\nurl = tcp://a:1,tcp://b:1|tcp://c:1\nmetric = byte_rate\n", factory: "F",
		want: func(f *Factory) any { return []any{len(f.URLs.Groups), f.Metric} }, expect: []any{2, sequential.MetricByteRate}},
	{name: "CRLF line endings and tabs", in: "[F]\r\n\ttype\t=\tqueue\r\n\turl = tcp://1\r\n", factory: "F",
		want: func(f *Factory) any { return f.URLs.String() }, expect: "tcp://localhost:1"},
	{name: "failover URI mapped", in: "[F]\ntype = queue\nurl = failover:(tcp://127.0.0.1:61616,stomp+ssl://127.0.0.1:61617)?initialReconnectDelay=300&maxReconnectAttempts=5&randomize=true&maxReconnectDelay=2000&backOffMultiplier=3&startupMaxReconnectAttempts=0&timeout=-1&trackMessages=true&maxCacheSize=99&backup=true&priorityBackup=true\n",
		factory: "F", want: func(f *Factory) any {
			return []any{f.Reconnect, f.Connect.Count, f.Randomize, f.MaxReconnectDelay, f.BackoffMultiplier, f.SendTimeout,
				f.TrackMessages, f.MaxCacheSize, f.Backup, f.PriorityBackup}
		}, errs: []string{`t.conf:3:7: url: "ssl://127.0.0.1:61617": scheme "ssl" differs from the list's scheme "tcp" (tcp and ssl cannot be mixed)`}},
	{name: "failover URI mapped (one scheme)", in: "[F]\ntype = queue\nurl = failover:(tcp://127.0.0.1:61616,stomp://127.0.0.1:61617)?initialReconnectDelay=300&maxReconnectAttempts=5&randomize=true&maxReconnectDelay=2000&backOffMultiplier=3&startupMaxReconnectAttempts=0&timeout=-1&trackMessages=true&maxCacheSize=99&backup=true&priorityBackup=true\n",
		factory: "F", want: func(f *Factory) any {
			return []any{f.Reconnect, f.Connect.Count, f.Randomize, f.MaxReconnectDelay, f.BackoffMultiplier, f.SendTimeout,
				f.TrackMessages, f.MaxCacheSize, f.Backup, f.PriorityBackup, f.URLs.String()}
		}, expect: []any{attempts.Params{Count: 5, Delay: 300 * time.Millisecond, Timeout: DefaultAttemptTimeout}, 1, true, 2 * time.Second, 3.0,
			time.Duration(0), true, int64(99), true, true, "tcp://127.0.0.1:61616,tcp://127.0.0.1:61617"}},
	{name: "bare failover form, exponential back-off off", in: "[F]\ntype = queue\nurl = failover:tcp://1,tcp://2\n",
		factory: "F", want: func(f *Factory) any { return f.URLs.String() }, expect: "tcp://localhost:1,tcp://localhost:2"},
	{name: "useExponentialBackOff=false wins over backOffMultiplier", in: "[F]\ntype = queue\nurl = failover:(tcp://1)?backOffMultiplier=5&useExponentialBackOff=false\n",
		factory: "F", want: func(f *Factory) any { return f.BackoffMultiplier }, expect: 1.0},
	{name: "explicit key wins over failover option, with a warning", in: "[F]\ntype = queue\nurl = failover:(tcp://1)?initialReconnectDelay=300\nreconnect_attempt_delay = 1000\n",
		factory: "F", want: func(f *Factory) any { return f.Reconnect.Delay }, expect: time.Second,
		warnings: []string{"t.conf:4:1: warning: reconnect_attempt_delay on line 4 overrides url: failover option initialReconnectDelay"}},
}

func TestParseValid(t *testing.T) {
	// The ssl_* files the cases name, relative to t.conf's directory.
	dir := t.TempDir()
	writeCerts(t, dir, "certs/issuer1.pem", "certs/issuer2.pem", "a.pem", "b.pem", "ca1.pem", "ca2.pem", "ca3.pem")
	t.Chdir(dir)
	for _, tc := range nativeCases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse("t.conf", []byte(tc.in))
			if tc.errs != nil {
				checkErrs(t, err, tc.errs)
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			f, ok := cfg.Factory(tc.factory)
			if !ok {
				t.Fatalf("factory %q not found", tc.factory)
			}
			if got := tc.want(f); !reflect.DeepEqual(got, tc.expect) {
				t.Errorf("got  %#v\nwant %#v", got, tc.expect)
			}
			if tc.warnings != nil {
				var got []string
				for _, w := range cfg.Warnings {
					got = append(got, w.String())
				}
				if !reflect.DeepEqual(got, tc.warnings) {
					t.Errorf("warnings:\ngot  %q\nwant %q", got, tc.warnings)
				}
			}
		})
	}
}

func checkErrs(t *testing.T, err error, want []string) {
	t.Helper()
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("error %v (%T) is not an ErrorList", err, err)
	}
	var got []string
	for _, e := range list {
		got = append(got, e.Error())
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("errors:\ngot  %q\nwant %q", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// errorCases are invalid files; every error of the file must be reported,
// positioned at the key (or value) it is about.
var errorCases = []parseCase{
	{name: "bad duration, issue example", in: "[F]\ntype = queue\nurl = tcp://1\n  reconnect_attempt_delay = 5x\n",
		errs: []string{`t.conf:4:3: reconnect_attempt_delay: "5x" is not a duration (milliseconds, or a Go duration such as 500ms)`}},
	{name: "all errors reported", in: "[A]\ntype = queu\nurl = tcp://1\nconnect_attempt_count = ten\n[B]\ntype = queue\nurl = tcp://1,ssl://2\nreconect_attempt_delay = 5\n",
		errs: []string{
			`t.conf:2:1: type: "queu" is not a factory type (generic, queue, topic, xageneric, xaqueue, xatopic)`,
			`t.conf:4:1: connect_attempt_count: "ten" is not an integer`,
			`t.conf:7:15: url: "ssl://2": scheme "ssl" differs from the list's scheme "tcp" (tcp and ssl cannot be mixed)`,
			`t.conf:8:1: unknown key; did you mean reconnect_attempt_delay?`,
		}},
	{name: "duplicate factory names both lines", in: "[F]\ntype = queue\nurl = tcp://1\n\n[F]\ntype = topic\nurl = tcp://2\n",
		errs: []string{`t.conf:5:1: duplicate factory [F]: defined on lines 1 and 5`}},
	{name: "missing type and url name the factory", in: "[Empty]\nclientID = x\n",
		errs: []string{`t.conf:1:1: factory [Empty]: missing required key "type"`, `t.conf:1:1: factory [Empty]: missing required key "url"`}},
	{name: "duplicate key", in: "[F]\ntype = queue\nurl = tcp://1\ntype = topic\n",
		errs: []string{`t.conf:4:1: type: duplicate key (first set on line 2)`}},
	{name: "empty element in url", in: "[F]\ntype = queue\nurl = tcp://1,,tcp://2\n",
		errs: []string{`t.conf:3:15: url: empty URL (stray ',' or '|', or nothing between them)`}},
	{name: "key outside a section", in: "type = queue\n[F]\ntype = queue\nurl = tcp://1\n",
		errs: []string{`t.conf:1:1: type: key outside a [factory] section; start one with [FactoryName]`}},
	{name: "line without =", in: "[F]\ntype = queue\nurl = tcp://1\ngarbage\n",
		errs: []string{`t.conf:4:1: expected key = value or a [FactoryName] header`}},
	{name: "bad TOML string", in: "[F]\ntype = \"queue\nurl = tcp://1\n",
		errs: []string{`t.conf:1:1: factory [F]: missing required key "type"`, `t.conf:2:13: type: invalid value: unexpected EOF; expected '"'`}},
	{name: "negative count", in: "[F]\ntype = queue\nurl = tcp://1\nconnect_attempt_count = -2\n",
		errs: []string{`t.conf:4:1: connect_attempt_count: -2 is not a count: use 1 or more, or -1 for forever`}},
	{name: "jitter mode", in: "[F]\ntype = queue\nurl = tcp://1\nreconnect_jitter = wild\n",
		errs: []string{`t.conf:4:1: reconnect_jitter: "wild" is not a jitter mode (none, full, equal or decorrelated)`}},
	{name: "heartbeat shape", in: "[F]\ntype = queue\nurl = tcp://1\nheartbeat = 5000\n",
		errs: []string{`t.conf:4:1: heartbeat: 5000 is not send,receive in milliseconds (e.g. 5000,5000; 0,0 turns heartbeats off)`}},
	{name: "unknown failover option", in: "[F]\ntype = queue\nurl = failover:(tcp://1)?initialReconectDelay=5\n",
		errs: []string{`t.conf:3:1: url: failover URI: unknown option initialReconectDelay; did you mean initialReconnectDelay?`}},
	{name: "nested query on an inner URI", in: "[F]\ntype = queue\nurl = failover:(tcp://1?wireFormat.x=1,tcp://2)\n",
		errs: []string{`t.conf:3:1: url: failover URI: options on an inner URI ("tcp://1") are not supported; put failover options after the ')'`}},
	{name: "maxReconnectAttempts=0 rejected", in: "[F]\ntype = queue\nurl = failover:(tcp://1)?maxReconnectAttempts=0\n",
		errs: []string{`t.conf:3:1: url: failover option maxReconnectAttempts: 0 (never reconnect) cannot be mapped: a factory always reconnects; use 1 for a single pass through the list`}},
	{name: "bad failover option value", in: "[F]\ntype = queue\nurl = failover:(tcp://1)?initialReconnectDelay=soon\n",
		errs: []string{`t.conf:3:1: url: failover option initialReconnectDelay: "soon" is not a duration (milliseconds, or a Go duration such as 500ms)`}},
	{name: "url too long", in: "[F]\ntype = queue\nurl = tcp://1" + strings.Repeat(",tcp://1", 0) + strings.Repeat("0", 1000) + "\n",
		errs: []string{`t.conf:3:7: url: 1007 bytes, longer than the maximum of 1000`}},
	{name: "passcode and passcode_file", in: "[F]\ntype = queue\nurl = tcp://1\npasscode = a\npasscode_file = /nonexistent/x\n",
		errs: []string{`t.conf:5:1: passcode_file: open /nonexistent/x: no such file or directory`, `t.conf:5:1: passcode_file: give either passcode or passcode_file, not both`}},
	{name: "unset env var", in: "[F]\ntype = queue\nurl = tcp://1\npasscode = ${STOMPFT_TEST_UNSET_VAR}\n",
		errs: []string{`t.conf:4:1: passcode: environment variable STOMPFT_TEST_UNSET_VAR is not set`}},
	{name: "verify host value", in: "[S]\ntype = queue\nurl = ssl://1\nssl_verify_host = maybe\n",
		errs: []string{`t.conf:4:1: ssl_verify_host: "maybe" is not a boolean (true, false, enabled or disabled)`}},
	{name: "TOML: wrong types, all reported", in: "[\"F\"]\ntype = \"queue\"\nurl = [\"tcp://1\"]\nconnect_attempt_count = 1.5\nrandomize = 1\nheartbeat_grace = 0.5\nreconnect_attempt_delay = 2.5\n",
		errs: []string{
			`t.conf:3:1: url: expected a single value, not a TOML array or table`,
			`t.conf:4:1: connect_attempt_count: 1.5 is not an integer`,
			`t.conf:5:1: randomize: 1 is not a boolean (true, false, enabled or disabled)`,
			`t.conf:6:1: heartbeat_grace: 0.5 is too small: must be 1 or more`,
			`t.conf:7:1: reconnect_attempt_delay: 2.5 is not a duration (milliseconds, or a Go duration such as 500ms)`,
		}},
	{name: "TOML: dotted key and inline table", in: "[F]\ntype = \"queue\"\nurl = \"tcp://1\"\nssl.trusted = \"ca.pem\"\nssl_trusted = { file = \"ca.pem\" }\n",
		errs: []string{
			`t.conf:4:1: dotted keys are not supported; write each key of a factory under its [FactoryName]`,
			`t.conf:5:1: ssl_trusted: expected a single value, not a TOML array or table`,
		}},
	{name: "TOML: unterminated multi-line array", in: "[F]\ntype = \"queue\"\nurl = \"tcp://1\"\nssl_issuer = [\n  \"a.pem\",\n\n[G]\ntype = queue\nurl = tcp://1\nlogin = [\n  \"x\",\nclientID = 1\n",
		errs: []string{`t.conf:4:14: ssl_issuer: invalid value: unexpected EOF; expected value`, `t.conf:10:9: login: invalid value: unexpected EOF; expected value`}},
	{name: "failover: options in the bare form", in: "[F]\ntype = queue\nurl = failover:tcp://1,tcp://2?randomize=true\n",
		errs: []string{`t.conf:3:1: url: failover URI: options in the bare failover:uri,uri form are ambiguous; write failover:(uri,uri)?options`}},
	{name: "failover: nested failover, | and empty", in: "[A]\ntype = queue\nurl = failover:(failover:(tcp://1))\n[B]\ntype = queue\nurl = failover:(tcp://1|tcp://2)\n[C]\ntype = queue\nurl = failover:(tcp://1,)\n",
		errs: []string{
			`t.conf:3:1: url: failover URI: nested parentheses are not supported`,
			`t.conf:6:1: url: failover URI: '|' load balancing is EMS syntax; write a plain url list instead of failover:`,
			`t.conf:9:1: url: failover URI: empty URI (stray ',')`,
		}},
	{name: "TOML array of tables", in: "[[F]]\ntype = queue\n",
		errs: []string{`t.conf:1:1: [[...]] (TOML array of tables) is not a factory header; write [FactoryName]`}},
}

func TestParseErrors(t *testing.T) {
	for _, tc := range errorCases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse("t.conf", []byte(tc.in))
			if cfg != nil {
				t.Fatalf("got a config for an invalid file: %v", cfg.Factories)
			}
			checkErrs(t, err, tc.errs)
			var pe *ParseError
			if !errors.As(err, &pe) || pe.File != "t.conf" || pe.Line == 0 {
				t.Errorf("errors.As(*ParseError) = %+v", pe)
			}
		})
	}
}

func TestParseErrorFields(t *testing.T) {
	_, err := Parse("factories.conf", []byte("[A]\ntype = queue\nurl = tcp://1\n  reconnect_attempt_delay = 5x\n"))
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("no *ParseError in %v", err)
	}
	want := ParseError{File: "factories.conf", Line: 4, Col: 3, Factory: "A", Key: "reconnect_attempt_delay",
		Msg: `reconnect_attempt_delay: "5x" is not a duration (milliseconds, or a Go duration such as 500ms)`}
	if *pe != want {
		t.Errorf("got %+v\nwant %+v", *pe, want)
	}
}

func TestPasscodeSources(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pw"), []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "f.conf")
	data := "[Env]\ntype = queue\nurl = tcp://1\npasscode = ${STOMPFT_TEST_PW}\n" +
		"[File]\ntype = queue\nurl = tcp://1\npasscode_file = pw\n" +
		"[Literal]\ntype = queue\nurl = tcp://1\npasscode = \"lit eral\"\n"
	if err := os.WriteFile(conf, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("STOMPFT_TEST_PW", "from-env")
	cfg, err := ParseFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"Env": "from-env", "File": "from-file", "Literal": "lit eral"} {
		f, _ := cfg.Factory(name)
		if got := f.Passcode.Reveal(); got != want {
			t.Errorf("%s: passcode %q, want %q", name, got, want)
		}
	}
}

func TestParseFileIOError(t *testing.T) {
	_, err := ParseFile(filepath.Join(t.TempDir(), "missing.conf"))
	var pe *os.PathError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v does not wrap *os.PathError", err)
	}
}

func TestPolicies(t *testing.T) {
	cfg, err := Parse("t.conf", []byte("[F]\ntype = queue\nurl = tcp://1\nconnect_attempt_count = 3\nreconnect_attempt_count = 7\nreconnect_attempt_delay = 100ms\n"+
		"reconnect_backoff_multiplier = 3\nreconnect_max_delay = 9s\nreconnect_jitter = none\nreconnect_spread = 0\nreconnect_budget = 1m\nscheduler_max_rate = 50\n"))
	if err != nil {
		t.Fatal(err)
	}
	f := cfg.Factories[0]
	cp := f.ConnectPolicy()
	if want := (attempts.Policy{Params: attempts.Params{Count: 3, Delay: 500 * time.Millisecond, Timeout: DefaultAttemptTimeout}, Multiplier: 1, Jitter: attempts.JitterNone}); cp != want {
		t.Errorf("ConnectPolicy = %+v, want %+v", cp, want)
	}
	rp := f.ReconnectPolicy()
	want := attempts.Policy{Params: attempts.Params{Count: 7, Delay: 100 * time.Millisecond, Timeout: DefaultAttemptTimeout}, Multiplier: 3, MaxDelay: 9 * time.Second,
		Jitter: attempts.JitterNone, Budget: time.Minute}
	if rp != want {
		t.Errorf("ReconnectPolicy = %+v, want %+v", rp, want)
	}
	for _, p := range []attempts.Policy{cp, rp} {
		if err := p.Validate(); err != nil {
			t.Errorf("policy %+v: %v", p, err)
		}
	}
	sc := f.SchedulerConfig()
	if sc.MaxRate != 50 || sc.MaxConcurrency != attempts.DefaultSchedulerConfig().MaxConcurrency {
		t.Errorf("SchedulerConfig = %+v", sc)
	}
}

// TestSyntaxesAgree parses the same factories written natively and as
// TOML and requires identical results.
func TestSyntaxesAgree(t *testing.T) {
	native := `# native
[F]
  type = queue
  url = tcp://127.0.0.1:61613,tcp://127.0.0.1:61614
  clientID = "id 1"
  connect_attempt_count = 3
  connect_attempt_timeout = 1s
  reconnect_attempt_count = -1
  reconnect_attempt_delay = 750
  heartbeat = 5000,0
  heartbeat_grace = 2
  randomize = enabled
  reconnect_jitter = decorrelated
  ssl_issuer = a.pem
  ssl_issuer = b.pem
  max_cache_size = 4096
`
	tomlText := `# TOML
["F"]
type = "queue"
url = "tcp://127.0.0.1:61613,tcp://127.0.0.1:61614"
clientID = "id 1"
connect_attempt_count = 3
connect_attempt_timeout = "1s"
reconnect_attempt_count = -1
reconnect_attempt_delay = 750
heartbeat = [5000, 0]
heartbeat_grace = 2.0
randomize = true
reconnect_jitter = "decorrelated"
ssl_issuer = ["a.pem", "b.pem"]
max_cache_size = 4096
`
	var got [2]*Factory
	for i, in := range []string{native, tomlText} {
		cfg, err := Parse("t.conf", []byte(in))
		if err != nil {
			t.Fatalf("%v", err)
		}
		got[i] = cfg.Factories[0]
	}
	a, b := *got[0], *got[1]
	if !reflect.DeepEqual(a, b) {
		t.Errorf("native and TOML differ:\nnative %#v\nTOML   %#v", a, b)
	}
	if a.Reconnect.Delay != 750*time.Millisecond || a.HeartBeatRecv != 0 || len(a.SSL.Issuer) != 2 {
		t.Errorf("unexpected values %+v", a)
	}
}

// TestKeysPinned guards the key names factory and the docs rely on.
func TestKeysPinned(t *testing.T) {
	fixed := strings.Fields(`type url clientID connect_attempt_count connect_attempt_delay connect_attempt_timeout
		reconnect_attempt_count reconnect_attempt_delay reconnect_attempt_timeout metric ssl_trusted ssl_identity
		ssl_private_key ssl_issuer ssl_verify_host ssl_verify_hostname ssl_expected_hostname ssl_ciphers login
		passcode passcode_file vhost heartbeat heartbeat_grace max_frame_size max_header_length max_headers
		max_header_bytes reconnect_backoff_multiplier reconnect_max_delay
		reconnect_jitter reconnect_spread randomize priority_backup reconnect_budget send_timeout track_messages
		max_cache_size backup scheduler_max_concurrency scheduler_max_rate scheduler_min_rate
		subscription_queue_messages subscription_queue_bytes`)
	want := slices.Sorted(slices.Values(fixed))
	if got := Keys(); !reflect.DeepEqual(got, want) {
		t.Errorf("Keys() = %v\nwant     %v", got, want)
	}
	doc, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatalf("the README holds the factories.conf reference: %v", err)
	}
	for _, k := range fixed {
		if !strings.Contains(string(doc), "| `"+k+"`") {
			t.Errorf("README.md (factories.conf reference) has no table row for %s", k)
		}
	}
}

func TestEmptyFileWarns(t *testing.T) {
	for _, in := range []string{"", "# only a banner\n\n", "\uFEFF# BOM\r\n"} {
		cfg, err := Parse("t.conf", []byte(in))
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if len(cfg.Factories) != 0 || len(cfg.Warnings) != 1 ||
			cfg.Warnings[0].String() != "t.conf: warning: no [FactoryName] sections: the file defines no factory" {
			t.Errorf("%q: factories %v, warnings %v", in, cfg.Factories, cfg.Warnings)
		}
	}
}
