package sequential

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func tcp(host string, port int) Endpoint { return Endpoint{Scheme: SchemeTCP, Host: host, Port: port} }
func ssl(host string, port int) Endpoint { return Endpoint{Scheme: SchemeSSL, Host: host, Port: port} }

func TestParseValid(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want [][]Endpoint
		str  string // normalised List.String
	}{
		{"single", "tcp://a:7222", [][]Endpoint{{tcp("a", 7222)}}, "tcp://a:7222"},
		{"ft pair", "tcp://primary:7222,tcp://backup:7222",
			[][]Endpoint{{tcp("primary", 7222), tcp("backup", 7222)}}, "tcp://primary:7222,tcp://backup:7222"},
		{"three urls", "tcp://a:1,tcp://b:2,tcp://c:3",
			[][]Endpoint{{tcp("a", 1), tcp("b", 2), tcp("c", 3)}}, "tcp://a:1,tcp://b:2,tcp://c:3"},
		{"lb groups", "tcp://a:1|tcp://b:2|tcp://c:3",
			[][]Endpoint{{tcp("a", 1)}, {tcp("b", 2)}, {tcp("c", 3)}}, "tcp://a:1|tcp://b:2|tcp://c:3"},
		{"lb of ft", "tcp://a1:1,tcp://a2:2|tcp://b1:1,tcp://b2:2",
			[][]Endpoint{{tcp("a1", 1), tcp("a2", 2)}, {tcp("b1", 1), tcp("b2", 2)}}, "tcp://a1:1,tcp://a2:2|tcp://b1:1,tcp://b2:2"},
		{"ssl", "ssl://broker:7243", [][]Endpoint{{ssl("broker", 7243)}}, "ssl://broker:7243"},
		{"port shorthand", "tcp://7222", [][]Endpoint{{tcp(DefaultHost, 7222)}}, "tcp://localhost:7222"},
		{"ssl port shorthand", "ssl://7243", [][]Endpoint{{ssl(DefaultHost, 7243)}}, "ssl://localhost:7243"},
		{"shorthand in list", "tcp://7222,tcp://7224", [][]Endpoint{{tcp(DefaultHost, 7222), tcp(DefaultHost, 7224)}}, "tcp://localhost:7222,tcp://localhost:7224"},
		{"scheme case", "TCP://a:1,Tcp://b:2", [][]Endpoint{{tcp("a", 1), tcp("b", 2)}}, "tcp://a:1,tcp://b:2"},
		{"host case", "ssl://Broker.Example.COM:7243", [][]Endpoint{{ssl("broker.example.com", 7243)}}, "ssl://broker.example.com:7243"},
		{"ipv4", "tcp://127.0.0.1:61613", [][]Endpoint{{tcp("127.0.0.1", 61613)}}, "tcp://127.0.0.1:61613"},
		{"ipv6", "tcp://[::1]:61613", [][]Endpoint{{tcp("::1", 61613)}}, "tcp://[::1]:61613"},
		{"ipv6 canonical", "tcp://[0:0:0:0:0:0:0:1]:61613", [][]Endpoint{{tcp("::1", 61613)}}, "tcp://[::1]:61613"},
		{"ipv6 upper", "tcp://[FE80::AB]:1", [][]Endpoint{{tcp("fe80::ab", 1)}}, "tcp://[fe80::ab]:1"},
		{"ipv6 zone", "tcp://[fe80::1%eth0]:1", [][]Endpoint{{tcp("fe80::1%eth0", 1)}}, "tcp://[fe80::1%eth0]:1"},
		{"ipv6 and v4 mixed hosts", "tcp://[::1]:1,tcp://127.0.0.1:1", [][]Endpoint{{tcp("::1", 1), tcp("127.0.0.1", 1)}}, "tcp://[::1]:1,tcp://127.0.0.1:1"},
		{"whitespace", "  tcp://a:1 ,\ttcp://b:2 | tcp://c:3\n", [][]Endpoint{{tcp("a", 1), tcp("b", 2)}, {tcp("c", 3)}}, "tcp://a:1,tcp://b:2|tcp://c:3"},
		{"port 1", "tcp://a:1", [][]Endpoint{{tcp("a", 1)}}, "tcp://a:1"},
		{"port 65535", "tcp://a:65535", [][]Endpoint{{tcp("a", 65535)}}, "tcp://a:65535"},
		{"leading zero port", "tcp://a:07222", [][]Endpoint{{tcp("a", 7222)}}, "tcp://a:7222"},
		{"underscore host", "tcp://my_host-1:1", [][]Endpoint{{tcp("my_host-1", 1)}}, "tcp://my_host-1:1"},
		{"numeric host label", "tcp://1234:5", [][]Endpoint{{tcp("1234", 5)}}, "tcp://1234:5"},
		{"same host two ports", "tcp://a:1,tcp://a:2", [][]Endpoint{{tcp("a", 1), tcp("a", 2)}}, "tcp://a:1,tcp://a:2"},
		{"max length", longList(MaxListLength), nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if tt.want != nil && !reflect.DeepEqual(l.Groups, tt.want) {
				t.Errorf("Parse(%q).Groups = %v, want %v", tt.in, l.Groups, tt.want)
			}
			if tt.str != "" && l.String() != tt.str {
				t.Errorf("String() = %q, want %q", l.String(), tt.str)
			}
			again, err := Parse(l.String())
			if err != nil || !reflect.DeepEqual(again, l) {
				t.Errorf("round trip of %q: %v, %v", l.String(), again, err)
			}
		})
	}
}

