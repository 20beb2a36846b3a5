package confparse

import (
	"strings"
	"testing"
	"time"
)

func TestFrameLimitKeys(t *testing.T) {
	native := "[F]\ntype = queue\nurl = tcp://h:61613\nmax_frame_size = 1048576\nmax_header_length = 4096\nmax_headers = 50\nmax_header_bytes = 16384\n"
	toml := "[F]\ntype = \"queue\"\nurl = \"tcp://h:61613\"\nmax_frame_size = 1048576\nmax_header_length = 4096\nmax_headers = 50\nmax_header_bytes = 16384\n"
	for name, in := range map[string]string{"native": native, "TOML": toml} {
		cfg, err := Parse("t.conf", []byte(in))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		f := cfg.Factories[0]
		if f.MaxFrameSize != 1<<20 || f.MaxHeaderLength != 4096 || f.MaxHeaders != 50 || f.MaxHeaderBytes != 16384 {
			t.Fatalf("%s: %+v", name, f)
		}
	}
	cfg, err := Parse("t.conf", []byte("[F]\ntype = queue\nurl = tcp://h:61613\n"))
	if err != nil {
		t.Fatal(err)
	}
	f := cfg.Factories[0]
	if f.MaxFrameSize != DefaultMaxFrameSize || f.MaxHeaderLength != DefaultMaxHeaderLength ||
		f.MaxHeaders != DefaultMaxHeaders || f.MaxHeaderBytes != DefaultMaxHeaderBytes {
		t.Fatalf("defaults %+v", f)
	}
	_, err = Parse("t.conf", []byte("[F]\ntype = queue\nurl = tcp://h:61613\nmax_headers = 0\nmax_frame_size = 4294967296\n"))
	if err == nil || !strings.Contains(err.Error(), "t.conf:4") || !strings.Contains(err.Error(), "t.conf:5") {
		t.Fatalf("want out-of-range errors at t.conf:4 and :5, got %v", err)
	}
}

// A heart-beat below 1 ms (other than 0) would be offered as 0 (off) and
// yet enforced: it is an error with file:line. Finer values round up.
func TestSubMillisecondHeartbeatIsAnError(t *testing.T) {
	for _, v := range []string{"500us,500us", "0,500us", "1ns,0"} {
		_, err := Parse("t.conf", []byte("[F]\ntype = queue\nurl = tcp://h:61613\nheartbeat = "+v+"\n"))
		if err == nil || !strings.Contains(err.Error(), "t.conf:4") || !strings.Contains(err.Error(), "below 1ms") {
			t.Errorf("%s: got %v", v, err)
		}
	}
	cfg, err := Parse("t.conf", []byte("[F]\ntype = queue\nurl = tcp://h:61613\nheartbeat = 1500us,0\n"))
	if err != nil {
		t.Fatal(err)
	}
	if f := cfg.Factories[0]; f.HeartBeatSend != 2*time.Millisecond || f.HeartBeatRecv != 0 {
		t.Fatalf("heartbeat %v,%v, want 2ms,0", f.HeartBeatSend, f.HeartBeatRecv)
	}
}
