// Command bench measures what a failover client costs and how fast it gets
// an application back, always against a baseline measured in the same run,
// and prints one markdown table with every figure, its goal and PASS/MISS.
//
// # Usage
//
//	go run ./tests/bench                      # everything (about 4-5 minutes on 2 cores)
//	go run ./tests/bench -quick               # smaller counts, for a smoke run
//	go run ./tests/bench -only throughput,latency
//	go run ./tests/bench -amq                 # also the ActiveMQ pair (tests/brokers/up.sh first)
//	go run ./tests/bench -chart docs/storm-real.png
//	go run ./tests/bench -only storm -storm-whatif   # plus the default with the scheduler's caps raised
//	go run ./tests/bench -only storm -storm-case "tls backlog 128" -cpuprofile /tmp/client.prof
//
// Items (-only names): latency (failover latency vs a hand-written go-stomp
// redial loop, brokers in a process apart and in the client's own),
// standby (the same with backup = true), detect (silent failure detection
// through a blackhole, in heart-beat intervals),
// heartbeat (idle connections to the real ActiveMQ and RabbitMQ of
// tests/brokers: disconnects while the broker is alive, and the time to
// detect a frozen broker; skipped when they are not running),
// throughput (messages/s and allocations per send vs raw go-stomp), memory
// (RSS, heap and goroutines per idle connection) and storm (2 000 real sockets failing
// over at once, plain TCP and TLS, two listen backlogs, three policies).
//
// # Processes
//
// Brokers that must not share the client's CPU, heap or Go scheduler
// (latency, standby, throughput, memory, storm) run in a second process:
// the bench binary re-executes itself with -serve-brokers and drives it
// over stdin/stdout (start, kill with RST and report the moment, restart on
// the same address, count connections). Item 1 runs once more with the
// same host loop on a goroutine of the client's process (brokers sharing
// the client's Go scheduler, as in an application's own tests), both
// clients alike. The silent-failure item keeps its brokers in process
// behind a blackholing proxy; the heart-beat item uses the real brokers. Everything is started and
// stopped by the command itself; only loopback addresses are used.
//
// # Failover trials
//
// For latency and standby on embedded brokers the application sends
// receipt-confirmed messages back to back; a trial is the time from the
// moment the broker's sockets were reset to the confirmation of the first
// send issued after it, and fails if the client is still on the crashed
// broker. The ActiveMQ pair is timed from the start of its kill script,
// the client sending once the script has returned.
//
// # Figures, not assertions
//
// Timings are noisy on a shared machine, so nothing here is a test
// assertion: the goals are printed next to the figures. The package's
// tests run the quick items to keep the command working.
package main
