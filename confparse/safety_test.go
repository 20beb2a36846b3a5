package confparse

import (
	"bytes"
	"encoding/gob"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestErrorListTextLinear: the text of an ErrorList is capped at
// MaxReportedErrors lines plus "and N more errors", and building it costs
// the same for 40 000 errors as for 1 000 (string += made it quadratic).
func TestErrorListTextLinear(t *testing.T) {
	list := func(n int) ErrorList {
		l := make(ErrorList, n)
		for i := range l {
			l[i] = &ParseError{File: "f.conf", Line: i + 1, Col: 1, Msg: "unknown key"}
		}
		return l
	}
	// Allocation counts, not time: string += allocates once per error, so
	// 4k errors would allocate about 4 times what 1k do. The counts are
	// process-wide (another test's goroutine allocating meanwhile adds a
	// few), hence an average over runs and a margin well under that 4 ×.
	small, large := list(1000), list(4000)
	as := testing.AllocsPerRun(10, func() { _ = small.Error() })
	al := testing.AllocsPerRun(10, func() { _ = large.Error() })
	if al > as*1.5 {
		t.Fatalf("Error() allocates %v times for 4k errors, %v for 1k: cost grows with the list", al, as)
	}
	text := list(40_000).Error()
	lines := strings.Split(text, "\n")
	if len(lines) != MaxReportedErrors+1 || lines[MaxReportedErrors] != "and 39900 more errors" ||
		lines[0] != "f.conf:1:1: unknown key" {
		t.Errorf("%d lines, last %q", len(lines), lines[len(lines)-1])
	}
	if got := list(3).Error(); got != "f.conf:1:1: unknown key\nf.conf:2:1: unknown key\nf.conf:3:1: unknown key" {
		t.Errorf("short list: %q", got)
	}
}

// BenchmarkErrorListText prints the cost of 40k errors over 4k, measured
// in the same run (about 1: the text is capped).
func BenchmarkErrorListText(b *testing.B) {
	list := func(n int) ErrorList {
		l := make(ErrorList, n)
		for i := range l {
			l[i] = &ParseError{File: "f.conf", Line: i + 1, Col: 1, Msg: "unknown key"}
		}
		return l
	}
	small, large := list(4000), list(40_000)
	var ratio float64
	for b.Loop() {
		t0 := time.Now()
		_ = small.Error()
		t1 := time.Now()
		_ = large.Error()
		ratio = float64(time.Since(t1)) / float64(t1.Sub(t0))
	}
	b.ReportMetric(ratio, "40k/4k-ratio")
}

func TestHeartBeatBelowMillisecond(t *testing.T) {
	for in, want := range map[string]string{
		"500us,500us": `t.conf:4:1: heartbeat: 500µs is not a whole number of milliseconds of at least 1ms (heart-beats are milliseconds on the wire; 0 turns one direction off)`,
		"0,1500us":    `t.conf:4:1: heartbeat: 1.5ms is not a whole number of milliseconds of at least 1ms (heart-beats are milliseconds on the wire; 0 turns one direction off)`,
		"1ns,0":       `t.conf:4:1: heartbeat: 1ns is not a whole number of milliseconds of at least 1ms (heart-beats are milliseconds on the wire; 0 turns one direction off)`,
	} {
		_, err := Parse("t.conf", []byte("[F]\ntype = queue\nurl = tcp://1\nheartbeat = "+in+"\n"))
		checkErrs(t, err, []string{want})
	}
	cfg, err := Parse("t.conf", []byte("[F]\ntype = queue\nurl = tcp://1\nheartbeat = 1ms,0\n"))
	if err != nil || cfg.Factories[0].HeartBeatSend != time.Millisecond || cfg.Factories[0].HeartBeatRecv != 0 {
		t.Errorf("1ms,0: %v", err)
	}
}

// TestSecretLinesNotEchoed: a line that is not a known key, or that holds
// two keys, is reported by position, never by its text.
func TestSecretLinesNotEchoed(t *testing.T) {
	const pw = "S3CRETpw"
	for in, want := range map[string][]string{
		"[F]\ntype = queue\nurl = tcp://1\n" + pw + " = x\n":                          {"t.conf:4:1: unknown key"},
		pw + " = x\n[F]\ntype = queue\nurl = tcp://1\n":                               {"t.conf:1:1: unknown key outside a [factory] section; start one with [FactoryName]"},
		"[F]\ntype = queue\nurl = tcp://1\npasscod = " + pw + "\n":                    {"t.conf:4:1: unknown key; did you mean passcode?"},
		"[F]\ntype = queue\nurl = tcp://1\nlogin = guest passcode = " + pw + "\n":     {"t.conf:4:15: login: " + msgSecondKey},
		"[F]\ntype = queue\nurl = tcp://1\nlogin = \"guest\" passcode = " + pw + "\n": {"t.conf:4:17: login: " + msgSecondKey},
		"[F]\ntype = queue\nurl = tcp://1\npasscode = " + pw + " login = guest\n":     {"t.conf:4:21: passcode: " + msgSecondKey},
		"[F]\ntype = queue\nurl = tcp://1\nlogin = [\"a\"] passcode = " + pw + "\n":   {"t.conf:4:15: login: " + msgSecondKey},
	} {
		_, err := Parse("t.conf", []byte(in))
		checkErrs(t, err, want)
		if err != nil && strings.Contains(render(err), pw) {
			t.Errorf("%q: the secret is printed: %v", in, err)
		}
		var pe *ParseError
		if errors.As(err, &pe) && strings.Contains(pe.Key, pw) {
			t.Errorf("%q: ParseError.Key carries the secret", in)
		}
	}
	// Values with spaces that are not a second key still parse.
	cfg, err := Parse("t.conf", []byte("[F]\ntype = queue\nurl = tcp://1, tcp://2\nclientID = my app\nlogin = \"a = b\"\n"+
		"[G]\ntype = queue\nurl = failover:(tcp://1, tcp://2)?randomize=false&backup=true\n"))
	if err != nil {
		t.Fatal(err)
	}
	if f := cfg.Factories[0]; f.ClientID != "my app" || f.Login != "a = b" || f.URLs.String() != "tcp://localhost:1,tcp://localhost:2" {
		t.Errorf("clientID %q login %q url %s", f.ClientID, f.Login, f.URLs)
	}
}

// TestEncodingsCarryNoSecret: gob, JSON, XML and text encodings of a
// parsed factory carry neither the passcode nor the private key, and
// decoding the redaction mark yields an empty Secret.
func TestEncodingsCarryNoSecret(t *testing.T) {
	dir := t.TempDir()
	cert, key := testCert(t, "client")
	writeFile(t, filepath.Join(dir, "id.pem"), append(append([]byte{}, cert...), key...))
	cfg, err := Parse(filepath.Join(dir, "t.conf"), []byte("[F]\ntype = queue\nurl = ssl://1\nlogin = u\npasscode = S3CRETpw\nssl_identity = id.pem\n"))
	if err != nil {
		t.Fatal(err)
	}
	f := cfg.Factories[0]
	keyText := strings.Split(string(key), "\n")[1]
	var gb bytes.Buffer
	if err := gob.NewEncoder(&gb).Encode(f); err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	xm, err := xml.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"gob": gb.String(), "json": string(js), "xml": string(xm), "fmt": render(f) + render(*f)} {
		if strings.Contains(out, "S3CRETpw") || strings.Contains(out, keyText) {
			t.Errorf("%s encoding carries a secret", name)
		}
	}
	var back Factory
	if err := gob.NewDecoder(&gb).Decode(&back); err != nil {
		t.Fatal(err)
	}
	if back.Passcode != "" || back.SSL.KeyPEM != "" || back.Login != "u" {
		t.Errorf("gob round trip: passcode %q key %q login %q", back.Passcode.Reveal(), back.SSL.KeyPEM.Reveal(), back.Login)
	}
	var js2 struct{ Passcode Secret }
	if err := json.Unmarshal([]byte(`{"Passcode":"******"}`), &js2); err != nil || js2.Passcode != "" {
		t.Errorf("JSON redaction mark decoded as %q (%v)", js2.Passcode.Reveal(), err)
	}
}

