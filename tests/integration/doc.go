// Package integration holds the end-to-end failover scenarios of issue 6:
// the factory against real brokers (ActiveMQ master/slave, RabbitMQ) and
// against embedded brokers behind injected network faults. It has no
// library code: everything is in its _test.go files.
//
// # Real brokers
//
// Tests named TestAMQ* and TestRabbit* need the brokers started by
// tests/brokers/up.sh (the ActiveMQ master/slave pair, amq1, amq2, rabbit1,
// rabbit2); without them they skip with the reason (see package
// tests/brokers), so a plain `go test ./...` passes on a bare machine.
// They kill, freeze and restart broker processes through tests/brokers/ctl.sh
// and put every broker back as they found it (a killed pair instance comes
// back as the slave). tests/run.sh starts the brokers, runs everything
// under -race and stops them again.
//
// # Faults without brokers
//
// The other tests put tests/faultproxy (deaf, blackholed, cut, slow or
// dropping brokers) or a TLS-terminating listener with its own CA in front
// of internal/embedded brokers. They always run, and check that no
// goroutine outlives them.
//
// # Accounting
//
// Every scenario is bounded by a context or a deadline and checks exact
// figures: messages sent, received, duplicated (by stompft-msg-id), attempts
// made and connections accepted. Figures are printed with t.Logf (go test
// -v shows them).
package integration
