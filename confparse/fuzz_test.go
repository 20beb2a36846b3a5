package confparse

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
)

// fuzzSecret is planted in every fuzzed file; it must never come out.
const fuzzSecret = "Zq9-fuzz-secret-Xw4"

// FuzzParse checks that Parse never panics, and that a passcode planted in
// the input (literal, quoted, in a second copy of a factory, under a typo'd
// key) never appears in errors, warnings or any rendering of the result.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"../conf/factories.conf", "../conf/factories.toml.conf", "../conf/invalid.conf"} {
		if data, err := os.ReadFile(name); err == nil {
			f.Add(string(data))
		}
	}
	for _, tc := range nativeCases {
		f.Add(tc.in)
	}
	f.Add("[a]\ntype = queue\nurl = failover:(tcp://1,tcp://2)?randomize=true&timeout=-1\n")
	f.Add("[a]\nssl_issuer = [\n  \"x\",\n  \"y\",\n]\n")
	f.Add("[a]\nclientID = \"\"\"\nmulti\n\"\"\"\n")
	f.Fuzz(func(t *testing.T, in string) {
		// A multi-line TOML string left open would legitimately swallow the
		// planted line into another key's value.
		if strings.Contains(in, "Zq9") || strings.Contains(in, `"""`) || strings.Contains(in, "'''") {
			t.Skip()
		}
		planted := []string{
			in + "\npasscode = " + fuzzSecret + "\n",
			in + "\npasscode = \"" + fuzzSecret + "\n",
			in + "\npasscod = " + fuzzSecret + "\n",
			in + "\n" + fuzzSecret + " = x\n",
			in + "\nlogin = guest passcode = " + fuzzSecret + "\n",
			"[F]\npasscode = " + fuzzSecret + "\n" + in,
			"[F]\npasscode = '" + fuzzSecret + "'\n" + in + "\n[F]\npasscode = " + fuzzSecret + "x\n",
		}
		for _, data := range planted {
			cfg, err := Parse("fuzz.conf", []byte(data))
			for _, s := range everyRendering(cfg, err) {
				if strings.Contains(s, "Zq9") {
					t.Fatalf("passcode leaked for input %q:\n%s", data, s)
				}
			}
		}
	})
}

// verbs is every verb a caller might print a config with; a variable so
// vet does not reject the deliberately odd ones (%d on a struct).
var verbs = []string{"%v", "%+v", "%#v", "%s", "%d", "%x", "%q"}

// render prints v with every verb in verbs.
func render(v any) string {
	var b strings.Builder
	for _, verb := range verbs {
		fmt.Fprintf(&b, verb+"\n", v)
	}
	return b.String()
}

// everyRendering is every way a parse result can be printed or encoded:
// error texts under each verb, JSON, the renderings of the config and of
// each factory, warnings and settings. A secret must appear in none.
func everyRendering(cfg *Config, err error) []string {
	var out []string
	if err != nil {
		out = append(out, err.Error(), fmt.Sprintf("%v %+v %#v", err, err, err))
	}
	if cfg != nil {
		js, _ := json.Marshal(cfg)
		out = append(out, string(js), render(cfg))
		for _, w := range cfg.Warnings {
			out = append(out, w.String())
		}
		for _, fa := range cfg.Factories {
			out = append(out, fa.String(), render(fa), render(*fa))
			for _, s := range fa.Settings() {
				out = append(out, s.Value)
			}
		}
	}
	return out
}
