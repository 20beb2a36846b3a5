package hostile_test

import (
	"testing"

	"github.com/stompft/stompft/confparse"
	"github.com/stompft/stompft/internal/session"
)

// The conf's limit and grace defaults are the session's: a definition built
// in code (zero Limits) and one parsed from a file behave alike.
func TestConfDefaultsAreTheSessionDefaults(t *testing.T) {
	d := session.DefaultLimits()
	if confparse.DefaultMaxFrameSize != d.MaxFrameSize || confparse.DefaultMaxHeaderLength != d.MaxHeaderLength ||
		confparse.DefaultMaxHeaders != d.MaxHeaders || confparse.DefaultMaxHeaderBytes != d.MaxHeaderBytes {
		t.Errorf("confparse limits %d/%d/%d/%d, session %+v", confparse.DefaultMaxFrameSize, confparse.DefaultMaxHeaderLength,
			confparse.DefaultMaxHeaders, confparse.DefaultMaxHeaderBytes, d)
	}
	if confparse.DefaultHeartBeatGrace != session.DefaultGrace {
		t.Errorf("heartbeat_grace default %v, session %v", confparse.DefaultHeartBeatGrace, session.DefaultGrace)
	}
}
