// Package testcmd tests the project's test command itself (tests/run.sh and
// the shell it sources): the parts whose mistakes would turn CI red, or
// green, for a reason that has nothing to do with the code under test.
package testcmd
