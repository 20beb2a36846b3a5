package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3"
	"go.uber.org/goleak"

	"github.com/stompft/stompft/factory"

	"github.com/stompft/stompft/factory/factorytest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testTimeout bounds every run in these tests; a healthy one takes about a second.
const testTimeout = 2 * time.Minute

func TestRunEmbeddedLosesNothing(t *testing.T) {
	for _, kills := range []int{0, 1, 2, 3} {
		t.Run(fmt.Sprintf("kills=%d", kills), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			var out bytes.Buffer
			s, err := run(ctx, config{Count: 400, Rate: 2000, Kills: kills, Progress: 50 * time.Millisecond}, &out)
			if err != nil {
				t.Fatalf("run: %v\n%s", err, out.String())
			}
			text := out.String()
			if exitCode(s, err) != 0 {
				t.Fatalf("exit code %d, summary %+v\n%s", exitCode(s, err), s, text)
			}
			for _, want := range []string{"\nsent 400\n", "\nreceived 400\n", "\nlost 0\n", "duplicates dropped "} {
				if !strings.Contains(text, want) {
					t.Errorf("output lacks %q:\n%s", want, text)
				}
			}
			if s.Sent != 400 || s.Received != 400 || s.Lost != 0 {
				t.Errorf("summary %+v", s)
			}
			// Every kill is a failover of both connections.
			if len(s.Producer) != kills || len(s.Consumer) != kills {
				t.Errorf("failovers: producer %d, consumer %d, want %d each\n%s", len(s.Producer), len(s.Consumer), kills, text)
			}
			for i := 1; i <= kills; i++ {
				if want := fmt.Sprintf("downtime failover %d: producer ", i); !strings.Contains(text, want) {
					t.Errorf("output lacks %q:\n%s", want, text)
				}
			}
			if kills > 0 {
				for _, want := range []string{"lost primary", "reconnect attempt 1 after ", "reconnected to backup after ", "resubscribed", "restarted primary"} {
					if !strings.Contains(text, want) {
						t.Errorf("timeline lacks %q:\n%s", want, text)
					}
				}
			} else if !strings.Contains(text, "downtime: no failover happened") {
				t.Errorf("no-kill run should say no failover happened:\n%s", text)
			}
			if kills > 1 && !strings.Contains(text, "lost backup") {
				t.Errorf("second kill should take the backup down:\n%s", text)
			}
		})
	}
}

// With -conf the demo runs against the brokers the file names and kills none.
func TestRunUserConf(t *testing.T) {
	pair := factorytest.NewPair(t)
	path := filepath.Join(t.TempDir(), "factories.conf")
	conf := "[Mine]\n  type = queue\n  url = " + pair.URL() + "\n  track_messages = true\n"
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()

	// A message an earlier run left in the queue is acked and ignored.
	f, err := factory.Load(path, factory.WithWatch(false))
	if err != nil {
		t.Fatal(err)
	}
	old, err := f.CreateConnectionContext(ctx, "Mine")
	if err != nil {
		t.Fatal(err)
	}
	if err := old.Send("/queue/mine", "text/plain", []byte("old"), stomp.SendOpt.Header(runHeader, "earlier"), stomp.SendOpt.Header(seqHeader, "1")); err != nil {
		t.Fatal(err)
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	var out bytes.Buffer
	s, err := run(ctx, config{Conf: path, Factory: "Mine", Count: 200, Kills: 3, Dest: "/queue/mine"}, &out)
	if err != nil || exitCode(s, err) != 0 {
		t.Fatalf("run: %v, summary %+v\n%s", err, s, out.String())
	}
	text := out.String()
	for _, want := range []string{"kills none", "\nsent 200\n", "\nlost 0\n", "ignored 1 message(s) left in the queue", "connected to primary (" + pair.Primary.URL() + ")"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "killing") {
		t.Errorf("the demo killed a broker it does not own:\n%s", text)
	}
	if s.Stale != 1 {
		t.Errorf("stale = %d, want the 1 message of the earlier run", s.Stale)
	}
}

func TestRunErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	missing := filepath.Join(t.TempDir(), "nope.conf")
	tests := []struct {
		name string
		cfg  config
		want string
	}{
		{"no messages", config{Count: 0}, "-count"},
		{"negative kills", config{Count: 1, Kills: -1}, "-kills"},
		{"negative rate", config{Count: 1, Rate: -1}, "-rate"},
		{"missing file", config{Count: 1, Conf: missing}, "nope.conf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := run(ctx, tt.cfg, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one mentioning %q", err, tt.want)
			}
			if exitCode(s, err) != 1 {
				t.Errorf("exit code %d, want 1", exitCode(s, err))
			}
		})
	}
}

func TestExitCode(t *testing.T) {
	tests := []struct {
		name string
		s    summary
		err  error
		want int
	}{
		{"clean", summary{Sent: 10, Received: 10}, nil, 0},
		{"duplicates are fine", summary{Sent: 10, Received: 10, Duplicates: 3}, nil, 0},
		{"lost", summary{Sent: 10, Received: 9, Lost: 1}, nil, 1},
		{"send error", summary{Sent: 9, Received: 9, SendErrors: 1}, nil, 1},
		{"could not run", summary{}, errors.New("boom"), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := exitCode(tt.s, tt.err); got != tt.want {
				t.Errorf("exitCode = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestFlags(t *testing.T) {
	tests := []struct {
		args []string
		want int
	}{
		{[]string{"-nosuchflag"}, 2},
		{[]string{"-count", "0"}, 2},
		{[]string{"-kills", "-1"}, 2},
		{[]string{"extra"}, 2},
	}
	for _, tt := range tests {
		var stderr bytes.Buffer
		if got := mainRun(tt.args, &bytes.Buffer{}, &stderr); got != tt.want {
			t.Errorf("mainRun(%q) = %d, want %d (stderr %s)", tt.args, got, tt.want, stderr.String())
		}
	}
}

// The README's first command, as a user runs it: build the program and run
// it as a process; it must print "lost 0" and exit 0.
func TestCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the program")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go not on PATH")
	}
	bin := filepath.Join(t.TempDir(), "failover-demo")
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if out, err := exec.CommandContext(ctx, goBin, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.CommandContext(ctx, bin, "-count", "300", "-rate", "1000", "-kills", "2")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("failover-demo: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "\nlost 0\n") {
		t.Fatalf("no \"lost 0\" in:\n%s", out)
	}
}