// longList returns a valid list of exactly n bytes (n >= 20).
func longList(n int) string {
	var b strings.Builder
	for i := 0; ; i++ {
		u := fmt.Sprintf("tcp://h%d:%d", i, 1000+i)
		if b.Len() > 0 {
			u = "," + u
		}
		if b.Len()+len(u) > n-20 {
			break
		}
		b.WriteString(u)
	}
	last := ",tcp://z"
	pad := n - b.Len() - len(last) - len(":1")
	b.WriteString(last + strings.Repeat("z", pad) + ":1")
	return b.String()
}

func TestParseInvalid(t *testing.T) {
	long := longList(MaxListLength + 1)
	if n := len(longList(MaxListLength)); n != MaxListLength {
		t.Fatalf("longList(%d) has %d bytes", MaxListLength, n)
	}
	tests := []struct {
		name    string
		in      string
		offset  int
		element string
		msg     string // substring of Msg
	}{
		{"empty", "", 0, "", "empty"},
		{"blank", "  \t ", 0, "", "empty"},
		{"too long", long, 0, "", "1001 bytes, longer than the maximum of 1000"},
		{"empty middle", "tcp://a:1,,tcp://b:2", 10, "", "empty URL"},
		{"trailing comma", "tcp://a:1,", 10, "", "empty URL"},
		{"leading comma", ",tcp://a:1", 0, "", "empty URL"},
		{"leading bar", "|tcp://a:1", 0, "", "empty URL"},
		{"trailing bar", "tcp://a:1|", 10, "", "empty URL"},
		{"empty group", "tcp://a:1||tcp://b:1", 10, "", "empty URL"},
		{"blank element", "tcp://a:1,  ,tcp://b:1", 12, "", "empty URL"},
		{"port not number", "tcp://b:1,  tcp://a:x", 12, "tcp://a:x", `port "x" is not a number`},
		{"port empty", "tcp://a:", 0, "tcp://a:", "port is empty"},
		{"port zero", "tcp://a:0", 0, "tcp://a:0", "out of range"},
		{"port too big", "tcp://a:65536", 0, "tcp://a:65536", "out of range"},
		{"port huge", "tcp://a:99999999999999999999999", 0, "tcp://a:99999999999999999999999", "out of range"},
		{"port negative", "tcp://a:-1", 0, "tcp://a:-1", "not a number"},
		{"port plus is a+b", "tcp://a:+1", 0, "tcp://a:+1", "not supported"},
		{"port required", "tcp://a", 0, "tcp://a", "port is required"},
		{"ipv6 port required", "tcp://[::1]", 0, "tcp://[::1]", "port is required"},
		{"ipv6 unbracketed", "tcp://::1:61613", 0, "tcp://::1:61613", "must be in brackets"},
		{"ipv6 unclosed", "tcp://[::1:61613", 0, "tcp://[::1:61613", "missing ']'"},
		{"ipv6 junk after", "tcp://[::1]x:1", 0, "tcp://[::1]x:1", "after the IPv6 address"},
		{"ipv4 in brackets", "tcp://[127.0.0.1]:1", 0, "tcp://[127.0.0.1]:1", "not an IPv6 address"},
		{"bad ipv6", "tcp://[zz::1]:1", 0, "tcp://[zz::1]:1", "not an IPv6 address"},
		{"bad zone", "tcp://[fe80::1%e*0]:1", 0, "tcp://[fe80::1%e*0]:1", "zone"},
		{"bad ipv4", "tcp://1.2.3:4", 0, "tcp://1.2.3:4", "not a valid IPv4"},
		{"ipv4 out of range", "tcp://256.1.1.1:4", 0, "tcp://256.1.1.1:4", "not a valid IPv4"},
		{"no scheme", "localhost:7222", 0, "localhost:7222", "missing scheme"},
		{"bad scheme", "http://a:1", 0, "http://a:1", `scheme "http" is not supported`},
		{"empty scheme", "://a:1", 0, "://a:1", `scheme "" is not supported`},
		{"mixed schemes", "tcp://a:1,ssl://b:2", 10, "ssl://b:2", "cannot be mixed"},
		{"mixed across groups", "ssl://a:1|tcp://b:2", 10, "tcp://b:2", "cannot be mixed"},
		{"duplicate", "tcp://a:1,tcp://A:01", 10, "tcp://A:01", "more than once"},
		{"duplicate across groups", "tcp://7222|tcp://localhost:7222", 11, "tcp://localhost:7222", "more than once"},
		{"empty host", "tcp://:7222", 0, "tcp://:7222", "host is empty"},
		{"nothing after scheme", "tcp://", 0, "tcp://", "missing"},
		{"path", "tcp://a:1/queue", 0, "tcp://a:1/queue", "path, query or fragment"},
		{"trailing slash", "tcp://a:1/", 0, "tcp://a:1/", "path, query or fragment"},
		{"query", "tcp://a:1?x=1", 0, "tcp://a:1?x=1", "path, query or fragment"},
		{"fragment", "tcp://a:1#x", 0, "tcp://a:1#x", "path, query or fragment"},
		{"unshared state", "tcp://a:1+tcp://b:2", 0, "tcp://a:1+tcp://b:2", "unshared-state failover (a+b) is not supported"},
		{"unshared state later", "tcp://c:1,tcp://a:1+tcp://b:2", 10, "tcp://a:1+tcp://b:2", "not supported"},
		{"space in host", "tcp://a b:1", 0, "tcp://a b:1", `contains " "`},
		{"unicode host", "tcp://é:1", 0, "tcp://é:1", "only letters"},
		{"empty label", "tcp://a..b:1", 0, "tcp://a..b:1", "empty label"},
		{"trailing dot", "tcp://a.:1", 0, "tcp://a.:1", "empty label"},
		{"dash label", "tcp://-a:1", 0, "tcp://-a:1", "'-'"},
		{"long label", "tcp://" + strings.Repeat("x", 64) + ":1", 0, "tcp://" + strings.Repeat("x", 64) + ":1", "longer than 63"},
		{"userinfo", "tcp://user:secret@a:1", 0, "tcp://******@a:1", "user information"},
		{"userinfo later", "tcp://b:1, tcp://user:secret@a:1", 11, "tcp://******@a:1", "user information"},
		{"userinfo with separators", "tcp://u:se,cr|et@a:1", 0, "tcp://******@a:1", "user information"},
		{"userinfo with at", "tcp://u:se@cret@a:1", 0, "tcp://******@a:1", "user information"},
		{"userinfo no scheme", "u:secret@a:1", 0, "******@a:1", "user information"},
		{"userinfo then bad", "tcp://u:secret@a:x", 0, "tcp://******@a:x", "user information"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %v, want error", tt.in, l)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not *ParseError", err)
			}
			if pe.Offset != tt.offset || pe.Element != tt.element || !strings.Contains(pe.Msg, tt.msg) {
				t.Errorf("Parse(%q) error = {Offset:%d Element:%q Msg:%q}, want {%d %q ~%q}",
					tt.in, pe.Offset, pe.Element, pe.Msg, tt.offset, tt.element, tt.msg)
			}
			text := err.Error()
			if !strings.HasPrefix(text, "url list: ") {
				t.Errorf("error %q lacks prefix", text)
			}
			if tt.element != "" || strings.Contains(tt.msg, "empty URL") {
				want := fmt.Sprintf("element %q at offset %d: ", tt.element, tt.offset)
				if !strings.Contains(text, want) {
					t.Errorf("error %q does not contain %q", text, want)
				}
			}
			for _, shown := range []string{text, fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err), pe.Input, pe.Element} {
				if strings.Contains(shown, "secret") || strings.Contains(shown, "cret") {
					t.Errorf("password shown: %q", shown)
				}
			}
		})
	}
}

