package session

import (
	"testing"

	"github.com/stompft/stompft/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }
