package factory

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stompft/stompft/attempts/attemptstest"
	"github.com/stompft/stompft/internal/embedded"
	"github.com/stompft/stompft/internal/embedded/embeddedtest"
)

// Hostile and careless edits of a watched factories file, driven through
// real file-system events with the settle timer on a fake clock.

// watchedAt loads path with the watcher on a fake clock.
func watchedAt(t *testing.T, path string) (*Factory, settleClock) {
	t.Helper()
	clk := attemptstest.NewClock(time.Unix(1_700_000_000, 0))
	f, err := Load(path, WithClock(clk), WithWatch(true))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return f, settleClock{t: t, c: clk}
}

// symlink makes link point at target, replacing link atomically the way
// ln -sfn does (a new link, renamed over the old one).
func symlink(t *testing.T, target, link string) {
	t.Helper()
	tmp := link + ".tmp"
	if err := os.Symlink(target, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, link); err != nil {
		t.Fatal(err)
	}
}

// TestReloadFollowsSymlinks: a factories.conf that is a symlink is
// reloaded when its target is edited in place in another directory, when
// the link is re-pointed, and when a Kubernetes ConfigMap update swaps
// the ..data link to a new directory. The watcher used to watch only the
// directory holding the link and the link's own name: the first and the
// last were never seen, so the edit never applied.
func TestReloadFollowsSymlinks(t *testing.T) {
	verifyNoLeaks(t)
	t.Run("target edited in place", func(t *testing.T) {
		dir, other := t.TempDir(), t.TempDir()
		target := filepath.Join(other, "real.conf")
		overwrite(t, target, reloadConf("tcp://127.0.0.1:1111"))
		link := filepath.Join(dir, "factories.conf")
		symlink(t, target, link)
		f, clk := watchedAt(t, link)
		overwrite(t, target, reloadConf("tcp://127.0.0.1:2222"))
		clk.stepUntil(10, "the edited target applied", func() bool { return currentURL(t, f) == "tcp://127.0.0.1:2222" })
		// And again, after the watch moved nowhere.
		overwrite(t, target, reloadConf("tcp://127.0.0.1:3333"))
		clk.stepUntil(10, "the second edit applied", func() bool { return currentURL(t, f) == "tcp://127.0.0.1:3333" })
	})
	t.Run("link re-pointed", func(t *testing.T) {
		dir, other := t.TempDir(), t.TempDir()
		a, b := filepath.Join(other, "a.conf"), filepath.Join(other, "b.conf")
		overwrite(t, a, reloadConf("tcp://127.0.0.1:1111"))
		overwrite(t, b, reloadConf("tcp://127.0.0.1:2222"))
		link := filepath.Join(dir, "factories.conf")
		symlink(t, a, link)
		f, clk := watchedAt(t, link)
		symlink(t, b, link)
		clk.stepUntil(10, "the new target applied", func() bool { return currentURL(t, f) == "tcp://127.0.0.1:2222" })
		// The old target's directory is the new one's: an edit of b is
		// seen, an edit of a is not applied.
		overwrite(t, a, reloadConf("tcp://127.0.0.1:9999"))
		overwrite(t, b, reloadConf("tcp://127.0.0.1:3333"))
		clk.stepUntil(10, "the edit of the new target applied", func() bool { return currentURL(t, f) == "tcp://127.0.0.1:3333" })
	})
	t.Run("ConfigMap update", func(t *testing.T) {
		// What the kubelet does: files in a timestamped directory,
		// ..data -> that directory, factories.conf -> ..data/factories.conf;
		// an update writes a new directory, swaps ..data by rename and
		// removes the old directory.
		dir := t.TempDir()
		v1, v2 := filepath.Join(dir, "..2026_12_02_v1"), filepath.Join(dir, "..2026_12_02_v2")
		for _, d := range []string{v1, v2} {
			if err := os.Mkdir(d, 0o700); err != nil {
				t.Fatal(err)
			}
		}
		overwrite(t, filepath.Join(v1, "factories.conf"), reloadConf("tcp://127.0.0.1:1111"))
		symlink(t, filepath.Base(v1), filepath.Join(dir, "..data"))
		link := filepath.Join(dir, "factories.conf")
		symlink(t, filepath.Join("..data", "factories.conf"), link)
		f, clk := watchedAt(t, link)

		overwrite(t, filepath.Join(v2, "factories.conf"), reloadConf("tcp://127.0.0.1:2222"))
		symlink(t, filepath.Base(v2), filepath.Join(dir, "..data"))
		if err := os.RemoveAll(v1); err != nil {
			t.Fatal(err)
		}
		clk.stepUntil(10, "the ConfigMap update applied", func() bool { return currentURL(t, f) == "tcp://127.0.0.1:2222" })
	})
	t.Run("link loop", func(t *testing.T) {
		// A link turned into a loop is a read error, reported; the last
		// good configuration stays.
		dir := t.TempDir()
		target := filepath.Join(dir, "real.conf")
		overwrite(t, target, reloadConf("tcp://127.0.0.1:1111"))
		link := filepath.Join(dir, "factories.conf")
		symlink(t, target, link)
		f, clk := watchedAt(t, link)
		symlink(t, "factories.conf", link)
		clk.step() // first read: an error
		clk.step() // the same error again: reported, nothing applied
		if got := currentURL(t, f); got != "tcp://127.0.0.1:1111" {
			t.Fatalf("definition after the loop: %q", got)
		}
		if err := f.Reload(); err == nil || !strings.Contains(err.Error(), "too many levels of symbolic links") {
			t.Fatalf("Reload through a loop: %v", err)
		}
		symlink(t, target, link)
		overwrite(t, target, reloadConf("tcp://127.0.0.1:2222"))
		clk.stepUntil(10, "the repaired link applied", func() bool { return currentURL(t, f) == "tcp://127.0.0.1:2222" })
	})
}

