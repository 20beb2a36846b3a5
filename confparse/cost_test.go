package confparse

import (
	"strconv"
	"strings"
	"testing"
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
