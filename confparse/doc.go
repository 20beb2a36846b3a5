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
// One line holds one key: text after a complete value is an error
// (login = guest passcode = x is refused, not read as a login of
// "guest passcode = x"). An unquoted value may hold spaces (url =
// tcp://a:1, tcp://b:2) but not " word ="; quote such a value.
//
// A multi-line TOML value is found by one lexical pass and decoded once,
// so parsing is linear in the size of the file.
//
// # Keys
//
// Every EMS key (type, url, clientID, connect_attempt_*, reconnect_attempt_*,
// metric, ssl_*), the STOMP keys (login, passcode, passcode_file, vhost,
// heartbeat, heartbeat_grace), the failover extensions and the scheduler
// limits are listed with their defaults, origins and when an edit takes
// effect in docs/keys.md, a table generated (go generate) from KeyDocs, the
// parser's own key registry; Keys returns their names. Times are milliseconds when bare integers; Go
// durations ("1.5s") are accepted too. An attempt count of -1 means forever.
// An attempt timeout of 0 (EMS's "none") or none at all is
// DefaultAttemptTimeout (10 s): every attempt is bounded, and the parsed
// Factory holds the value that applies. heartbeat values are whole
// milliseconds: a value other than 0 below 1 ms, or with a fraction of a
// millisecond, is an error (the STOMP header carries milliseconds).
//
// ssl_ciphers takes EMS's OpenSSL-style list (ECDHE-RSA-AES128-GCM-SHA256,
// ':'-separated, '+' to add, '-' or '!' to remove, ALL) or Go's names
// (TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256), checked when the file is
// parsed; see ParseCipherSuites.
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
// # Config in code
//
// An application or a test can declare factories in Go instead of a file:
//
//	cfg, err := confparse.NewConfig(
//		confparse.Define("Orders", "tcp://a:61613,tcp://b:61613",
//			confparse.Credentials("app", confparse.Secret(os.Getenv("ORDERS_PASSCODE"))),
//			confparse.ReconnectAttempts(-1, time.Second, 5*time.Second),
//			confparse.Set("track_messages", "true")))
//	f, err := factory.New(cfg)
//
// Define takes a URL list or a pasted failover URI, typed settings
// (Credentials, ClientID, VHost, ConnectAttempts, ReconnectAttempts,
// Heartbeat, SendTimeout) and Set for any key. Every value goes through the
// parser's own check for its key, so a definition gets the file's defaults,
// and the file's errors, naming the key. The file and confcheck stay the
// operations path.
//
// ErrorList.Error prints at most MaxReportedErrors (100) of them, then
// "and N more errors"; the list itself holds them all.
//
// # Limits
//
// A hostile or mangled file costs bounded time and memory: Parse collects
// at most MaxErrors (1000) errors, then stops checking and says so; it
// keeps at most MaxWarnings (1000) warnings and counts the rest. A TOML
// value may nest arrays or inline tables at most MaxNesting (8) deep and
// hold at most MaxArrayItems (10 000) items, checked before it is
// decoded; a pasted failover: URI is at most MaxFailoverURILength (4 KiB).
// Messages quote at most 64 bytes of a value, a name or a path. login,
// passcode (however given), vhost and clientID are sent in STOMP headers:
// they must be UTF-8 without control characters.
//
// # Files
//
// ParseFile reads a factories.conf of at most MaxFileSize (4 MiB).
// passcode_file (at most MaxPasscodeFileSize, 64 KiB) and ssl_trusted,
// ssl_issuer, ssl_identity and ssl_private_key (at most MaxPEMFileSize,
// 1 MiB each) are read once, when the file is parsed, relative to the
// conf file's directory; a dial or a reload never waits on them, and the
// PEM contents are kept in SSL. Every one of these files must be a
// regular file: it is opened non-blocking and checked with fstat before a
// byte is read, so a named pipe, a device (/dev/zero), a directory, or a
// file over its limit is refused at once with an error naming the key's
// file:line, the path and the limit (ErrNotRegularFile, ErrFileTooLarge).
// Files under /proc, /sys and /dev, and files that read more than their
// size says, are refused as pseudo files.
//
// Symlinks: a symlink named by passcode_file or an ssl_* key is followed
// only while its target stays inside the directory holding the link (as
// os.OpenInRoot does), and only through relative links. A Kubernetes
// secret mount (pw -> ..data/pw, ..data -> ..2024_01_01) works; a link to
// /etc/shadow or /proc/self/environ is refused. The conf file itself is
// the operator's choice: its symlinks are followed.
//
// # Secrets
//
// A passcode is a literal, ${ENV_VAR} (the whole value), or read from
// passcode_file (relative to the conf file; trailing newlines removed). It
// is held in a Secret, which prints as ****** with every fmt verb and
// encodes as ****** in JSON, XML, text and gob (decoding ****** gives an
// empty Secret), so no encoding of a config carries the passcode or the
// ssl private key. Error messages never quote a passcode, nor an unknown
// key or its value: a line "S3CRETpw = x" is reported as "unknown key" at
// its file:line:col, with a "did you mean" only when a known key is near.
//
// # TLS
//
// The zero SSL verifies the server's certificate chain and host name;
// InsecureSkipVerify (ssl_verify_host = disabled) and SkipHostnameCheck
// (ssl_verify_hostname = disabled) turn the checks off, so a Factory built
// in code is safe by default.
package confparse
