//go:build unix

package factory

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
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

// logHook keeps the error-level entries a Factory logs.
type logHook struct {
	mu      sync.Mutex
	entries []string
}

func (h *logHook) Levels() []logrus.Level { return []logrus.Level{logrus.ErrorLevel} }

func (h *logHook) Fire(e *logrus.Entry) error {
	s := e.Message
	if err, ok := e.Data[logrus.ErrorKey].(error); ok {
		s += ": " + err.Error()
	}
	h.mu.Lock()
	h.entries = append(h.entries, s)
	h.mu.Unlock()
	return nil
}

func (h *logHook) has(sub string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, e := range h.entries {
		if strings.Contains(e, sub) {
			return true
		}
	}
	return false
}

// A watched file replaced by a FIFO is reported and skipped: the watcher
// does not block on it, applies the next good edit, and Close returns (the
// deferred, bounded Close).
func TestWatcherIsNotBlockedByAFIFO(t *testing.T) {
	verifyNoLeaks(t)
	hook := &logHook{}
	logger := logrus.New()
	logger.SetOutput(io.Discard)
	logger.AddHook(hook)
	path := filepath.Join(t.TempDir(), "factories.conf")
	overwrite(t, path, reloadConf("tcp://127.0.0.1:1111"))
	f, err := Load(path, WithWatch(true), WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	closed := make(chan struct{})
	defer func() {
		// Bounded even when the watcher is stuck, so the test fails
		// instead of hanging.
		go func() { _ = f.Close(); close(closed) }()
		select {
		case <-closed:
		case <-time.After(waitLimit):
			t.Error("Factory.Close did not return")
		}
	}()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the FIFO reported", func() bool { return hook.has("not a regular file") })

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	overwrite(t, path, reloadConf("tcp://127.0.0.1:2222"))
	eventually(t, "the good edit after the FIFO applied", func() bool {
		return currentURL(t, f) == "tcp://127.0.0.1:2222"
	})
}
