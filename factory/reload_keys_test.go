package factory

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stompft/stompft/confparse"
	"github.com/stompft/stompft/internal/embedded"
)

// TestReloadEveryKeyTakesEffectAsDocumented edits each key of the registry
// in a running file, one at a time, and checks the open connection against
// the key's documented timing (confparse.KeyDocs, the key table's last
// column): a "restart" key keeps its old value on the open connection and
// the reload reports it (ErrRestartRequired), while a new connection gets
// the new value; "new connections" keys reach a new connection; every other
// key is in the definition the open connection uses from then on (at once,
// for its next subscription, or for its next reconnect walk). Behaviour
// per timing class is proven by the TestReload...Applies... tests above.
func TestReloadEveryKeyTakesEffectAsDocumented(t *testing.T) {
	verifyNoLeaks(t)
	b := broker(t, embedded.Options{})
	certs, err := filepath.Abs(filepath.Join("..", "conf", "certs"))
	if err != nil {
		t.Fatal(err)
	}
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("from-a-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	values := map[string]string{
		"type": "topic", "url": b.URL() + ",tcp://127.0.0.1:1", "clientID": "reloaded-id",
		"connect_attempt_count": "3", "connect_attempt_delay": "300", "connect_attempt_timeout": "3000",
		"reconnect_attempt_count": "7", "reconnect_attempt_delay": "30", "reconnect_attempt_timeout": "3000",
		"metric": "byte_rate", "login": "someone", "passcode": "other-secret", "passcode_file": pwFile,
		"vhost": "/reloaded", "heartbeat": "2000,3000", "heartbeat_grace": "3",
		"max_frame_size": "2048", "max_header_length": "2048", "max_headers": "50", "max_header_bytes": "4096",
		"subscription_queue_messages": "10", "subscription_queue_bytes": "10000",
		"reconnect_backoff_multiplier": "3", "reconnect_max_delay": "5s", "reconnect_jitter": "equal",
		"reconnect_spread": "2s", "randomize": "true", "priority_backup": "true", "reconnect_budget": "1m",
		"send_timeout": "1234", "track_messages": "true", "max_cache_size": "4096", "backup": "true",
		"scheduler_max_concurrency": "7", "scheduler_max_rate": "99", "scheduler_min_rate": "5",
		"ssl_trusted": certs + "/ca.pem", "ssl_identity": certs + "/client.pem", "ssl_private_key": certs + "/client.key",
		"ssl_issuer": certs + "/intermediate1.pem", "ssl_verify_host": "disabled", "ssl_verify_hostname": "disabled",
		"ssl_expected_hostname": "mq.example", "ssl_ciphers": "ECDHE-RSA-AES128-GCM-SHA256",
	}
	value := func(d *confparse.Factory, key string) string {
		switch key {
		case "passcode", "passcode_file":
			return d.Passcode.Reveal()
		case "ssl_trusted", "ssl_issuer", "ssl_identity", "ssl_private_key":
			return string(d.SSL.RootsPEM) + "|" + string(d.SSL.CertificatePEM) + "|" + d.SSL.KeyPEM.Reveal() + "|" + strings.Join(d.SSL.Trusted, ",") + strings.Join(d.SSL.Issuer, ",") + d.SSL.Identity + d.SSL.PrivateKey
		case "ssl_verify_host":
			return strings.Repeat("x", boolInt(d.SSL.InsecureSkipVerify))
		case "ssl_verify_hostname":
			return strings.Repeat("x", boolInt(d.SSL.SkipHostnameCheck))
		case "ssl_expected_hostname":
			return d.SSL.ExpectedHostname
		case "ssl_ciphers":
			return strings.Repeat("x", len(d.SSL.CipherSuites))
		}
		for _, s := range d.Settings() {
			if s.Key == key {
				return s.Value
			}
		}
		t.Fatalf("no setting %s", key)
		return ""
	}
	for _, doc := range confparse.KeyDocs() {
		t.Run(doc.Key, func(t *testing.T) {
			v, ok := values[doc.Key]
			if !ok {
				t.Fatalf("no test value for key %s: add one", doc.Key)
			}
			rec := newRecorder()
			f := load(t, conf(b.URL(), fastReconnect...), rec.option())
			c := connect(t, f)
			old := value(c.def(), doc.Key)

			body := conf(b.URL(), append(fastReconnect, doc.Key+" = "+v)...)
			switch {
			case doc.Key == "type":
				body = strings.Replace(conf(b.URL(), fastReconnect...), "type = queue", "type = topic", 1)
			case doc.Key == "url":
				body = conf(v, fastReconnect...)
			case strings.HasPrefix(doc.Key, "ssl_"):
				// ssl_* keys belong to ssl:// factories; the open
				// connection's next walk would go there.
				extra := append(fastReconnect, doc.Key+" = "+v)
				if doc.Key == "ssl_identity" { // this certificate file holds no key
					extra = append(extra, "ssl_private_key = "+values["ssl_private_key"])
				}
				body = conf("ssl://127.0.0.1:1", extra...)
			}
			want, err := confparse.Parse(f.path, []byte(body))
			if err != nil {
				t.Fatal(err)
			}
			exp := value(want.Factories[0], doc.Key)
			if exp == old {
				t.Fatalf("test value %q of %s equals the value in force", v, doc.Key)
			}
			reloadTo(t, f, body)
			ev, _ := rec.wait(t, EventConfigReloaded, 0)
			got := value(c.def(), doc.Key)
			switch doc.Reload {
			case confparse.ReloadRestart:
				if got != old {
					t.Errorf("restart key %s changed on the open connection", doc.Key)
				}
				if !errors.Is(ev.Err, ErrRestartRequired) || !strings.Contains(ev.Err.Error(), doc.Key) {
					t.Errorf("reload of %s reported %v, want ErrRestartRequired naming it", doc.Key, ev.Err)
				}
			case confparse.ReloadNewConnections:
				if ev.Err != nil {
					t.Errorf("reload of %s reported %v", doc.Key, ev.Err)
				}
			default:
				if ev.Err != nil {
					t.Errorf("reload of %s reported %v", doc.Key, ev.Err)
				}
				if got != exp {
					t.Errorf("%s (%s): the open connection's definition has %q, want %q", doc.Key, doc.Reload, got, exp)
				}
			}
			if doc.Reload == confparse.ReloadRestart || doc.Reload == confparse.ReloadNewConnections {
				if strings.HasPrefix(doc.Key, "ssl_") {
					return // a new connection would dial the ssl:// URL
				}
				c2 := connect(t, f)
				if got := value(c2.def(), doc.Key); got != exp {
					t.Errorf("%s: a new connection has %q, want %q", doc.Key, got, exp)
				}
			}
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
