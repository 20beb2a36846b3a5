// Package confparse reads a TIBCO-EMS-style factories.conf into validated,
// typed connection factories with every default filled in.
//
// # Syntax
//
// A file is a list of [FactoryName] sections of key = value lines. Two
// syntaxes are read into the same result, even mixed line by line:
//
//   - native EMS: unquoted values (url = tcp://a:7222,tcp://b:7222),
//     quoted values, '#' comment lines, free indentation, banner comments,
//     and a section header right after the previous section's last line;
//   - TOML: quoted strings, integers, floats, booleans and arrays
//     (ssl_issuer = ["a.pem", "b.pem"], heartbeat = [5000, 5000]),
//     quoted headers (["My Factory"]), multi-line arrays and strings.
//
// Every value is decoded by github.com/BurntSushi/toml at the line and
// column it was written: a value that is already TOML is decoded as is, a
// native unquoted value as the string it spells. In an unquoted value a
// '#' after a space or tab starts a comment; a '#' inside a word is kept.
//
// # Keys
//
// Every EMS key (type, url, clientID, connect_attempt_*, reconnect_attempt_*,
// metric, ssl_*), the STOMP keys (login, passcode, passcode_file, vhost,
// heartbeat, heartbeat_grace), the failover extensions and the scheduler
// limits are listed with their defaults and origins in the README (section "factories.conf reference");
// Keys returns their names. Times are milliseconds when bare integers; Go
// durations ("1.5s") are accepted too. An attempt count of -1 means forever.
// Values below EMS's documented minimums are accepted with a warning
// (delays and timeouts as written, a count of 0 as 1). EMS keys
// this project does not use (multicast_enabled, ...) are warnings; any
// other unknown key is an error that names the closest known key.
//
// # Failover URIs
//
// url also accepts an ActiveMQ failover URI,
// failover:(tcp://a:61616,tcp://b:61616)?initialReconnectDelay=100, or the
// bare failover:uri1,uri2 form. Inner stomp:// and nio:// URIs mean tcp://,
// stomp+ssl:// means ssl://. The options map onto the keys above:
//
//	initialReconnectDelay        reconnect_attempt_delay
//	maxReconnectDelay            reconnect_max_delay
//	backOffMultiplier            reconnect_backoff_multiplier
//	useExponentialBackOff=false  reconnect_backoff_multiplier = 1
//	maxReconnectAttempts         reconnect_attempt_count (-1 forever; 0 is an error)
//	startupMaxReconnectAttempts  connect_attempt_count = n+1 (-1: as maxReconnectAttempts)
//	randomize                    randomize
//	timeout                      send_timeout (-1 = 0 = wait forever)
//	trackMessages, maxCacheSize  track_messages, max_cache_size
//	backup, priorityBackup       backup, priority_backup
//
// Options left out take ActiveMQ's defaults, so a pasted URI means what it
// meant under ActiveMQ (maxReconnectAttempts -1 reconnects for ever,
// initialReconnectDelay 10 ms, maxReconnectDelay 30 s, backOffMultiplier 2,
// randomize true, timeout -1, ...; FailoverMappings lists them all), unless
// the section writes the key itself, which then wins silently. A key set
// explicitly in the section wins over an option given in the URI, with a
// warning. Unknown options are errors; a few well-known ActiveMQ options
// with no meaning here (backupPoolSize, updateURIsSupported, ...) are
// warnings.
//
// # Errors
//
// Parse and ParseFile report every error of a file, not just the first, as
// an ErrorList of *ParseError, each with file, line, column, factory and
// key:
//
//	factories.conf:14:3: reconnect_attempt_delay: "5x" is not a duration (milliseconds, or a Go duration such as 500ms)
//
// # Secrets
//
// A passcode is a literal, ${ENV_VAR} (the whole value), or read from
// passcode_file (relative to the conf file; trailing newlines removed). It
// is held in a Secret, which prints as ****** with every fmt verb, in JSON
// and in text encodings; error messages never quote a passcode, nor the
// value of an unknown key (it might be a mistyped passcode).
package confparse
