// Package brokers gives integration tests access to the real STOMP brokers
// started by tests/brokers/up.sh (ActiveMQ 5.17 and RabbitMQ 3.10 from
// Debian, run by hand on 127.0.0.1).
//
// # Brokers
//
// Six brokers, named as in tests/brokers/ctl.sh:
//
//	amq-master, amq-slave  ActiveMQ shared-store pair (one KahaDB, one lock)
//	amq1, amq2             independent ActiveMQ brokers
//	rabbit1, rabbit2       independent RabbitMQ nodes (STOMP host "/")
//
// The pair names are instances with fixed ports, not roles: whichever holds
// the KahaDB lock answers STOMP, the other's port stays closed. After
// Ctl(t, "amq-master", "kill9") the slave takes over within about a second;
// Ctl(t, "amq-master", "start") brings the old master back as the new slave.
//
// # Enabling
//
// Real-broker tests run when STOMPFT_REAL_BROKERS=1 is set (tests/run.sh
// does) or when tests/.brokers/env exists (up.sh wrote it). Otherwise
// [Require] skips the test with the reason, so a plain `go test ./...` passes
// on a machine without brokers. With STOMPFT_REAL_BROKERS=1 a missing broker
// is a test failure, never a silent skip.
//
// # Isolation
//
// Brokers are shared by every test package, and `go test ./...` runs
// packages in parallel. [Require] therefore takes an exclusive file lock per
// named broker (held until the test ends), and restarts a named broker found
// dead (killed by an earlier test). Tests should still restore what they
// break, and use unique destination names.
//
// # Connecting
//
// [Dial] connects with a bounded timeout (RabbitMQ needs host "/");
// [Env.PairMaster] tells which pair instance is the master now.
//
// # Faults
//
// [Env.Ctl] runs ctl.sh: kill9, stop, start, freeze, thaw, wait-up,
// wait-slave, pid. Every call is bounded in time.
package brokers
