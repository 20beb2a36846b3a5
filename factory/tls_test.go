package factory

import (
	"context"
	"crypto/tls"
	"encoding/pem"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stompft/stompft/attempts"
	"github.com/stompft/stompft/confparse"
	"github.com/stompft/stompft/sequential"
)

// handshake dials srv and runs a TLS handshake with the configuration
// tlsConfig builds from def, bounded by a deadline.
func handshake(t *testing.T, srv *httptest.Server, def *confparse.Factory) error {
	t.Helper()
	host, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	p, _ := strconv.Atoi(port)
	ep := sequential.Endpoint{Scheme: sequential.SchemeSSL, Host: host, Port: p}
	cfg, err := tlsConfig(nil, def, ep)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	nc, err := (&net.Dialer{}).DialContext(ctx, "tcp", ep.Address())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	return tls.Client(nc, cfg).HandshakeContext(ctx)
}

// TestTLSZeroValueVerifies: a definition built in Go code, without the
// parser, verifies the server's certificate: an untrusted one is refused.
// Trusting it (RootsPEM) or saying InsecureSkipVerify plainly lets it in.
func TestTLSZeroValueVerifies(t *testing.T) {
	defer verifyNoLeaks(t)
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are the point
	srv.StartTLS()
	defer srv.Close()

	def := &confparse.Factory{Name: "Code", Type: "queue"}
	err := handshake(t, srv, def)
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("zero-value SSL: handshake with an untrusted certificate: %v, want a certificate error", err)
	}

	trusted := *def
	trusted.SSL.RootsPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := handshake(t, srv, &trusted); err != nil {
		t.Errorf("trusted certificate (its name is 127.0.0.1): %v", err)
	}

	wrongName := trusted
	wrongName.SSL.ExpectedHostname = "other.example"
	if err := handshake(t, srv, &wrongName); err == nil {
		t.Error("a certificate for another name was accepted")
	}
	wrongName.SSL.SkipHostnameCheck = true
	if err := handshake(t, srv, &wrongName); err != nil {
		t.Errorf("SkipHostnameCheck with a trusted chain: %v", err)
	}

	insecure := *def
	insecure.SSL.InsecureSkipVerify = true
	if err := handshake(t, srv, &insecure); err != nil {
		t.Errorf("InsecureSkipVerify: %v", err)
	}

	// Files named but never read: refused, never read at dial time.
	unread := *def
	unread.SSL.Trusted = []string{"/etc/ssl/certs/ca-certificates.crt"}
	if err := handshake(t, srv, &unread); err == nil || !strings.Contains(err.Error(), "ReadFiles") {
		t.Errorf("unread ssl_trusted: %v", err)
	}
}

// TestTLSConfigInCodeRefusesUntrusted goes through the public path: a
// Config built in Go (no parser, zero SSL) given to New, and a
// CreateConnection to a TLS server whose certificate nothing trusts,
// fails with a certificate error instead of connecting.
func TestTLSConfigInCodeRefusesUntrusted(t *testing.T) {
	defer verifyNoLeaks(t)
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	urls, err := sequential.Parse("ssl://" + srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	params := attempts.Params{Count: 1, Delay: 250 * time.Millisecond, Timeout: 5 * time.Second}
	cfg := &confparse.Config{Factories: []*confparse.Factory{{
		Name: "Code", Type: "queue", URL: urls.String(), URLs: urls,
		Connect: params, Reconnect: params, Metric: sequential.MetricConnections,
		BackoffMultiplier: 1, HeartBeatGrace: 1.5, SendTimeout: time.Second,
		SchedulerMaxConcurrency: 1, SchedulerMaxRate: 10, SchedulerMinRate: 1,
	}}}
	f, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := f.CreateConnectionContext(ctx, "Code")
	if err == nil {
		_ = conn.Close()
		t.Fatal("connected to a server with an untrusted certificate")
	}
	if !IsCertificateError(err) {
		t.Errorf("error %v is not a certificate error", err)
	}
}

// TestTLSCipherSuitesFromParse: the IDs ssl_ciphers selects at parse time
// (OpenSSL names included) are what the handshake offers.
func TestTLSCipherSuitesFromParse(t *testing.T) {
	cfg, err := confparse.Parse("t.conf", []byte("[S]\ntype = queue\nurl = ssl://127.0.0.1:1\nssl_ciphers = ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384\n"))
	if err != nil {
		t.Fatal(err)
	}
	def := cfg.Factories[0]
	tc, err := tlsConfig(nil, def, sequential.Endpoint{Scheme: sequential.SchemeSSL, Host: "127.0.0.1", Port: 1})
	if err != nil {
		t.Fatal(err)
	}
	want := []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384}
	if len(tc.CipherSuites) != 2 || tc.CipherSuites[0] != want[0] || tc.CipherSuites[1] != want[1] || tc.InsecureSkipVerify {
		t.Errorf("CipherSuites %x (want %x), InsecureSkipVerify %v", tc.CipherSuites, want, tc.InsecureSkipVerify)
	}
}
