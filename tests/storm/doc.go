// Command storm simulates a switchover storm on a virtual clock: N clients
// lose the primary at the same instant and reconnect to a backup that
// completes a bounded number of handshakes per millisecond and holds a
// bounded accept queue. It compares reconnect policies, every one built
// with the real attempts.Policy code, and prints peak arrivals per 10 ms,
// failed and total attempts, and the time until every client is
// reconnected against the ideal N ÷ rate. docs/storm.md has the results.
//
// The "stompft default" row follows attempts.Episode as a factory does:
// the first attempt goes at once, with a SYN left unanswered abandoned at
// the probe bound (250 ms), and only a storm signal (refused, abandoned,
// timed out, or not admitted at once by the process's scheduler) moves the
// client onto the spread and jittered back-off. "spread first (old
// default)" waits what attempts.Delays yields: a spread first attempt.
//
// # Usage
//
//	go run ./tests/storm -png docs/storm.png  # N = 10 000 and 100 000, both overflow models
//	go run ./tests/storm -short               # quick: N = 1 000 and 10 000
//	go test ./tests/storm                     # invariants and the goal at N = 10 000
//
// # Overflow models
//
// refuse: a connection finding the accept queue full is refused at once.
// linux-drop: its SYN is dropped silently and retransmitted 1 s, 3 s, 7 s,
// ... after the first, until accepted or the attempt dies on its timeout.
//
// # Engine
//
// One goroutine pops events from a queue of distinct instants, each with a
// bucket of events, so lock-step policies with 100 000 clients on one
// instant cost little. The "+ scheduler" row groups clients into processes
// that share a real attempts.Scheduler, driven through TryAcquire on the
// virtual clock.
package main
