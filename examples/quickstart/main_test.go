package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stompft/stompft/factory/factorytest"
	"github.com/stompft/stompft/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// TestQuickStartRuns runs the README's quick start against a primary/backup
// pair, once with both up and once after the primary was killed: the same
// code connects to whichever answers.
func TestQuickStartRuns(t *testing.T) {
	p := factorytest.NewPair(t)
	conf := filepath.Join(t.TempDir(), "factories.conf")
	if err := os.WriteFile(conf, []byte(p.Conf("FTQueueConnectionFactory")), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := run(conf, "FTQueueConnectionFactory"); err != nil {
		t.Fatalf("with both brokers up: %v", err)
	}
	p.Primary.Kill()
	if err := run(conf, "FTQueueConnectionFactory"); err != nil {
		t.Fatalf("with the primary killed: %v", err)
	}
	if n := p.Backup.Queued("/queue/orders"); n != 0 {
		t.Fatalf("backup still holds %d messages: the quick start did not ack what it received", n)
	}
}
