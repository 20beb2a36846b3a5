package factory

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/stompft/stompft/attempts"
	"github.com/stompft/stompft/confparse"
	"github.com/stompft/stompft/sequential"
)

// ReloadSettle is how long a watched factories file must stay unchanged
// before an edit is applied. After the last change event the watcher waits
// ReloadSettle and reads the file, waits ReloadSettle again and reads it once
// more; only when both reads return the same bytes (same size, modification
// time and SHA-256) with no change event in between is the content a
// candidate. An editor that saves in several writes, or truncates and then
// writes, is therefore never read half way: a pause between two writes must
// exceed twice ReloadSettle for a partial file to be considered, and even
// then it must pass the checks Reload makes.
const ReloadSettle = 150 * time.Millisecond

// MaxConfigFileSize bounds the factories file Load and Reload read: a larger
// file is refused before it is read whole, with an error naming the limit.
// It is confparse.MaxFileSize, so confcheck and Load accept the same files.
const MaxConfigFileSize = int(confparse.MaxFileSize)

// Reload rejections, found with errors.Is in the error Reload returns and in
// EventConfigReloaded.Err. A file that does not parse is rejected with the
// parser's confparse.ErrorList instead.
var (
	// ErrConfigEmpty: the edited file defines no factory (empty, or only
	// comments).
	ErrConfigEmpty = errors.New("stompft: reload rejected: the file defines no factory")
	// ErrFactoryInUse: the edit removes a factory that has open connections.
	ErrFactoryInUse = errors.New("stompft: reload rejected: a factory with open connections is no longer defined")
)

// watcher reloads a Factory's file when it changes. It watches directories,
// not the file, so editors that write a temp file and rename it over the
// original are seen too. When the path is a symlink it also watches every
// link on the way to the file and the directory of the file itself: an
// edit of the target in place, a link re-pointed with ln -sfn, and a
// Kubernetes ConfigMap update (factories.conf -> ..data/factories.conf,
// with ..data swapped to a new directory) are all seen.
type watcher struct {
	f     *Factory
	clock attempts.Clock
	w     *fsnotify.Watcher
	done  chan struct{}
	quit  chan struct{}
	once  sync.Once

	abs   string          // the watched path, absolute
	chain map[string]bool // abs, the symlinks it resolves through, the final file (see follow)
	dirs  map[string]bool // directories watched: those holding the chain
}

func newWatcher(f *Factory) (*watcher, error) {
	abs, err := filepath.Abs(f.path)
	if err != nil {
		return nil, err
	}
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	clock := f.opts.conn.clock
	if clock == nil {
		clock = attempts.SystemClock
	}
	w := &watcher{f: f, clock: clock, w: fw, done: make(chan struct{}), quit: make(chan struct{}),
		abs: abs, dirs: map[string]bool{}}
	if err := w.follow(); err != nil {
		_ = fw.Close()
		return nil, err
	}
	go w.run()
	return w, nil
}

// maxLinkHops bounds the symlinks followed when resolving the watched path
// (the kernel's own limit is 40).
const maxLinkHops = 40

// linkChain returns path (absolute and clean), every symlink met while
// resolving it, and the file it resolves to.
func linkChain(path string) []string {
	out := []string{path}
	cur := path
	for hop := 0; hop < maxLinkHops; hop++ {
		link, rest, ok := firstLink(cur)
		if !ok {
			break
		}
		target, err := os.Readlink(link)
		if err != nil {
			break
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(link), target)
		}
		cur = filepath.Join(target, rest)
		out = append(out, link, cur)
	}
	return out
}

// firstLink finds the first component of the absolute path p that is a
// symlink: the link's path and what follows it.
func firstLink(p string) (link, rest string, ok bool) {
	for i := 1; i <= len(p); i++ {
		if i < len(p) && p[i] != filepath.Separator {
			continue
		}
		if fi, err := os.Lstat(p[:i]); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			return p[:i], strings.TrimPrefix(p[i:], string(filepath.Separator)), true
		}
	}
	return "", "", false
}

// follow resolves the watched path again and watches the directories of
// its symlink chain, dropping those it no longer passes through. Names are
// kept by their physical directory (symlinks resolved), which is how the
// watch on that directory reports them: a directory reached through two
// names is watched once. The error is that of watching the directory
// holding the path itself.
func (w *watcher) follow() error {
	physical := func(p string) string {
		dir := filepath.Dir(p)
		if real, err := filepath.EvalSymlinks(dir); err == nil {
			dir = real
		}
		return filepath.Join(dir, filepath.Base(p))
	}
	chain := linkChain(w.abs)
	w.chain = make(map[string]bool, len(chain))
	want := map[string]bool{}
	for _, p := range chain {
		p = physical(p)
		w.chain[p] = true
		want[filepath.Dir(p)] = true
	}
	var err error
	for d := range want {
		if w.dirs[d] {
			continue
		}
		if e := w.w.Add(d); e == nil {
			w.dirs[d] = true
		} else if d == filepath.Dir(physical(w.abs)) {
			err = e
		}
	}
	for d := range w.dirs {
		if !want[d] {
			_ = w.w.Remove(d) // may be gone already (a ConfigMap's old directory)
			delete(w.dirs, d)
		}
	}
	return err
}

// confRead is one read of the factories file.
type confRead struct {
	data  []byte
	size  int64
	mtime time.Time
	sum   [sha256.Size]byte
	err   error
}

func (a *confRead) same(b *confRead) bool {
	if a.err != nil || b.err != nil {
		return a.err != nil && b.err != nil && a.err.Error() == b.err.Error()
	}
	return a.size == b.size && a.mtime.Equal(b.mtime) && a.sum == b.sum
}