func TestParseErrorText(t *testing.T) {
	_, err := Parse("tcp://b:1, tcp://a:x")
	want := `url list: element "tcp://a:x" at offset 11: port "x" is not a number`
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v, want %s", err, want)
	}
	_, err = Parse("")
	if err == nil || err.Error() != "url list: empty (at least one URL such as tcp://localhost:7222 is required)" {
		t.Fatalf("error = %v", err)
	}
}

func TestParseUserinfoInputRedacted(t *testing.T) {
	_, err := Parse("tcp://x:1,tcp://u:p1ss@a:1|tcp://v:p2ss@b:2")
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v", err)
	}
	want := "tcp://x:1,tcp://******@a:1|tcp://******@b:2"
	if pe.Input != want {
		t.Errorf("Input = %q, want %q", pe.Input, want)
	}
	if pe.Offset != 10 || pe.Element != "tcp://******@a:1" {
		t.Errorf("Offset, Element = %d, %q", pe.Offset, pe.Element)
	}
}

func TestParseEndpoint(t *testing.T) {
	tests := []struct {
		in   string
		want Endpoint
		err  string
	}{
		{"tcp://a:1", tcp("a", 1), ""},
		{" SSL://7243 ", ssl(DefaultHost, 7243), ""},
		{"tcp://[::1]:2", tcp("::1", 2), ""},
		{"tcp://a:1,tcp://b:2", Endpoint{}, "single URL"},
		{"tcp://a:1|tcp://b:2", Endpoint{}, "single URL"},
		{"tcp://a", Endpoint{}, "port is required"},
		{"", Endpoint{}, "empty"},
		{"tcp://u:pw@a:1", Endpoint{}, "user information"},
	}
	for _, tt := range tests {
		got, err := ParseEndpoint(tt.in)
		if tt.err == "" {
			if err != nil || got != tt.want {
				t.Errorf("ParseEndpoint(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
			continue
		}
		var pe *ParseError
		if !errors.As(err, &pe) || !strings.Contains(pe.Msg, tt.err) {
			t.Errorf("ParseEndpoint(%q) error = %v, want ~%q", tt.in, err, tt.err)
		}
	}
}

func TestListMethods(t *testing.T) {
	l, err := Parse("ssl://a:1,ssl://b:2|ssl://c:3")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := l.Endpoints(), []Endpoint{ssl("a", 1), ssl("b", 2), ssl("c", 3)}; !reflect.DeepEqual(got, want) {
		t.Errorf("Endpoints() = %v, want %v", got, want)
	}
	if l.Scheme() != SchemeSSL {
		t.Errorf("Scheme() = %q", l.Scheme())
	}
	if got := tcp("::1", 5).Address(); got != "[::1]:5" {
		t.Errorf("Address() = %q", got)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"tcp://a:7222", "tcp://a:1,tcp://b:2|tcp://c:3", "ssl://7243", "tcp://[::1]:61613",
		"tcp://[fe80::1%eth0]:1", " TCP://Host:07 ", "tcp://a:1,,", "tcp://u:p@a:1", "a+b", "|",
		"tcp://1.2.3.4:5", "tcp://[::ffff:1.2.3.4]:1", "tcp://a:1/x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if e, err := ParseEndpoint(s); err == nil {
			if l, err := Parse(s); err != nil || len(l.Groups) != 1 || len(l.Groups[0]) != 1 || l.Groups[0][0] != e {
				t.Fatalf("ParseEndpoint(%q) = %v but Parse = %v, %v", s, e, l, err)
			}
		}
		l, err := Parse(s)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not *ParseError", err)
			}
			if pe.Offset < 0 || pe.Offset > len(s) {
				t.Fatalf("offset %d outside input of %d bytes", pe.Offset, len(s))
			}
			// Without user information nothing is redacted, so the
			// element must be found verbatim at its offset.
			if !strings.Contains(s, "@") && !strings.HasPrefix(s[pe.Offset:], pe.Element) {
				t.Fatalf("Parse(%q): element %q is not at offset %d", s, pe.Element, pe.Offset)
			}
			if !strings.HasPrefix(err.Error(), "url list: ") {
				t.Fatalf("error text %q", err.Error())
			}
			return
		}
		if len(l.Groups) == 0 {
			t.Fatalf("Parse(%q) succeeded with no groups", s)
		}
		for _, g := range l.Groups {
			if len(g) == 0 {
				t.Fatalf("Parse(%q) gave an empty group", s)
			}
			for _, e := range g {
				if e.Scheme != l.Scheme() || e.Port < 1 || e.Port > 65535 || e.Host == "" {
					t.Fatalf("Parse(%q) gave bad endpoint %#v", s, e)
				}
				if back, err := ParseEndpoint(e.String()); err != nil || back != e {
					t.Fatalf("endpoint %#v does not round-trip: %v, %v", e, back, err)
				}
			}
		}
		str := l.String()
		if len(str) > MaxListLength {
			// Normalising can lengthen a list (tcp://1 becomes
			// tcp://localhost:1) past the limit; that is the only
			// reason a normalised list may fail to parse.
			return
		}
		again, err := Parse(str)
		if err != nil {
			t.Fatalf("Parse(%q) = %v; reparse of %q: %v", s, l, str, err)
		}
		if !reflect.DeepEqual(again, l) {
			t.Fatalf("round trip: Parse(%q) = %#v, Parse(%q) = %#v", s, l, str, again)
		}
	})
}
