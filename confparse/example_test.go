package confparse_test

import (
	"errors"
	"fmt"

	"github.com/stompft/stompft/confparse"
)

func ExampleParse() {
	conf := `
# A fault-tolerant pair in native EMS syntax.
[FTQueueConnectionFactory]
  type                    = queue
  url                     = tcp://127.0.0.1:61613,tcp://127.0.0.1:61614
  reconnect_attempt_count = -1
  reconnect_attempt_delay = 1.5s
  login                   = app
  passcode                = secret
`
	cfg, err := confparse.Parse("factories.conf", []byte(conf))
	if err != nil {
		fmt.Println(err)
		return
	}
	f, _ := cfg.Factory("FTQueueConnectionFactory")
	fmt.Println(f)
	for _, e := range f.URLs.Endpoints() {
		fmt.Println(e)
	}
	fmt.Printf("connect %+v, reconnect %+v\n", f.Connect, f.Reconnect)
	// Output:
	// [FTQueueConnectionFactory] type=queue url=tcp://127.0.0.1:61613,tcp://127.0.0.1:61614 login="app" passcode=******
	// tcp://127.0.0.1:61613
	// tcp://127.0.0.1:61614
	// connect {Count:2 Delay:500ms Timeout:10s}, reconnect {Count:-1 Delay:1.5s Timeout:10s}
}

func ExampleParse_errors() {
	conf := `[QueueConnectionFactory]
  type = queue
  url  = tcp://127.0.0.1:61613
  reconnect_attempt_delay = 5x
  reconect_attempt_count  = 5
[QueueConnectionFactory]
  type = topic
`
	_, err := confparse.Parse("factories.conf", []byte(conf))
	fmt.Println(err)
	var pe *confparse.ParseError
	if errors.As(err, &pe) {
		fmt.Printf("first: line %d, column %d, factory %s, key %s\n", pe.Line, pe.Col, pe.Factory, pe.Key)
	}
	// Output:
	// factories.conf:4:3: reconnect_attempt_delay: "5x" is not a duration (milliseconds, or a Go duration such as 500ms)
	// factories.conf:5:3: unknown key; did you mean reconnect_attempt_count?
	// factories.conf:6:1: duplicate factory [QueueConnectionFactory]: defined on lines 1 and 6
	// first: line 4, column 3, factory QueueConnectionFactory, key reconnect_attempt_delay
}

func ExampleSecret() {
	s := confparse.Secret("hunter2")
	fmt.Printf("%v %s %d %q %#v\n", s, s, s, s, s)
	fmt.Println(s.Reveal())
	// Output:
	// ****** ****** ****** ****** confparse.Secret("******")
	// hunter2
}

// ParseCipherSuites reads ssl_ciphers the way EMS writes it (OpenSSL
// names, ':'-separated) or with Go's names; the parser calls it for
// ssl_ciphers and reports a bad list at its file:line.
func ExampleParseCipherSuites() {
	ids, err := confparse.ParseCipherSuites("ECDHE-RSA-AES128-GCM-SHA256:TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384")
	fmt.Printf("%#04x %v\n", ids, err)
	_, err = confparse.ParseCipherSuites("DES-CBC3-SHA")
	fmt.Println(err)
	// Output:
	// [0xc02f 0xc02c] <nil>
	// cipher suite "DES-CBC3-SHA" (TLS_RSA_WITH_3DES_EDE_CBC_SHA) is insecure and not offered
}
