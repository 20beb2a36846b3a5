package session

import (
	"bytes"
	"errors"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/go-stomp/stomp/v3/frame"
)

// readAll reads frames until the first error; nil entries are heart-beats.
func readAll(read func() (*frame.Frame, error)) ([]*frame.Frame, error) {
	var out []*frame.Frame
	for {
		f, err := read()
		if err != nil {
			return out, err
		}
		out = append(out, f)
	}
}

func sameFrame(a, b *frame.Frame) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	if a.Command != b.Command || !bytes.Equal(a.Body, b.Body) || a.Header.Len() != b.Header.Len() {
		return false
	}
	for i := 0; i < a.Header.Len(); i++ {
		ak, av := a.Header.GetAt(i)
		bk, bv := b.Header.GetAt(i)
		if ak != bk || av != bv {
			return false
		}
	}
	return true
}

// oneByteReader hands out one byte per Read: every code path that spans
// buffer refills is taken.
type oneByteReader struct{ r io.Reader }

func (o oneByteReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return o.r.Read(p[:1])
}

// compareWithGoStomp reads data with go-stomp's reader and with the
// session's (large limits, whole and byte by byte): the frames read before
// the first error must be the same, and both must fail or succeed alike.
func compareWithGoStomp(t *testing.T, data []byte) {
	t.Helper()
	// go-stomp allocates whatever content-length says: keep it to sizes
	// the input could hold (the limit itself is tested elsewhere).
	for _, m := range contentLengthRE.FindAllSubmatch(data, -1) {
		if n, err := strconv.ParseUint(string(m[1]), 10, 64); err == nil && n > uint64(len(data)) {
			return
		}
	}
	want, werr := readAll(frame.NewReader(bytes.NewReader(data)).Read)
	big := Limits{MaxFrameSize: 1 << 30, MaxHeaderLength: 1 << 30, MaxHeaders: 1 << 30, MaxHeaderBytes: 1 << 30}
	for _, src := range []io.Reader{bytes.NewReader(data), oneByteReader{bytes.NewReader(data)}} {
		got, gerr := readAll(newFrameReader(src, big, "").Read)
		if len(got) != len(want) {
			t.Fatalf("%q: %d frames, go-stomp %d (errors %v / %v)", data, len(got), len(want), gerr, werr)
		}
		for i := range got {
			if !sameFrame(got[i], want[i]) {
				t.Fatalf("%q: frame %d = %+v, go-stomp %+v", data, i, got[i], want[i])
			}
		}
		// Running out of input and a malformed frame are told apart alike
		// (go-stomp says EOF where a frame is cut short; this reader says
		// ErrUnexpectedEOF).
		if outOfInput(gerr) != outOfInput(werr) {
			t.Fatalf("%q: ended with %v, go-stomp with %v", data, gerr, werr)
		}
	}
}

var contentLengthRE = regexp.MustCompile(`content-length:0*([0-9]{1,30})`)

func outOfInput(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

var readerSeeds = []string{
	"",
	"\n",
	"\r\n\n",
	"MESSAGE\ndestination:/queue/a\n\nhello\x00",
	"MESSAGE\ndestination:/queue/a\n\nhello\x00\n\n",
	"MESSAGE\ncontent-length:5\n\nhe\x00lo\x00",
	"MESSAGE\r\ncontent-length:0\r\n\r\n\x00",
	"MESSAGE\nk\\c\\n\\r\\\\:v\\c\\n\\r\\\\\\t\n\n\x00",
	"MESSAGE\nk:v1\nk:v2\n\n\x00RECEIPT\nreceipt-id:7\n\n\x00",
	"CONNECTED\nversion:1.2\nheart-beat:1000,1000\n\n\x00\n",
	"ERROR\nmessage:bad\ncontent-length:3\n\nabc\x00",
	"MESSAGE\ncontent-length:3\n\nabcd\x00",
	"MESSAGE\ncontent-length:x\n\nabc\x00",
	"MESSAGE\ncontent-length:99999999999\n\n\x00",
	"BOGUS\n\n\x00",
	"MESSAGE\n:novalue\n\n\x00",
	"MESSAGE\nnocolon\n\n\x00",
	"MESSAGE\nk:v\n\nno nul",
	"MESSAGE\nk:v",
	"MESSAGE",
}

func TestFrameReaderMatchesGoStomp(t *testing.T) {
	for _, s := range readerSeeds {
		compareWithGoStomp(t, []byte(s))
	}
	// Bodies and lines longer than the read buffer.
	long := strings.Repeat("y", 3*readBufferSize+17)
	compareWithGoStomp(t, []byte("MESSAGE\nlong:"+long+"\n\n"+long+"\x00"))
	compareWithGoStomp(t, []byte("MESSAGE\ncontent-length:"+strconv.Itoa(len(long))+"\n\n"+long+"\x00\n"))
}

// FuzzFrameReader: on any input, the session's reader reads what go-stomp's
// reader reads (same frames, same place of failure).
func FuzzFrameReader(f *testing.F) {
	for _, s := range readerSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { compareWithGoStomp(t, data) })
}

