package factory

import (
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/stompft/stompft/confparse"
	"github.com/stompft/stompft/sequential"
)

// reloadSettle coalesces the bursts of events one save produces (truncate +
// write, or write temp + rename).
const reloadSettle = 50 * time.Millisecond

// watcher reloads a Factory's file when it changes. It watches the directory,
// not the file, so editors that write a temp file and rename it over the
// original are seen too.
type watcher struct {
	f    *Factory
	w    *fsnotify.Watcher
	done chan struct{}
	quit chan struct{}
}

func newWatcher(f *Factory) (*watcher, error) {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	if err := fw.Add(filepath.Dir(f.path)); err != nil {
		_ = fw.Close()
		return nil, err
	}
	w := &watcher{f: f, w: fw, done: make(chan struct{}), quit: make(chan struct{})}
	go w.run()
	return w, nil
}

func (w *watcher) run() {
	defer close(w.done)
	base := filepath.Base(w.f.path)
	var settle <-chan time.Time
	var timer *time.Timer
	for {
		select {
		case <-w.quit:
			if timer != nil {
				timer.Stop()
			}
			return
		case ev, ok := <-w.w.Events:
			if !ok {
				return
			}
			if filepath.Base(ev.Name) != base || ev.Op&(fsnotify.Write|fsnotify.Create|fsnotify.Rename) == 0 {
				continue
			}
			if timer != nil {
				timer.Stop()
			}
			timer = time.NewTimer(reloadSettle)
			settle = timer.C
		case err, ok := <-w.w.Errors:
			if !ok {
				return
			}
			w.f.opts.conn.logger.WithError(err).Warn("watching factories file")
		case <-settle:
			settle = nil
			w.f.Reload()
		}
	}
}

func (w *watcher) close() {
	close(w.quit)
	_ = w.w.Close()
	<-w.done
}

// Reload re-reads the factories file now. A file that does not parse keeps
// the configuration in force: every error is logged with file:line and
// returned, and connections get an EventConfigReloaded with Err set.
func (f *Factory) Reload() error {
	cfg, err := confparse.ParseFile(f.path)
	f.mu.Lock()
	if err == nil {
		f.cfg = cfg
	}
	conns := make([]*Connection, 0, len(f.conns))
	for c := range f.conns {
		conns = append(conns, c)
	}
	f.mu.Unlock()
	log := f.opts.conn.logger.WithField("file", f.path)
	if err != nil {
		if list, ok := err.(confparse.ErrorList); ok {
			for _, e := range list {
				log.Error("reload rejected, keeping the last good configuration: " + e.Error())
			}
		} else {
			log.WithError(err).Error("reload rejected, keeping the last good configuration")
		}
	} else {
		for _, wn := range cfg.Warnings {
			log.Warn(wn.String())
		}
		log.Info("factories file reloaded")
	}
	for _, c := range conns {
		c.reloaded(err)
	}
	return err
}

// listFor is the URL list a connection walks: the definition's, plus servers
// added at run time (to its first group).
func (f *Factory) listFor(name string, def *confparse.Factory) *sequential.List {
	f.mu.RLock()
	added := f.added[name]
	f.mu.RUnlock()
	if len(added) == 0 {
		return def.URLs
	}
	l := &sequential.List{Groups: make([][]sequential.Endpoint, len(def.URLs.Groups))}
	for i, g := range def.URLs.Groups {
		l.Groups[i] = append([]sequential.Endpoint(nil), g...)
	}
	for _, ep := range added {
		dup := false
		for _, e := range l.Endpoints() {
			dup = dup || e == ep
		}
		if !dup {
			l.Groups[0] = append(l.Groups[0], ep)
		}
	}
	return l
}
