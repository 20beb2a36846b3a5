package sequential

import (
	"errors"
	"fmt"
	"math/rand"
	"reflect"
	"sync"
	"testing"
	"time"
)

// constRand always answers v (clamped to n-1), so shuffles are predictable.
type constRand int

func (c constRand) Intn(n int) int { return min(int(c), n-1) }

// badRand answers out of range, which the walker must survive.
type badRand struct{}

func (badRand) Intn(n int) int { return -7 * n }

func mustParse(t testing.TB, s string) *List {
	t.Helper()
	l, err := Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func ep(t testing.TB, s string) Endpoint {
	t.Helper()
	e, err := ParseEndpoint(s)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// names renders a pass as host names for compact comparisons.
func names(pass []Endpoint) []string {
	out := make([]string, len(pass))
	for i, e := range pass {
		out[i] = e.Host
	}
	return out
}

func newTestWalker(t testing.TB, list string, opts WalkOptions) *Walker {
	t.Helper()
	if opts.Tracker == nil {
		opts.Tracker = NewTracker(func() time.Time { return time.Unix(0, 0) })
	}
	if opts.Rand == nil {
		opts.Rand = constRand(0)
	}
	return NewWalker(mustParse(t, list), opts)
}

func TestWalkerSingleGroupOrder(t *testing.T) {
	const list = "tcp://a:1,tcp://b:1,tcp://c:1,tcp://d:1"
	tests := []struct {
		name string
		lost string // "" = first connection
		want []string
	}{
		{"first connection", "", []string{"a", "b", "c", "d"}},
		{"lost first", "tcp://a:1", []string{"b", "c", "d", "a"}},
		{"lost second", "tcp://b:1", []string{"c", "d", "a", "b"}},
		{"lost third", "tcp://c:1", []string{"d", "a", "b", "c"}},
		{"lost last wraps", "tcp://d:1", []string{"a", "b", "c", "d"}},
		{"lost not in list", "tcp://zz:1", []string{"a", "b", "c", "d"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newTestWalker(t, list, WalkOptions{})
			var lost *Endpoint
			if tt.lost != "" {
				e := ep(t, tt.lost)
				lost = &e
			}
			if got := names(w.Pass(lost)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Pass(%s) = %v, want %v", tt.lost, got, tt.want)
			}
		})
	}
	t.Run("lost built by hand", func(t *testing.T) {
		w := newTestWalker(t, list, WalkOptions{})
		lost := Endpoint{Scheme: "TCP", Host: "B", Port: 1}
		if got, want := names(w.Pass(&lost)), []string{"c", "d", "a", "b"}; !reflect.DeepEqual(got, want) {
			t.Errorf("Pass(%#v) = %v, want %v", lost, got, want)
		}
	})
}

func TestWalkerSingleURL(t *testing.T) {
	w := newTestWalker(t, "tcp://7222", WalkOptions{})
	e := ep(t, "tcp://localhost:7222")
	for _, lost := range []*Endpoint{nil, &e} {
		if got := w.Pass(lost); !reflect.DeepEqual(got, []Endpoint{e}) {
			t.Errorf("Pass(%v) = %v", lost, got)
		}
	}
}

func TestWalkerGroups(t *testing.T) {
	const list = "tcp://a1:1,tcp://a2:1|tcp://b1:1,tcp://b2:1|tcp://c1:1"
	tr := NewTracker(func() time.Time { return time.Unix(0, 0) })
	// Loads: group a 2, group b 0, group c 1.
	tr.Connected(ep(t, "tcp://a1:1"))
	tr.Connected(ep(t, "tcp://a2:1"))
	tr.Connected(ep(t, "tcp://c1:1"))

	tests := []struct {
		name string
		lost string
		want []string
	}{
		{"first picks least loaded", "", []string{"b1", "b2", "c1", "a1", "a2"}},
		{"lost in loaded group stays there", "tcp://a1:1", []string{"a2", "b1", "b2", "c1", "a1"}},
		{"lost last of group wraps in group", "tcp://a2:1", []string{"a1", "b1", "b2", "c1", "a2"}},
		{"lost in single-url group", "tcp://c1:1", []string{"b1", "b2", "a1", "a2", "c1"}},
		{"lost in least loaded group", "tcp://b1:1", []string{"b2", "c1", "a1", "a2", "b1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newTestWalker(t, list, WalkOptions{Tracker: tr})
			var lost *Endpoint
			if tt.lost != "" {
				e := ep(t, tt.lost)
				lost = &e
			}
			if got := names(w.Pass(lost)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Pass(%s) = %v, want %v", tt.lost, got, tt.want)
			}
		})
	}
}

func TestWalkerByteRateMetric(t *testing.T) {
	now := time.Unix(100, 0)
	tr := NewTracker(func() time.Time { return now })
	tr.Connected(ep(t, "tcp://b:1")) // would make a the choice under MetricConnections
	tr.AddBytes(ep(t, "tcp://a:1"), 5000)
	tr.AddBytes(ep(t, "tcp://b:1"), 100)

	byRate := newTestWalker(t, "tcp://a:1|tcp://b:1", WalkOptions{Tracker: tr, Metric: MetricByteRate})
	if got := names(byRate.Pass(nil)); !reflect.DeepEqual(got, []string{"b", "a"}) {
		t.Errorf("byte_rate pass = %v, want [b a]", got)
	}
	byConns := newTestWalker(t, "tcp://a:1|tcp://b:1", WalkOptions{Tracker: tr})
	if got := names(byConns.Pass(nil)); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("connections pass = %v, want [a b]", got)
	}
}

func TestWalkerTiesBrokenAtRandom(t *testing.T) {
	w := newTestWalker(t, "tcp://a:1|tcp://b:1|tcp://c:1", WalkOptions{Rand: rand.New(rand.NewSource(1))})
	first := map[string]int{}
	for range 300 {
		pass := w.Pass(nil)
		if len(pass) != 3 {
			t.Fatalf("pass %v", pass)
		}
		first[pass[0].Host]++
	}
	for _, h := range []string{"a", "b", "c"} {
		if first[h] < 50 {
			t.Errorf("group %s chosen first %d times of 300: ties are not spread (%v)", h, first[h], first)
		}
	}
}

func TestWalkerRandomize(t *testing.T) {
	const list = "tcp://a:1,tcp://b:1,tcp://c:1,tcp://d:1,tcp://e:1|tcp://x:1,tcp://y:1"
	w := newTestWalker(t, list, WalkOptions{Randomize: true, Rand: rand.New(rand.NewSource(7))})
	lostE := ep(t, "tcp://c:1")
	orders := map[string]bool{}
	for i := range 200 {
		var lost *Endpoint
		if i%2 == 1 {
			lost = &lostE
		}
		pass := w.Pass(lost)
		if len(pass) != 7 {
			t.Fatalf("pass %v has %d endpoints", pass, len(pass))
		}
		seen := map[Endpoint]bool{}
		for _, e := range pass {
			if seen[e] {
				t.Fatalf("pass %v repeats %v", names(pass), e)
			}
			seen[e] = true
		}
		if lost != nil {
			if pass[len(pass)-1] != lostE {
				t.Fatalf("pass %v: lost c is not last", names(pass))
			}
			// Reconnect stays in the lost endpoint's group: its members first.
			for _, e := range pass[:4] {
				if e.Host == "x" || e.Host == "y" {
					t.Fatalf("pass %v leaves the group of the lost endpoint early", names(pass))
				}
			}
		}
		orders[fmt.Sprint(names(pass))] = true
	}
	if len(orders) < 20 {
		t.Errorf("only %d distinct orders in 200 randomized passes", len(orders))
	}
}

func TestWalkerRandomizeExact(t *testing.T) {
	// Fisher-Yates with Intn always 0 turns [a b c] into [b c a].
	w := newTestWalker(t, "tcp://a:1,tcp://b:1,tcp://c:1", WalkOptions{Randomize: true, Rand: constRand(0)})
	if got := names(w.Pass(nil)); !reflect.DeepEqual(got, []string{"b", "c", "a"}) {
		t.Errorf("Pass(nil) = %v, want [b c a]", got)
	}
	// Intn always n-1 leaves the order alone.
	w = newTestWalker(t, "tcp://a:1,tcp://b:1,tcp://c:1", WalkOptions{Randomize: true, Rand: constRand(1 << 30)})
	if got := names(w.Pass(nil)); !reflect.DeepEqual(got, []string{"a", "b", "c"}) {
		t.Errorf("Pass(nil) = %v, want [a b c]", got)
	}
}

func TestWalkerBadRand(t *testing.T) {
	w := newTestWalker(t, "tcp://a:1,tcp://b:1|tcp://c:1", WalkOptions{Randomize: true, Rand: badRand{}})
	if got := w.Pass(nil); len(got) != 3 {
		t.Errorf("Pass = %v", got)
	}
}

func TestWalkerPriorityBackup(t *testing.T) {
	const list = "tcp://a:1,tcp://b:1,tcp://c:1"
	tests := []struct {
		lost string
		want []string
	}{
		{"", []string{"a", "b", "c"}},
		{"tcp://a:1", []string{"b", "c", "a"}},
		{"tcp://b:1", []string{"a", "c", "b"}}, // home first, then EMS order
		{"tcp://c:1", []string{"a", "b", "c"}},
	}
	for _, tt := range tests {
		w := newTestWalker(t, list, WalkOptions{PriorityBackup: true})
		var lost *Endpoint
		if tt.lost != "" {
			e := ep(t, tt.lost)
			lost = &e
		}
		if got := names(w.Pass(lost)); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Pass(%s) = %v, want %v", tt.lost, got, tt.want)
		}
	}
	// Randomized, the home still comes first.
	w := newTestWalker(t, list, WalkOptions{PriorityBackup: true, Randomize: true, Rand: rand.New(rand.NewSource(3))})
	for range 50 {
		if got := w.Pass(nil); got[0].Host != "a" {
			t.Fatalf("randomized priority pass %v does not start at home", names(got))
		}
	}
}

