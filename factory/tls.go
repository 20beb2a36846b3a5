package factory

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/stompft/stompft/confparse"
	"github.com/stompft/stompft/sequential"
)

// tlsConfig applies a factory's ssl_* keys to a clone of base. Host and
// certificate verification are on unless the keys turn them off.
func tlsConfig(base *tls.Config, def *confparse.Factory, ep sequential.Endpoint) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if base != nil {
		cfg = base.Clone()
	}
	ssl := def.SSL
	if len(ssl.Trusted) > 0 || len(ssl.Issuer) > 0 {
		pool := x509.NewCertPool()
		for _, file := range append(append([]string(nil), ssl.Trusted...), ssl.Issuer...) {
			pem, err := os.ReadFile(file)
			if err != nil {
				return nil, fmt.Errorf("ssl_trusted: %w", err)
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("ssl_trusted: %s holds no PEM certificate", file)
			}
		}
		cfg.RootCAs = pool
	}
	if ssl.Identity != "" {
		key := ssl.PrivateKey
		if key == "" {
			key = ssl.Identity
		}
		cert, err := tls.LoadX509KeyPair(ssl.Identity, key)
		if err != nil {
			return nil, fmt.Errorf("ssl_identity: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if cfg.ServerName == "" {
		cfg.ServerName = ep.Host
		if ssl.ExpectedHostname != "" {
			cfg.ServerName = ssl.ExpectedHostname
		}
	}
	switch {
	case !ssl.VerifyHost:
		cfg.InsecureSkipVerify = true
	case !ssl.VerifyHostname:
		// Verify the chain but not the name: Go has no switch for that, so
		// skip its check and verify the chain ourselves.
		roots := cfg.RootCAs
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("no server certificate")
			}
			opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool()}
			for _, ic := range cs.PeerCertificates[1:] {
				opts.Intermediates.AddCert(ic)
			}
			_, err := cs.PeerCertificates[0].Verify(opts)
			return err
		}
	}
	if ssl.Ciphers != "" {
		ids, err := cipherSuites(ssl.Ciphers)
		if err != nil {
			return nil, err
		}
		cfg.CipherSuites = ids
	}
	return cfg, nil
}

// cipherSuites maps a list of Go/IANA suite names (separated by ':' or ',')
// to ids. OpenSSL-style names are not translated.
func cipherSuites(list string) ([]uint16, error) {
	known := map[string]uint16{}
	for _, cs := range tls.CipherSuites() {
		known[cs.Name] = cs.ID
	}
	var ids []uint16
	for _, name := range strings.FieldsFunc(list, func(r rune) bool { return r == ':' || r == ',' || r == ' ' }) {
		id, ok := known[strings.TrimPrefix(name, "+")]
		if !ok {
			return nil, fmt.Errorf("ssl_ciphers: unknown or insecure cipher suite %q (use Go names such as TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)", name)
		}
		ids = append(ids, id)
	}
	return ids, nil
}
