package confparse

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Hostile and careless conf files: each shape must cost bounded memory
// (checked as heap bytes allocated per input byte, which is exact on a
// loaded machine) and yield bounded, secret-free messages.

const hostileHeader = "[F]\ntype = queue\nurl = tcp://127.0.0.1:61613\n"

// parseCost parses data once and returns the result, the wall time and
// the heap bytes allocated per input byte.
func parseCost(t testing.TB, data []byte) (*Config, error, time.Duration, float64) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	cfg, err := Parse("hostile.conf", data)
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	return cfg, err, elapsed, float64(after.TotalAlloc-before.TotalAlloc) / float64(len(data))
}

// errorList returns err as an ErrorList, failing the test otherwise.
func errorList(t *testing.T, err error) ErrorList {
	t.Helper()
	var l ErrorList
	if !errors.As(err, &l) {
		t.Fatalf("want an ErrorList, got %v", err)
	}
	return l
}

// TestHostileNesting: url = [[[[...]]]] a million levels deep drove the
// TOML decoder into a million nested calls (a 4 MB value took 5 s; an
// 8 MB one ended the process with "fatal error: stack overflow", which no
// recover can catch). Nesting is now counted by the scanner's lexer and
// refused before the decoder sees the value.
func TestHostileNesting(t *testing.T) {
	const n = 200_000
	for _, tc := range []struct{ name, value string }{
		{"arrays", strings.Repeat("[", n) + strings.Repeat("]", n)},
		{"unclosed arrays", strings.Repeat("[", n)},
		{"inline tables", strings.Repeat("{a=", n) + "1" + strings.Repeat("}", n)},
		{"arrays over lines", strings.Repeat("[\n", n) + strings.Repeat("]\n", n)},
		{"one level too deep", strings.Repeat("[", MaxNesting+1) + `"x"` + strings.Repeat("]", MaxNesting+1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := []byte(hostileHeader + "ssl_trusted = " + tc.value + "\n")
			_, err, elapsed, perByte := parseCost(t, data)
			t.Logf("%d bytes: %v, %.1f bytes allocated per input byte", len(data), elapsed, perByte)
			l := errorList(t, err)
			if !strings.Contains(l[0].Error(), "hostile.conf:4:15: ssl_trusted: arrays or inline tables nested more than 8 deep (the limit MaxNesting)") {
				t.Errorf("first error %q does not name the nesting limit at 4:15", l[0])
			}
			if len(data) > 1000 && perByte > 16 {
				t.Errorf("%.1f bytes allocated per input byte, want at most 16", perByte)
			}
		})
	}
	// At the limit the value is still handed to TOML (and rejected for
	// its meaning, not its shape).
	_, err := Parse("hostile.conf", []byte(hostileHeader+"ssl_trusted = "+strings.Repeat("[", MaxNesting)+`"x"`+strings.Repeat("]", MaxNesting)+"\n"))
	if err == nil || strings.Contains(err.Error(), "MaxNesting") {
		t.Errorf("a value nested exactly MaxNesting deep: %v", err)
	}
}

// TestHostileArrayItems: an array of millions of small arrays allocated
// about 63 bytes per input byte in the TOML decoder (16 MB: 1 GB, 8 s).
func TestHostileArrayItems(t *testing.T) {
	data := []byte(hostileHeader + "ssl_trusted = [" + strings.Repeat("[1],", 500_000) + "]\n")
	_, err, elapsed, perByte := parseCost(t, data)
	t.Logf("%d bytes: %v, %.1f bytes allocated per input byte", len(data), elapsed, perByte)
	l := errorList(t, err)
	if !strings.Contains(l[0].Error(), "more than 10000 array items or table keys (the limit MaxArrayItems)") {
		t.Errorf("error %q does not name the item limit", l[0])
	}
	if perByte > 8 {
		t.Errorf("%.1f bytes allocated per input byte, want at most 8", perByte)
	}
	// A long list of files within the limit is fine.
	list := strings.TrimSuffix(strings.Repeat(`"ca.pem", `, MaxArrayItems), ", ")
	if _, err := Parse("hostile.conf", []byte(hostileHeader+"ssl_trusted = ["+list+"]\n")); err != nil {
		t.Errorf("an array of MaxArrayItems strings: %v", err)
	}
}

