package confparse

import (
	"crypto/tls"
	"fmt"
	"strings"
)

// openSSLNames maps the OpenSSL spelling of each suite Go implements
// (the names EMS documents for ssl_ciphers) to Go's IANA name.
var openSSLNames = map[string]string{
	"ECDHE-ECDSA-AES128-SHA":        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
	"ECDHE-ECDSA-AES256-SHA":        "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
	"ECDHE-RSA-AES128-SHA":          "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
	"ECDHE-RSA-AES256-SHA":          "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
	"ECDHE-ECDSA-AES128-GCM-SHA256": "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
	"ECDHE-ECDSA-AES256-GCM-SHA384": "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
	"ECDHE-RSA-AES128-GCM-SHA256":   "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
	"ECDHE-RSA-AES256-GCM-SHA384":   "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
	"ECDHE-RSA-CHACHA20-POLY1305":   "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
	"ECDHE-ECDSA-CHACHA20-POLY1305": "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
	// Suites Go implements but lists as insecure: named so the error
	// can say why they are refused.
	"RC4-SHA":                   "TLS_RSA_WITH_RC4_128_SHA",
	"DES-CBC3-SHA":              "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
	"AES128-SHA":                "TLS_RSA_WITH_AES_128_CBC_SHA",
	"AES256-SHA":                "TLS_RSA_WITH_AES_256_CBC_SHA",
	"AES128-SHA256":             "TLS_RSA_WITH_AES_128_CBC_SHA256",
	"AES128-GCM-SHA256":         "TLS_RSA_WITH_AES_128_GCM_SHA256",
	"AES256-GCM-SHA384":         "TLS_RSA_WITH_AES_256_GCM_SHA384",
	"ECDHE-ECDSA-RC4-SHA":       "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
	"ECDHE-RSA-RC4-SHA":         "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
	"ECDHE-RSA-DES-CBC3-SHA":    "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
	"ECDHE-ECDSA-AES128-SHA256": "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
	"ECDHE-RSA-AES128-SHA256":   "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
}

// cipherAll are the list keywords that stand for every suite Go enables
// by default (OpenSSL's ALL, DEFAULT and HIGH).
var cipherAll = map[string]bool{"ALL": true, "DEFAULT": true, "HIGH": true}

// ParseCipherSuites turns an ssl_ciphers value into cipher-suite IDs, in
// the order given. It accepts Go/IANA names
// (TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256), OpenSSL names as EMS documents
// them (ECDHE-RSA-AES128-GCM-SHA256), and EMS's list syntax: names
// separated by ':', ',' or spaces, each optionally prefixed with '+'
// (add), '-' or '!' (remove it, or with ALL remove every suite selected
// so far); ALL, DEFAULT and HIGH add every suite Go enables by default.
// Suites Go lists as insecure (RC4, 3DES, RSA key exchange, CBC-SHA256)
// and suites Go does not implement are errors, as is a list that selects
// nothing. TLS 1.3 suites are accepted but have no effect: Go always
// negotiates its own TLS 1.3 suites.
func ParseCipherSuites(list string) ([]uint16, error) {
	secure := map[string]uint16{}
	var defaults []uint16
	for _, cs := range tls.CipherSuites() {
		secure[cs.Name] = cs.ID
		defaults = append(defaults, cs.ID)
	}
	insecure := map[string]bool{}
	for _, cs := range tls.InsecureCipherSuites() {
		insecure[cs.Name] = true
	}
	var ids []uint16
	has := func(id uint16) bool {
		for _, x := range ids {
			if x == id {
				return true
			}
		}
		return false
	}
	remove := func(drop func(uint16) bool) {
		out := ids[:0]
		for _, x := range ids {
			if !drop(x) {
				out = append(out, x)
			}
		}
		ids = out
	}
	tokens := strings.FieldsFunc(list, func(r rune) bool { return r == ':' || r == ',' || r == ' ' || r == '\t' })
	if len(tokens) == 0 {
		return nil, fmt.Errorf("empty cipher suite list")
	}
	for _, tok := range tokens {
		op, name := byte('+'), tok
		if c := tok[0]; c == '+' || c == '-' || c == '!' {
			op, name = c, tok[1:]
		}
		if strings.HasPrefix(name, "@") {
			continue // @STRENGTH and friends: ordering hints, nothing to select
		}
		upper := strings.ToUpper(name)
		if cipherAll[upper] {
			if op == '+' {
				for _, id := range defaults {
					if !has(id) {
						ids = append(ids, id)
					}
				}
			} else {
				ids = ids[:0]
			}
			continue
		}
		goName := upper
		if n, ok := openSSLNames[upper]; ok {
			goName = n
		}
		id, ok := secure[goName]
		switch {
		case ok:
		case insecure[goName]:
			return nil, fmt.Errorf("cipher suite %s (%s) is insecure and not offered", quote(name), goName)
		default:
			return nil, fmt.Errorf("unknown cipher suite %s: use an OpenSSL name such as ECDHE-RSA-AES128-GCM-SHA256 or a Go name such as TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", quote(name))
		}
		switch {
		case op != '+':
			remove(func(x uint16) bool { return x == id })
		case !has(id):
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("the list %s selects no cipher suite", quote(list))
	}
	return ids, nil
}