func TestWalkerPreferred(t *testing.T) {
	if _, ok := newTestWalker(t, "tcp://a:1", WalkOptions{}).Preferred(); ok {
		t.Error("Preferred without PriorityBackup reported ok")
	}
	tr := NewTracker(nil)
	tr.Connected(ep(t, "tcp://a1:1"))
	w := newTestWalker(t, "tcp://a1:1,tcp://a2:1|tcp://b1:1,tcp://b2:1", WalkOptions{PriorityBackup: true, Tracker: tr})
	if p, ok := w.Preferred(); !ok || p.Host != "a1" {
		t.Errorf("Preferred before any pass = %v, %v; want a1 (first group)", p, ok)
	}
	w.Pass(nil) // group b is less loaded
	if p, ok := w.Preferred(); !ok || p.Host != "b1" {
		t.Errorf("Preferred after choosing group b = %v, %v; want b1", p, ok)
	}
	lost := ep(t, "tcp://a2:1")
	w.Pass(&lost) // a reconnect moves back to group a
	if p, ok := w.Preferred(); !ok || p.Host != "a1" {
		t.Errorf("Preferred after reconnect in group a = %v, %v; want a1", p, ok)
	}
	empty := NewWalker(nil, WalkOptions{PriorityBackup: true})
	if _, ok := empty.Preferred(); ok {
		t.Error("Preferred of an empty walker reported ok")
	}
}