// TestHostileErrorCount: a file of 8 million bad lines made 8 million
// ParseErrors (16 MB: 1.6 GB of heap, 29 s). Checking now stops at
// MaxErrors, and the list says so.
func TestHostileErrorCount(t *testing.T) {
	for _, tc := range []struct{ name, data string }{
		{"bad lines", strings.Repeat("x\n", 300_000)},
		{"unknown keys", hostileHeader + strings.Repeat("ab = 1\n", 100_000)},
		{"duplicate keys", hostileHeader + strings.Repeat("type = queue\n", 100_000)},
		{"bad values", hostileHeader + strings.Repeat("randomize = maybe\n", 100_000)},
		{"broken sections", strings.Repeat("[F]\n", 100_000)},
		{"unterminated string, then junk", hostileHeader + "clientID = \"\"\"\n" + strings.Repeat("a\n", 300_000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err, elapsed, perByte := parseCost(t, []byte(tc.data))
			t.Logf("%d bytes: %v, %.1f bytes allocated per input byte", len(tc.data), elapsed, perByte)
			l := errorList(t, err)
			if len(l) != MaxErrors+1 {
				t.Fatalf("%d errors, want MaxErrors (%d) and the note that checking stopped", len(l), MaxErrors)
			}
			last := l[len(l)-1].Error()
			if last != "hostile.conf: too many errors (1000, the limit MaxErrors): the rest of the file was not checked" {
				t.Errorf("last entry %q", last)
			}
			if text := err.Error(); !strings.HasSuffix(text, "\nand 901 more errors") {
				t.Errorf("text ends %q", text[max(0, len(text)-80):])
			}
			if perByte > 40 {
				t.Errorf("%.1f bytes allocated per input byte, want at most 40", perByte)
			}
		})
	}
}

// TestHostileWarningCount: warnings are kept up to MaxWarnings, then
// counted.
func TestHostileWarningCount(t *testing.T) {
	data := []byte(hostileHeader + strings.Repeat("ssl_trace = 1\n", 200_000))
	cfg, err, elapsed, perByte := parseCost(t, data)
	t.Logf("%d bytes: %v, %.1f bytes allocated per input byte", len(data), elapsed, perByte)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Warnings) != MaxWarnings+1 {
		t.Fatalf("%d warnings, want MaxWarnings and a count of the rest", len(cfg.Warnings))
	}
	if got, want := cfg.Warnings[MaxWarnings].String(), "hostile.conf: warning: and 199000 more warnings (more than MaxWarnings, 1000)"; got != want {
		t.Errorf("last warning %q, want %q", got, want)
	}
	if perByte > 40 {
		t.Errorf("%.1f bytes allocated per input byte, want at most 40", perByte)
	}
}

// TestHostileLineCost: the commonest line shapes cost a small constant
// per byte. Before: every "key = 1" line was decoded as a TOML document
// (about 4 KiB each: a valid 16 MB file of numeric legacy keys allocated
// 5 GB), and every unknown key sorted and searched the whole key list
// (16 MB of "ab = 1" lines: 43 GB, 6 minutes).
func TestHostileLineCost(t *testing.T) {
	for _, tc := range []struct {
		name string
		data string
	}{
		{"numeric values", strings.Repeat("[F]\ntype = queue\nurl = tcp://1\nconnect_attempt_count = 5\nreconnect_attempt_delay = 500\nrandomize = true\n", 20_000)},
		{"unknown keys", hostileHeader + strings.Repeat("ab = 1\n", 100_000)},
		{"long unknown keys", hostileHeader + strings.Repeat(strings.Repeat("k", 45)+" = 1\n", 20_000)},
		{"numeric legacy keys", hostileHeader + strings.Repeat("ssl_trace = 1\n", 100_000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, elapsed, perByte := parseCost(t, []byte(tc.data))
			t.Logf("%d bytes: %v, %.1f bytes allocated per input byte", len(tc.data), elapsed, perByte)
			if perByte > 40 {
				t.Errorf("%.1f bytes allocated per input byte, want at most 40", perByte)
			}
		})
	}
}

