package attempts

import (
	"context"
	"time"
)

// SystemClock is the real clock, backed by package time.
var SystemClock Clock = systemClock{}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) NewTimer(d time.Duration) Timer { return sysTimer{time.NewTimer(d)} }

type sysTimer struct{ t *time.Timer }

func (t sysTimer) C() <-chan time.Time { return t.t.C }
func (t sysTimer) Stop() bool          { return t.t.Stop() }

// Wait blocks for d on clock c (nil means SystemClock) or until ctx is done,
// whichever comes first, and returns ctx.Err() in the latter case. With
// d <= 0 it returns at once: ctx.Err() if ctx is already done, else nil.
// It never sleeps outside a select, so a cancelled walk stops at once.
func Wait(ctx context.Context, c Clock, d time.Duration) error {
	if err := ctx.Err(); err != nil || d <= 0 {
		return err
	}
	if c == nil {
		c = SystemClock
	}
	t := c.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
