//go:build unix

package confparse

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// parseWithin runs fn and fails the test if it does not return within a
// bound: a hostile file must never block Load.
func parseWithin(t *testing.T, fn func() (*Config, error)) (*Config, error) {
	t.Helper()
	type result struct {
		cfg *Config
		err error
	}
	done := make(chan result, 1)
	go func() {
		cfg, err := fn()
		done <- result{cfg, err}
	}()
	select {
	case r := <-done:
		return r.cfg, r.err
	case <-time.After(10 * time.Second):
		t.Fatal("parsing blocked on a hostile file")
		return nil, nil
	}
}

// TestHostileFiles points passcode_file and every ssl_* file key at files
// that must be refused promptly, with an error naming file:line, the key,
// the path and the rule, and never the content.
func TestHostileFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big")
	writeFile(t, big, bytes.Repeat([]byte("A"), int(MaxPEMFileSize)+1))
	for name, target := range map[string]string{"shadow": "/etc/shadow", "environ": "/proc/self/environ", "outside": big} {
		if err := os.Symlink(target, filepath.Join(dir, "sub", name)); err != nil {
			if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(target, filepath.Join(dir, "sub", name)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "adir"), 0o700); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, path string
		want       error  // errors.Is target, or nil
		text       string // in the message
	}{
		{"FIFO", fifo, ErrNotRegularFile, "named pipe"},
		{"/dev/zero", "/dev/zero", ErrNotRegularFile, "refused"},
		{"/proc/self/environ", "/proc/self/environ", ErrNotRegularFile, "refused"},
		{"symlink to /etc/shadow", filepath.Join(dir, "sub", "shadow"), nil, "symlink is followed only"},
		{"symlink to /proc/self/environ", filepath.Join(dir, "sub", "environ"), nil, "symlink is followed only"},
		{"symlink out of its directory", filepath.Join(dir, "sub", "outside"), nil, "symlink is followed only"},
		{"oversized", big, ErrFileTooLarge, "more than the limit of"},
		{"directory", filepath.Join(dir, "adir"), ErrNotRegularFile, "directory"},
	}
	keys := []string{"passcode_file", "ssl_trusted", "ssl_issuer", "ssl_identity"}
	for _, tc := range cases {
		for _, key := range keys {
			t.Run(tc.name+"/"+key, func(t *testing.T) {
				conf := "[F]\ntype = queue\nurl = ssl://1\n" + key + " = " + tc.path + "\n"
				_, err := parseWithin(t, func() (*Config, error) { return Parse(filepath.Join(dir, "t.conf"), []byte(conf)) })
				if err == nil {
					t.Fatal("accepted")
				}
				msg := err.Error()
				wantPrefix := filepath.Join(dir, "t.conf") + ":4:1: " + key + ": "
				if !strings.HasPrefix(msg, wantPrefix) || !strings.Contains(msg, tc.path) || !strings.Contains(msg, tc.text) {
					t.Errorf("error %q: want prefix %q, the path and %q", msg, wantPrefix, tc.text)
				}
				if tc.want != nil && !errors.Is(err, tc.want) {
					t.Errorf("error %q does not wrap %v", msg, tc.want)
				}
				if tc.want == ErrFileTooLarge && key == "passcode_file" && !strings.Contains(msg, "64 KiB") {
					t.Errorf("error %q does not name the 64 KiB limit", msg)
				}
				if strings.Contains(msg, "AAAA") {
					t.Errorf("error quotes the file's content: %q", msg)
				}
			})
		}
	}
}

// TestConfFileRefusedUnread: ParseFile refuses a FIFO and a file over
// MaxFileSize before reading it, and Parse refuses oversized data.
func TestConfFileRefusedUnread(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.conf")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.conf")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	// Sparse: reading it would take 4 MiB; the check happens first.
	if err := f.Truncate(MaxFileSize + 1); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	for path, want := range map[string]error{fifo: ErrNotRegularFile, big: ErrFileTooLarge, dir: ErrNotRegularFile} {
		_, err := parseWithin(t, func() (*Config, error) { return ParseFile(path) })
		if !errors.Is(err, want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error %v, want %v naming the path", path, err, want)
		}
	}
	if _, err := ParseFile(big); !strings.Contains(fmt.Sprint(err), "4 MiB") {
		t.Errorf("error %v does not name the 4 MiB limit", err)
	}
	_, err = Parse("t.conf", make([]byte, MaxFileSize+1))
	if !errors.Is(err, ErrFileTooLarge) || !strings.Contains(err.Error(), "4 MiB") {
		t.Errorf("Parse of %d bytes: %v", MaxFileSize+1, err)
	}
}

// TestFilesFollowLinksInsideTheirDirectory: a Kubernetes secret mount
// (pw -> ..data/pw, ..data -> ..2024_01_01) is followed; the PEM is read
// at parse time and kept, so removing the files afterwards changes
// nothing.
func TestFilesFollowLinksInsideTheirDirectory(t *testing.T) {
	dir := t.TempDir()
	cert, key := testCert(t, "client")
	writeFile(t, filepath.Join(dir, "..2024_01_01", "pw"), []byte("s3cret\n"))
	writeFile(t, filepath.Join(dir, "..2024_01_01", "ca.pem"), cert)
	writeFile(t, filepath.Join(dir, "..2024_01_01", "id.pem"), append(append([]byte{}, cert...), key...))
	if err := os.Symlink("..2024_01_01", filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"pw", "ca.pem", "id.pem"} {
		if err := os.Symlink(filepath.Join("..data", n), filepath.Join(dir, n)); err != nil {
			t.Fatal(err)
		}
	}
	conf := filepath.Join(dir, "f.conf")
	writeFile(t, conf, []byte("[F]\ntype = queue\nurl = ssl://1\npasscode_file = pw\nssl_trusted = ca.pem\nssl_identity = id.pem\n"))
	cfg, err := parseWithin(t, func() (*Config, error) { return ParseFile(conf) })
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dir, "..2024_01_01")); err != nil {
		t.Fatal(err)
	}
	f := cfg.Factories[0]
	if f.Passcode.Reveal() != "s3cret" || !bytes.Equal(f.SSL.RootsPEM, cert) || !bytes.Equal(f.SSL.CertificatePEM, cert) ||
		f.SSL.KeyPEM.Reveal() != string(key) {
		t.Errorf("passcode %q, roots %d bytes, certificate %d bytes, key %d bytes", f.Passcode.Reveal(), len(f.SSL.RootsPEM),
			len(f.SSL.CertificatePEM), len(f.SSL.KeyPEM))
	}
}