// TestPlainScalarMatchesTOML: the integer and boolean fast path decodes
// exactly what TOML decodes, and leaves the rest to TOML.
func TestPlainScalarMatchesTOML(t *testing.T) {
	for _, v := range []string{"0", "1", "-0", "+0", "+5", "-5", "007", "00", "1_000", "0x10", "9223372036854775807",
		"9223372036854775808", "-9223372036854775808", "-9223372036854775809", "+-1", "--1", "-", "+", "1e3", "1.5",
		"true", "false", "True", "truex", "5000,5000", "1 # c", "inf", "nan"} {
		checkPlainScalar(t, v)
	}
}

func checkPlainScalar(t *testing.T, v string) {
	t.Helper()
	got, ok := plainScalar(v)
	if !ok {
		return
	}
	want, err := decodeValue(v)
	if err != nil || fmt.Sprintf("%T %v", got, got) != fmt.Sprintf("%T %v", want, want) {
		t.Errorf("plainScalar(%q) = %T %v; TOML: %T %v, %v", v, got, got, want, want, err)
	}
}

// FuzzPlainScalar checks the fast path against the TOML decoder.
func FuzzPlainScalar(f *testing.F) {
	for _, s := range []string{"0", "-1", "+7", "007", "true", "9223372036854775808", "1_0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if v == "" || strings.ContainsAny(v, "\n\r") {
			t.Skip()
		}
		checkPlainScalar(t, v)
	})
}

// TestHostileMessagesBounded: no message quotes a value, a name or a path
// whole. A 16 MB connect_attempt_count made a 16 MB error line (and so a
// 16 MB log line, and a 16 MB EventConfigReloaded.Err).
func TestHostileMessagesBounded(t *testing.T) {
	huge := strings.Repeat("9", 1<<20)
	word := strings.Repeat("w", 1<<20)
	dir := t.TempDir()
	for _, tc := range []struct{ name, data string }{
		{"integer", hostileHeader + "connect_attempt_count = " + huge + "\n"},
		{"quoted integer", hostileHeader + "connect_attempt_count = \"" + huge + "\"\n"},
		{"duration", hostileHeader + "reconnect_attempt_delay = " + word + "\n"},
		{"float", hostileHeader + "heartbeat_grace = " + word + "\n"},
		{"type", "[F]\nurl = tcp://1\ntype = " + word + "\n"},
		{"metric", hostileHeader + "metric = " + word + "\n"},
		{"jitter", hostileHeader + "reconnect_jitter = " + word + "\n"},
		{"heartbeat", hostileHeader + "heartbeat = " + word + "\n"},
		{"boolean", hostileHeader + "randomize = " + word + "\n"},
		{"ciphers", "[F]\ntype = queue\nurl = ssl://1\nssl_ciphers = " + word + "\n"},
		{"ciphers selecting none", "[F]\ntype = queue\nurl = ssl://1\nssl_ciphers = " + strings.Repeat("!ALL:", 1<<18) + "\n"},
		{"duplicate factory", "[" + word + "]\ntype = queue\nurl = tcp://1\n[" + word + "]\ntype = queue\nurl = tcp://1\n"},
		{"factory missing keys", "[" + word + "]\n"},
		{"environment variable", hostileHeader + "passcode = ${" + strings.Repeat("E", 1<<20) + "}\n"},
		{"passcode_file path", hostileHeader + "passcode_file = " + dir + "/" + word + "\n"},
		{"ssl_trusted path", "[F]\ntype = queue\nurl = ssl://1\nssl_trusted = " + word + "\n"},
		{"failover option name", hostileHeader[:len(hostileHeader)-len("url = tcp://127.0.0.1:61613\n")] + "url = failover:(tcp://1)?" + word + "=1\n"},
		{"failover option without value", "[F]\ntype = queue\nurl = failover:(tcp://1)?" + word + "\n"},
		{"failover option value", "[F]\ntype = queue\nurl = failover:(tcp://1)?useExponentialBackOff=" + word + "\n"},
		{"failover option repeated", "[F]\ntype = queue\nurl = failover:(tcp://1)?randomize=" + word + "&randomize=true\n"},
		{"failover startup attempts", "[F]\ntype = queue\nurl = failover:(tcp://1)?startupMaxReconnectAttempts=" + word + "\n"},
		{"failover inner options", "[F]\ntype = queue\nurl = failover:(tcp://" + word + "?a=1)\n"},
		{"url list", "[F]\ntype = queue\nurl = tcp://" + word + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse(filepath.Join(dir, "hostile.conf"), []byte(tc.data))
			var msgs []string
			if err != nil {
				for _, e := range errorList(t, err) {
					msgs = append(msgs, e.Error())
				}
			} else {
				for _, w := range cfg.Warnings {
					msgs = append(msgs, w.String())
				}
			}
			if len(msgs) == 0 {
				t.Fatal("no error and no warning")
			}
			for _, m := range msgs {
				if len(m) > 512+len(dir) {
					t.Errorf("a %d-byte message: %.200q...", len(m), m)
				}
			}
			t.Log(msgs[0])
		})
	}
}

