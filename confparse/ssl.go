package confparse

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// ReadFiles reads the files that Trusted, Issuer, Identity and PrivateKey
// name (a relative path is taken from dir) into RootsPEM, CertificatePEM
// and KeyPEM, under the rules of the package doc's "Files" section:
// regular files only, at most MaxPEMFileSize each, symlinks followed only
// inside the directory holding them. It checks that the trusted and
// issuer files hold certificates and that the identity's certificate and
// key match. The parser calls it for every ssl:// factory; call it on an
// SSL built in code that names files. A dial never reads a file.
func (s *SSL) ReadFiles(dir string) error {
	var errs []error
	s.readFiles(dir, func(key string, _ int, err error) {
		errs = append(errs, fmt.Errorf("%s: %w", key, err))
	})
	return errors.Join(errs...)
}

// readFiles does ReadFiles' work, reporting each failure with its key and
// the index of the file within a repeated key.
func (s *SSL) readFiles(dir string, fail func(key string, i int, err error)) {
	read := func(name string) ([]byte, error) {
		if name == "" {
			return nil, errors.New("empty path")
		}
		if !filepath.IsAbs(name) {
			name = filepath.Join(dir, name)
		}
		return readRegularFile(name, MaxPEMFileSize, true)
	}
	var roots []byte
	addRoots := func(key string, names []string) {
		for i, name := range names {
			data, err := read(name)
			if err != nil {
				fail(key, i, err)
				continue
			}
			certs, _ := pemBlocks(data)
			if len(certs) == 0 {
				fail(key, i, fmt.Errorf("%s holds no PEM certificate", name))
				continue
			}
			if err := checkCerts(certs); err != nil {
				fail(key, i, fmt.Errorf("%s: %w", name, err))
				continue
			}
			roots = append(roots, certs...)
		}
	}
	addRoots("ssl_trusted", s.Trusted)
	addRoots("ssl_issuer", s.Issuer)
	s.RootsPEM = roots

	var certPEM, keyPEM []byte
	if s.Identity != "" {
		data, err := read(s.Identity)
		if err != nil {
			fail("ssl_identity", 0, err)
			return
		}
		certPEM, keyPEM = pemBlocks(data)
		if len(certPEM) == 0 {
			fail("ssl_identity", 0, fmt.Errorf("%s holds no PEM certificate", s.Identity))
			return
		}
	}
	if s.PrivateKey != "" {
		data, err := read(s.PrivateKey)
		if err != nil {
			fail("ssl_private_key", 0, err)
			return
		}
		_, keyPEM = pemBlocks(data)
		if len(keyPEM) == 0 {
			fail("ssl_private_key", 0, fmt.Errorf("%s holds no PEM private key", s.PrivateKey))
			return
		}
	}
	if s.Identity == "" {
		return
	}
	if len(keyPEM) == 0 {
		fail("ssl_identity", 0, fmt.Errorf("%s holds no private key: put it in the file or give ssl_private_key", s.Identity))
		return
	}
	// tls.X509KeyPair's errors describe the mismatch, never the key.
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		fail("ssl_identity", 0, fmt.Errorf("%s: %w", s.Identity, err))
		return
	}
	s.CertificatePEM, s.KeyPEM = certPEM, Secret(keyPEM)
}

// checkCerts parses every certificate of a PEM bundle.
func checkCerts(certs []byte) error {
	for n := 1; ; n++ {
		var b *pem.Block
		b, certs = pem.Decode(certs)
		if b == nil {
			return nil
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			return fmt.Errorf("certificate %d: %w", n, err)
		}
	}
}

// pemBlocks splits PEM data into its certificate blocks and its private
// key blocks, re-encoded; anything else is dropped.
func pemBlocks(data []byte) (certs, keys []byte) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return certs, keys
		}
		switch {
		case b.Type == "CERTIFICATE":
			certs = append(certs, pem.EncodeToMemory(b)...)
		case strings.HasSuffix(b.Type, "PRIVATE KEY"):
			keys = append(keys, pem.EncodeToMemory(b)...)
		}
	}
}
