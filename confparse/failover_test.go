package confparse

import (
	"flag"
	"os"
	"strings"
	"testing"
)

var updateDocs = flag.Bool("update-docs", false, "rewrite the failover mapping table in docs/activemq-failover.md")

// parseOne parses a one-factory file and returns the factory's effective
// settings by key, and the warnings.
func parseOne(t *testing.T, body string) (map[string]string, []Warning) {
	t.Helper()
	cfg, err := Parse("t.conf", []byte("[F]\ntype = queue\n"+body))
	if err != nil {
		t.Fatalf("parse %q: %v", body, err)
	}
	out := map[string]string{}
	for _, s := range cfg.Factories[0].Settings() {
		out[s.Key] = s.Value
	}
	return out, cfg.Warnings
}

// TestFailoverURITakesActiveMQDefaults: a pasted failover: URI that leaves
// every option out gets ActiveMQ's default for each, mapped onto the
// factory key, with no warning.
func TestFailoverURITakesActiveMQDefaults(t *testing.T) {
	got, warns := parseOne(t, "url = failover:(tcp://1,tcp://2)\n")
	if len(warns) != 0 {
		t.Errorf("warnings for a plain failover URI: %v", warns)
	}
	for _, m := range FailoverMappings() {
		if got[m.Key] != m.Value {
			t.Errorf("%s (ActiveMQ default %s) left out: %s = %q, want %q", m.Option, m.Default, m.Key, got[m.Key], m.Value)
		}
	}
	// The bare form too.
	bare, _ := parseOne(t, "url = failover:tcp://1,tcp://2\n")
	for _, m := range FailoverMappings() {
		if bare[m.Key] != m.Value {
			t.Errorf("bare form, %s left out: %s = %q, want %q", m.Option, m.Key, bare[m.Key], m.Value)
		}
	}
}

// TestPlainURLKeepsEMSDefaults: the ActiveMQ defaults come with a failover:
// URI only; a native URL list keeps EMS's (4 reconnect passes).
func TestPlainURLKeepsEMSDefaults(t *testing.T) {
	got, _ := parseOne(t, "url = tcp://1,tcp://2\n")
	want := map[string]string{"reconnect_attempt_count": "4", "connect_attempt_count": "2",
		"reconnect_attempt_delay": "500ms", "randomize": "false", "send_timeout": "30s"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want EMS's %q", k, got[k], v)
		}
	}
}

// explicitValues sets each mapped key to a value that is no ActiveMQ
// default, and what Settings then shows.
var explicitValues = map[string][2]string{
	"reconnect_attempt_count":      {"7", "7"},
	"connect_attempt_count":        {"3", "3"},
	"reconnect_attempt_delay":      {"500", "500ms"},
	"reconnect_max_delay":          {"2000", "2s"},
	"reconnect_backoff_multiplier": {"1.5", "1.5"},
	"randomize":                    {"false", "false"},
	"send_timeout":                 {"5000", "5s"},
	"track_messages":               {"true", "true"},
	"max_cache_size":               {"1000", "1000"},
	"backup":                       {"true", "true"},
	"priority_backup":              {"true", "true"},
}

// TestExplicitKeyWinsOverActiveMQDefault: a key the factory sets itself
// wins over the ActiveMQ default of an option the URI left out, silently,
// whether it comes before or after the url line.
func TestExplicitKeyWinsOverActiveMQDefault(t *testing.T) {
	for _, m := range FailoverMappings() {
		v, ok := explicitValues[m.Key]
		if !ok {
			t.Fatalf("no explicit value for %s: add one", m.Key)
		}
		for _, body := range []string{
			"url = failover:(tcp://1,tcp://2)\n" + m.Key + " = " + v[0] + "\n",
			m.Key + " = " + v[0] + "\nurl = failover:(tcp://1,tcp://2)\n",
		} {
			got, warns := parseOne(t, body)
			if got[m.Key] != v[1] {
				t.Errorf("%q: %s = %q, want the explicit %q", body, m.Key, got[m.Key], v[1])
			}
			if len(warns) != 0 {
				t.Errorf("%q: warnings %v", body, warns)
			}
		}
	}
}

