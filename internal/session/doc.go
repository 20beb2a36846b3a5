// Package session is one STOMP 1.1/1.2 session over one network connection,
// built on go-stomp's frame types and writer with a frame reader of its own
// that enforces limits. It has no failover: when anything goes wrong the
// session ends, once, and says why; the factory decides what next.
//
// # Why not stomp.Conn
//
// go-stomp's Conn blocks every receipt-requesting send until its receipt
// arrives (no pipelining), gives an idle producer no signal that the
// connection died, and hands messages to subscriptions on its read path, so
// one subscriber that stops reading stalls every other one, receipts and
// heart-beats included. A failover client needs the opposite, so the session
// drives the codec itself: it never waits on user code. Callbacks.Message
// must not block (the factory only enqueues the frame); when a queue is
// full, the factory calls Pause, the session stops reading after the frame
// being delivered and the broker meets TCP back-pressure, without the
// silence detector counting that pause; Resume reads again.
//
// # Limits
//
// Every frame read, CONNECTED included, is bounded by Limits (defaults: 64
// MiB body, 64 KiB per header line, 1000 headers, 256 KiB of head), checked
// while reading and before allocating: a content-length over the limit is
// refused before its body is read, a line or a body without NUL is refused
// the moment it passes the limit. The session then ends with a *LimitError
// naming the limit and the URL; before CONNECTED was read, Connect returns
// it marked permanent (attempts.Permanent), like a refused CONNECT.
//
// # Deadlines
//
// The CONNECT→CONNECTED handshake is bounded by the context's deadline,
// applied to the socket (without one, by Config.WriteTimeout): a broker that
// dribbles CONNECTED cannot stretch the attempt. Every write is bounded by
// Config.WriteTimeout; DISCONNECT by its context.
//
// Reads: between frames, the silence window Info.Silence = negotiated
// receive interval × Grace (a silent peer ends the session with
// ErrHeartbeatTimeout); while a frame is partly read, the next byte is
// awaited at most Config.FrameReadTimeout (30 s by default; the factory
// uses the attempt timeout), or the silence window if shorter, even with
// heart-beats off (ErrFrameReadTimeout). A frame as a whole also has a
// budget, so a peer that drips one byte just inside that bound cannot hold
// a frame open for ever: a frame of which n bytes were read must be whole
// within FrameReadTimeout × (1 + n / FrameRateFloor) of its first byte (257
// × FrameReadTimeout at the default limits). With heart-beats off, an idle
// connection between frames has no read deadline: the broker owes nothing.
//
// A CONNECTED naming a version CONNECT did not offer (1.1, 1.2) is refused,
// permanently; one without a version header is a STOMP 1.0 server's.
//
// # Heart-beats
//
// Heart-beats are whole milliseconds on the wire; the configured values are
// rounded up to the millisecond, so what CONNECT offers is what is
// enforced. The negotiated receive interval is STOMP's: the larger of what
// the client asks (heartbeat's receive value) and what the broker offers.
// ActiveMQ skips its next beat after any frame it sends, so its beats can be
// two intervals apart; the default Grace of 2.5 tolerates that with half an
// interval to spare. A frozen broker (no RST) is therefore detected within
//
//	max(heartbeat receive, broker's send offer) × heartbeat_grace
//
// of its last byte: 25 s at the defaults (10 s, 2.5). For detection within
// D, ask for beats every D / heartbeat_grace or less (a broker may insist on
// a slower rate; its CONNECTED says so, and Info.Silence reports the
// result).
//
// # Secrets
//
// The client's own passcode is scrubbed ("******") from every broker text
// the session returns: ERROR message and body (ServerError, ConnectError),
// CONNECTED header echoes (Info) and header values quoted in errors. It is
// recognised as sent, STOMP-escaped (as it went on the wire in CONNECT),
// URL-encoded (query and path forms) and string-escaped (Go/JSON/Java); not
// base64-encoded, nor cut into pieces spread over the message and the body.
// Broker text kept in an error is capped at 4 KiB, cut after scrubbing and
// never in the middle of a passcode form or of a UTF-8 sequence.
package session
