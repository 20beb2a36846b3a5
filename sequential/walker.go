package sequential

import (
	"errors"
	"fmt"
	"math/rand"
	"sort"
	"sync"
	"time"
)

// WalkOptions configures a Walker. The zero value walks like EMS: in list
// order, groups chosen by live connections, DefaultTracker, random ties.
type WalkOptions struct {
	// Randomize shuffles each group on every pass (ActiveMQ's randomize).
	// A lost endpoint still comes last. Defaults to off: EMS walks in order.
	Randomize bool
	// PriorityBackup makes the first URL of the chosen group the preferred
	// home (ActiveMQ's priorityBackup): Preferred reports it and every pass
	// tries it first unless it is the endpoint just lost. Defaults to off.
	PriorityBackup bool
	// Metric chooses the group of a '|' list. Defaults to MetricConnections.
	Metric Metric
	// Tracker supplies the load measurements. Defaults to DefaultTracker.
	Tracker *Tracker
	// Rand breaks ties between equally loaded groups and shuffles with
	// Randomize. Defaults to a locked math/rand source.
	Rand interface{ Intn(n int) int }
}

// Sentinel errors of Walker.AddServer.
var (
	// ErrSchemeMismatch: the endpoint's scheme is not the list's (tcp and
	// ssl cannot be mixed).
	ErrSchemeMismatch = errors.New("sequential: endpoint scheme differs from the list's scheme")
	// ErrDuplicate: the endpoint is already in the list.
	ErrDuplicate = errors.New("sequential: endpoint is already in the list")
)

// Walker orders the endpoints of a List for one connection, pass after
// pass, the way an EMS client walks its URL list. It implements Chooser and
// is safe for concurrent use.
type Walker struct {
	opts WalkOptions

	mu    sync.Mutex
	list  *List // private copy; AddServer appends to it
	group int   // index of the chosen group, -1 until one is chosen
}

// NewWalker returns a Walker over a copy of l (nil or empty l gives empty
// passes until SetList or AddServer).
func NewWalker(l *List, opts WalkOptions) *Walker {
	if opts.Metric == "" {
		opts.Metric = MetricConnections
	}
	if opts.Tracker == nil {
		opts.Tracker = DefaultTracker
	}
	if opts.Rand == nil {
		opts.Rand = &lockedRand{r: rand.New(rand.NewSource(time.Now().UnixNano()))}
	}
	return &Walker{opts: opts, list: copyList(l), group: -1}
}

// Pass returns the order of one attempt: every endpoint once.
//
// With lost == nil (a first connection) it chooses the least loaded group
// and starts at that group's first URL. With lost in the list (a
// reconnect) it starts in lost's group at the URL after lost, wrapping, and
// puts lost itself at the very end of the pass. The other groups follow
// the current one, least loaded first. A lost endpoint that is not in the
// list (removed by SetList, say) is treated as a first connection. lost
// is compared after normalisation, as Parse would write it.
func (w *Walker) Pass(lost *Endpoint) []Endpoint {
	w.mu.Lock()
	defer w.mu.Unlock()
	groups := w.list.Groups
	n := 0
	for _, g := range groups {
		n += len(g)
	}
	if n == 0 {
		return nil
	}
	gi, li := -1, -1
	if lost != nil {
		gi, li = w.find(*lost)
		if gi < 0 {
			// Tolerate an endpoint built by hand (upper-case host, say).
			if n, err := ParseEndpoint(lost.String()); err == nil {
				gi, li = w.find(n)
			}
		}
	}
	order := w.byLoad()
	if gi < 0 {
		gi = order[0]
	}
	w.group = gi

	out := make([]Endpoint, 0, n)
	home := groups[gi]
	start := 0
	if li >= 0 {
		start = li + 1
	}
	cur := make([]Endpoint, 0, len(home))
	for k := range home {
		if j := (start + k) % len(home); j != li {
			cur = append(cur, home[j])
		}
	}
	if w.opts.Randomize {
		w.shuffle(cur)
	}
	if w.opts.PriorityBackup && li != 0 && len(home) > 0 {
		cur = moveFirst(cur, home[0])
	}
	out = append(out, cur...)
	for _, o := range order {
		if o == gi {
			continue
		}
		g := append([]Endpoint(nil), groups[o]...)
		if w.opts.Randomize {
			w.shuffle(g)
		}
		out = append(out, g...)
	}
	if li >= 0 {
		out = append(out, home[li])
	}
	return out
}

