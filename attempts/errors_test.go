package attempts_test

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/stompft/stompft/attempts"
)

func TestPermanent(t *testing.T) {
	base := errors.New("ERROR frame: bad credentials")
	p := attempts.Permanent(base)
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"plain", io.EOF, false},
		{"marked", p, true},
		{"wrapped after marking", fmt.Errorf("dial tcp://b:61613: %w", p), true},
		{"joined", errors.Join(io.EOF, p), true},
		{"inside a walk error", &attempts.WalkError{Attempts: []attempts.AttemptError{{URL: "tcp://a:1", Err: io.EOF}, {URL: "tcp://b:2", Err: p}}}, true},
	}
	for _, tc := range tests {
		if got := attempts.IsPermanent(tc.err); got != tc.want {
			t.Errorf("%s: IsPermanent = %v, want %v", tc.name, got, tc.want)
		}
	}
	if attempts.Permanent(nil) != nil {
		t.Error("Permanent(nil) != nil")
	}
	if !errors.Is(p, base) || p.Error() != base.Error() {
		t.Errorf("Permanent hides its cause: %v", p)
	}
}

func TestWalkError(t *testing.T) {
	var w attempts.WalkError
	if !strings.Contains(w.Error(), "no attempt") {
		t.Errorf("empty WalkError = %q", w.Error())
	}
	w.Add("tcp://primary:61613", io.ErrUnexpectedEOF)
	w.Add("tcp://backup:61613", attempts.Permanent(errors.New("ERROR: login failed")))
	want := "attempts: all attempts failed: tcp://primary:61613: unexpected EOF; tcp://backup:61613: ERROR: login failed"
	if w.Error() != want {
		t.Errorf("Error() = %q\nwant      %q", w.Error(), want)
	}
	if !errors.Is(&w, io.ErrUnexpectedEOF) || !attempts.IsPermanent(&w) {
		t.Error("WalkError does not unwrap to each cause")
	}
	var ae attempts.AttemptError
	if !errors.As(&w, &ae) || ae.URL != "tcp://primary:61613" {
		t.Errorf("errors.As AttemptError = %+v", ae)
	}
	if got := (attempts.AttemptError{URL: "u"}).Error(); got != "u: <nil>" {
		t.Errorf("AttemptError with nil cause = %q", got)
	}
}