// TestHeaderValuesCannotCarryControls: login, passcode, vhost and
// clientID are sent as STOMP CONNECT headers. A native line refuses a
// control character, but a quoted TOML value ("a\u0000b"), a
// passcode_file of two lines, or Define carried one through (a NUL ends
// the CONNECT frame at the broker, a line break splits the header). The
// messages never quote the value.
func TestHeaderValuesCannotCarryControls(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "pw2"), []byte("Zq9-first\nZq9-second\n"))
	writeFile(t, filepath.Join(dir, "pwnul"), []byte("Zq9\x00x\n"))
	writeFile(t, filepath.Join(dir, "pwbad"), []byte("Zq9\xff\n"))
	writeFile(t, filepath.Join(dir, "pwok"), []byte("Zq9-ok\r\n"))
	conf := filepath.Join(dir, "f.conf")
	for _, tc := range []struct {
		name, line, want string
	}{
		{"login NUL", `login = "a\u0000b"`, "login: the value contains a control character"},
		{"passcode line break", `passcode = "Zq9\nlogin:admin"`, "passcode: the value contains a control character"},
		{"passcode multi-line", "passcode = '''\nZq9-x\n'''", "passcode: the value contains a control character"},
		{"vhost", `vhost = "/\r"`, "vhost: the value contains a control character"},
		{"clientID", `clientID = "id\u0007"`, "clientID: the value contains a control character"},
		{"passcode_file two lines", "passcode_file = pw2", "passcode_file: the value contains a control character"},
		{"passcode_file NUL", "passcode_file = pwnul", "passcode_file: the value contains a control character"},
		{"passcode_file not UTF-8", "passcode_file = pwbad", "passcode_file: the value is not valid UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(conf, []byte(hostileHeader+tc.line+"\n"))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "Zq9") {
				t.Errorf("the error quotes the value: %v", err)
			}
		})
	}
	cfg, err := Parse(conf, []byte(hostileHeader+"passcode_file = pwok\nlogin = \"tab\\tok\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if f := cfg.Factories[0]; f.Passcode.Reveal() != "Zq9-ok" || f.Login != "tab\tok" {
		t.Errorf("passcode %q login %q", f.Passcode.Reveal(), f.Login)
	}

	_, err = NewConfig(
		Define("A", "tcp://1", Credentials("u", "Zq9\x00")),
		Define("B", "tcp://1", Set("login", "a\xffb")),
		Define("C", "tcp://1", Set("passcode", "Zq9\nx")),
		Define("D", "tcp://1", VHost("v\x00"), ClientID("c\n")),
	)
	if err == nil {
		t.Fatal("definitions with control characters accepted")
	}
	l := errorList(t, err)
	var got []string
	for _, e := range l {
		got = append(got, e.Factory+" "+e.Key)
	}
	if want := "A passcode,B login,C passcode,D vhost,D clientID"; strings.Join(got, ",") != want {
		t.Errorf("errors for %q, want %q:\n%v", strings.Join(got, ","), want, err)
	}
	if strings.Contains(err.Error(), "Zq9") {
		t.Errorf("an error quotes a passcode: %v", err)
	}
}

