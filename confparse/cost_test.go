package confparse

import (
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// manySections is a file of n minimal factories.
func manySections(n int) []byte {
	var b strings.Builder
	for i := range n {
		b.WriteString("[F")
		b.WriteString(strconv.Itoa(i))
		b.WriteString("]\ntype = queue\nurl = tcp://127.0.0.1:61613\n")
	}
	return []byte(b.String())
}

// multiLineValue is one factory whose clientID is a multi-line TOML
// string of about size bytes, in lines of width bytes.
func multiLineValue(size, width int) []byte {
	var b strings.Builder
	b.WriteString("[F]\ntype = queue\nurl = tcp://1\nssl_issuer = \"\"\"\n")
	line := strings.Repeat("x", width-1) + "\n"
	for b.Len() < size {
		b.WriteString(line)
	}
	b.WriteString("\"\"\"\n")
	return []byte(b.String())
}

func benchParse(b *testing.B, data []byte) {
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("bench.conf", data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseSections1k(b *testing.B)   { benchParse(b, manySections(1000)) }
func BenchmarkParseSections100k(b *testing.B) { benchParse(b, manySections(100_000)) }
func BenchmarkParseMultiLine20k(b *testing.B) { benchParse(b, multiLineValue(20_000, 1000)) }
func BenchmarkParseMultiLine2M(b *testing.B)  { benchParse(b, multiLineValue(2_000_000, 20_000)) }

// allocPerByte is the heap bytes one Parse of data allocates, per input
// byte.
func allocPerByte(t *testing.T, data []byte) float64 {
	t.Helper()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := Parse("cost.conf", data); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	return float64(after.TotalAlloc-before.TotalAlloc) / float64(len(data))
}

// TestParseCostLinear requires the memory Parse allocates per input byte
// to stay flat when a multi-line value, or the number of sections, grows
// tenfold (re-decoding a growing multi-line value line by line made it
// quadratic: ~10x per byte for 10x the lines). Memory, not time, so the
// check is exact on a loaded machine; BenchmarkParseCost prints the time
// ratios.
func TestParseCostLinear(t *testing.T) {
	for _, tc := range []struct {
		name         string
		small, large []byte
	}{
		{"multi-line value, 10 vs 100 lines of 20 KB", multiLineValue(200_000, 20_000), multiLineValue(2_000_000, 20_000)},
		{"sections, 1k vs 10k", manySections(1000), manySections(10_000)},
	} {
		s, l := allocPerByte(t, tc.small), allocPerByte(t, tc.large)
		t.Logf("%s: %.1f vs %.1f bytes allocated per input byte (ratio %.2f)", tc.name, s, l, l/s)
		if l > 2*s {
			t.Errorf("%s: %.1f bytes allocated per input byte at 10x the size, %.1f at 1x: not linear", tc.name, l, s)
		}
	}
}

// BenchmarkParseCost prints, as metrics, the cost per byte of the large
// input over that of the small one, measured in the same run: about 1 when
// parsing is linear.
func BenchmarkParseCost(b *testing.B) {
	for _, tc := range []struct {
		name         string
		small, large []byte
	}{
		{"multiline", multiLineValue(200_000, 20_000), multiLineValue(2_000_000, 20_000)},
		{"sections", manySections(10_000), manySections(100_000)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			perByte := func(data []byte) float64 {
				start := time.Now()
				if _, err := Parse("bench.conf", data); err != nil {
					b.Fatal(err)
				}
				return float64(time.Since(start)) / float64(len(data))
			}
			var ratio float64
			for b.Loop() {
				ratio = perByte(tc.large) / perByte(tc.small)
			}
			b.ReportMetric(ratio, "large/small-ns-per-byte")
		})
	}
}

// TestMultiLineValuesExact: the one-pass lexer that finds where a value
// ends agrees with TOML on the shapes that could fool it: quotes, '#',
// brackets and escapes inside strings, comments inside arrays, closing
// delimiters with extra quotes.
func TestMultiLineValuesExact(t *testing.T) {
	for in, want := range map[string]string{
		"ssl_expected_hostname = \"\"\"\na \\\"\"\" b\n\"\"\"":  "a \"\"\" b\n",
		"clientID = \"\"\"\nx\"\"\"\"\"":                        "x\"\"",
		"ssl_expected_hostname = '''\n# not a comment ] [\n'''": "# not a comment ] [\n",
		"clientID = \"\"\"\\\n  joined \\\n  line\"\"\"":        "joined line",
		"clientID = 'a\\' # comment":                            "a\\",
		"clientID = \"\"\"a\"\"\" # after":                      "a",
		"ssl_issuer = [ # open\n \"]a#\", # one\n 'b[',\n]":     "[]a# b[]",
		"ssl_issuer = [\n  [\"x\"],\n]":                         "",
	} {
		// clientID cannot carry a line break (a STOMP header); the
		// multi-line cases use ssl_expected_hostname of an ssl:// factory.
		u := "tcp://1"
		if strings.HasPrefix(in, "ssl_expected_hostname") {
			u = "ssl://1"
		}
		cfg, err := Parse("t.conf", []byte("[F]\ntype = queue\nurl = "+u+"\n"+in+"\n"))
		if strings.HasPrefix(in, "ssl_issuer = [\n  [") {
			if err == nil {
				t.Errorf("%q: nested array accepted", in)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		f := cfg.Factories[0]
		got := f.ClientID
		if strings.HasPrefix(in, "ssl_expected_hostname") {
			got = f.SSL.ExpectedHostname
		}
		if strings.HasPrefix(in, "ssl_issuer") {
			got = fmt.Sprint(f.SSL.Issuer)
		}
		if got != want {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
}

// oldMultiLine is the former way to read a value spanning lines: decode
// the first line, then one more line at a time until TOML accepts it
// (quadratic, but obviously right). FuzzValueExtent compares with it.
func oldMultiLine(lines []string) (any, int, bool) {
	joined := lines[0]
	if v, err := decodeValue(joined); err == nil {
		return v, 1, true
	}
	for j := 1; j < len(lines) && j < 200; j++ {
		joined += "\n" + lines[j]
		if v, err := decodeValue(joined); err == nil {
			return v, j + 1, true
		}
	}
	return nil, 0, false
}

// FuzzValueExtent: whenever the former line-by-line decoding accepts a
// value that starts with a quote or a bracket, the one-pass lexer finds
// the same end and the same value.
func FuzzValueExtent(f *testing.F) {
	for _, s := range []string{
		"\"\"\"\na \\\"\"\" b\n\"\"\"", "\"\"\"\nx\"\"\"\"\"", "'''\n# x ] [\n'''", "\"\"\"\\\n  j \\\n  l\"\"\"",
		"'a\\' # c", "[ # open\n \"]a#\", # one\n 'b[',\n]", "[\n  [\"x\"],\n]", "{ a = 1 }", "[1,\n2]\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		if in == "" || strings.ContainsAny(in, "\r") || !strings.ContainsAny(in[:1], "\"'[{") {
			t.Skip()
		}
		lines := strings.Split(in, "\n")
		want, n, ok := oldMultiLine(lines)
		if !ok {
			return
		}
		last, end, ok := valueExtent(lines, 0, 0)
		if !ok || last != n-1 {
			t.Fatalf("%q: the lexer ends at line %d (ok %v); TOML accepted %d lines", in, last+1, ok, n)
		}
		if rest := strings.TrimLeft(lines[last][end:], " \t"); rest != "" && rest[0] != '#' {
			t.Fatalf("%q: the lexer leaves %q after the value; TOML accepted it", in, rest)
		}
		got, err := decodeValue(strings.Join(lines[:n], "\n"))
		if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%q: %v %v, want %v", in, got, err, want)
		}
	})
}