// TestStartupAttemptsFollowMaxReconnectAttempts: ActiveMQ's
// startupMaxReconnectAttempts of -1 (its default) means "as
// maxReconnectAttempts"; n means n retries after the first try.
func TestStartupAttemptsFollowMaxReconnectAttempts(t *testing.T) {
	for _, tc := range []struct{ query, reconnect, connect string }{
		{"", "-1 (forever)", "-1 (forever)"},
		{"?maxReconnectAttempts=5", "5", "6"},
		{"?maxReconnectAttempts=5&startupMaxReconnectAttempts=-1", "5", "6"},
		{"?startupMaxReconnectAttempts=-1", "-1 (forever)", "-1 (forever)"},
		{"?startupMaxReconnectAttempts=2", "-1 (forever)", "3"},
		{"?maxReconnectAttempts=5&startupMaxReconnectAttempts=0", "5", "1"},
	} {
		got, _ := parseOne(t, "url = failover:(tcp://1,tcp://2)"+tc.query+"\n")
		if got["reconnect_attempt_count"] != tc.reconnect || got["connect_attempt_count"] != tc.connect {
			t.Errorf("%q: reconnect %q connect %q, want %q and %q", tc.query,
				got["reconnect_attempt_count"], got["connect_attempt_count"], tc.reconnect, tc.connect)
		}
	}
}

// TestUseExponentialBackOffDefaults: useExponentialBackOff=true alone
// keeps the default multiplier 2; false makes it 1.
func TestUseExponentialBackOffDefaults(t *testing.T) {
	for query, want := range map[string]string{
		"?useExponentialBackOff=true":                      "2",
		"?useExponentialBackOff=false":                     "1",
		"?backOffMultiplier=3":                             "3",
		"?useExponentialBackOff=false&backOffMultiplier=3": "1",
	} {
		got, _ := parseOne(t, "url = failover:(tcp://1)"+query+"\n")
		if got["reconnect_backoff_multiplier"] != want {
			t.Errorf("%q: multiplier %q, want %q", query, got["reconnect_backoff_multiplier"], want)
		}
	}
}

// failoverTable renders FailoverMappings as the markdown table of
// docs/activemq-failover.md.
func failoverTable() string {
	var b strings.Builder
	b.WriteString("| ActiveMQ option | ActiveMQ default | factory key | value when the URI leaves it out | a value given in the URI |\n")
	b.WriteString("|---|---|---|---|---|\n")
	for _, m := range FailoverMappings() {
		b.WriteString("| `" + m.Option + "` | " + m.Default + " | `" + m.Key + "` | " + m.Value + " | " + m.Mapping + " |\n")
	}
	return b.String()
}

const (
	tableBegin = "<!-- mapping table: generated from confparse.FailoverMappings, checked by TestFailoverDocTable -->\n"
	tableEnd   = "<!-- end of mapping table -->\n"
)

// TestFailoverDocTable: the table in docs/activemq-failover.md is the
// code's mapping table (go test ./confparse -run DocTable -update-docs
// rewrites it).
func TestFailoverDocTable(t *testing.T) {
	const path = "../docs/activemq-failover.md"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i, j := strings.Index(doc, tableBegin), strings.Index(doc, tableEnd)
	if i < 0 || j < i {
		t.Fatalf("%s: table markers missing", path)
	}
	want := failoverTable()
	if got := doc[i+len(tableBegin) : j]; got != want {
		if *updateDocs {
			if err := os.WriteFile(path, []byte(doc[:i+len(tableBegin)]+want+doc[j:]), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Errorf("%s: the mapping table differs from the code's; run go test ./confparse -run DocTable -update-docs\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}