// reloads collects the EventConfigReloaded errors of one connection.
type reloads struct {
	mu   sync.Mutex
	errs []error
	ch   chan struct{}
}

func (r *reloads) handler(e Event) {
	if e.Kind != EventConfigReloaded {
		return
	}
	r.mu.Lock()
	r.errs = append(r.errs, e.Err)
	r.mu.Unlock()
	select {
	case r.ch <- struct{}{}:
	default:
	}
}

func (r *reloads) snapshot() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]error(nil), r.errs...)
}

// connected loads path (fake-clock watcher) and opens one connection to
// [Test] whose reload events are collected.
func connected(t *testing.T, path string) (*Factory, settleClock, *reloads) {
	t.Helper()
	f, clk := watchedAt(t, path)
	r := &reloads{ch: make(chan struct{}, 1)}
	c, err := f.CreateConnection("Test", WithEventHandler(r.handler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return f, clk, r
}

// TestReloadFileReplacedByOddThings: the file replaced by a FIFO, by a
// directory, removed, renamed away: each is either ignored (removal) or
// rejected and reported to the open connection, the watcher never blocks,
// the connection and the last good definition stay, and the next good
// file applies.
func TestReloadFileReplacedByOddThings(t *testing.T) {
	verifyNoLeaks(t)
	b := embeddedtest.Start(t, embedded.Options{})
	path := filepath.Join(t.TempDir(), "factories.conf")
	good := reloadConf(b.URL())
	overwrite(t, path, good)
	f, clk, r := connected(t, path)

	// waitRejection steps the settle timer until a rejection naming want
	// reaches the connection (events are dispatched asynchronously: one
	// from an earlier edit may still arrive, so all are searched).
	waitRejection := func(what, want string) {
		t.Helper()
		before := len(r.snapshot())
		clk.stepUntil(10, what+" reported", func() bool {
			for _, err := range r.snapshot()[before:] {
				if err != nil && strings.Contains(err.Error(), want) {
					return true
				}
			}
			return false
		})
		if d, err := f.Definition("Test"); err != nil || d.URL != b.URL() {
			t.Fatalf("%s: definition %v %v", what, d, err)
		}
	}
	restore := func(what string) {
		t.Helper()
		if err := os.RemoveAll(path); err != nil {
			t.Fatal(err)
		}
		overwrite(t, path, strings.Replace(good, "send_timeout = 15000", "send_timeout = 16000", 1))
		clk.stepUntil(10, what, func() bool {
			d, err := f.Definition("Test")
			return err == nil && d.SendTimeout == 16*time.Second
		})
		overwrite(t, path, good)
		clk.stepUntil(10, what, func() bool {
			d, err := f.Definition("Test")
			return err == nil && d.SendTimeout == 15*time.Second
		})
	}

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	waitRejection("a FIFO", "not a regular file")
	restore("the file after the FIFO")

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	waitRejection("a directory", "not a regular file")
	restore("the file after the directory")

	if err := os.Rename(path, path+".away"); err != nil {
		t.Fatal(err)
	}
	waitRejection("the file renamed away", "no such file")
	restore("the file after the rename")

	// A removal alone is not an edit: the last good definition stays, and
	// the file recreated applies.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if d, err := f.Definition("Test"); err != nil || d.SendTimeout != 15*time.Second {
		t.Fatalf("after the removal: %v %v", d, err)
	}
	overwrite(t, path, strings.Replace(good, "send_timeout = 15000", "send_timeout = 17000", 1))
	clk.stepUntil(10, "the file recreated", func() bool {
		d, err := f.Definition("Test")
		return err == nil && d.SendTimeout == 17*time.Second
	})
}

// TestReloadEditorSaveDances: the ways editors save (rename the original
// away and write a new file, write a temp file and rename it over, write
// in place in chunks) apply the final content once, with no rejection
// reported, when the settle timer fires after the save.
func TestReloadEditorSaveDances(t *testing.T) {
	verifyNoLeaks(t)
	b := embeddedtest.Start(t, embedded.Options{})
	dir := t.TempDir()
	path := filepath.Join(dir, "factories.conf")
	conf := func(ms int) string {
		return strings.Replace(reloadConf(b.URL()), "send_timeout = 15000", fmt.Sprintf("send_timeout = %d", ms), 1)
	}
	overwrite(t, path, conf(15000))
	f, clk, r := connected(t, path)
	dances := []struct {
		name string
		save func(body string)
	}{
		{"vim: rename away, write, remove backup", func(body string) {
			if err := os.Rename(path, path+"~"); err != nil {
				t.Fatal(err)
			}
			overwrite(t, path, body)
			if err := os.Remove(path + "~"); err != nil {
				t.Fatal(err)
			}
		}},
		{"temp file renamed over", func(body string) {
			tmp := filepath.Join(dir, ".factories.conf.swp")
			overwrite(t, tmp, body)
			if err := os.Rename(tmp, path); err != nil {
				t.Fatal(err)
			}
		}},
		{"in place, in three chunks", func(body string) {
			overwrite(t, path, body[:10])
			appendTo(t, path, body[10:len(body)/2])
			appendTo(t, path, body[len(body)/2:])
		}},
		{"truncate, then write", func(body string) {
			if err := os.Truncate(path, 0); err != nil {
				t.Fatal(err)
			}
			appendTo(t, path, body)
		}},
	}
	for i, d := range dances {
		ms := 16000 + i*1000
		n := len(r.snapshot())
		d.save(conf(ms))
		clk.stepUntil(10, d.name, func() bool {
			def, err := f.Definition("Test")
			return err == nil && def.SendTimeout == time.Duration(ms)*time.Millisecond
		})
		for _, err := range r.snapshot()[n:] {
			if err != nil {
				t.Errorf("%s: a rejection was reported: %v", d.name, err)
			}
		}
	}
}

// TestReloadThousandsOfEvents: 5000 rewrites in a burst (each a truncate
// and a write: 10 000+ events) are absorbed by re-arming the settle timer;
// only the final content applies. Prints how long the watcher took to
// drain the events and what it allocated.
func TestReloadThousandsOfEvents(t *testing.T) {
	verifyNoLeaks(t)
	path := filepath.Join(t.TempDir(), "factories.conf")
	overwrite(t, path, reloadConf("tcp://127.0.0.1:1111"))
	f, clk := watchedAt(t, path)
	const rewrites = 5000
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	for i := range rewrites {
		overwrite(t, path, reloadConf(fmt.Sprintf("tcp://127.0.0.1:%d", 2000+i%1000)))
	}
	overwrite(t, path, reloadConf("tcp://127.0.0.1:4242"))
	written := time.Since(start)
	clk.stepUntil(20, "the final content applied", func() bool { return currentURL(t, f) == "tcp://127.0.0.1:4242" })
	runtime.ReadMemStats(&after)
	t.Logf("%d rewrites written in %v; final content applied %v after the first write; %d bytes allocated in all (%.0f per rewrite)",
		rewrites+1, written, time.Since(start), after.TotalAlloc-before.TotalAlloc, float64(after.TotalAlloc-before.TotalAlloc)/rewrites)
}

// TestFactoryCloseTwice: a second Close used to close the watcher's quit
// channel again and panic.
func TestFactoryCloseTwice(t *testing.T) {
	verifyNoLeaks(t)
	path := filepath.Join(t.TempDir(), "factories.conf")
	overwrite(t, path, reloadConf("tcp://127.0.0.1:1111"))
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// hostileConf is a file of about size bytes that parses slowly or
// allocates much per byte if the parser is not bounded: one [Test] then
// unknown keys with numeric values.
func hostileConf(size int) string {
	head := reloadConf("tcp://127.0.0.1:1111")
	return head + strings.Repeat("ab = 1\n", (size-len(head))/7)
}

// TestFactoryCloseDuringAReload: Close while the watcher is applying a
// MaxConfigFileSize edit returns within the test's bound (it waits for
// the apply, whose parse is bounded); the edit is rejected and the last
// good definition kept. Before the parser was bounded, parsing this file
// took minutes on a loaded machine, and Close waited for it.
func TestFactoryCloseDuringAReload(t *testing.T) {
	verifyNoLeaks(t)
	path := filepath.Join(t.TempDir(), "factories.conf")
	overwrite(t, path, reloadConf("tcp://127.0.0.1:1111"))
	clk := attemptstest.NewClock(time.Unix(1_700_000_000, 0))
	f, err := Load(path, WithClock(clk), WithWatch(true))
	if err != nil {
		t.Fatal(err)
	}
	overwrite(t, path, hostileConf(MaxConfigFileSize))
	s := settleClock{t: t, c: clk}
	s.step() // first read
	s.step() // second read agrees: the apply starts
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- f.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitLimit):
		t.Fatalf("Close did not return within %v of a reload of a hostile file", waitLimit)
	}
	t.Logf("Close returned %v after the apply of a %d-byte hostile edit began", time.Since(start), MaxConfigFileSize)
	if got := currentURL(t, f); got != "tcp://127.0.0.1:1111" {
		t.Fatalf("definition: %q", got)
	}
}

