package confparse_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stompft/stompft/confparse"
	"github.com/stompft/stompft/factory"
	"github.com/stompft/stompft/internal/embedded"
	"github.com/stompft/stompft/internal/embedded/embeddedtest"
	"github.com/stompft/stompft/internal/leakcheck"
)

const definePasscode = "Pw-in-code-never-printed-7"

// TestDefineEqualsTheFile builds each definition twice, from a file and in
// Go, and wants the same Factory: same validation, same defaults.
func TestDefineEqualsTheFile(t *testing.T) {
	t.Setenv("STOMPFT_DEFINE_TEST_PW", definePasscode)
	ca, id, key := pemFiles(t)
	tests := []struct {
		name string
		file string
		def  *confparse.Definition
	}{
		{name: "defaults", file: "type = generic\nurl = tcp://127.0.0.1:61613",
			def: confparse.Define("F", "tcp://127.0.0.1:61613")},
		{name: "url list, credentials, attempts, heart-beat",
			file: "type = queue\nurl = tcp://a:61613,tcp://b:61613\nlogin = app\npasscode = " + definePasscode + "\n" +
				"clientID = app-1\nvhost = /\nconnect_attempt_count = 5\nconnect_attempt_delay = 250\nconnect_attempt_timeout = 2s\n" +
				"reconnect_attempt_count = -1\nreconnect_attempt_delay = 1.5s\nreconnect_attempt_timeout = 750ms\n" +
				"heartbeat = 2000,3000\nsend_timeout = 5s",
			def: confparse.Define("F", "tcp://a:61613,tcp://b:61613",
				confparse.Set("type", "queue"),
				confparse.Credentials("app", definePasscode),
				confparse.ClientID("app-1"), confparse.VHost("/"),
				confparse.ConnectAttempts(5, 250*time.Millisecond, 2*time.Second),
				confparse.ReconnectAttempts(-1, 1500*time.Millisecond, 750*time.Millisecond),
				confparse.Heartbeat(2*time.Second, 3*time.Second),
				confparse.SendTimeout(5*time.Second))},
		{name: "pasted failover URI, a key overriding one of its options",
			file: "type = topic\nurl = failover:(stomp://127.0.0.1:61616,tcp://127.0.0.1:61617)?initialReconnectDelay=300&maxReconnectAttempts=5&randomize=true&useExponentialBackOff=false\nreconnect_attempt_count = 7",
			def: confparse.Define("F", "failover:(stomp://127.0.0.1:61616,tcp://127.0.0.1:61617)?initialReconnectDelay=300&maxReconnectAttempts=5&randomize=true&useExponentialBackOff=false",
				confparse.Set("type", "topic"), confparse.Set("reconnect_attempt_count", "7"))},
		{name: "every other key through Set, alias and ${ENV}",
			file: "type = xaqueue\nurl = ssl://broker:61614\nclient_id = c\nmetric = byte_rate\nssl_trusted = " + ca + "\nssl_trusted = " + id + "\n" +
				"ssl_identity = " + id + "\nssl_private_key = " + key + "\nssl_issuer = " + ca + "\nssl_verify_host = enabled\nssl_verify_hostname = disabled\n" +
				"ssl_expected_hostname = mq.example\nssl_ciphers = TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\nlogin = u\npasscode = ${STOMPFT_DEFINE_TEST_PW}\n" +
				"heartbeat_grace = 2\nreconnect_backoff_multiplier = 1.5\nreconnect_max_delay = 4s\nreconnect_jitter = equal\nreconnect_spread = 0\n" +
				"randomize = true\npriority_backup = true\nreconnect_budget = 1m\ntrack_messages = true\nmax_cache_size = 1024\nbackup = true\n" +
				"scheduler_max_concurrency = 8\nscheduler_max_rate = 100\nscheduler_min_rate = 1",
			def: confparse.Define("F", "ssl://broker:61614",
				confparse.Set("type", "xaqueue"), confparse.Set("client_id", "c"), confparse.Set("metric", "byte_rate"),
				confparse.Set("ssl_trusted", ca), confparse.Set("ssl_trusted", id),
				confparse.Set("ssl_identity", id), confparse.Set("ssl_private_key", key), confparse.Set("ssl_issuer", ca),
				confparse.Set("ssl_verify_host", "enabled"), confparse.Set("ssl_verify_hostname", "disabled"),
				confparse.Set("ssl_expected_hostname", "mq.example"), confparse.Set("ssl_ciphers", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
				confparse.Set("login", "u"), confparse.Set("passcode", "${STOMPFT_DEFINE_TEST_PW}"),
				confparse.Set("heartbeat_grace", "2"), confparse.Set("reconnect_backoff_multiplier", "1.5"),
				confparse.Set("reconnect_max_delay", "4s"), confparse.Set("reconnect_jitter", "equal"), confparse.Set("reconnect_spread", "0"),
				confparse.Set("randomize", "true"), confparse.Set("priority_backup", "true"), confparse.Set("reconnect_budget", "1m"),
				confparse.Set("track_messages", "true"), confparse.Set("max_cache_size", "1024"), confparse.Set("backup", "true"),
				confparse.Set("scheduler_max_concurrency", "8"), confparse.Set("scheduler_max_rate", "100"), confparse.Set("scheduler_min_rate", "1"))},
		{name: "a later option replaces an earlier one",
			file: "type = generic\nurl = tcp://127.0.0.1:61613\nsend_timeout = 1s\nlogin = second",
			def: confparse.Define("F", "tcp://127.0.0.1:61613",
				confparse.SendTimeout(time.Minute), confparse.Set("login", "first"),
				confparse.Set("send_timeout", "1000"), confparse.Credentials("second", ""))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fileCfg, err := confparse.Parse("f.conf", []byte("[F]\n"+tc.file+"\n"))
			if err != nil {
				t.Fatalf("file: %v", err)
			}
			codeCfg, err := confparse.NewConfig(tc.def)
			if err != nil {
				t.Fatalf("NewConfig: %v", err)
			}
			want, got := *fileCfg.Factories[0], *codeCfg.Factories[0]
			want.Line = 0
			if !reflect.DeepEqual(got, want) {
				t.Errorf("in code:\n%#v\nfrom the file:\n%#v", got, want)
				gs, ws := got.Settings(), want.Settings()
				for i := range gs {
					if i < len(ws) && gs[i] != ws[i] {
						t.Errorf("%s: in code %q, from the file %q", gs[i].Key, gs[i].Value, ws[i].Value)
					}
				}
			}
			if got.Passcode != want.Passcode {
				t.Errorf("passcode differs")
			}
		})
	}
}

