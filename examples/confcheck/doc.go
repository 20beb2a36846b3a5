// Command confcheck validates a factories.conf and prints the effective
// settings of every factory, defaults filled in.
//
//	go run ./examples/confcheck [-json] FILE
//
// # Output
//
// A valid file prints one table per factory: its [name] and position, then
// every key with its effective value. With -json it prints one document,
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
// on stderr as FILE:LINE:COL: message; 2 for a usage error.
//
// # Secrets
//
// No passcode is ever printed: the table shows ******, the JSON only
// "passcode_set".
package main
