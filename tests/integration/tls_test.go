package integration

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3"

	"github.com/stompft/stompft/factory"
	"github.com/stompft/stompft/internal/embedded"
	"github.com/stompft/stompft/tests/faultproxy"
)

// Scenario 7: ssl:// URLs against a TLS-terminating listener the test runs
// in front of an embedded broker, with a CA made for the test.

// testCA is a throw-away certificate authority.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

var serial atomic.Int64

func newCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial.Add(1)),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// file writes the CA certificate (PEM) into dir and returns its path.
func (ca *testCA) file(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, strings.ReplaceAll(ca.cert.Subject.CommonName, " ", "-")+".pem")
	if err := os.WriteFile(path, ca.pem, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// serverCert issues a certificate for 127.0.0.1 (IP SAN), as a broker's.
func (ca *testCA) serverCert(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial.Add(1)),
		Subject:      pkix.Name{CommonName: "stompft test broker"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der, ca.cert.Raw}, PrivateKey: key}
}

// tlsFront terminates TLS on 127.0.0.1:0 and forwards the plain bytes to
// a broker, like stunnel or a broker's ssl transport.
type tlsFront struct {
	ln         net.Listener
	target     string
	handshakes atomic.Int64 // completed TLS handshakes

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func newTLSFront(t *testing.T, cert tls.Certificate, target string) *tlsFront {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	fr := &tlsFront{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	fr.wg.Add(1)
	go fr.accept()
	t.Cleanup(fr.close)
	return fr
}

func (fr *tlsFront) url() string { return "ssl://" + fr.ln.Addr().String() }

func (fr *tlsFront) track(c net.Conn) bool {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	if fr.conns == nil {
		return false
	}
	fr.conns[c] = struct{}{}
	return true
}

func (fr *tlsFront) accept() {
	defer fr.wg.Done()
	for {
		c, err := fr.ln.Accept()
		if err != nil {
			return
		}
		if !fr.track(c) {
			_ = c.Close()
			return
		}
		fr.wg.Add(1)
		go fr.serve(c.(*tls.Conn))
	}
}

func (fr *tlsFront) serve(c *tls.Conn) {
	defer fr.wg.Done()
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	err := c.HandshakeContext(ctx)
	cancel()
	if err != nil {
		return
	}
	fr.handshakes.Add(1)
	b, err := net.DialTimeout("tcp", fr.target, 5*time.Second)
	if err != nil {
		return
	}
	if !fr.track(b) {
		_ = b.Close()
		return
	}
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go pipe(b, c)
	go pipe(c, b)
	<-done
	_ = b.Close()
	_ = c.Close()
	<-done
}

func (fr *tlsFront) close() {
	_ = fr.ln.Close()
	fr.mu.Lock()
	for c := range fr.conns {
		_ = c.Close()
	}
	fr.conns = nil
	fr.mu.Unlock()
	fr.wg.Wait()
}

// TestTLSVerifiedConnect: the broker's certificate chains to the CA named
// by ssl_trusted and carries 127.0.0.1: connect, send and receive over TLS.
func TestTLSVerifiedConnect(t *testing.T) {
	verifyNoLeaks(t)
	ca := newCA(t, "stompft test CA")
	b := broker(t, embedded.Options{})
	fr := newTLSFront(t, ca.serverCert(t), b.Addr())
	f, _ := load(t, section("TLS", fr.url(),
		"ssl_trusted = "+ca.file(t, t.TempDir()), "connect_attempt_count = 1", "connect_attempt_timeout = 5000"))
	c := connect(t, f, "TLS", waitLimit)
	if got := c.CurrentURL(); got != fr.url() {
		t.Fatalf("connected to %q, want %q", got, fr.url())
	}
	q := uniqueQueue(t)
	sub, err := c.Subscribe(q, stomp.AckAuto)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Send(q, "text/plain", []byte("over TLS"), stomp.SendOpt.Receipt); err != nil {
		t.Fatal(err)
	}
	if m := receive(t, sub, waitLimit); string(m.Body) != "over TLS" {
		t.Fatalf("got %q", m.Body)
	}
	if n := fr.handshakes.Load(); n != 1 {
		t.Fatalf("%d TLS handshakes, want 1", n)
	}
	info, _ := c.ServerInfo()
	t.Logf("connected over TLS to %s (%s, STOMP %s)", c.CurrentURL(), info.Server, info.Version)
}

// TestTLSUnknownCA: the certificate does not chain to ssl_trusted. That is
// permanent: the walk stops at the first URL, no retry, no second URL.
func TestTLSUnknownCA(t *testing.T) {
	verifyNoLeaks(t)
	ca := newCA(t, "stompft test CA")
	other := newCA(t, "some other CA")
	b := broker(t, embedded.Options{})
	fr := newTLSFront(t, ca.serverCert(t), b.Addr())
	fr2 := newTLSFront(t, ca.serverCert(t), b.Addr())
	f, _ := load(t, section("TLS", fr.url()+","+fr2.url(),
		"ssl_trusted = "+other.file(t, t.TempDir()),
		"connect_attempt_count = 5", "connect_attempt_delay = 10", "connect_attempt_timeout = 5000"))
	ce := connectErr(t, f, "TLS")
	if !ce.Permanent || ce.Passes != 1 || len(ce.Errors) != 1 || ce.Errors[0].URL != fr.url() {
		t.Fatalf("permanent=%v passes=%d errors=%d; want true, 1, 1 (first URL only): %v", ce.Permanent, ce.Passes, len(ce.Errors), ce)
	}
	var ua x509.UnknownAuthorityError
	if !errors.As(ce, &ua) {
		t.Fatalf("error %v does not wrap x509.UnknownAuthorityError", ce)
	}
	if fr.handshakes.Load() != 0 || fr2.handshakes.Load() != 0 {
		t.Fatalf("handshakes completed: %d, %d; want none", fr.handshakes.Load(), fr2.handshakes.Load())
	}
	t.Logf("unknown CA: %v", ce)
}

// TestTLSPlainListenerOnTLSPort: the ssl:// URL's port accepts TCP and
// never answers the ClientHello. The handshake times out within the attempt
// timeout (retryable), and the walk goes on to the next URL.
func TestTLSPlainListenerOnTLSPort(t *testing.T) {
	verifyNoLeaks(t)
	ca := newCA(t, "stompft test CA")
	b := broker(t, embedded.Options{})
	fr := newTLSFront(t, ca.serverCert(t), b.Addr())
	mute, err := faultproxy.New(b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer mute.Close()
	if err := mute.SetMode(faultproxy.AcceptNoAnswer); err != nil {
		t.Fatal(err)
	}
	muteURL := "ssl://" + mute.Addr()
	trusted := "ssl_trusted = " + ca.file(t, t.TempDir())
	obs := newAttemptLog()
	f, _ := load(t,
		section("Mute", muteURL, trusted, "connect_attempt_count = 1", "connect_attempt_timeout = 1000")+
			section("MuteThenTLS", muteURL+","+fr.url(), trusted, "connect_attempt_count = 2", "connect_attempt_timeout = 1000"),
		factory.WithObserver(obs))

	ce := connectErr(t, f, "Mute")
	if ce.Permanent || len(ce.Errors) != 1 || !errors.Is(ce.Errors[0].Err, context.DeadlineExceeded) ||
		!strings.Contains(ce.Errors[0].Err.Error(), "TLS handshake") {
		t.Fatalf("want one retryable TLS handshake timeout, got %v", ce)
	}
	t.Logf("plain listener on the TLS port: %v", ce)

	before := obs.count(muteURL)
	c := connect(t, f, "MuteThenTLS", waitLimit)
	if got := c.CurrentURL(); got != fr.url() {
		t.Fatalf("connected to %q, want the next URL %q", got, fr.url())
	}
	if n := obs.count(muteURL) - before; n != 1 {
		t.Fatalf("the mute URL failed %d times in this walk, want 1", n)
	}
	if got := mute.Accepted(); got != 2 {
		t.Fatalf("the mute listener accepted %d connections, want 2", got)
	}
}