// AddServer appends e to the current group (the one the last Pass used,
// the first group before any Pass), like stompit's addServer. e is
// normalised as Parse would; its scheme must match the list's and it must
// not be in the list already.
func (w *Walker) AddServer(e Endpoint) error {
	n, err := ParseEndpoint(e.String())
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if s := w.list.Scheme(); s != "" && s != n.Scheme {
		return fmt.Errorf("%w: %s is %s, the list is %s", ErrSchemeMismatch, n, n.Scheme, s)
	}
	if gi, _ := w.find(n); gi >= 0 {
		return fmt.Errorf("%w: %s", ErrDuplicate, n)
	}
	if len(w.list.Groups) == 0 {
		w.list.Groups = [][]Endpoint{nil}
	}
	gi := w.group
	if gi < 0 || gi >= len(w.list.Groups) {
		gi = 0
	}
	// The list is private to the walker, but List() hands out copies, so
	// appending in place is safe.
	w.list.Groups[gi] = append(w.list.Groups[gi], n)
	return nil
}

// SetList replaces the list (hot reload); the next Pass walks a copy of l.
// A reconnect pass whose lost endpoint is not in the new list chooses its
// group afresh, as a first connection does.
func (w *Walker) SetList(l *List) {
	c := copyList(l)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = c
	if w.group >= len(c.Groups) {
		w.group = -1
	}
}

// Preferred returns the first URL of the chosen group (the first group
// before any Pass) when PriorityBackup is set; false otherwise.
func (w *Walker) Preferred() (Endpoint, bool) {
	if !w.opts.PriorityBackup {
		return Endpoint{}, false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	gi := w.group
	if gi < 0 || gi >= len(w.list.Groups) {
		gi = 0
	}
	if gi >= len(w.list.Groups) || len(w.list.Groups[gi]) == 0 {
		return Endpoint{}, false
	}
	return w.list.Groups[gi][0], true
}

// List returns a copy of the current list, including added servers.
func (w *Walker) List() *List {
	w.mu.Lock()
	defer w.mu.Unlock()
	return copyList(w.list)
}

// find returns the group and index of e, or -1, -1; w.mu must be held.
func (w *Walker) find(e Endpoint) (int, int) {
	for gi, g := range w.list.Groups {
		for i, x := range g {
			if x == e {
				return gi, i
			}
		}
	}
	return -1, -1
}

// byLoad returns the non-empty groups' indexes, least loaded first, ties in
// random order; w.mu must be held.
func (w *Walker) byLoad() []int {
	var idx []int
	for i, g := range w.list.Groups {
		if len(g) > 0 {
			idx = append(idx, i)
		}
	}
	if len(idx) < 2 {
		return idx
	}
	loads := make(map[int]float64, len(idx))
	for _, i := range idx {
		var sum float64
		for _, e := range w.list.Groups[i] {
			if w.opts.Metric == MetricByteRate {
				sum += w.opts.Tracker.ByteRate(e)
			} else {
				sum += float64(w.opts.Tracker.Connections(e))
			}
		}
		loads[i] = sum
	}
	// Shuffle, then sort stably: equal loads end in random order.
	for i := len(idx) - 1; i > 0; i-- {
		j := w.intn(i + 1)
		idx[i], idx[j] = idx[j], idx[i]
	}
	sort.SliceStable(idx, func(a, b int) bool { return loads[idx[a]] < loads[idx[b]] })
	return idx
}

func (w *Walker) shuffle(s []Endpoint) {
	for i := len(s) - 1; i > 0; i-- {
		j := w.intn(i + 1)
		s[i], s[j] = s[j], s[i]
	}
}

// intn guards against an injected Rand returning out-of-range values.
func (w *Walker) intn(n int) int {
	j := w.opts.Rand.Intn(n)
	if j < 0 || j >= n {
		j = ((j % n) + n) % n
	}
	return j
}

// moveFirst moves e to the front of s if present.
func moveFirst(s []Endpoint, e Endpoint) []Endpoint {
	for i, x := range s {
		if x == e {
			copy(s[1:i+1], s[:i])
			s[0] = e
			break
		}
	}
	return s
}

func copyList(l *List) *List {
	c := &List{}
	if l == nil {
		return c
	}
	c.Groups = make([][]Endpoint, len(l.Groups))
	for i, g := range l.Groups {
		c.Groups[i] = append([]Endpoint(nil), g...)
	}
	return c
}

// lockedRand makes a math/rand source safe for concurrent use.
type lockedRand struct {
	mu sync.Mutex
	r  *rand.Rand
}

func (l *lockedRand) Intn(n int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Intn(n)
}
