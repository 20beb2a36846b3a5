package confparse

import (
	"strings"
	"testing"
)

// TestEveryURLErrorInOneRun: a url value with several problems, plain or
// a failover URI, reports all of them at once, each naming the key.
func TestEveryURLErrorInOneRun(t *testing.T) {
	tests := []struct {
		name string
		url  string
		want []string // in position order
	}{
		{name: "mixed failover URI",
			url: "failover:(stomp://127.0.0.1:61616,nio+ssl://127.0.0.1:61617,tcp://h:1?x=1,ftp://q:1)?initialReconnectDelay=100&foo=1&timeout=abc&maxReconnectAttempts=0",
			want: []string{
				`t.conf:3:1: url: failover URI: options on an inner URI ("tcp://h:1") are not supported; put failover options after the ')'`,
				`t.conf:3:1: url: failover URI: unknown option foo`,
				`t.conf:3:1: url: failover option maxReconnectAttempts: 0 (never reconnect) cannot be mapped`,
				`t.conf:3:1: url: failover option timeout: "abc" is not a duration`,
				`t.conf:3:7: url: "ssl://127.0.0.1:61617": scheme "ssl" differs from the list's scheme "tcp" (tcp and ssl cannot be mixed)`,
				`t.conf:3:7: url: "ftp://q:1": scheme "ftp" is not supported (tcp or ssl)`,
			}},
		{name: "plain list, each at its column",
			url: "tcp://a:1,tcp://b:x,tcp://a:1",
			want: []string{
				`t.conf:3:17: url: "tcp://b:x": port "x"`,
				`t.conf:3:27: url: "tcp://a:1": tcp://a:1 appears more than once`,
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("t.conf", []byte("[F]\ntype = queue\nurl = "+tc.url+"\n"))
			list, ok := err.(ErrorList)
			if !ok {
				t.Fatalf("err = %v", err)
			}
			if len(list) != len(tc.want) {
				t.Fatalf("%d errors, want %d:\n%v", len(list), len(tc.want), err)
			}
			for i, e := range list {
				if !strings.HasPrefix(e.Error(), tc.want[i]) {
					t.Errorf("error %d:\n got %s\nwant %s...", i, e.Error(), tc.want[i])
				}
				if e.Key != "url" && !strings.Contains(e.Msg, "failover option") {
					t.Errorf("error %d Key = %q, want url", i, e.Key)
				}
			}
		})
	}
}
