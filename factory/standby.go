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
			sess, err := c.dialOne(ctx, def, target, def.Reconnect.Timeout)
			if err == nil {
				if !c.post(func() { c.spareReady(gen, sess, target) }) {
					sess.Close()
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
func (c *Connection) spareReady(gen uint64, sess *session.Session, target sequential.Endpoint) {
	o := &c.own
	if gen != o.standbyGen || o.standbyCancel == nil || o.closing || !o.def.Backup || o.spare != nil {
		sess.Close()
		return
	}
	o.standbyCancel = nil
	if o.sess != nil && target == o.cur {
		// The connection moved to target meanwhile: a spare on the broker
		// already in use protects nothing.
		sess.Close()
		c.startStandby()
		return
	}
	o.spare = &spare{sess: sess, ep: target}
	c.log.WithField("url", target.String()).Debug("hot standby ready")
	if o.sess == nil && o.switching == nil && o.state == StateReconnecting {
		c.takeSpare() // lost while it was dialled: fail over now
	}
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
}

// takeSpare fails over to a live spare without dialling and reports
// whether it did; a dead spare, or one on the broker just lost, is closed
// instead; owner only.
func (c *Connection) takeSpare() bool {
	o := &c.own
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
