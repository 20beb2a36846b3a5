package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
)

const secret = "Pw-never-printed-42"

// validConf is a native file with a passcode, a legacy key (a warning) and
// a failover URI.
const validConf = `# banner
[FTQueueConnectionFactory]
  type                    = queue
  url                     = tcp://7222,tcp://127.0.0.1:7224
  client_id               = app-1
  login                   = app
  passcode                = ` + secret + `
  reconnect_attempt_count = -1
  multicast_enabled       = false
[Migrated]
  type = topic
  url  = failover:(stomp://[::1]:61613,tcp://127.0.0.1:61614)?initialReconnectDelay=300&maxReconnectAttempts=5
`

const invalidConf = `[A]
  type = queue
  url  = tcp://127.0.0.1:61613
  passcode = ` + secret + `
  reconnect_attempt_delay = 5x
  passcod = ` + secret + `
[A]
  type = queue
  url = tcp://1
`

func write(t *testing.T, name, data string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func runCmd(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

func TestExitCodesAndStreams(t *testing.T) {
	valid := write(t, "factories.conf", validConf)
	invalid := write(t, "bad.conf", invalidConf)
	tests := []struct {
		name       string
		args       []string
		code       int
		stdoutHas  []string
		stderrHas  []string
		stderrLine *regexp.Regexp // every stderr line must match
	}{
		{name: "valid table", args: []string{valid}, code: 0,
			stdoutHas:  []string{"[FTQueueConnectionFactory]", "tcp://localhost:7222,tcp://127.0.0.1:7224", "reconnect_attempt_count", "-1 (forever)", "[Migrated]", "tcp://[::1]:61613"},
			stderrHas:  []string{valid + ":9:3: warning: multicast_enabled"},
			stderrLine: regexp.MustCompile(`^` + regexp.QuoteMeta(valid) + `:\d+:\d+: warning: `)},
		{name: "valid json", args: []string{"-json", valid}, code: 0, stdoutHas: []string{`"factories"`}},
		{name: "invalid: every error as FILE:LINE:COL", args: []string{invalid}, code: 1,
			stderrHas: []string{
				invalid + `:5:3: reconnect_attempt_delay: "5x" is not a duration (milliseconds, or a Go duration such as 500ms)`,
				invalid + `:6:3: unknown key; did you mean passcode?`,
				invalid + `:7:1: duplicate factory [A]: defined on lines 1 and 7`,
			},
			stderrLine: regexp.MustCompile(`^` + regexp.QuoteMeta(invalid) + `:\d+:\d+: `)},
		{name: "invalid with -json", args: []string{"-json", invalid}, code: 1},
		{name: "missing file", args: []string{filepath.Join(t.TempDir(), "nope.conf")}, code: 1, stderrHas: []string{"no such file"}},
		{name: "no file", args: nil, code: 2, stderrHas: []string{"usage: confcheck [-json] FILE"}},
		{name: "unknown flag", args: []string{"-yaml", valid}, code: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCmd(tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, errOut)
			}
			for _, s := range tc.stdoutHas {
				if !strings.Contains(out, s) {
					t.Errorf("stdout lacks %q:\n%s", s, out)
				}
			}
			for _, s := range tc.stderrHas {
				if !strings.Contains(errOut, s) {
					t.Errorf("stderr lacks %q:\n%s", s, errOut)
				}
			}
			if tc.stderrLine != nil {
				for _, l := range strings.Split(strings.TrimSuffix(errOut, "\n"), "\n") {
					if !tc.stderrLine.MatchString(l) {
						t.Errorf("stderr line %q does not match %v", l, tc.stderrLine)
					}
				}
			}
			if tc.code != 0 && out != "" {
				t.Errorf("stdout not empty on failure: %q", out)
			}
			if strings.Contains(out+errOut, secret) {
				t.Errorf("passcode printed:\nstdout:\n%s\nstderr:\n%s", out, errOut)
			}
		})
	}
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestJSONShape(t *testing.T) {
	code, out, errOut := runCmd("-json", write(t, "factories.conf", validConf))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, out)
	}
	if got := keys(doc); !reflect.DeepEqual(got, []string{"factories", "warnings"}) {
		t.Errorf("top-level keys %v", got)
	}
	fs, ok := doc["factories"].([]any)
	if !ok || len(fs) != 2 {
		t.Fatalf("factories = %v", doc["factories"])
	}
	want := []map[string]any{
		{"name": "FTQueueConnectionFactory", "type": "queue", "client_id": "app-1",
			"urls":         []any{"tcp://localhost:7222", "tcp://127.0.0.1:7224"},
			"connect":      map[string]any{"attempt_count": 2.0, "attempt_delay_ms": 500.0, "attempt_timeout_ms": 10000.0},
			"reconnect":    map[string]any{"attempt_count": -1.0, "attempt_delay_ms": 500.0, "attempt_timeout_ms": 10000.0},
			"passcode_set": true},
		// ActiveMQ's startupMaxReconnectAttempts default (-1) follows
		// maxReconnectAttempts=5: connect makes 1 try + 5 retries.
		{"name": "Migrated", "type": "topic", "client_id": "",
			"urls":         []any{"tcp://[::1]:61613", "tcp://127.0.0.1:61614"},
			"connect":      map[string]any{"attempt_count": 6.0, "attempt_delay_ms": 500.0, "attempt_timeout_ms": 10000.0},
			"reconnect":    map[string]any{"attempt_count": 5.0, "attempt_delay_ms": 300.0, "attempt_timeout_ms": 10000.0},
			"passcode_set": false},
	}
	for i, w := range want {
		f := fs[i].(map[string]any)
		for k, v := range w {
			if !reflect.DeepEqual(f[k], v) {
				t.Errorf("factory %d %s = %#v, want %#v", i, k, f[k], v)
			}
		}
		if _, ok := f["passcode"]; ok {
			t.Errorf("factory %d has a passcode key", i)
		}
	}
	ws, ok := doc["warnings"].([]any)
	if !ok || len(ws) != 1 || !strings.Contains(ws[0].(string), "multicast_enabled") {
		t.Errorf("warnings = %#v", doc["warnings"])
	}
	if strings.Contains(out, secret) {
		t.Errorf("passcode in JSON:\n%s", out)
	}
}

// TestSamples checks the shipped samples: the valid ones pass, the invalid
// one fails with an error per mistake.
func TestSamples(t *testing.T) {
	for _, tc := range []struct {
		file   string
		code   int
		errors int
	}{
		{"../../conf/factories.conf", 0, 0},
		{"../../conf/factories.toml.conf", 0, 0},
		{"../../conf/invalid.conf", 1, 5},
	} {
		code, out, errOut := runCmd("-json", tc.file)
		if code != tc.code {
			t.Errorf("%s: exit %d, want %d\n%s", tc.file, code, tc.code, errOut)
			continue
		}
		if tc.code != 0 {
			if n := strings.Count(errOut, "\n"); n != tc.errors {
				t.Errorf("%s: %d error lines, want %d:\n%s", tc.file, n, tc.errors, errOut)
			}
			if strings.Contains(errOut, "do-not-print-me") {
				t.Errorf("%s: passcode printed", tc.file)
			}
			continue
		}
		var doc struct {
			Factories []struct{ Name string } `json:"factories"`
		}
		if err := json.Unmarshal([]byte(out), &doc); err != nil || len(doc.Factories) < 3 {
			t.Errorf("%s: %v, %d factories", tc.file, err, len(doc.Factories))
		}
	}
}
