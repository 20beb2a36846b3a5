package factory

import (
	"errors"
	"fmt"
	"strings"

	"github.com/stompft/stompft/confparse"
)

// ErrRestartRequired: a reload changed keys that a running connection cannot
// take on (type, clientID, track_messages); the connection keeps their old
// values until it is closed and created again. It is the Err of that
// reload's EventConfigReloaded.
var ErrRestartRequired = errors.New("stompft: changed keys take effect only on new connections (restart)")

// ReloadTiming says, for every key of a factory section, when an edit made
// while connections are open takes effect on them. It is the Reload column
// of confparse.KeyDocs (the key table of docs/keys.md and the README), so
// the table and the behaviour have one source:
//
//   - "new connections": connections created after the reload;
//   - "next reconnect": the next connect walk of an existing connection
//     (a loss, or a priority-backup or hot-standby dial), at the latest;
//   - "at once": calls made after the reload (and helpers started/stopped);
//   - "new subscriptions": subscriptions made after the reload;
//   - "restart": never on an open connection; the reload reports it
//     (ErrRestartRequired, logged and in EventConfigReloaded.Err).
var ReloadTiming = reloadTiming()

func reloadTiming() map[string]string {
	m := map[string]string{}
	for _, d := range confparse.KeyDocs() {
		m[d.Key] = string(d.Reload)
	}
	return m
}

// restartKeys are the keys applyReload keeps at their old value on an open
// connection and reports; ReloadTiming must call exactly these "restart".
var restartKeys = []string{"type", "clientID", "track_messages"}

// reloaded is called by Factory.Reload for every open connection.
func (c *Connection) reloaded(err error) {
	if err != nil {
		c.emit(Event{Kind: EventConfigReloaded, Err: err})
		return
	}
	def := c.f.definition(c.name)
	c.post(func() { c.applyReload(def) })
}

// applyReload makes def the connection's definition; owner only. Keys that
// cannot change on an open connection keep their old values and are
// reported.
func (c *Connection) applyReload(def *confparse.Factory) {
	o := &c.own
	if o.closing {
		return
	}
	if def == nil {
		err := fmt.Errorf("%w: factory [%s] was removed from the file; this connection keeps its last definition", ErrRestartRequired, c.name)
		c.log.WithError(err).Warn("reload")
		c.emit(Event{Kind: EventConfigReloaded, Err: err})
		return
	}
	old := o.def
	var restart []string
	if def.Type != old.Type {
		restart = append(restart, "type")
	}
	if def.ClientID != old.ClientID {
		restart = append(restart, "clientID")
	}
	if def.TrackMessages != old.TrackMessages {
		restart = append(restart, "track_messages")
	}
	if len(restart) > 0 {
		cp := *def
		cp.Type, cp.ClientID, cp.TrackMessages = old.Type, old.ClientID, old.TrackMessages
		def = &cp
	}
	schedChanged := def.SchedulerConfig() != old.SchedulerConfig()
	c.setDef(def)
	if schedChanged {
		schedulers.reconfigure(o.schedKey, def.SchedulerConfig(), c.f.opts.conn.clock)
	}
	// priority_backup and backup apply at once; the prober restarts so it
	// follows a changed list.
	c.stopProbe()
	if !def.Backup {
		c.stopStandby()
	}
	if o.sess != nil {
		c.startExtras()
	}
	if o.sess != nil {
		c.serveParked() // max_cache_size may have grown
	}
	var err error
	if len(restart) > 0 {
		err = fmt.Errorf("%w: %s changed for [%s]; the open connection keeps the old value", ErrRestartRequired, strings.Join(restart, ", "), c.name)
		c.log.WithError(err).Warn("reload")
	}
	c.emit(Event{Kind: EventConfigReloaded, Err: err})
}
