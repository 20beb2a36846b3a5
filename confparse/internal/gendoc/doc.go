// Command gendoc writes the factory key reference, generated from
// confparse.KeyDocs (the parser's own key registry), into every markdown
// file given, between the lines
//
//	<!-- keys:begin -->
//	<!-- keys:end -->
//
// Everything outside the markers is left as it is. A file without the
// markers is reported and left alone, so the README can take the table
// when it wants it. With -check nothing is written and the exit status is
// 1 when a file's table differs from the registry.
//
// It runs from package confparse:
//
//	go generate ./confparse
package main
