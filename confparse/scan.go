package confparse

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/BurntSushi/toml"
)

// The scanner turns a file into sections of entries. It reads the file one
// line at a time, which is the structure of both syntaxes, and hands every
// value to github.com/BurntSushi/toml: a value that is already TOML (a
// quoted string, an integer, a boolean, an array...) is decoded as written;
// a native unquoted value (tcp://a:7222,tcp://b:7222, queue, enabled) is
// turned into a TOML basic string first. Either way the decoded value keeps
// the line and column it was written at, so every error points into the
// file the user wrote, and one bad line never hides the errors after it.

// section is one [name] block.
type section struct {
	name    string
	line    int
	col     int
	entries []*entry
}

// entry is one key = value line (or lines, for a multi-line TOML value).
type entry struct {
	key     string // canonical key (aliases resolved)
	written string // key as written, for messages
	line    int    // position of the key
	col     int
	vcol    int    // column of the value's first byte
	val     any    // decoded value: string, int64, float64, bool, []any, ...
	raw     string // the value as written on its first line, comment removed
	native  bool   // an unquoted native value, decoded as a string
	via     string // "url option NAME" for settings taken from a failover URI
}

// knownKey returns the entry's canonical key when it is one this package
// knows (a factory key, an alias or a legacy EMS key), "" otherwise.
func (e *entry) knownKey() string {
	if _, ok := keySpecs[e.key]; ok {
		return e.key
	}
	if _, ok := legacyKeys[e.key]; ok {
		return e.key
	}
	return ""
}

// label names the entry in a message: the key as written when it is a
// known one; "unknown key" otherwise, since text in key position may be a
// secret pasted on a line of its own.
func (e *entry) label() string {
	if e.knownKey() != "" {
		return e.written
	}
	return "unknown key"
}

// maxContinuation bounds how many lines a multi-line TOML value may span
// (the file itself is bounded by MaxFileSize); a value is lexed once and
// decoded once, so its cost is linear in its size.
const maxContinuation = 100_000

// valuePrefix is what the scanner puts in front of a value to decode it as
// a one-key TOML document. Its length shifts TOML's columns.
const valuePrefix = "v = "

func (p *parser) scan(data []byte) []*section {
	text := string(data)
	text = strings.TrimPrefix(text, "\uFEFF")
	lines := strings.Split(text, "\n")
	for i := range lines {
		lines[i] = strings.TrimSuffix(lines[i], "\r")
	}
	var (
		sections []*section
		cur      *section
	)
	for i := 0; i < len(lines) && !p.full; i++ {
		lineNo := i + 1
		line := lines[i]
		if !utf8.ValidString(line) {
			p.errorf(lineNo, 1, "", "", nil, "invalid UTF-8; save the file as UTF-8")
			continue
		}
		t := strings.TrimLeft(line, " \t")
		col := len(line) - len(t) + 1
		t = strings.TrimRight(t, " \t")
		name := ""
		if cur != nil {
			name = cur.name
		}
		switch {
		case t == "" || t[0] == '#':
			continue
		case t[0] == '[':
			n, ok := p.header(t, lineNo, col)
			if !ok {
				// Keep collecting into a throw-away section so the lines
				// below still get checked without being attributed to the
				// previous factory.
				cur = &section{name: "", line: lineNo, col: col}
				continue
			}
			cur = &section{name: n, line: lineNo, col: col}
			sections = append(sections, cur)
			continue
		}
		e, used := p.keyValue(lines, i, col, name)
		i += used - 1
		if e == nil {
			continue
		}
		if cur == nil {
			if _, known := keySpecs[e.key]; !known {
				// Not repeated: it may be a secret pasted on its own line.
				p.errorf(e.line, e.col, "", "", nil, "unknown key outside a [factory] section; start one with [FactoryName]")
				continue
			}
			p.errorf(e.line, e.col, "", e.key, nil, "%s: key outside a [factory] section; start one with [FactoryName]", e.written)
			continue
		}
		cur.entries = append(cur.entries, e)
	}
	return sections
}

