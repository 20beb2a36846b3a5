// Command quickstart sends one message through a fault-tolerant factory and
// receives it back: the README's quick start, compiled and tested as written.
package main