func TestFrameReaderLimits(t *testing.T) {
	lim := Limits{MaxFrameSize: 100, MaxHeaderLength: 50, MaxHeaders: 5, MaxHeaderBytes: 200}
	h := func(n int) string { // n headers of 20 bytes
		return strings.Repeat("k:"+strings.Repeat("v", 17)+"\n", n)
	}
	for _, tc := range []struct {
		name, data, limit string
		ok                bool
	}{
		{"body at the limit", "MESSAGE\ncontent-length:100\n\n" + strings.Repeat("b", 100) + "\x00", "", true},
		{"content-length over", "MESSAGE\ncontent-length:101\n\n", LimitFrameSize, false},
		{"content-length 4 GiB", "MESSAGE\ncontent-length:4294967295\n\n", LimitFrameSize, false},
		{"NUL body at the limit", "MESSAGE\n\n" + strings.Repeat("b", 100) + "\x00", "", true},
		{"NUL body over", "MESSAGE\n\n" + strings.Repeat("b", 101), LimitFrameSize, false},
		{"line at the limit", "MESSAGE\nk:" + strings.Repeat("v", 48) + "\r\n\n\x00", "", true},
		{"line over", "MESSAGE\nk:" + strings.Repeat("v", 50), LimitHeaderLength, false},
		{"line over with its EOL", "MESSAGE\nk:" + strings.Repeat("v", 49) + "\r\n", LimitHeaderLength, false},
		{"command line over", strings.Repeat("M", 52), LimitHeaderLength, false},
		{"headers at the limit", "MESSAGE\n" + h(5) + "\n\x00", "", true},
		{"headers over", "MESSAGE\n" + h(6) + "\n\x00", LimitHeaders, false},
		{"head bytes over", "CONNECTED\n" + strings.Repeat("k:"+strings.Repeat("v", 45)+"\n", 5), LimitHeaderBytes, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fr := newFrameReader(oneByteReader{strings.NewReader(tc.data)}, lim, "tcp://b:61613")
			f, err := fr.Read()
			if tc.ok {
				if err != nil || f == nil {
					t.Fatalf("got %v, %v", f, err)
				}
				return
			}
			var le *LimitError
			if !errors.As(err, &le) || le.Limit != tc.limit {
				t.Fatalf("want a %s LimitError, got %v", tc.limit, err)
			}
			if !strings.Contains(err.Error(), tc.limit) || !strings.Contains(err.Error(), "tcp://b:61613") {
				t.Fatalf("error %q names neither the limit nor the URL", err)
			}
		})
	}
}

// A hostile content-length is refused before anything is allocated for it.
func TestHugeContentLengthDoesNotAllocate(t *testing.T) {
	data := []byte("MESSAGE\ncontent-length:4294967295\n\n")
	allocs := testing.AllocsPerRun(10, func() {
		fr := newFrameReader(bytes.NewReader(data), Limits{}, "")
		fr.buf = fr.buf[:256] // the buffer is not what is measured
		if _, err := fr.Read(); err == nil {
			t.Fatal("no error")
		}
	})
	var ms1, ms2 runtimeMem
	ms1.read()
	fr := newFrameReader(bytes.NewReader(data), Limits{}, "")
	_, err := fr.Read()
	ms2.read()
	var le *LimitError
	if !errors.As(err, &le) || le.Limit != LimitFrameSize || le.Max != DefaultMaxFrameSize {
		t.Fatalf("got %v", err)
	}
	if d := ms2.total - ms1.total; d > 1<<20 {
		t.Fatalf("allocated %d bytes for a refused content-length (%v allocs/run)", d, allocs)
	}
}
