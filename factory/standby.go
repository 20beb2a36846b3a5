package factory

import (
	"context"
	"time"

	"github.com/stompft/stompft/attempts"
	"github.com/stompft/stompft/confparse"
	"github.com/stompft/stompft/internal/session"
	"github.com/stompft/stompft/sequential"
)

// minProbeInterval keeps priority_backup probes and standby redials from
// hammering a broker when reconnect_attempt_delay is tiny.
const minProbeInterval = 100 * time.Millisecond

// spare is the hot-standby session (backup = true): connected to another
// URL, with no subscriptions, ready to take over without a dial.
type spare struct {
	sess *session.Session
	ep   sequential.Endpoint
	gen  uint64 // the keeper that dialled it
}

// startExtras starts the priority-backup prober and the hot-standby keeper
// the definition asks for, if not running; owner only.
func (c *Connection) startExtras() {
	c.startPriority()
	c.startStandby()
}

// startStandby starts a helper that dials a spare session to the next URL
// and hands it to the owner (spareReady); owner only.
func (c *Connection) startStandby() {
	o := &c.own
	if !o.def.Backup || o.standbyCancel != nil || o.spare != nil || o.sess == nil || o.closing {
		return
	}
	cur := o.cur
	var target sequential.Endpoint
	found := false
	for _, ep := range o.chooser.Pass(&cur) {
		if ep != cur {
			target, found = ep, true
			break
		}
	}
	if !found {
		return
	}
	def := o.def
	holdoff := c.standbyHoldoff(target, def)
	ctx, cancel := context.WithCancel(c.ctx)
	o.standbyCancel = cancel
	o.standbyGen++
	gen := o.standbyGen
	o.helpers.Add(1)
	go func() {
		defer o.helpers.Done()
		defer cancel()
		if holdoff > 0 {
			// The broker just lost will most likely refuse, and dialling it
			// now would take CPU from the failover under way (the first
			// send on the new session).
			if attempts.Wait(ctx, c.opts.clock, holdoff) != nil {
				return
			}
		}
		for {
			sess, err := c.dialOne(ctx, def, target, def.Reconnect.Timeout, 0, false)
			if err == nil {
				// Left in the slot first: a loss handled before spareReady
				// runs takes it from there instead of dialling.
				c.spareSlot.Store(&spare{sess: sess, ep: target, gen: gen})
				if !c.post(c.spareReady) {
					if sp := c.spareSlot.Swap(nil); sp != nil {
						sp.sess.Close()
					}
				}
				return
			}
			if attempts.Wait(ctx, c.opts.clock, max(def.Reconnect.Delay, minProbeInterval)) != nil {
				return
			}
		}
	}()
}

// standbyHoldoff is how long the standby keeper must still wait before
// dialling target: a spare on the endpoint just lost waits, from the moment
// of loss, the pause taken after a failed dial (the reconnect delay, at
// least minProbeInterval); owner only.
func (c *Connection) standbyHoldoff(target sequential.Endpoint, def *confparse.Factory) time.Duration {
	o := &c.own
	if !o.hasLost || target != o.lostEp {
		return 0
	}
	return o.lostAt.Add(max(def.Reconnect.Delay, minProbeInterval)).Sub(c.opts.clock.Now())
}

// spareReady keeps a new spare, or uses it at once when the connection is
// down; owner only.
func (c *Connection) spareReady() {
	if !c.claimSpare() {
		return
	}
	o := &c.own
	c.log.WithField("url", o.spare.ep.String()).Debug("hot standby ready")
	if o.sess == nil && o.switching == nil && o.state == StateReconnecting {
		c.takeSpare() // lost while it was dialled: fail over now
	}
}

// claimSpare moves a session the keeper left in the slot to o.spare, if it
// is still wanted, and reports whether o.spare is now set; owner only.
func (c *Connection) claimSpare() bool {
	o := &c.own
	sp := c.spareSlot.Swap(nil)
	if sp == nil {
		return o.spare != nil
	}
	if sp.gen != o.standbyGen || o.standbyCancel == nil || o.closing || !o.def.Backup || o.spare != nil {
		sp.sess.Close()
		return o.spare != nil
	}
	o.standbyCancel = nil
	if o.sess != nil && sp.ep == o.cur {
		// The connection moved there meanwhile: a spare on the broker
		// already in use protects nothing.
		sp.sess.Close()
		c.startStandby()
		return false
	}
	o.spare = sp
	return true
}

// stopStandby stops the keeper and drops the spare; owner only.
func (c *Connection) stopStandby() {
	o := &c.own
	if o.standbyCancel != nil {
		o.standbyCancel()
		o.standbyCancel = nil
		o.standbyGen++
	}
	if o.spare != nil {
		o.spare.sess.Close()
		o.spare = nil
	}
	if sp := c.spareSlot.Swap(nil); sp != nil {
		sp.sess.Close()
	}
}

// takeSpare fails over to a live spare without dialling and reports
// whether it did; a dead spare, or one on the broker just lost, is closed
// instead; owner only.
func (c *Connection) takeSpare() bool {
	o := &c.own
	c.claimSpare()
	sp := o.spare
	if sp == nil {
		return false
	}
	o.spare = nil
	if sp.sess.Err() != nil || sp.ep == o.cur {
		sp.sess.Close()
		return false
	}
	if o.walkCancel != nil {
		o.walkCancel()
		o.walkCancel = nil
		o.walkGen++
	}
	r := c.install(sp.sess, sp.ep)
	c.reconnected(sp.ep)
	c.announce(r)
	c.startExtras()
	c.checkInstalled(sp.sess)
	return true
}
