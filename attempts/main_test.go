package attempts_test

import (
	"testing"

	"github.com/stompft/stompft/internal/leakcheck"
)

// TestMain fails the package if a test leaves a goroutine behind (the
// scheduler tests start some).
func TestMain(m *testing.M) { leakcheck.Main(m) }