// TestReloadOfHostileFilesIsBounded: Reload of a MaxConfigFileSize file
// of each hostile shape is rejected, allocating at most a small multiple
// of the file's size. Prints time and allocation per shape.
func TestReloadOfHostileFilesIsBounded(t *testing.T) {
	verifyNoLeaks(t)
	path := filepath.Join(t.TempDir(), "factories.conf")
	good := reloadConf("tcp://127.0.0.1:1111")
	overwrite(t, path, good)
	f, err := Load(path, WithWatch(false))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fill := func(head, unit string) string {
		return head + strings.Repeat(unit, (MaxConfigFileSize-len(head)-64)/len(unit))
	}
	nested := func(open, closing string) string {
		n := (MaxConfigFileSize - len(good) - 64) / (len(open) + len(closing))
		return good + "ssl_trusted = " + strings.Repeat(open, n) + strings.Repeat(closing, n) + "\n"
	}
	for _, tc := range []struct{ name, body string }{
		{"nested arrays", nested("[", "]")},
		{"array of arrays", fill(good+"ssl_trusted = [", "[1],")},
		{"bad lines", fill("", "x\n")},
		{"unknown keys", fill(good, "ab = 1\n")},
		{"duplicate keys", fill(good, "type = queue\n")},
		{"unterminated string", fill(good+"clientID = \"\"\"\n", "aaaa\n")},
		{"huge value", fill(good+"connect_attempt_count = ", "9")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			overwrite(t, path, tc.body)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			err := f.Reload()
			elapsed := time.Since(start)
			runtime.ReadMemStats(&after)
			perByte := float64(after.TotalAlloc-before.TotalAlloc) / float64(len(tc.body))
			t.Logf("%d bytes: %v, %.1f bytes allocated per input byte", len(tc.body), elapsed, perByte)
			if err == nil {
				t.Fatal("accepted")
			}
			if len(err.Error()) > 64<<10 {
				t.Errorf("a %d-byte rejection", len(err.Error()))
			}
			if perByte > 48 {
				t.Errorf("%.1f bytes allocated per input byte, want at most 48", perByte)
			}
			if got := currentURL(t, f); got != "tcp://127.0.0.1:1111" {
				t.Fatalf("definition: %q", got)
			}
		})
	}
}

// TestConfigFileReadingMoreThanItsSize: a pseudo file (it states 0 bytes
// and reads more) is refused, not parsed.
func TestConfigFileReadingMoreThanItsSize(t *testing.T) {
	const environ = "/proc/self/environ"
	if fi, err := os.Stat(environ); err != nil || fi.Size() != 0 {
		t.Skip("no /proc/self/environ of size 0 here")
	}
	_, err := Load(environ, WithWatch(false))
	if err == nil || !strings.Contains(err.Error(), "reads more than its size") {
		t.Fatalf("Load(%s): %v", environ, err)
	}
	var pe interface{ Unwrap() []error }
	if errors.As(err, &pe) {
		t.Fatalf("the pseudo file was parsed: %v", err)
	}
}