// header parses a [name] line; a quoted TOML name (["My Factory"]) is
// decoded by toml, a native one is taken literally.
func (p *parser) header(t string, line, col int) (string, bool) {
	if strings.HasPrefix(t, "[[") {
		p.errorf(line, col, "", "", nil, "[[...]] (TOML array of tables) is not a factory header; write [FactoryName]")
		return "", false
	}
	var name string
	if len(t) > 1 && (t[1] == '"' || t[1] == '\'') {
		var m map[string]any
		md, err := toml.Decode(t, &m)
		keys := md.Keys()
		if err != nil || len(keys) != 1 || len(keys[0]) != 1 {
			p.errorf(line, col, "", "", nil, "invalid quoted factory header; write [FactoryName] or [\"Factory Name\"]")
			return "", false
		}
		name = keys[0][0]
	} else {
		end := strings.IndexByte(t, ']')
		if end < 0 {
			p.errorf(line, col, "", "", nil, "factory header is missing its closing ']'")
			return "", false
		}
		rest := strings.TrimLeft(t[end+1:], " \t")
		if rest != "" && rest[0] != '#' {
			p.errorf(line, col+end+1, "", "", nil, "unexpected text after the factory header; put key = value on its own line")
			return "", false
		}
		name = strings.TrimSpace(t[1:end])
	}
	switch {
	case name == "":
		p.errorf(line, col, "", "", nil, "empty factory name in []")
		return "", false
	case hasControl(name):
		p.errorf(line, col, "", "", nil, "factory name contains a control character")
		return "", false
	}
	return name, true
}

// keyValue parses the key = value starting at lines[i], whose text starts at
// column col. It returns the entry (nil after an error) and the number of
// lines consumed.
func (p *parser) keyValue(lines []string, i, col int, factory string) (*entry, int) {
	lineNo := i + 1
	line := lines[i]
	t := line[col-1:]
	var (
		written string
		rest    string // after the key
	)
	if t[0] == '"' || t[0] == '\'' {
		end := quotedEnd(t)
		if end < 0 {
			p.errorf(lineNo, col, factory, "", nil, "unterminated quoted key")
			return nil, 1
		}
		var m map[string]any
		if _, err := toml.Decode(valuePrefix+t[:end], &m); err != nil {
			p.errorf(lineNo, col, factory, "", nil, "invalid quoted key")
			return nil, 1
		}
		s, ok := m["v"].(string)
		if !ok || s == "" {
			p.errorf(lineNo, col, factory, "", nil, "invalid quoted key")
			return nil, 1
		}
		written, rest = s, t[end:]
	} else {
		eq := strings.IndexByte(t, '=')
		if eq < 0 {
			p.errorf(lineNo, col, factory, "", nil, "expected key = value or a [FactoryName] header")
			return nil, 1
		}
		written = strings.TrimRight(t[:eq], " \t")
		rest = t[eq:]
		switch {
		case written == "":
			p.errorf(lineNo, col, factory, "", nil, "missing key before '='")
			return nil, 1
		case strings.Contains(written, "."):
			p.errorf(lineNo, col, factory, "", nil, "dotted keys are not supported; write each key of a factory under its [FactoryName]")
			return nil, 1
		case !isBareKey(written):
			p.errorf(lineNo, col, factory, "", nil, "invalid key: use letters, digits, '_' and '-' (or quote it)")
			return nil, 1
		}
	}
	rest = strings.TrimLeft(rest, " \t")
	if rest == "" || rest[0] != '=' {
		p.errorf(lineNo, col, factory, "", nil, "expected '=' after the key")
		return nil, 1
	}
	value := strings.TrimLeft(rest[1:], " \t")
	vcol := len(line) - len(value) + 1
	value = strings.TrimRight(value, " \t")
	e := &entry{key: canonicalKey(written), written: written, line: lineNo, col: col, vcol: vcol}
	secret := !isPublicKey(e.key)
	if value == "" || value[0] == '#' {
		p.errorf(lineNo, col, factory, e.knownKey(), nil, "%s: missing value", e.label())
		return nil, 1
	}
	switch value[0] {
	case '"', '\'', '[', '{':
		return p.tomlValue(lines, i, vcol, e, value, factory, secret)
	}
	if len(value) <= maxScalar && maybeTOMLScalar(value) {
		if v, ok := plainScalar(value); ok {
			e.val, e.raw = v, value
			return e, 1
		}
		if v, err := decodeValue(value); err == nil {
			e.val, e.raw = v, stripComment(value)
			return e, 1
		}
	}
	s := stripComment(value)
	if hasControl(s) {
		p.errorf(lineNo, vcol, factory, e.knownKey(), nil, "%s: value contains a control character", e.label())
		return nil, 1
	}
	if off := secondKey(s); off >= 0 {
		p.errorf(lineNo, vcol+off, factory, e.knownKey(), nil, "%s: %s", e.label(), msgSecondKey)
		return nil, 1
	}
	e.val, e.raw, e.native = s, s, true
	return e, 1
}

// msgSecondKey reports text after a complete value. It never quotes the
// text: on a line such as "login = guest passcode = S3CRETpw" it is a
// secret.
const msgSecondKey = "unexpected text after the value: write one key = value per line (quote a value that holds \" = \")"

// maxScalar is the longest value handed to the TOML decoder as a possible
// number, date or boolean; a longer one is a native string (and a number
// key then reports it as not a number) instead of costing a decode.
const maxScalar = 256