// TestDefineErrorsNameTheKey: a bad value is rejected with the file's own
// message, naming the factory and the key; every error of every
// definition comes back at once, in the order the settings were given; the
// passcode is never quoted.
func TestDefineErrorsNameTheKey(t *testing.T) {
	tests := []struct {
		name string
		defs []*confparse.Definition
		want []string // one per error, in order
		keys []string // ParseError.Key of each
	}{
		{name: "typed settings",
			defs: []*confparse.Definition{confparse.Define("Orders", "tcp://127.0.0.1:61613",
				confparse.ReconnectAttempts(-5, -time.Second, time.Second),
				confparse.Heartbeat(-time.Second, 0))},
			want: []string{
				`Define("Orders"): reconnect_attempt_count: -5 is not a count: use 1 or more, or -1 for forever`,
				`Define("Orders"): reconnect_attempt_delay: "-1s" is negative`,
				`Define("Orders"): heartbeat: [-1s 0s] is not send,receive in milliseconds (e.g. 5000,5000; 0,0 turns heartbeats off)`,
			},
			keys: []string{"reconnect_attempt_count", "reconnect_attempt_delay", "heartbeat"}},
		{name: "Set: unknown key, bad values, bad url",
			defs: []*confparse.Definition{confparse.Define("A", "tcp://127.0.0.1:61613,ftp://x:1",
				confparse.Set("reconect_attempt_delay", "5"), confparse.Set("send_timeout", "5x"), confparse.Set("type", "fast"))},
			want: []string{
				`Define("A"): url: "ftp://x:1": scheme "ftp" is not supported (tcp or ssl)`,
				`Define("A"): `, // the unknown key, below
				`Define("A"): send_timeout: "5x" is not a duration (milliseconds, or a Go duration such as 500ms)`,
				`Define("A"): type: "fast" is not a factory type (generic, queue, topic, xageneric, xaqueue, xatopic)`,
			},
			keys: []string{"url", "", "send_timeout", "type"}},
		{name: "every definition, duplicates, empty name, missing url",
			defs: []*confparse.Definition{
				confparse.Define("A", "tcp://127.0.0.1:61613"),
				confparse.Define("A", "tcp://127.0.0.1:61614"),
				confparse.Define("", "tcp://127.0.0.1:61613"),
				confparse.Define("B", ""),
				nil,
			},
			want: []string{
				`Define("A"): duplicate factory [A]: defined twice`,
				`Define(""): empty factory name`,
				`Define("B"): url: `,
				`NewConfig: definition 5 is nil`,
			},
			keys: []string{"", "", "url", ""}},
		{name: "passcode and passcode_file",
			defs: []*confparse.Definition{confparse.Define("P", "tcp://127.0.0.1:61613",
				confparse.Credentials("app", definePasscode), confparse.Set("passcode_file", "/nonexistent/pw"))},
			want: []string{`Define("P"): passcode_file: open /nonexistent/pw: no such file or directory`,
				`Define("P"): passcode`},
			keys: []string{"passcode_file", ""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := confparse.NewConfig(tc.defs...)
			if err == nil {
				t.Fatalf("no error; config %+v", cfg)
			}
			if strings.Contains(err.Error(), definePasscode) {
				t.Fatalf("passcode in the error: %v", err)
			}
			var list confparse.ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("error is %T, not an ErrorList: %v", err, err)
			}
			if len(list) != len(tc.want) {
				t.Fatalf("%d errors, want %d:\n%v", len(list), len(tc.want), err)
			}
			if tc.name == "Set: unknown key, bad values, bad url" && !strings.Contains(list[1].Error(), "unknown key; did you mean reconnect_attempt_delay?") {
				t.Errorf("error 1 = %q, want the unknown key and the closest one", list[1].Error())
			}
			for i, e := range list {
				if !strings.HasPrefix(e.Error(), tc.want[i]) {
					t.Errorf("error %d = %q, want it to start with %q", i, e.Error(), tc.want[i])
				}
				if tc.keys[i] != "" && e.Key != tc.keys[i] {
					t.Errorf("error %d Key = %q, want %q", i, e.Key, tc.keys[i])
				}
			}
		})
	}
}