// TestHostileFileTricks: passcode_file through symlink chains and loops,
// links escaping by "..", odd paths. Each is answered at once, refused or
// read under the symlink rule, and no error quotes a file's content.
func TestHostileFileTricks(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "conf")
	writeFile(t, filepath.Join(sub, "real"), []byte("Zq9-inside\n"))
	writeFile(t, filepath.Join(dir, "outside"), []byte("Zq9-outside\n"))
	writeFile(t, filepath.Join(sub, "empty"), nil)
	links := map[string]string{
		"chain1": "chain2", "chain2": "chain3", "chain3": "real", // a chain inside: followed
		"loop1": "loop2", "loop2": "loop1", // a loop
		"self":     "self",
		"dotdot":   "../outside",               // escapes by ..
		"dotdotin": "../conf/real",             // leaves and comes back: refused (os.Root)
		"abs":      filepath.Join(sub, "real"), // absolute, to a file inside
		"dangling": "nothing",                  // no target
		"toDir":    ".",                        // a directory
		"deep":     strings.Repeat("./", 100) + "real",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(sub, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../fifo", filepath.Join(sub, "toFifo")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		ok   bool   // read; else refused
		want string // in the error
	}{
		{"chain1", true, ""},
		{"deep", true, ""},
		{"loop1", false, "too many levels of symbolic links"},
		{"self", false, "too many levels of symbolic links"},
		{"dotdot", false, "a symlink is followed only"},
		{"dotdotin", false, "a symlink is followed only"},
		{"abs", false, "a symlink is followed only"},
		{"dangling", false, "no such file"},
		{"toDir", false, "directory"},
		{"toFifo", false, "a symlink is followed only"},
		{"../fifo", false, "named pipe"},
		{"empty", false, "is empty"},
		{"/", false, "directory"},
		{".", false, "directory"},
		{strings.Repeat("x/", 3000), false, "path longer than 4096 bytes"},
	} {
		t.Run(tc.path[:min(len(tc.path), 20)], func(t *testing.T) {
			conf := hostileHeader + "passcode_file = " + tc.path + "\n"
			cfg, err := parseWithin(t, func() (*Config, error) { return Parse(filepath.Join(sub, "f.conf"), []byte(conf)) })
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				if got := cfg.Factories[0].Passcode.Reveal(); got != "Zq9-inside" {
					t.Fatalf("passcode %q", got)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "Zq9") {
				t.Errorf("error quotes the content: %v", err)
			}
			if len(err.Error()) > 600 {
				t.Errorf("a %d-byte error", len(err.Error()))
			}
		})
	}
}

// TestHostileNumbers documents how out-of-range numbers and durations
// are answered: an error naming the key and the problem, never a wrapped
// or negative value.
func TestHostileNumbers(t *testing.T) {
	for _, tc := range []struct{ line, want string }{
		{"reconnect_attempt_delay = -1", "is negative"},
		{"reconnect_attempt_delay = -1s", "is negative"},
		{"reconnect_attempt_delay = 9999999999999h", "is not a duration"},
		{"reconnect_attempt_delay = 9223372036854776", "is too large"},
		{"reconnect_attempt_delay = 1e400", "is not a duration"},
		{"reconnect_attempt_delay = 99999999999999999999", "is not a duration"},
		{"reconnect_max_delay = -9223372036854775808", "is negative"},
		{"heartbeat = 500us,500us", "is not a whole number of milliseconds of at least 1ms"},
		{"heartbeat = 1500us,1000", "is not a whole number of milliseconds"},
		{"heartbeat = -1,0", "is not send,receive"},
		{"heartbeat = 9999999999999h,0", "is not send,receive"},
		{"heartbeat = [1000, 1000, 1000]", "is not send,receive"},
		{"heartbeat_grace = 1e400", "is not a number"},
		{"heartbeat_grace = nan", "is not a finite number"},
		{"heartbeat_grace = inf", "is not a finite number"},
		{"heartbeat_grace = 0.5", "is too small"},
		{"reconnect_backoff_multiplier = -inf", "is not a finite number"},
		{"connect_attempt_count = -2", "is not a count"},
		{"connect_attempt_count = 9223372036854775808", "is not an integer"},
		{"max_cache_size = -1", "is negative"},
		{"scheduler_max_concurrency = 2147483648", "is out of range"},
		{"scheduler_max_rate = 0", "is too small"},
		{"clientID = " + strings.Repeat("c", 256), "longer than EMS's maximum of 255"},
	} {
		t.Run(tc.line[:min(len(tc.line), 40)], func(t *testing.T) {
			_, err := Parse("n.conf", []byte(hostileHeader+tc.line+"\n"))
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "n.conf:4:1: ") {
				t.Errorf("%s: error %v, want n.conf:4:1: ... %q", tc.line, err, tc.want)
			}
		})
	}
	// Values at the edge are accepted as written: counts above int32 are
	// forever, durations up to the largest time.Duration.
	cfg, err := Parse("n.conf", []byte(hostileHeader+"reconnect_attempt_count = 9223372036854775807\nreconnect_max_delay = 9223372036854\nheartbeat = 1ms,1ms\n"))
	if err != nil {
		t.Fatal(err)
	}
	f := cfg.Factories[0]
	if f.Reconnect.Count != -1 || f.MaxReconnectDelay != 9223372036854*time.Millisecond || f.HeartBeatSend != time.Millisecond {
		t.Errorf("count %d, max delay %v, heartbeat %v", f.Reconnect.Count, f.MaxReconnectDelay, f.HeartBeatSend)
	}
}