func TestCiphersCheckedAtParseTime(t *testing.T) {
	ok := map[string][]uint16{
		"ECDHE-RSA-AES128-GCM-SHA256":                                             {0xc02f},
		"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256":                                   {0xc02f},
		"+ECDHE-RSA-AES128-GCM-SHA256:+ECDHE-ECDSA-AES256-GCM-SHA384":             {0xc02f, 0xc02c},
		"ECDHE-RSA-AES128-GCM-SHA256, ECDHE-RSA-CHACHA20-POLY1305 @STRENGTH":      {0xc02f, 0xcca8},
		"-ALL:+ECDHE-RSA-AES256-GCM-SHA384":                                       {0xc030},
		"ALL:!ECDHE-RSA-AES128-SHA:!ECDHE-RSA-AES256-SHA:!ECDHE-ECDSA-AES128-SHA": nil, // checked below: ALL minus three
	}
	for list, want := range ok {
		cfg, err := Parse("t.conf", []byte("[S]\ntype = queue\nurl = ssl://1\nssl_ciphers = "+list+"\n"))
		if err != nil {
			t.Errorf("%q: %v", list, err)
			continue
		}
		got := cfg.Factories[0].SSL.CipherSuites
		if want == nil {
			if len(got) < 5 || cfg.Factories[0].SSL.Ciphers != list {
				t.Errorf("%q: %x", list, got)
			}
			continue
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%q: %x, want %x", list, got, want)
		}
	}
	for list, want := range map[string]string{
		"ECDHE-RSA-AES128-GCM-SHA999": `t.conf:4:15: ssl_ciphers: unknown cipher suite "ECDHE-RSA-AES128-GCM-SHA999": use an OpenSSL name such as ECDHE-RSA-AES128-GCM-SHA256 or a Go name such as TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256`,
		"RC4-SHA":                     `t.conf:4:15: ssl_ciphers: cipher suite "RC4-SHA" (TLS_RSA_WITH_RC4_128_SHA) is insecure and not offered`,
		"-ALL":                        `t.conf:4:15: ssl_ciphers: the list "-ALL" selects no cipher suite`,
	} {
		_, err := Parse("t.conf", []byte("[S]\ntype = queue\nurl = ssl://1\nssl_ciphers = "+list+"\n"))
		checkErrs(t, err, []string{want})
	}
}

