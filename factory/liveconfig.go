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
// while connections are open takes effect on them:
//
//   - "new connections": connections created after the reload;
//   - "next reconnect": the next connect walk of an existing connection
//     (a loss, or a priority-backup or hot-standby dial), at the latest;
//   - "at once": calls made after the reload (and helpers started/stopped);
//   - "restart": never on an open connection; the reload reports it
//     (ErrRestartRequired, logged and in EventConfigReloaded.Err).
var ReloadTiming = map[string]string{
	"type":                         "restart",
	"clientID":                     "restart",
	"track_messages":               "restart",
	"url":                          "next reconnect",
	"metric":                       "next reconnect",
	"randomize":                    "next reconnect",
	"connect_attempt_count":        "new connections",
	"connect_attempt_delay":        "new connections",
	"connect_attempt_timeout":      "new connections",
	"reconnect_attempt_count":      "next reconnect",
	"reconnect_attempt_delay":      "next reconnect",
	"reconnect_attempt_timeout":    "next reconnect",
	"reconnect_backoff_multiplier": "next reconnect",
	"reconnect_max_delay":          "next reconnect",
	"reconnect_jitter":             "next reconnect",
	"reconnect_spread":             "next reconnect",
	"reconnect_budget":             "next reconnect",
	"login":                        "next reconnect",
	"passcode":                     "next reconnect",
	"passcode_file":                "next reconnect",
	"vhost":                        "next reconnect",
	"heartbeat":                    "next reconnect",
	"heartbeat_grace":              "next reconnect",
	"ssl_trusted":                  "next reconnect",
	"ssl_identity":                 "next reconnect",
	"ssl_private_key":              "next reconnect",
	"ssl_issuer":                   "next reconnect",
	"ssl_verify_host":              "next reconnect",
	"ssl_verify_hostname":          "next reconnect",
	"ssl_expected_hostname":        "next reconnect",
	"ssl_ciphers":                  "next reconnect",
	"scheduler_max_concurrency":    "next reconnect",
	"scheduler_max_rate":           "next reconnect",
	"scheduler_min_rate":           "next reconnect",
	"priority_backup":              "at once",
	"backup":                       "at once",
	"send_timeout":                 "at once",
	"max_cache_size":               "at once",
	"subscription_queue_messages":  "new subscriptions",
	"subscription_queue_bytes":     "new subscriptions",
}

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
