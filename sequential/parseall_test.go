package sequential

import (
	"strings"
	"testing"
)

// TestParseAllReportsEveryBadURL: one run lists every problem of a list,
// in input order, each at its own offset; Parse still stops at the first.
func TestParseAllReportsEveryBadURL(t *testing.T) {
	in := "tcp://a:61613,ftp://b:1, ssl://c:61614|tcp://a:61613,tcp://d:x"
	l, errs := ParseAll(in)
	if l != nil {
		t.Errorf("list %v despite errors", l)
	}
	want := []struct {
		off  int
		elem string
		msg  string
	}{
		{14, "ftp://b:1", `scheme "ftp" is not supported`},
		{25, "ssl://c:61614", `differs from the list's scheme "tcp"`},
		{39, "tcp://a:61613", "appears more than once"},
		{53, "tcp://d:x", `port "x"`},
	}
	if len(errs) != len(want) {
		t.Fatalf("%d errors, want %d: %v", len(errs), len(want), errs)
	}
	for i, w := range want {
		e := errs[i]
		if e.Offset != w.off || e.Element != w.elem || !strings.Contains(e.Msg, w.msg) {
			t.Errorf("error %d = %+v, want offset %d, element %q, message with %q", i, *e, w.off, w.elem, w.msg)
		}
		if in[e.Offset:e.Offset+len(e.Element)] != e.Element {
			t.Errorf("error %d: offset %d does not point at %q", i, e.Offset, e.Element)
		}
	}
	if _, err := Parse(in); err == nil || !strings.Contains(err.Error(), "ftp") {
		t.Errorf("Parse: %v, want the first error only", err)
	}
	if l, errs := ParseAll("tcp://a:1,tcp://b:2"); len(errs) != 0 || l.String() != "tcp://a:1,tcp://b:2" {
		t.Errorf("valid list: %v, %v", l, errs)
	}
	// A whole-input error comes alone: the input is not split.
	if _, errs := ParseAll("tcp://u:pw@a:1,ftp://b"); len(errs) != 1 || strings.Contains(errs[0].Error(), "pw") {
		t.Errorf("userinfo: %v", errs)
	}
}
