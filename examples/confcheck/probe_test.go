package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stompft/stompft/internal/embedded"
	"github.com/stompft/stompft/internal/embedded/embeddedtest"
)

func probeBroker(t *testing.T, opts embedded.Options) *embedded.Broker {
	t.Helper()
	opts.Engine = embedded.EngineMini
	return embeddedtest.Start(t, opts)
}

// row returns the table row of url, split on runs of spaces (the error
// column, last, is kept whole).
func row(t *testing.T, out, url string) []string {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, url+" ") {
			f := strings.Fields(l)
			if len(f) > 7 {
				f = append(f[:6:6], strings.Join(f[6:], " "))
			}
			return f
		}
	}
	t.Fatalf("no row for %s in:\n%s", url, out)
	return nil
}

func TestProbeOneUpOneKilled(t *testing.T) {
	up := probeBroker(t, embedded.Options{})
	down := probeBroker(t, embedded.Options{})
	down.Kill()
	path := write(t, "f.conf", "[FT]\n  type = queue\n  url = "+up.URL()+","+down.URL()+"\n  connect_attempt_timeout = 2000\n")

	var stdout, stderr bytes.Buffer
	code := run([]string{"-probe", "FT", path}, &stdout, &stderr)
	out := stdout.String()
	if code != exitOK {
		t.Fatalf("exit %d, want %d (one URL answered)\n%s%s", code, exitOK, out, stderr.String())
	}
	if !strings.Contains(out, "URL  ") || !strings.Contains(out, "REACHABLE") || !strings.Contains(out, "HANDSHAKE") {
		t.Errorf("no table header:\n%s", out)
	}
	r := row(t, out, up.URL())
	want := []string{up.URL(), "yes", "-", "stompft-embedded", "1.2"}
	for i, w := range want {
		if r[i] != w {
			t.Errorf("up row column %d = %q, want %q (row %q)", i, r[i], w, r)
		}
	}
	if len(r) != 7 || !strings.HasSuffix(r[5], "ms") || r[6] != "-" {
		t.Errorf("up row should end with a handshake in ms and no error: %q", r)
	}
	r = row(t, out, down.URL())
	if r[1] != "no" || !strings.Contains(strings.Join(r, " "), "refused") {
		t.Errorf("down row: %q", r)
	}
	// Order is the file's.
	if strings.Index(out, up.URL()) > strings.Index(out, down.URL()) {
		t.Errorf("URLs not in file order:\n%s", out)
	}
	if !strings.Contains(out, "1 of 2 URLs reachable") {
		t.Errorf("no count line:\n%s", out)
	}
}

func TestProbeExitCodes(t *testing.T) {
	down := probeBroker(t, embedded.Options{})
	down.Kill()
	up := probeBroker(t, embedded.Options{})
	path := write(t, "f.conf", "[Down]\n  type = queue\n  url = "+down.URL()+"\n[Up]\n  type = queue\n  url = "+up.URL()+"\n")
	tests := []struct {
		name string
		args []string
		code int
		has  string
	}{
		{"every URL down", []string{"-probe", "Down", path}, exitUnreachable, "0 of 1 URLs reachable"},
		{"up", []string{"-probe", "Up", path}, exitOK, "1 of 1 URLs reachable"},
		{"unknown factory", []string{"-probe", "Nope", path}, exitInvalid, ""},
		{"no file", []string{"-probe", "Up"}, exitUsage, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(tt.args, &stdout, &stderr); code != tt.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tt.code, stdout.String(), stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.has) {
				t.Errorf("stdout lacks %q:\n%s", tt.has, stdout.String())
			}
		})
	}
}

// The probe logs in with the factory's credentials, and a refusal never
// prints the passcode.
func TestProbeCredentials(t *testing.T) {
	b := probeBroker(t, embedded.Options{Login: "app", Passcode: secret})
	tests := []struct {
		name, pass string
		reachable  string
	}{
		{"right passcode", secret, "yes"},
		{"wrong passcode", secret + "-wrong", "no"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := write(t, "f.conf", "[F]\n  type = queue\n  url = "+b.URL()+"\n  login = app\n  passcode = "+tt.pass+"\n")
			var stdout, stderr bytes.Buffer
			run([]string{"-probe", "F", path}, &stdout, &stderr)
			if r := row(t, stdout.String(), b.URL()); r[1] != tt.reachable {
				t.Errorf("reachable = %q, want %q\n%s", r[1], tt.reachable, stdout.String())
			}
			if strings.Contains(stdout.String()+stderr.String(), secret) {
				t.Errorf("passcode printed:\n%s%s", stdout.String(), stderr.String())
			}
		})
	}
}

