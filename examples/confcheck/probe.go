package main

// -probe NAME: connect to every URL of one factory, the way the factory
// does, and report what each broker said. What ops run after editing
// factories.conf.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/stompft/stompft/confparse"
	"github.com/stompft/stompft/factory"
	"github.com/stompft/stompft/sequential"
)

// exitUnreachable is -probe's status when no URL of the factory answered.
const exitUnreachable = 3

// TLS column values.
const (
	tlsNone       = "-"          // tcp:// URL
	tlsVerified   = "verified"   // chain and host name checked
	tlsChainOnly  = "chain-only" // ssl_verify_hostname = disabled
	tlsUnverified = "unverified" // ssl_verify_host = disabled: anyone can pose as the broker
	tlsRejected   = "rejected"   // the certificate failed verification
	tlsFailed     = "failed"     // TLS did not complete for another reason
)

// probeResult is the outcome of one attempt to one URL.
type probeResult struct {
	URL       string        `json:"url"`
	Reachable bool          `json:"reachable"`
	TLS       string        `json:"tls"`
	Server    string        `json:"server,omitempty"`
	Version   string        `json:"version,omitempty"`
	Handshake time.Duration `json:"-"`
	Error     string        `json:"error,omitempty"`
}

// probeFactory makes one attempt to each URL of the named factory, in the
// order listed, with the factory's own settings (credentials, vhost,
// heart-beats, TLS keys, connect_attempt_timeout). Each attempt is a
// CreateConnection on a copy of the factory reduced to that one URL and a
// single attempt, so it is exactly what the factory does for that URL.
func probeFactory(ctx context.Context, cfg *confparse.Config, name string, opts ...factory.FactoryOption) ([]probeResult, error) {
	def, ok := cfg.Factory(name)
	if !ok {
		return nil, fmt.Errorf("%w %q in %s", factory.ErrUnknownFactory, name, cfg.File)
	}
	var out []probeResult
	for _, ep := range def.URLs.Endpoints() {
		out = append(out, probeOne(ctx, cfg, def, ep, opts))
	}
	return out, nil
}

func probeOne(ctx context.Context, cfg *confparse.Config, def *confparse.Factory, ep sequential.Endpoint, opts []factory.FactoryOption) probeResult {
	r := probeResult{URL: ep.String(), TLS: tlsNone}
	one := *def
	one.URL = ep.String()
	one.URLs = &sequential.List{Groups: [][]sequential.Endpoint{{ep}}}
	one.Connect.Count = 1
	one.PriorityBackup, one.Backup = false, false
	f, err := factory.New(&confparse.Config{File: cfg.File, Factories: []*confparse.Factory{&one}}, opts...)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	start := time.Now()
	conn, err := f.CreateConnectionContext(ctx, def.Name)
	r.Handshake = time.Since(start)
	if err != nil {
		r.Error = attemptError(err).Error()
		if ep.Scheme == sequential.SchemeSSL {
			r.TLS = tlsFailed
			if factory.IsCertificateError(err) {
				r.TLS = tlsRejected
			}
		}
		return r
	}
	r.Reachable = true
	if info, ok := conn.ServerInfo(); ok {
		r.Server, r.Version = info.Server, info.Version
	}
	if ep.Scheme == sequential.SchemeSSL {
		switch {
		case def.SSL.InsecureSkipVerify:
			r.TLS = tlsUnverified
		case def.SSL.SkipHostnameCheck:
			r.TLS = tlsChainOnly
		default:
			r.TLS = tlsVerified
		}
	}
	_ = conn.Close()
	return r
}

// attemptError digs the one attempt's own error out of the walk's
// ConnectError, which would repeat the URL and the pass count.
func attemptError(err error) error {
	var ce *factory.ConnectError
	if errors.As(err, &ce) && len(ce.Errors) > 0 && ce.Errors[0].Err != nil {
		return ce.Errors[0].Err
	}
	return err
}

// runProbe is confcheck -probe NAME FILE, after FILE has parsed.
func runProbe(cfg *confparse.Config, name string, asJSON bool, stdout, stderr io.Writer) int {
	results, err := probeFactory(context.Background(), cfg, name)
	if errors.Is(err, factory.ErrUnknownFactory) {
		fmt.Fprintf(stderr, "confcheck: %v; %s\n", err, knownFactories(cfg))
		return exitInvalid
	}
	if err != nil {
		fmt.Fprintln(stderr, "confcheck:", err)
		return exitInvalid
	}
	reachable := 0
	for _, r := range results {
		if r.Reachable {
			reachable++
		}
	}
	if asJSON {
		if err := writeProbeJSON(stdout, cfg.File, name, results); err != nil {
			fmt.Fprintln(stderr, "confcheck:", err)
			return exitInvalid
		}
	} else {
		writeProbeTable(stdout, cfg.File, name, results)
		fmt.Fprintf(stdout, "%d of %d URLs reachable\n", reachable, len(results))
	}
	if reachable == 0 {
		return exitUnreachable
	}
	return exitOK
}

func writeProbeTable(w io.Writer, file, name string, results []probeResult) {
	fmt.Fprintf(w, "[%s] %s\n", name, file)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "URL\tREACHABLE\tTLS\tSERVER\tVERSION\tHANDSHAKE\tERROR")
	for _, r := range results {
		reach, server, version, hs, msg := "no", "-", "-", "-", "-"
		if r.Reachable {
			reach = "yes"
			hs = handshakeMS(r.Handshake) + "ms"
		}
		if r.Server != "" {
			server = r.Server
		}
		if r.Version != "" {
			version = r.Version
		}
		if r.Error != "" {
			msg = r.Error
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.URL, reach, r.TLS, server, version, hs, msg)
	}
	_ = tw.Flush()
}

func writeProbeJSON(w io.Writer, file, name string, results []probeResult) error {
	type jsonResult struct {
		probeResult
		HandshakeMS *float64 `json:"handshake_ms,omitempty"`
	}
	doc := struct {
		File    string       `json:"file"`
		Factory string       `json:"factory"`
		URLs    []jsonResult `json:"urls"`
	}{File: file, Factory: name, URLs: []jsonResult{}}
	for _, r := range results {
		jr := jsonResult{probeResult: r}
		if r.Reachable {
			v := float64(r.Handshake) / float64(time.Millisecond)
			jr.HandshakeMS = &v
		}
		doc.URLs = append(doc.URLs, jr)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

// handshakeMS prints milliseconds with one decimal below 10 ms.
func handshakeMS(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	if ms < 10 {
		return strconv.FormatFloat(ms, 'f', 1, 64)
	}
	return strconv.FormatInt(d.Milliseconds(), 10)
}

// knownFactories lists the factory names of cfg, in file order, for an
// unknown-name message.
func knownFactories(cfg *confparse.Config) string {
	if len(cfg.Factories) == 0 {
		return "the file defines no factory"
	}
	names := make([]string, len(cfg.Factories))
	for i, f := range cfg.Factories {
		names[i] = f.Name
	}
	return "known factories: " + strings.Join(names, ", ")
}