// TestAttemptTimeoutDefaultShown: the 10 s attempt bound is in the parsed
// config (absent key, and EMS's 0), so Settings shows what will apply.
func TestAttemptTimeoutDefaultShown(t *testing.T) {
	for _, extra := range []string{"", "connect_attempt_timeout = 0\nreconnect_attempt_timeout = 0\n"} {
		cfg, err := Parse("t.conf", []byte("[F]\ntype = queue\nurl = tcp://1\n"+extra))
		if err != nil {
			t.Fatal(err)
		}
		f := cfg.Factories[0]
		if f.Connect.Timeout != DefaultAttemptTimeout || f.Reconnect.Timeout != DefaultAttemptTimeout {
			t.Errorf("%q: timeouts %v %v", extra, f.Connect.Timeout, f.Reconnect.Timeout)
		}
		for _, s := range f.Settings() {
			if strings.HasSuffix(s.Key, "_attempt_timeout") && s.Value != "10s" {
				t.Errorf("%q: %s shown as %q", extra, s.Key, s.Value)
			}
		}
	} // A delay of 0 is still below EMS's minimum (only a timeout's 0 has
	// a meaning of its own).
	cfg, err := Parse("t.conf", []byte("[F]\ntype = queue\nurl = tcp://1\nconnect_attempt_delay = 0\n"))
	if err != nil || len(cfg.Warnings) != 1 || !strings.Contains(cfg.Warnings[0].String(), "below the EMS minimum") {
		t.Errorf("connect_attempt_delay = 0: %v %v", err, cfg.Warnings)
	}
}
