package confparse

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// TestPasscodeNeverPrinted renders a parsed config, and the errors of
// invalid files that carry a passcode, every way a program might print
// them.
func TestPasscodeNeverPrinted(t *testing.T) {
	const pw = "S3cret-pw-77"
	t.Setenv("STOMPFT_TEST_SECRET", pw)
	valid := []string{
		"[F]\ntype = queue\nurl = tcp://1\nlogin = u\npasscode = " + pw + "\n",
		"[F]\ntype = \"queue\"\nurl = \"tcp://1\"\npasscode = \"" + pw + "\"\n",
		"[F]\ntype = queue\nurl = tcp://1\npasscode = ${STOMPFT_TEST_SECRET}\n",
	}
	for _, in := range valid {
		cfg, err := Parse("t.conf", []byte(in))
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		f := cfg.Factories[0]
		if f.Passcode.Reveal() != pw {
			t.Fatalf("%q: passcode %q not decoded", in, f.Passcode.Reveal())
		}
		js, err := json.Marshal(cfg)
		if err != nil {
			t.Fatal(err)
		}
		outs := []string{string(js), render(cfg), render(f), render(*f), render(f.Passcode), f.String()}
		for _, s := range f.Settings() {
			outs = append(outs, s.Value)
		}
		for _, s := range outs {
			if strings.Contains(s, pw) {
				t.Errorf("%q: passcode printed in %s", in, s)
			}
		}
		if !strings.Contains(render(f.Passcode), redacted) || !strings.Contains(string(js), redacted) {
			t.Errorf("redaction mark missing: %s / %s", render(f.Passcode), js)
		}
	}
	invalid := []string{
		"[F]\ntype = queue\nurl = tcp://1\npasscode = \"" + pw + "\n",             // unterminated string
		"[F]\ntype = queue\nurl = tcp://1\npasscode = \"" + pw + "\\q\"\n",        // bad escape: toml would quote it
		"[F]\ntype = queue\nurl = tcp://1\npasscod = " + pw + "\n",                // typo'd key
		"[F]\ntype = queue\nurl = tcp://1\npasscode = [\"" + pw + "\"]\n",         // wrong type
		"[F]\ntype = queue\nurl = tcp://1\npasscode = a\npasscode = " + pw + "\n", // duplicate
		"[F]\ntype = queue\nurl = tcp://u:" + pw + "@host:1\n",                    // userinfo in the url
		"[F]\ntype = queue\nurl = tcp://1\n" + pw + "\n",                          // stray line
		"[F]\ntype = queue\nurl = tcp://1\nssl_password = " + pw + "\n",           // legacy EMS key: warning only
		"[F]\ntype = queue\nurl = failover:(tcp://u:" + pw + "@h:1?x=1)\n",        // userinfo in a nested query error
		"[F]\ntype = queue\nurl = failover:(tcp://h:1)" + pw + "\n",               // junk after ')'
		"[F]\ntype = queue\nurl = failover:(tcp://h:1,tcp://u:" + pw + "@h:2)\n",  // userinfo in an inner URI
	}
	for _, in := range invalid {
		cfg, err := Parse("t.conf", []byte(in))
		var outs []string
		if err != nil {
			outs = append(outs, err.Error(), render(err))
			var pe *ParseError
			if errors.As(err, &pe) {
				outs = append(outs, render(pe), render(*pe))
			}
		} else {
			for _, w := range cfg.Warnings {
				outs = append(outs, w.String(), render(w))
			}
			if len(cfg.Warnings) == 0 {
				t.Errorf("%q: neither an error nor a warning", in)
			}
		}
		for _, s := range outs {
			if strings.Contains(s, pw) {
				t.Errorf("%q: passcode printed in %s", in, s)
			}
		}
	}
}
