package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"go.uber.org/goleak"

	"github.com/stompft/stompft/factory"
	"github.com/stompft/stompft/factory/factorytest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const waitLimit = 20 * time.Second

func brokerConf(t *testing.T) string {
	t.Helper()
	b := factorytest.NewBroker(t)
	path := filepath.Join(t.TempDir(), "factories.conf")
	conf := "[FTQueueConnectionFactory]\n  type = queue\n  url = " + b.URL() + "\n"
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func quietLog() logrus.FieldLogger {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return l
}

func TestRunHandlesCount(t *testing.T) {
	path := brokerConf(t)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	ready := make(chan struct{})
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := run(ctx, options{conf: path, factory: "FTQueueConnectionFactory", dest: "/queue/c", count: 5}, quietLog(), ready)
		done <- result{n, err}
	}()
	select {
	case <-ready:
	case r := <-done:
		t.Fatalf("consumer ended before subscribing: %v", r.err)
	}
	f, err := factory.Load(path, factory.WithWatch(false))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := f.CreateConnectionContext(ctx, "FTQueueConnectionFactory")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for n := 1; n <= 5; n++ {
		if err := conn.Send("/queue/c", "text/plain", []byte("m"+strconv.Itoa(n))); err != nil {
			t.Fatal(err)
		}
	}
	r := <-done
	if r.err != nil || r.n != 5 {
		t.Fatalf("run = %d, %v; want 5, nil", r.n, r.err)
	}
}

// SIGINT is a cancelled context: the consumer stops cleanly.
func TestRunInterrupted(t *testing.T) {
	path := brokerConf(t)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	ictx, interrupt := context.WithCancel(ctx)
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := run(ictx, options{conf: path, factory: "FTQueueConnectionFactory", dest: "/queue/c"}, quietLog(), ready)
		done <- err
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("consumer ended before subscribing: %v", err)
	}
	interrupt()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("interrupted run returned %v", err)
		}
	case <-ctx.Done():
		t.Fatal("consumer did not stop on interrupt")
	}
}

func TestFlags(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr bool
	}{
		{nil, false},
		{[]string{"-conf", "x.conf", "-factory", "F", "-dest", "/queue/x"}, false},
		{[]string{"-count", "-1"}, true},
		{[]string{"extra"}, true},
	}
	for _, tt := range tests {
		_, err := parseFlags(tt.args, &bytes.Buffer{})
		if (err != nil) != tt.wantErr {
			t.Errorf("parseFlags(%q) error = %v, want error %v", tt.args, err, tt.wantErr)
		}
	}
}

func TestBuild(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go not on PATH")
	}
	if out, err := exec.Command(goBin, "build", "-o", filepath.Join(t.TempDir(), "consumer"), ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
}
