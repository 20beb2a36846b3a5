// Package hostile holds tests only: raw-TCP STOMP servers written to hurt a
// client (frames over every limit, endless lines, bodies without end,
// dribbled or garbage CONNECTED, partial frames with heart-beats off, ERROR
// frames quoting the passcode), driven through the public API
// (confparse.Parse, factory.New, CreateConnection, Subscribe, Send). Each
// shape must end in bounded time, with an error naming the limit and the
// URL where one applies, and within a stated memory bound: the bytes the
// process allocated while the shape ran (runtime.MemStats.TotalAlloc) stay
// under twice the limit in force plus a fixed 2 MiB for the connection
// itself. The figures are logged per shape (go test -v). One test also
// checks that the conf defaults are internal/session's.
package hostile