func TestProbeJSON(t *testing.T) {
	up := probeBroker(t, embedded.Options{})
	down := probeBroker(t, embedded.Options{})
	down.Kill()
	path := write(t, "f.conf", "[FT]\n  type = queue\n  url = "+up.URL()+","+down.URL()+"\n")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-probe", "FT", "-json", path}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
	var doc struct {
		File    string `json:"file"`
		Factory string `json:"factory"`
		URLs    []struct {
			URL         string   `json:"url"`
			Reachable   bool     `json:"reachable"`
			TLS         string   `json:"tls"`
			Server      string   `json:"server"`
			Version     string   `json:"version"`
			HandshakeMS *float64 `json:"handshake_ms"`
			Error       string   `json:"error"`
		} `json:"urls"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &doc); err != nil {
		t.Fatalf("%v\n%s", err, stdout.String())
	}
	if doc.Factory != "FT" || doc.File != path || len(doc.URLs) != 2 {
		t.Fatalf("doc = %+v", doc)
	}
	u, d := doc.URLs[0], doc.URLs[1]
	if u.URL != up.URL() || !u.Reachable || u.Server != "stompft-embedded" || u.Version != "1.2" || u.HandshakeMS == nil || u.Error != "" || u.TLS != "-" {
		t.Errorf("up = %+v", u)
	}
	if d.URL != down.URL() || d.Reachable || d.HandshakeMS != nil || d.Error == "" {
		t.Errorf("down = %+v", d)
	}
}

// TLS: a TLS front for an embedded broker, with a certificate for
// 127.0.0.1 from a CA made here.
func TestProbeTLS(t *testing.T) {
	b := probeBroker(t, embedded.Options{})
	dir := t.TempDir()
	caFile, serverCert := testPKI(t, dir)
	addr := tlsFront(t, serverCert, b.Addr())
	url := "ssl://" + addr
	base := "[S]\n  type = queue\n  url = " + url + "\n  connect_attempt_timeout = 5000\n"
	tests := []struct {
		name      string
		keys      string
		reachable string
		tls       string
	}{
		{"trusted CA", "  ssl_trusted = " + caFile + "\n", "yes", tlsVerified},
		{"host name not checked", "  ssl_trusted = " + caFile + "\n  ssl_verify_hostname = disabled\n", "yes", tlsChainOnly},
		{"verification off", "  ssl_verify_host = disabled\n", "yes", tlsUnverified},
		{"unknown CA", "", "no", tlsRejected},
		{"wrong expected name", "  ssl_trusted = " + caFile + "\n  ssl_expected_hostname = other.example\n", "no", tlsRejected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := write(t, "s.conf", base+tt.keys)
			var stdout, stderr bytes.Buffer
			run([]string{"-probe", "S", path}, &stdout, &stderr)
			r := row(t, stdout.String(), url)
			if r[1] != tt.reachable || r[2] != tt.tls {
				t.Errorf("reachable, tls = %q, %q; want %q, %q\n%s%s", r[1], r[2], tt.reachable, tt.tls, stdout.String(), stderr.String())
			}
		})
	}
}

// testPKI writes a CA certificate to dir and returns its file and a server
// certificate for 127.0.0.1 signed by it.
func testPKI(t *testing.T, dir string) (string, tls.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "probe test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return caFile, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// tlsFront listens with TLS on loopback and relays each connection to
// backend; everything stops at the end of the test.
func tlsFront(t *testing.T, cert tls.Certificate, backend string) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	track := func(c net.Conn) {
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			track(c)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				bc, err := net.Dial("tcp", backend)
				if err != nil {
					return
				}
				track(bc)
				defer bc.Close()
				done := make(chan struct{})
				go func() {
					_, _ = io.Copy(bc, c)
					_ = bc.Close()
					close(done)
				}()
				_, _ = io.Copy(c, bc)
				_ = c.Close()
				<-done
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}
