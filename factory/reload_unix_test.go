//go:build unix

package factory

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The file read is bounded: a FIFO does not block (Load returns, the
// watcher keeps going), a directory and a file over MaxConfigFileSize are
// refused with errors naming the reason.
func TestConfigFileReadIsBounded(t *testing.T) {
	verifyNoLeaks(t)
	dir := t.TempDir()

	fifo := filepath.Join(dir, "fifo.conf")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	done := make(chan error, 1)
	go func() { _, err := Load(fifo, WithWatch(false)); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Fatalf("Load of a FIFO: %v, want a not-a-regular-file error", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("Load of a FIFO blocked")
	}

	if _, err := Load(dir, WithWatch(false)); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("Load of a directory: %v", err)
	}

	big := filepath.Join(dir, "big.conf")
	body := reloadConf("tcp://127.0.0.1:1111") + "#" + strings.Repeat("x", MaxConfigFileSize) + "\n"
	overwrite(t, big, body)
	_, err := Load(big, WithWatch(false))
	if err == nil || !strings.Contains(err.Error(), fmt.Sprint(MaxConfigFileSize)) {
		t.Fatalf("Load of a %d-byte file: %v, want an error naming the limit", len(body), err)
	}

	// Swapped for a FIFO under a watched Factory: rejected, not blocking.
	path := filepath.Join(dir, "factories.conf")
	overwrite(t, path, reloadConf("tcp://127.0.0.1:1111"))
	f, err := Load(path, WithWatch(false))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	go func() { done <- f.Reload() }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Fatalf("Reload of a FIFO: %v", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("Reload of a FIFO blocked")
	}
	if got := currentURL(t, f); got != "tcp://127.0.0.1:1111" {
		t.Fatalf("definition after the refused read: %q", got)
	}
}
