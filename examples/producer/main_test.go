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

	"github.com/go-stomp/stomp/v3"
	"github.com/sirupsen/logrus"
	"go.uber.org/goleak"

	"github.com/stompft/stompft/factory"
	"github.com/stompft/stompft/factory/factorytest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const waitLimit = 20 * time.Second

// brokerConf starts an embedded broker and writes a factories.conf naming it.
func brokerConf(t *testing.T) string {
	t.Helper()
	b := factorytest.NewBroker(t)
	path := filepath.Join(t.TempDir(), "factories.conf")
	conf := "[FTQueueConnectionFactory]\n  type = queue\n  url = " + b.URL() + "\n  track_messages = true\n"
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

func TestRunSendsEveryMessage(t *testing.T) {
	path := brokerConf(t)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	o := options{conf: path, factory: "FTQueueConnectionFactory", dest: "/queue/p", count: 5, body: "order"}
	if err := run(ctx, o, quietLog()); err != nil {
		t.Fatal(err)
	}
	// Read them back.
	f, err := factory.Load(path, factory.WithWatch(false))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := f.CreateConnectionContext(ctx, "FTQueueConnectionFactory")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sub, err := conn.Subscribe("/queue/p", stomp.AckAuto)
	if err != nil {
		t.Fatal(err)
	}
	for n := 1; n <= 5; n++ {
		select {
		case m := <-sub.C:
			if m.Err != nil {
				t.Fatal(m.Err)
			}
			if got, want := string(m.Body), "order "+strconv.Itoa(n); got != want {
				t.Errorf("message %d = %q, want %q", n, got, want)
			}
		case <-ctx.Done():
			t.Fatalf("only %d of 5 messages arrived", n-1)
		}
	}
}

func TestRunErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	path := brokerConf(t)
	tests := []struct {
		name string
		o    options
	}{
		{"missing file", options{conf: filepath.Join(t.TempDir(), "none.conf"), factory: "FTQueueConnectionFactory", dest: "/queue/p", count: 1}},
		{"unknown factory", options{conf: path, factory: "Nope", dest: "/queue/p", count: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := run(ctx, tt.o, quietLog()); err == nil {
				t.Fatal("run succeeded")
			}
		})
	}
}

// An interrupted producer (SIGINT cancels its context) stops sending and
// returns cleanly, after the broker confirmed what it sent.
func TestRunInterrupted(t *testing.T) {
	path := brokerConf(t)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	ictx, interrupt := context.WithCancel(ctx)
	last := 0
	o := options{conf: path, factory: "FTQueueConnectionFactory", dest: "/queue/i", count: 0, rate: 1000, body: "m",
		onSent: func(n int) {
			last = n
			if n == 3 {
				interrupt()
			}
		}}
	if err := run(ictx, o, quietLog()); err != nil {
		t.Fatalf("interrupted run returned %v", err)
	}
	if last != 3 {
		t.Fatalf("sent %d messages, want to stop at 3", last)
	}
}

func TestFlags(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr bool
	}{
		{nil, false},
		{[]string{"-conf", "x.conf", "-factory", "F", "-count", "3"}, false},
		{[]string{"-count", "-1"}, true},
		{[]string{"extra"}, true},
		{[]string{"-nosuch"}, true},
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
	if out, err := exec.Command(goBin, "build", "-o", filepath.Join(t.TempDir(), "producer"), ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
}
