package factory

import (
	"time"

	"github.com/stompft/stompft/attempts"
	"github.com/stompft/stompft/confparse"
	"github.com/stompft/stompft/internal/session"
	"github.com/stompft/stompft/sequential"
)

// minProbeInterval keeps priority_backup probes from hammering the
// preferred broker when reconnect_attempt_delay is tiny.
const minProbeInterval = 100 * time.Millisecond

type spare struct {
	sess *session.Session
	ep   sequential.Endpoint
}

// startExtras starts the priority-backup prober and the hot-standby keeper
// the definition asks for. Both stop when the connection closes.
func (c *Connection) startExtras() {
	def := c.def()
	if def.PriorityBackup {
		c.extras.Add(1)
		go c.priorityLoop()
	}
	if def.Backup {
		c.extras.Add(1)
		go c.standbyLoop()
	}
}

// stopExtras waits for them and drops the spare; the caller has cancelled c.ctx.
func (c *Connection) stopExtras() {
	c.extras.Wait()
	c.mu.Lock()
	sp := c.spare
	c.spare = nil
	c.mu.Unlock()
	if sp != nil {
		sp.sess.Close()
	}
}

// priorityLoop (ActiveMQ priorityBackup): while connected to another URL,
// probe the preferred one through the reconnect scheduler and move back as
// soon as it answers, keeping subscriptions and tracked sends.
func (c *Connection) priorityLoop() {
	defer c.extras.Done()
	for {
		def := c.def()
		every := max(def.Reconnect.Delay, minProbeInterval)
		if attempts.Wait(c.ctx, c.opts.Clock, every) != nil {
			return
		}
		pref, ok := c.walker.Preferred()
		c.mu.Lock()
		old, cur, connected := c.sess, c.cur, c.state == StateConnected
		c.mu.Unlock()
		if !ok || !connected || old == nil || cur == pref {
			continue
		}
		ticket, err := c.f.scheduler(c.name, c.opts).Acquire(c.ctx)
		if err != nil {
			return
		}
		sess, err := c.dialOne(c.ctx, pref, def.Reconnect.Timeout, 0)
		ticket.Done(outcome(err))
		if err != nil {
			c.log.WithField("url", pref.String()).WithError(err).Debug("preferred broker not back yet")
			continue
		}
		if !c.installMu.TryLock() {
			sess.Close() // a reconnect is under way; it decides
			continue
		}
		c.mu.Lock()
		still := c.sess == old && c.state == StateConnected && !c.closing
		c.mu.Unlock()
		if !still {
			c.installMu.Unlock()
			sess.Close()
			continue
		}
		r := c.install(sess, pref, old)
		c.installMu.Unlock()
		c.log.WithField("url", pref.String()).Info("returned to the preferred broker")
		c.emit(Event{Kind: EventSwitched, URL: pref.String()})
		c.announce(r)
	}
}

// standbyLoop (ActiveMQ backup): keep a connected spare session to the next
// URL so that a failover needs no dial; replace it whenever it is used or lost.
func (c *Connection) standbyLoop() {
	defer c.extras.Done()
	for {
		c.mu.Lock()
		cur, connected, sp, changed := c.cur, c.state == StateConnected, c.spare, c.changed
		c.mu.Unlock()
		if !connected || sp != nil {
			var spDone <-chan struct{}
			if sp != nil {
				spDone = sp.sess.Done()
			}
			select {
			case <-c.ctx.Done():
				return
			case <-changed:
			case <-spDone:
				c.mu.Lock()
				if c.spare == sp {
					c.spare = nil
				}
				c.mu.Unlock()
			}
			continue
		}
		var target *sequential.Endpoint
		for _, ep := range c.chooser.Pass(&cur) {
			if ep != cur {
				ep := ep
				target = &ep
				break
			}
		}
		if target == nil {
			select {
			case <-c.ctx.Done():
				return
			case <-changed:
			}
			continue
		}
		def := c.def()
		if wait := c.standbyHoldoff(*target, def); wait > 0 {
			// The broker just lost will most likely refuse, and dialling it
			// now would take CPU from the failover under way (the first
			// send on the new session); come back once the wait is over.
			t := c.opts.Clock.NewTimer(wait)
			select {
			case <-c.ctx.Done():
				t.Stop()
				return
			case <-changed:
			case <-t.C():
			}
			t.Stop()
			continue
		}
		sess, err := c.dialOne(c.ctx, *target, def.Reconnect.Timeout, 0)
		if err != nil {
			if attempts.Wait(c.ctx, c.opts.Clock, max(def.Reconnect.Delay, minProbeInterval)) != nil {
				return
			}
			continue
		}
		c.mu.Lock()
		// The connection may have moved to target meanwhile: a spare on the
		// broker already in use protects nothing.
		keep := !c.closing && c.spare == nil && *target != c.cur
		if keep {
			c.spare = &spare{sess: sess, ep: *target}
		}
		c.mu.Unlock()
		if !keep {
			sess.Close()
		}
		c.log.WithField("url", target.String()).Debug("hot standby ready")
	}
}

// standbyHoldoff is how long the standby loop must still wait before
// dialling target: a spare on the endpoint just lost waits, from the moment
// of loss, the pause the loop takes after a failed dial (the reconnect
// delay, at least minProbeInterval).
func (c *Connection) standbyHoldoff(target sequential.Endpoint, def *confparse.Factory) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.hasLost || target != c.lostEp {
		return 0
	}
	return c.lostAt.Add(max(def.Reconnect.Delay, minProbeInterval)).Sub(c.opts.Clock.Now())
}

// takeSpare hands over a live spare, if there is one; a dead spare, or one
// on the broker just lost, is closed instead.
func (c *Connection) takeSpare() *spare {
	c.mu.Lock()
	sp := c.spare
	c.spare = nil
	usable := sp != nil && sp.sess.Err() == nil && sp.ep != c.cur
	c.mu.Unlock()
	if sp != nil && !usable {
		sp.sess.Close() // not under c.mu: its end calls back into the connection
		return nil
	}
	return sp
}

// takeSpareFast lets a sender waiting for a reconnect install a ready
// spare itself, saving the hand-off to the supervisor and back. It does
// nothing if anyone else is installing. Reports whether it installed.
func (c *Connection) takeSpareFast() bool {
	c.mu.Lock()
	ready := c.spare != nil && c.sess == nil && !c.closing
	c.mu.Unlock()
	if !ready || !c.installMu.TryLock() {
		return false
	}
	defer c.installMu.Unlock()
	c.mu.Lock()
	still := c.sess == nil && c.state == StateReconnecting && !c.closing
	lost := c.cur
	c.mu.Unlock()
	if !still {
		return false
	}
	sp := c.takeSpare()
	if sp == nil {
		return false
	}
	c.refreshDef()
	c.installSpare(sp, lost)
	return true
}

// installSpare fails over to the spare: no dial.
func (c *Connection) installSpare(sp *spare, lost sequential.Endpoint) {
	r := c.install(sp.sess, sp.ep, nil)
	c.reconnected(sp.ep)
	c.announce(r)
}