// TestHostileFailoverQueries: failover URIs with hostile query strings
// are answered with one bounded error (or warning), never echo a URL's
// user information, and never panic.
func TestHostileFailoverQueries(t *testing.T) {
	for _, q := range []string{
		"?" + strings.Repeat("&", 1<<20),
		"?" + strings.Repeat("&", MaxFailoverURILength-40),
		"?randomize=%00",
		"?randomize=%zz",
		"?timeout=%2D1",
		"?maxReconnectAttempts=0",
		"?maxReconnectAttempts=99999999999999999999999",
		"?initialReconnectDelay=-5",
		"?backOffMultiplier=1e400",
		"?useExponentialBackOff=false&backOffMultiplier=9",
		"?nested.wireFormat.maxFrameSize=1",
		"?=1",
		"?a=b=c",
		"?" + strings.Repeat("backupPoolSize=1&", 2),
		"?" + strings.Repeat("updateURIsSupported=1&warnAfterReconnectAttempts=1&", 1),
		"#frag",
		")?)",
		"?timeout=1&TIMEOUT=2",
	} {
		for _, uris := range []string{"(tcp://u:Zq9pw@h:1,tcp://h:2)", "(tcp://h:1,tcp://h:2)"} {
			data := "[F]\ntype = queue\nurl = failover:" + uris + q + "\n"
			cfg, err := Parse("f.conf", []byte(data))
			var out []string
			if err != nil {
				out = append(out, err.Error())
			}
			if cfg != nil {
				js, _ := json.Marshal(cfg)
				out = append(out, string(js))
				for _, w := range cfg.Warnings {
					out = append(out, w.String())
				}
			}
			for _, s := range out {
				if strings.Contains(s, "Zq9") {
					t.Errorf("%q: user information echoed: %s", data[:min(len(data), 120)], s)
				}
				if len(s) > 8*MaxFailoverURILength {
					t.Errorf("%q: %d bytes of output", data[:min(len(data), 120)], len(s))
				}
			}
		}
	}
}

// FuzzDefine: any key and value given to Set, and any passcode given to
// Credentials, never panic NewConfig, and a passcode never shows in its
// errors, warnings or any rendering of the result.
func FuzzDefine(f *testing.F) {
	f.Add("passcode", "x", "tcp://1")
	f.Add("heartbeat", "500us,1ms", "failover:(tcp://a:1,tcp://b:2)?timeout=-1")
	f.Add("passcod", "${HOME}", "tcp://1,tcp://2|tcp://3")
	f.Add("client_id", "\x00", "ssl://1")
	f.Fuzz(func(t *testing.T, key, value, url string) {
		if strings.Contains(key+value+url, "Zq9") {
			t.Skip()
		}
		cfg, err := NewConfig(
			Define("F", url, Set(key, value), Credentials("u", "Zq9-fuzz-secret")),
			Define("G", url, Credentials("u", "Zq9-fuzz-secret"), Set(key, value)),
			Define("H", url, Set("passcode", "Zq9-fuzz-secret"), Set(key, value)),
		)
		for _, s := range everyRendering(cfg, err) {
			if strings.Contains(s, "Zq9") {
				t.Fatalf("passcode leaked for Set(%q, %q) url %q:\n%s", key, value, url, s)
			}
		}
	})
}

