package embedded

import (
	"sync"

	"github.com/go-stomp/stomp/v3/frame"
)

// SharedStorage is an in-memory queue store that several brokers can share,
// like ActiveMQ's shared-store master/slave: what the primary held when it
// died (queued, or delivered but unacknowledged and requeued) is served by
// the backup. It is safe for concurrent use.
type SharedStorage struct {
	mu      sync.Mutex
	q       map[string][]*frame.Frame
	changed chan struct{} // closed at the next Enqueue/Requeue; nil until asked for
}

// NewSharedStorage returns an empty store.
func NewSharedStorage() *SharedStorage { return &SharedStorage{q: map[string][]*frame.Frame{}} }

// Enqueue adds f at the tail of queue.
func (s *SharedStorage) Enqueue(queue string, f *frame.Frame) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.q[queue] = append(s.q[queue], f)
	s.notifyLocked()
	return nil
}

// Requeue puts f back at the head of queue.
func (s *SharedStorage) Requeue(queue string, f *frame.Frame) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.q[queue] = append([]*frame.Frame{f}, s.q[queue]...)
	s.notifyLocked()
	return nil
}

// RequeueAll puts fs back at the head of queue in one step, keeping their
// order: a broker sharing the store never sees only some of them.
func (s *SharedStorage) RequeueAll(queue string, fs []*frame.Frame) {
	if len(fs) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.q[queue] = append(append(make([]*frame.Frame, 0, len(fs)+len(s.q[queue])), fs...), s.q[queue]...)
	s.notifyLocked()
}

// Dequeue takes the head of queue, nil when empty.
func (s *SharedStorage) Dequeue(queue string) (*frame.Frame, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.q[queue]
	if len(q) == 0 {
		return nil, nil
	}
	f := q[0]
	q[0] = nil
	s.q[queue] = q[1:]
	return f, nil
}

// Changed returns a channel that is closed at the next Enqueue or Requeue,
// on any queue. A broker waiting for messages selects on it, so that what
// another broker sharing the store puts back is delivered at once; take the
// channel before looking at the queues, then wait on it.
func (s *SharedStorage) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.changed == nil {
		s.changed = make(chan struct{})
	}
	return s.changed
}

// notifyLocked wakes every Changed waiter; s.mu must be held.
func (s *SharedStorage) notifyLocked() {
	if s.changed != nil {
		close(s.changed)
		s.changed = nil
	}
}

// Len is how many frames queue holds.
func (s *SharedStorage) Len(queue string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.q[queue])
}

// Start implements server.QueueStorage.
func (s *SharedStorage) Start() {}

// Stop implements server.QueueStorage.
func (s *SharedStorage) Stop() {}
