// Package embeddedtest starts internal/embedded brokers for tests: each is
// killed by the test's cleanup, and a failure to start fails the test.
package embeddedtest