// FuzzFailoverURI: a pasted failover URI whose first inner URI carries a
// password never echoes it, whatever follows.
func FuzzFailoverURI(f *testing.F) {
	for _, s := range []string{"tcp://h:2)?randomize=false", "tcp://h:2?x=1)", ")?timeout=-1&backup=true", "h:2)?nested.x=1", "tcp://[::1]:2)?maxReconnectAttempts=0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, rest string) {
		if strings.Contains(rest, "Zq9") || strings.ContainsAny(rest, "\n\r") {
			t.Skip()
		}
		data := "[F]\ntype = queue\nurl = failover:(tcp://user:Zq9pw@h:1," + rest + "\n"
		cfg, err := Parse("f.conf", []byte(data))
		var out []string
		if err != nil {
			out = append(out, err.Error())
		}
		if cfg != nil {
			js, _ := json.Marshal(cfg)
			out = append(out, string(js))
			for _, w := range cfg.Warnings {
				out = append(out, w.String())
			}
			for _, fa := range cfg.Factories {
				out = append(out, fa.String(), fa.URL)
			}
		}
		for _, s := range out {
			if strings.Contains(s, "Zq9") {
				t.Fatalf("password echoed for %q:\n%s", data, s)
			}
		}
	})
}

// BenchmarkHostileShapes prints, for 16 MB files of each hostile shape,
// the time and heap allocated per input byte over those of a valid file
// of many small factories measured in the same run.
func BenchmarkHostileShapes(b *testing.B) {
	const size = 16<<20 - 1024
	fill := func(head, unit string) []byte {
		n := (size - len(head)) / len(unit)
		return []byte(head + strings.Repeat(unit, n))
	}
	nested := func(open, mid, closing string) []byte {
		n := (size - len(hostileHeader) - 20) / (len(open) + len(closing))
		return []byte(hostileHeader + "ssl_trusted = " + strings.Repeat(open, n) + mid + strings.Repeat(closing, n) + "\n")
	}
	baseline := manySections(size / 52)
	if _, err := Parse("bench.conf", baseline); err != nil {
		b.Fatal(err)
	}
	shapes := []struct {
		name string
		data []byte
	}{
		{"deep-arrays", nested("[", "", "]")},
		{"deep-tables", nested("{a=", "1", "}")},
		{"array-of-arrays", fill(hostileHeader+"ssl_trusted = [", "[1],")},
		{"bad-lines", fill("", "x\n")},
		{"unknown-keys", fill(hostileHeader, "ab = 1\n")},
		{"long-unknown-keys", fill(hostileHeader, strings.Repeat("k", 45)+" = 1\n")},
		{"legacy-keys", fill(hostileHeader, "ssl_trace = 1\n")},
		{"duplicate-keys", fill(hostileHeader, "type = queue\n")},
		{"unterminated-string", fill(hostileHeader+"clientID = \"\"\"\n", "aaaa\n")},
		{"one-long-line", fill(hostileHeader+"clientID = ", "a ")},
		{"huge-integer", fill(hostileHeader+"connect_attempt_count = ", "9")},
		{"crlf-bom", fill("\uFEFF[F]\r\ntype = queue\r\nurl = tcp://1\r\n", "ssl_trace = 1\r\n")},
		{"nul-bytes", fill(hostileHeader, "a\x00= 1\n")},
		{"invalid-utf8", fill(hostileHeader, "\xff\xfe = 1\n")},
	}
	cost := func(data []byte) (time.Duration, uint64) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		_, _ = Parse("bench.conf", data)
		d := time.Since(start)
		runtime.ReadMemStats(&after)
		return d, after.TotalAlloc - before.TotalAlloc
	}
	baseT, baseA := cost(baseline)
	basePerByteT := float64(baseT) / float64(len(baseline))
	b.Logf("baseline: valid file of %d factories, %d bytes: %v, %.1f B/B", bytesSections(baseline), len(baseline), baseT, float64(baseA)/float64(len(baseline)))
	for _, s := range shapes {
		b.Run(s.name, func(b *testing.B) {
			var d time.Duration
			var a uint64
			for b.Loop() {
				d, a = cost(s.data)
			}
			b.ReportMetric(float64(d)/float64(len(s.data))/basePerByteT, "time/byte-vs-valid")
			b.ReportMetric(float64(a)/float64(len(s.data)), "alloc-B/B")
			b.ReportMetric(float64(d.Milliseconds()), "ms/16MiB")
		})
	}
}

func bytesSections(data []byte) int { return strings.Count(string(data), "[F") }
