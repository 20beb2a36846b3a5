package factory

import (
	"context"

	"github.com/stompft/stompft/attempts"
	"github.com/stompft/stompft/internal/session"
	"github.com/stompft/stompft/sequential"
)

// switchState is a planned move (priority backup): the old session is
// being disconnected gracefully, so that its receipts arrive before what is
// still unconfirmed is replayed on to.
type switchState struct {
	to     *session.Session
	ep     sequential.Endpoint
	toDead bool // to ended while the old one was being disconnected
}

// startPriority (ActiveMQ priorityBackup): while connected to another URL,
// a helper probes the preferred one through the reconnect scheduler and
// hands the session to the owner as soon as it answers; owner only.
func (c *Connection) startPriority() {
	o := &c.own
	if !o.def.PriorityBackup || o.probeCancel != nil || o.sess == nil || o.switching != nil || o.closing {
		return
	}
	pref, ok := o.walker.Preferred()
	if !ok || pref == o.cur {
		return
	}
	def, sched := o.def, c.scheduler()
	ctx, cancel := context.WithCancel(c.ctx)
	o.probeCancel = cancel
	o.probeGen++
	gen := o.probeGen
	o.helpers.Add(1)
	go func() {
		defer o.helpers.Done()
		defer cancel()
		every := max(def.Reconnect.Delay, minProbeInterval)
		for {
			if attempts.Wait(ctx, c.opts.clock, every) != nil {
				return
			}
			ticket, err := sched.Acquire(ctx)
			if err != nil {
				return
			}
			sess, err := c.dialOne(ctx, def, pref, def.Reconnect.Timeout, 0, false)
			ticket.Done(outcome(err))
			if err != nil {
				c.log.WithField("url", pref.String()).WithError(err).Debug("preferred broker not back yet")
				continue
			}
			if !c.post(func() { c.probeDone(gen, sess, pref) }) {
				sess.Close()
			}
			return
		}
	}()
}

// stopProbe cancels the prober; owner only.
func (c *Connection) stopProbe() {
	o := &c.own
	if o.probeCancel != nil {
		o.probeCancel()
		o.probeCancel = nil
		o.probeGen++
	}
}

// probeDone starts the move to the preferred broker; owner only.
func (c *Connection) probeDone(gen uint64, sess *session.Session, pref sequential.Endpoint) {
	o := &c.own
	if gen != o.probeGen || o.probeCancel == nil || o.closing || o.sess == nil || o.cur == pref || o.switching != nil {
		sess.Close()
		return
	}
	o.probeCancel = nil
	if len(o.paused) > 0 {
		// A full delivery queue holds the old session's reader: its
		// DISCONNECT receipt could not be read. Move once it drains.
		sess.Close()
		c.startPriority()
		return
	}
	old := o.sess
	c.unpublish()
	o.sess = nil // requests park until the new session is installed
	if o.release != nil {
		o.release()
		o.release = nil
	}
	o.switching = &switchState{to: sess, ep: pref}
	timeout := c.opts.disconnectTimeout
	o.helpers.Add(1)
	go func() {
		defer o.helpers.Done()
		dctx, cancel := context.WithTimeout(c.ctx, timeout)
		_ = old.Disconnect(dctx)
		cancel()
		c.post(c.switchDone)
	}()
}

// switchDone installs the preferred broker's session once the old one is
// gone; owner only.
func (c *Connection) switchDone() {
	o := &c.own
	sw := o.switching
	if sw == nil {
		return
	}
	o.switching = nil
	if o.closing {
		sw.to.Close()
		return
	}
	if sw.toDead || sw.to.Err() != nil {
		sw.to.Close()
		o.lostAt = c.opts.clock.Now()
		c.setState(StateReconnecting)
		lost := sw.ep
		c.startWalk(nil, "reconnect", &lost)
		return
	}
	r := c.install(sw.to, sw.ep)
	c.log.WithField("url", sw.ep.String()).Info("returned to the preferred broker")
	c.emit(Event{Kind: EventSwitched, URL: sw.ep.String()})
	c.announce(r)
	c.startExtras()
	c.checkInstalled(sw.to)
}