func TestWalkerAddServer(t *testing.T) {
	l := mustParse(t, "tcp://a1:1|tcp://b1:1")
	tr := NewTracker(nil)
	tr.Connected(ep(t, "tcp://a1:1"))
	w := NewWalker(l, WalkOptions{Tracker: tr, Rand: constRand(0)})

	// Before any pass the first group is current.
	if err := w.AddServer(ep(t, "tcp://a2:1")); err != nil {
		t.Fatal(err)
	}
	w.Pass(nil) // chooses group b (a is loaded)
	if err := w.AddServer(Endpoint{Scheme: SchemeTCP, Host: "B2", Port: 1}); err != nil {
		t.Fatal(err)
	}
	if got, want := w.List().String(), "tcp://a1:1,tcp://a2:1|tcp://b1:1,tcp://b2:1"; got != want {
		t.Errorf("List() = %s, want %s", got, want)
	}
	if got := names(w.Pass(nil)); !reflect.DeepEqual(got, []string{"b1", "b2", "a1", "a2"}) {
		t.Errorf("Pass after AddServer = %v", got)
	}
	if l.String() != "tcp://a1:1|tcp://b1:1" {
		t.Errorf("caller's list modified: %s", l)
	}

	errs := []struct {
		e    Endpoint
		want error
	}{
		{ep(t, "ssl://c:1"), ErrSchemeMismatch},
		{ep(t, "tcp://b1:1"), ErrDuplicate},
		{Endpoint{Scheme: "TCP", Host: "A2", Port: 1}, ErrDuplicate},
	}
	for _, tt := range errs {
		if err := w.AddServer(tt.e); !errors.Is(err, tt.want) {
			t.Errorf("AddServer(%v) = %v, want %v", tt.e, err, tt.want)
		}
	}
	var pe *ParseError
	for _, bad := range []Endpoint{{Scheme: "tcp", Host: "x", Port: 0}, {Scheme: "tcp", Port: 1}, {Scheme: "http", Host: "x", Port: 1}, {Scheme: "tcp", Host: "a,b", Port: 1}} {
		if err := w.AddServer(bad); !errors.As(err, &pe) {
			t.Errorf("AddServer(%#v) = %v, want *ParseError", bad, err)
		}
	}
	if got := len(w.List().Endpoints()); got != 4 {
		t.Errorf("failed AddServer calls changed the list: %d endpoints", got)
	}
}