// maybeTOMLScalar reports whether a value that does not start with a
// quote or bracket can be a TOML scalar (number, date, boolean, inf,
// nan): only those are handed to the TOML decoder, so a native value
// (queue, tcp://a:7222) costs no failed decode.
func maybeTOMLScalar(v string) bool {
	switch c := v[0]; {
	case c >= '0' && c <= '9', c == '+', c == '-':
		return true
	}
	for _, w := range []string{"true", "false", "inf", "nan"} {
		if strings.HasPrefix(v, w) {
			return true
		}
	}
	return false
}

// plainScalar decodes the commonest TOML scalars, a decimal integer
// without leading zeros or underscores and true/false, as TOML would,
// without the cost of a TOML document (a few KiB per value: a file of
// a million "key = 1" lines would allocate gigabytes). ok is false for
// anything else, which the TOML decoder then decides.
func plainScalar(v string) (any, bool) {
	switch v {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	digits := strings.TrimLeft(v, "+-")
	if len(v)-len(digits) > 1 || digits == "" || len(digits) > 1 && digits[0] == '0' {
		return nil, false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return nil, false
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return nil, false
	}
	return n, true
}

// secondKey returns the offset in a native value of a second "key ="
// (a bare key after a space or tab, then '='), or -1. URL lists with
// spaces and failover URIs (?a=1&b=2, no space before a key) pass.
func secondKey(s string) int {
	for i := 1; i < len(s); i++ {
		if s[i-1] != ' ' && s[i-1] != '\t' || s[i] == ' ' || s[i] == '\t' {
			continue
		}
		j := i
		for j < len(s) && isBareKeyByte(s[j]) {
			j++
		}
		if j == i {
			continue
		}
		for j < len(s) && (s[j] == ' ' || s[j] == '\t') {
			j++
		}
		if j < len(s) && s[j] == '=' {
			return i
		}
	}
	return -1
}

// tomlValue decodes a value that starts with a quote or a bracket and
// may span lines. One lexical pass (valueExtent) finds where it ends, then
// TOML decodes it once: the cost is linear in the value's size.
func (p *parser) tomlValue(lines []string, i, vcol int, e *entry, value, factory string, secret bool) (*entry, int) {
	lineNo, label := i+1, e.label()
	last, end, ok, over := lexValue(lines, i, vcol-1, MaxNesting, MaxArrayItems)
	if over != "" {
		// Never handed to the decoder, which recurses once per level
		// and allocates about 100 bytes per item.
		p.errorf(lineNo, vcol, factory, e.knownKey(), nil, "%s: %s", label, over)
		return nil, skipBroken(lines, i, value)
	}
	if ok {
		if rest := strings.TrimLeft(lines[last][end:], " \t"); rest != "" && rest[0] != '#' {
			p.errorf(last+1, len(lines[last])-len(rest)+1, factory, e.knownKey(), nil, "%s: %s", label, msgSecondKey)
			return nil, last - i + 1
		}
		text := value
		if last > i {
			var b strings.Builder
			b.WriteString(value)
			for _, l := range lines[i+1 : last+1] {
				b.WriteByte('\n')
				b.WriteString(l)
			}
			text = b.String()
		}
		if v, err := decodeValue(text); err == nil {
			e.val, e.raw = v, stripComment(value)
			return e, last - i + 1
		}
	}
	_, err := decodeValue(value)
	msg := "invalid value"
	c := vcol
	var pe toml.ParseError
	if errors.As(err, &pe) {
		if !secret {
			msg = "invalid value: " + pe.Message
		}
		if pe.Position.Line <= 1 {
			c = vcol + pe.Position.Col - 1 - len(valuePrefix)
			if c < vcol {
				c = vcol
			}
		}
	}
	p.errorf(lineNo, c, factory, e.knownKey(), nil, "%s: %s", label, msg)
	return nil, skipBroken(lines, i, value)
}

// skipBroken returns how many lines a broken value starting at lines[i]
// spans: the rest of a broken multi-line value is skipped rather than
// each of its lines reported again.
func skipBroken(lines []string, i int, value string) int {
	used := 1
	if multiLine(value) {
		for used < maxContinuation && i+used < len(lines) && !startsItem(lines[i+used]) {
			used++
		}
	}
	return used
}

// valueExtent finds the end of the TOML value starting at lines[i][off:],
// lexing strings (basic, literal, multi-line), comments and brackets in
// one pass. It returns the line the value ends on and the byte offset just
// past it; ok is false when the value is not closed within maxContinuation
// lines, or when an open array meets a key = value line (an array cannot
// hold one: it was left unclosed).
func valueExtent(lines []string, i, off int) (last, end int, ok bool) {
	last, end, ok, _ = lexValue(lines, i, off, math.MaxInt, math.MaxInt)
	return last, end, ok
}

// lexValue is valueExtent that also stops at brackets nested more than
// maxDepth deep, or at more than maxItems array items or table keys in
// all (counted by their separators), saying which limit in over.
func lexValue(lines []string, i, off, maxDepth, maxItems int) (last, end int, ok bool, over string) {
	var (
		items int
		depth int
		quote byte // the open string's quote, 0 outside a string
		multi bool // the open string is a multi-line one
	)
	for j := i; j < len(lines) && j-i < maxContinuation; j++ {
		s, k := lines[j], 0
		if j == i {
			k = off
		} else if depth > 0 && quote == 0 && isKeyLine(s) {
			return j, 0, false, ""
		}
		for ; k < len(s); k++ {
			c := s[k]
			if quote != 0 {
				switch {
				case quote == '"' && c == '\\':
					k++ // escaped byte (or, at the end of a line, a line continuation)
					continue
				case c != quote:
					continue
				case !multi:
					quote = 0
				case k+2 < len(s) && s[k+1] == quote && s[k+2] == quote:
					k += 2
					// A closing delimiter may be preceded by up to two
					// quotes of the content: """a""""" ends after all five.
					for n := 0; n < 2 && k+1 < len(s) && s[k+1] == quote; n++ {
						k++
					}
					quote = 0
				default:
					continue
				}
				if depth == 0 {
					return j, k + 1, true, ""
				}
				continue
			}
			switch c {
			case '#':
				k = len(s)
			case '"', '\'':
				quote, multi = c, k+2 < len(s) && s[k+1] == c && s[k+2] == c
				if multi {
					k += 2
				}
			case '[', '{':
				depth++
				if depth > maxDepth {
					return j, k, false, fmt.Sprintf("arrays or inline tables nested more than %d deep (the limit MaxNesting)", maxDepth)
				}
			case ',':
				if items++; items > maxItems {
					return j, k, false, fmt.Sprintf("more than %d array items or table keys (the limit MaxArrayItems)", maxItems)
				}
			case ']', '}':
				depth--
				if depth <= 0 {
					return j, k + 1, true, ""
				}
			default:
				if depth == 0 {
					return j, len(s), true, "" // a scalar at the top: TOML decides
				}
			}
		}
		if quote != 0 && !multi {
			return j, len(s), true, "" // a basic string cannot span lines: TOML reports it
		}
	}
	return 0, 0, false, ""
}

// decodeValue decodes one TOML value through a one-key document.
func decodeValue(value string) (any, error) {
	var m map[string]any
	md, err := toml.Decode(valuePrefix+value, &m)
	if err != nil {
		return nil, err
	}
	if len(md.Keys()) == 0 || len(m) != 1 {
		return nil, fmt.Errorf("not a single value")
	}
	v, ok := m["v"]
	if !ok {
		return nil, fmt.Errorf("not a single value")
	}
	return v, nil
}

// stripComment removes a trailing comment: '#' preceded by a space or tab
// starts one in an unquoted value; a '#' inside a word (pa#ss) is kept.
func stripComment(s string) string {
	for i := 1; i < len(s); i++ {
		if s[i] == '#' && (s[i-1] == ' ' || s[i-1] == '\t') {
			return strings.TrimRight(s[:i], " \t")
		}
	}
	return s
}

// quotedEnd returns the index just past the closing quote of the TOML
// string that t starts with, or -1.
func quotedEnd(t string) int {
	q := t[0]
	for i := 1; i < len(t); i++ {
		switch {
		case q == '"' && t[i] == '\\':
			i++
		case t[i] == q:
			return i + 1
		}
	}
	return -1
}

func isBareKey(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isBareKeyByte(s[i]) {
			return false
		}
	}
	return s != ""
}

func isBareKeyByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return true
		}
	}
	return false
}

// multiLine reports whether a TOML value may continue on the next lines:
// an array, an inline table, or a multi-line string.
func multiLine(value string) bool {
	return value[0] == '[' || value[0] == '{' || strings.HasPrefix(value, `"""`) || strings.HasPrefix(value, "'''")
}

// isKeyLine reports whether line is a bare key = value.
func isKeyLine(line string) bool {
	k, _, ok := strings.Cut(strings.TrimLeft(line, " \t"), "=")
	return ok && isBareKey(strings.TrimRight(k, " \t"))
}

// startsItem reports whether line starts a header or a bare key = value,
// where a broken multi-line value certainly ended.
func startsItem(line string) bool {
	t := strings.TrimLeft(line, " \t")
	if strings.HasPrefix(t, "[") {
		return true
	}
	return isKeyLine(t)
}