func TestDefineWarnings(t *testing.T) {
	cfg, err := confparse.NewConfig(confparse.Define("W",
		"failover:(tcp://127.0.0.1:61616)?initialReconnectDelay=300",
		confparse.Set("connect_attempt_delay", "100"),
		confparse.Set("reconnect_attempt_delay", "400"),
		confparse.Set("ssl_trusted", "ca.pem"),
		confparse.Set("multicast_enabled", "false")))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range cfg.Warnings {
		got = append(got, w.String())
	}
	want := []string{
		`Define("W"): warning: connect_attempt_delay: 100ms is below the EMS minimum of 250ms; kept`,
		`Define("W"): warning: reconnect_attempt_delay overrides url: failover option initialReconnectDelay`,
		`Define("W"): warning: ssl_trusted: ignored: the url list uses tcp://, not ssl://`,
		`Define("W"): warning: multicast_enabled: EMS key not used by this project (EMS multicast is not available over STOMP); ignored`,
	}
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || g == w
		}
		if !found {
			t.Errorf("no warning %q in:\n%s", w, strings.Join(got, "\n"))
		}
	}
	if f := cfg.Factories[0]; f.Reconnect.Delay != 400*time.Millisecond {
		t.Errorf("reconnect delay %v: the key written in code must win over the URI's option", f.Reconnect.Delay)
	}
}

// TestDefineConnects gets a connection from a definition built in Go
// exactly as from a file: factory.New, CreateConnection. The broker takes
// only the definition's credentials, so they reach the wire; a wrong
// passcode is refused without being printed.
func TestDefineConnects(t *testing.T) {
	leakcheck.Check(t)
	b := embeddedtest.Start(t, embedded.Options{Engine: embedded.EngineMini, Login: "app", Passcode: definePasscode})
	cfg, err := confparse.NewConfig(
		confparse.Define("Orders", "tcp://127.0.0.1:1,"+b.URL(),
			confparse.Credentials("app", definePasscode),
			confparse.ConnectAttempts(1, 250*time.Millisecond, 2*time.Second)),
		confparse.Define("Wrong", b.URL(),
			confparse.Credentials("app", "not-"+definePasscode),
			confparse.ConnectAttempts(1, 250*time.Millisecond, 2*time.Second)),
	)
	if err != nil {
		t.Fatal(err)
	}
	f, err := factory.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := f.CreateConnectionContext(ctx, "Orders")
	if err != nil {
		t.Fatalf("CreateConnection: %v", err)
	}
	if got := conn.CurrentURL(); got != b.URL() {
		t.Errorf("connected to %s, want %s (the first URL refuses)", got, b.URL())
	}
	if err := conn.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	_, err = f.CreateConnectionContext(ctx, "Wrong")
	if err == nil {
		t.Fatal("a wrong passcode connected")
	}
	if strings.Contains(err.Error(), definePasscode) {
		t.Errorf("passcode in the error: %v", err)
	}
}

// pemFiles writes a CA certificate, an identity certificate it signed and
// the identity's key, and returns their absolute paths.
func pemFiles(t *testing.T) (ca, id, key string) {
	t.Helper()
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	idKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	idTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "client"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	idDER, err := x509.CreateCertificate(rand.Reader, idTmpl, caTmpl, &idKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(idKey)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("id.pem", "CERTIFICATE", idDER), write("key.pem", "PRIVATE KEY", keyDER)
}
