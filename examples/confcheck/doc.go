// Command confcheck validates a factories.conf and prints the effective
// settings of every factory, defaults filled in.
//
//	go run ./examples/confcheck [-json] FILE
//	go run ./examples/confcheck -probe NAME [-json] FILE
//
// Flags may come before or after FILE. Without FILE, confcheck reads the
// file $FACTORIES_CONF names, the one factory.Load's default uses, so
// `confcheck -probe Orders` checks the file the application runs with.
//
// # Output
//
// A valid file prints one table per factory: its [name] and position, then
// every key with its effective value: what the factory will do, defaults
// filled in (an attempt timeout of 0 prints as the limit the factory
// applies, confparse.DefaultAttemptTimeout). With -json it prints one document,
//
//	{"factories":[{"name":..,"type":..,"urls":["tcp://host:port",..],"client_id":..,
//	  "connect":{"attempt_count":..,"attempt_delay_ms":..,"attempt_timeout_ms":..},
//	  "reconnect":{..same keys..}, ..more keys..}],"warnings":[..]}
//
// with factories in file order and urls normalised to scheme://host:port.
// Warnings go to stderr as FILE:LINE:COL: warning: message.
//
// # Exit status
//
// 0 for a valid file; 1 for an invalid or unreadable one, with every error
// on stderr as FILE:LINE:COL: message (every problem of a url value
// included), or for an unknown -probe factory (the known names are listed);
// 2 for a usage error; 3 when -probe reached none of the factory's URLs.
//
// # Secrets
//
// No passcode is ever printed: the table shows ******, the JSON only
// "passcode_set".
package main