func (w *watcher) run() {
	defer close(w.done)
	var (
		timer attempts.Timer
		fire  <-chan time.Time
		first *confRead // the first of the two reads that must agree
	)
	arm := func() {
		if timer != nil {
			timer.Stop()
		}
		timer = w.clock.NewTimer(ReloadSettle)
		fire = timer.C()
	}
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		select {
		case <-w.quit:
			return
		case ev, ok := <-w.w.Events:
			if !ok {
				return
			}
			if !w.chain[filepath.Clean(ev.Name)] || ev.Op&(fsnotify.Write|fsnotify.Create|fsnotify.Rename) == 0 {
				continue
			}
			// The file, or a link on the way to it, is changing: start
			// over, following the links as they are now.
			_ = w.follow() // the holding directory stays watched on failure
			first = nil
			arm()
		case err, ok := <-w.w.Errors:
			if !ok {
				return
			}
			w.f.opts.conn.logger.WithError(err).Warn("watching factories file")
		case <-fire:
			fire, timer = nil, nil
			r := readConf(w.f.path)
			if first == nil || !first.same(r) {
				// First read, or the file moved on since: read again
				// after another quiet ReloadSettle.
				first = r
				arm()
				continue
			}
			first = nil
			_ = w.f.apply(r.data, r.err)
		}
	}
}

// close stops the watcher and waits for it; a second call (a second
// Factory.Close) only waits.
func (w *watcher) close() {
	w.once.Do(func() {
		close(w.quit)
		_ = w.w.Close()
	})
	<-w.done
}

// readConf reads the factories file without ever blocking on it: opened
// non-blocking (a FIFO does not wait for a writer), refused unless it is a
// regular file after symlinks, refused above MaxConfigFileSize before and
// while reading.
func readConf(path string) *confRead {
	r := &confRead{}
	r.data, r.size, r.mtime, r.err = readConfFile(path)
	if r.err == nil {
		r.sum = sha256.Sum256(r.data)
	}
	return r
}

func readConfFile(path string) (data []byte, size int64, mtime time.Time, err error) {
	fd, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, 0, time.Time{}, fmt.Errorf("stompft: reading factories file: %w", err)
	}
	defer fd.Close()
	fi, err := fd.Stat()
	if err != nil {
		return nil, 0, time.Time{}, fmt.Errorf("stompft: reading factories file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, 0, time.Time{}, fmt.Errorf("stompft: factories file %s is not a regular file (%s)", path, fi.Mode().Type())
	}
	if fi.Size() > int64(MaxConfigFileSize) {
		return nil, 0, time.Time{}, fmt.Errorf("stompft: factories file %s is %d bytes, over the %d-byte limit (MaxConfigFileSize)", path, fi.Size(), MaxConfigFileSize)
	}
	// One byte more than the stated size: a file that yields more is a
	// pseudo file (/proc/self/environ states 0 bytes) or is being
	// written, and is refused rather than parsed.
	data, err = io.ReadAll(io.LimitReader(fd, fi.Size()+1))
	if err != nil {
		return nil, 0, time.Time{}, fmt.Errorf("stompft: reading factories file %s: %w", path, err)
	}
	if int64(len(data)) > fi.Size() {
		return nil, 0, time.Time{}, fmt.Errorf("stompft: factories file %s reads more than its size of %d bytes (a pseudo file, or a file being written)", path, fi.Size())
	}
	return data, fi.Size(), fi.ModTime(), nil
}

// loadConf is confparse.ParseFile with the bounded read.
func loadConf(path string) (*confparse.Config, error) {
	data, _, _, err := readConfFile(path)
	if err != nil {
		return nil, err
	}
	return confparse.Parse(path, data)
}

// Reload re-reads the factories file now (the watcher calls it only once the
// file has been stable for ReloadSettle). The edit is rejected, and the
// configuration in force kept, when the file cannot be read (not a regular
// file, over MaxConfigFileSize), does not parse (confparse.ErrorList),
// defines no factory (ErrConfigEmpty), or no longer defines a factory that
// has open connections (ErrFactoryInUse). A rejection is logged, every parse
// error with its file:line, and returned; an accepted edit replaces the
// whole configuration at once, so a concurrent CreateConnection sees either
// the old one or the new one. Either way every connection gets an
// EventConfigReloaded, with Err set when the edit was rejected.
func (f *Factory) Reload() error {
	data, _, _, err := readConfFile(f.path)
	return f.apply(data, err)
}

// apply validates data (or reports readErr) and swaps the configuration.
func (f *Factory) apply(data []byte, readErr error) error {
	var cfg *confparse.Config
	err := readErr
	if err == nil {
		cfg, err = confparse.Parse(f.path, data)
	}
	if err == nil && len(cfg.Factories) == 0 {
		err = fmt.Errorf("%w: %s", ErrConfigEmpty, f.path)
	}
	f.mu.Lock()
	if err == nil {
		err = missingInUse(f.path, cfg, f.conns)
	}
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
		var list confparse.ErrorList
		if errors.As(err, &list) {
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

// missingInUse names the factories with open connections that cfg no longer
// defines; f.mu must be held.
func missingInUse(path string, cfg *confparse.Config, conns map[*Connection]struct{}) error {
	open := map[string]int{}
	for c := range conns {
		if _, ok := cfg.Factory(c.name); !ok {
			open[c.name]++
		}
	}
	if len(open) == 0 {
		return nil
	}
	names := make([]string, 0, len(open))
	for n := range open {
		names = append(names, n)
	}
	slices.Sort(names)
	for i, n := range names {
		names[i] = fmt.Sprintf("[%s] (%d open)", n, open[n])
	}
	return fmt.Errorf("%w: %s no longer defines %s", ErrFactoryInUse, path, strings.Join(names, ", "))
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
