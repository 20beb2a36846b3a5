package confparse

import (
	"testing"

	"github.com/stompft/stompft/attempts"
)

// TestKeyDocsCoverTheRegistry fails when a key is added to the parser
// without its documentation (or documented without existing): every key
// of keySpecs has exactly one KeyDoc, with a meaning, an origin and when
// an edit takes effect.
func TestKeyDocsCoverTheRegistry(t *testing.T) {
	seen := make(map[string]bool)
	for _, d := range KeyDocs() {
		if seen[d.Key] {
			t.Errorf("%s documented twice", d.Key)
		}
		seen[d.Key] = true
		if _, ok := keySpecs[d.Key]; !ok {
			t.Errorf("%s is documented but the parser has no such key", d.Key)
		}
		if d.Meaning == "" {
			t.Errorf("%s: no meaning", d.Key)
		}
		switch d.Origin {
		case OriginEMS, OriginSTOMP, OriginActiveMQ, OriginStompft:
		default:
			t.Errorf("%s: origin %q is not one of EMS, STOMP, ActiveMQ, stompft", d.Key, d.Origin)
		}
		switch d.Reload {
		case ReloadAtOnce, ReloadNextReconnect, ReloadNewConnections, ReloadNewSubscriptions, ReloadRestart:
		default:
			t.Errorf("%s: reload %q is not one of the Reload constants", d.Key, d.Reload)
		}
		if d.Default == "" && d.Key != "type" && d.Key != "url" {
			t.Errorf("%s: no default", d.Key)
		}
	}
	for _, k := range Keys() {
		if !seen[k] {
			t.Errorf("%s is a key of the parser but has no KeyDoc: add it to keyDocs", k)
		}
	}
	if got := KeyDocs()[2].Aliases; len(got) != 1 || got[0] != "client_id" {
		t.Errorf("clientID aliases = %v", got)
	}
}

// TestKeyDocsDefaultsAreTheCode pins the defaults the documentation once
// got wrong to the constants the code uses.
func TestKeyDocsDefaultsAreTheCode(t *testing.T) {
	want := map[string]string{
		"reconnect_max_delay":       attempts.DefaultMaxDelay.String(),
		"connect_attempt_timeout":   DefaultAttemptTimeout.String(),
		"reconnect_attempt_timeout": DefaultAttemptTimeout.String(),
		"reconnect_spread":          attempts.DefaultSpread.String(),
		"send_timeout":              DefaultSendTimeout.String(),
		"heartbeat":                 "10000,10000",
		"ssl_verify_host":           "true",
	}
	for _, d := range KeyDocs() {
		if w, ok := want[d.Key]; ok && d.Default != w {
			t.Errorf("%s default %q, want %q", d.Key, d.Default, w)
		}
	}
}
