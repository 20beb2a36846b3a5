package attempts

import (
	"errors"
	"strings"
)

// Permanent marks err as permanent: retrying it cannot help (an ERROR frame
// answering CONNECT, such as bad credentials; a TLS certificate rejection),
// so a walk must stop at once instead of cycling through every attempt.
// Permanent(nil) is nil. The mark survives further wrapping with %w.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

// IsPermanent reports whether err, or any error it wraps, was marked with
// Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

type permanentError struct{ err error }

func (p *permanentError) Error() string { return p.err.Error() }
func (p *permanentError) Unwrap() error { return p.err }

// AttemptError is one failed attempt to one URL. URL must already be
// redacted (no passcode); it is printed as given.
type AttemptError struct {
	URL string
	Err error
}

// Error renders "URL: cause".
func (e AttemptError) Error() string {
	cause := "<nil>"
	if e.Err != nil {
		cause = e.Err.Error()
	}
	return e.URL + ": " + cause
}

// Unwrap returns the cause.
func (e AttemptError) Unwrap() error { return e.Err }

// WalkError is a failed walk: every URL tried, in order, and why it failed.
type WalkError struct {
	Attempts []AttemptError
}

// Add appends one failed attempt.
func (w *WalkError) Add(url string, err error) {
	w.Attempts = append(w.Attempts, AttemptError{URL: url, Err: err})
}

// Error lists each attempt as "URL: cause", separated by "; ".
func (w *WalkError) Error() string {
	if len(w.Attempts) == 0 {
		return "attempts: no attempt made"
	}
	parts := make([]string, len(w.Attempts))
	for i, a := range w.Attempts {
		parts[i] = a.Error()
	}
	return "attempts: all attempts failed: " + strings.Join(parts, "; ")
}

// Unwrap returns every cause, so errors.Is and errors.As (and IsPermanent)
// see each attempt's error.
func (w *WalkError) Unwrap() []error {
	out := make([]error, len(w.Attempts))
	for i, a := range w.Attempts {
		out[i] = a
	}
	return out
}