func TestWalkerAddServerEmpty(t *testing.T) {
	w := NewWalker(nil, WalkOptions{})
	if got := w.Pass(nil); got != nil {
		t.Errorf("empty walker Pass = %v", got)
	}
	e := ep(t, "ssl://7243")
	if err := w.AddServer(e); err != nil {
		t.Fatal(err)
	}
	if got := w.Pass(nil); !reflect.DeepEqual(got, []Endpoint{e}) {
		t.Errorf("Pass = %v", got)
	}
}

func TestWalkerSetList(t *testing.T) {
	w := newTestWalker(t, "tcp://a:1,tcp://b:1,tcp://c:1", WalkOptions{})
	w.Pass(nil)
	w.SetList(mustParse(t, "tcp://b:1,tcp://d:1,tcp://e:1"))
	tests := []struct {
		lost string
		want []string
	}{
		{"", []string{"b", "d", "e"}},
		{"tcp://b:1", []string{"d", "e", "b"}}, // still in the new list
		{"tcp://a:1", []string{"b", "d", "e"}}, // removed: start afresh
		{"tcp://e:1", []string{"b", "d", "e"}}, // wraps in the new list
	}
	for _, tt := range tests {
		var lost *Endpoint
		if tt.lost != "" {
			e := ep(t, tt.lost)
			lost = &e
		}
		if got := names(w.Pass(lost)); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("after SetList Pass(%s) = %v, want %v", tt.lost, got, tt.want)
		}
	}
	// A smaller list of groups must not leave a stale group index behind.
	w = newTestWalker(t, "tcp://a:1|tcp://b:1|tcp://c:1", WalkOptions{Rand: constRand(0)})
	lost := ep(t, "tcp://c:1")
	w.Pass(&lost)
	w.SetList(mustParse(t, "tcp://x:1"))
	if err := w.AddServer(ep(t, "tcp://y:1")); err != nil {
		t.Fatal(err)
	}
	if got := w.List().String(); got != "tcp://x:1,tcp://y:1" {
		t.Errorf("List() = %s", got)
	}
	w.SetList(nil)
	if got := w.Pass(nil); got != nil {
		t.Errorf("Pass over nil list = %v", got)
	}
}

func TestWalkerListIsCopy(t *testing.T) {
	w := newTestWalker(t, "tcp://a:1,tcp://b:1", WalkOptions{})
	l := w.List()
	l.Groups[0][0].Host = "mutated"
	if got := names(w.Pass(nil)); got[0] != "a" {
		t.Errorf("List() exposed internal state: %v", got)
	}
}

func TestWalkerChooser(t *testing.T) {
	var c Chooser = newTestWalker(t, "tcp://a:1", WalkOptions{})
	if len(c.Pass(nil)) != 1 {
		t.Error("Walker as Chooser")
	}
	c = ChooserFunc(func(lost *Endpoint) []Endpoint { return []Endpoint{tcp("f", 1)} })
	if got := c.Pass(nil); len(got) != 1 || got[0].Host != "f" {
		t.Errorf("ChooserFunc.Pass = %v", got)
	}
}

func TestWalkerDefaults(t *testing.T) {
	w := NewWalker(mustParse(t, "tcp://a:1|tcp://b:1"), WalkOptions{Randomize: true})
	if w.opts.Tracker != DefaultTracker || w.opts.Metric != MetricConnections || w.opts.Rand == nil {
		t.Errorf("defaults not applied: %+v", w.opts)
	}
	if got := w.Pass(nil); len(got) != 2 {
		t.Errorf("Pass = %v", got)
	}
}

func TestWalkerConcurrent(t *testing.T) {
	tr := NewTracker(nil)
	w := NewWalker(mustParse(t, "tcp://a:1,tcp://b:1|tcp://c:1"), WalkOptions{Randomize: true, PriorityBackup: true, Tracker: tr})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				pass := w.Pass(nil)
				if len(pass) > 0 {
					release := tr.Connected(pass[0])
					tr.AddBytes(pass[0], i)
					w.Pass(&pass[0])
					release()
				}
				switch i % 50 {
				case 0:
					_ = w.AddServer(Endpoint{Scheme: SchemeTCP, Host: fmt.Sprintf("g%d-%d", g, i), Port: 1})
				case 25:
					w.SetList(mustParse(t, "tcp://a:1,tcp://b:1|tcp://c:1"))
				}
				w.Preferred()
				w.List()
			}
		}()
	}
	wg.Wait()
	for _, e := range w.List().Endpoints() {
		if n := tr.Connections(e); n != 0 {
			t.Errorf("%v has %d connections after all were released", e, n)
		}
	}
}
