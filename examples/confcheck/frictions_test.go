package main

import (
	"os"
	"strings"
	"testing"

	"github.com/stompft/stompft/confparse"
	"github.com/stompft/stompft/factory"
	"github.com/stompft/stompft/internal/embedded"
	"github.com/stompft/stompft/internal/embedded/embeddedtest"
)

// TestMain clears $FACTORIES_CONF: the tests that give no file expect a
// usage error unless they set it themselves.
func TestMain(m *testing.M) {
	_ = os.Unsetenv(envConf)
	os.Exit(m.Run())
}

// upBroker starts a broker that answers, stopped with the test.
func upBroker(t *testing.T) *embedded.Broker {
	t.Helper()
	return embeddedtest.Start(t, embedded.Options{Engine: embedded.EngineMini})
}

// TestFileFromFactoriesConf: without FILE, confcheck reads the file
// $FACTORIES_CONF names, for the table and for -probe.
func TestFileFromFactoriesConf(t *testing.T) {
	up := upBroker(t)
	path := write(t, "factories.conf", "[Orders]\n  type = queue\n  url = "+up.URL()+"\n")
	t.Setenv(envConf, path)

	code, out, errOut := runCmd("-probe", "Orders")
	if code != exitOK || !strings.Contains(out, "[Orders] "+path) || !strings.Contains(out, "1 of 1 URLs reachable") {
		t.Fatalf("confcheck -probe Orders with %s set: exit %d\n%s%s", envConf, code, out, errOut)
	}
	code, out, errOut = runCmd()
	if code != exitOK || !strings.Contains(out, "[Orders]") || !strings.Contains(out, " "+path+":1\n") {
		t.Fatalf("confcheck with %s set: exit %d\n%s%s", envConf, code, out, errOut)
	}
	code, out, _ = runCmd("-json")
	if code != exitOK || !strings.Contains(out, `"name": "Orders"`) {
		t.Fatalf("confcheck -json with %s set: exit %d\n%s", envConf, code, out)
	}
	// A file given wins over the environment.
	other := write(t, "other.conf", "[Other]\n  type = queue\n  url = tcp://7222\n")
	if code, out, _ := runCmd(other); code != exitOK || !strings.Contains(out, "[Other]") || strings.Contains(out, "[Orders]") {
		t.Fatalf("FILE given: exit %d\n%s", code, out)
	}

	t.Setenv(envConf, path+".missing")
	if code, _, errOut := runCmd(); code != exitInvalid || !strings.Contains(errOut, "no such file") {
		t.Errorf("%s names a missing file: exit %d, want %d\n%s", envConf, code, exitInvalid, errOut)
	}
	t.Setenv(envConf, "")
	if code, _, errOut := runCmd("-probe", "Orders"); code != exitUsage || !strings.Contains(errOut, "usage: confcheck") || !strings.Contains(errOut, "$"+envConf) {
		t.Errorf("neither FILE nor %s: exit %d, want %d\n%s", envConf, code, exitUsage, errOut)
	}
}

// TestFlagsAnywhere: flags before or after the file give the same result;
// "--" ends the flags; two files are a usage error.
func TestFlagsAnywhere(t *testing.T) {
	t.Setenv(envConf, "")
	valid := write(t, "factories.conf", validConf)
	_, want, _ := runCmd("-json", valid)
	for _, args := range [][]string{{valid, "-json"}, {"-json", "--", valid}, {valid, "--json"}} {
		code, out, errOut := runCmd(args...)
		if code != exitOK || out != want {
			t.Errorf("confcheck %q: exit %d, output differs from -json FILE\n%s%s", args, code, out, errOut)
		}
	}
	up := upBroker(t)
	path := write(t, "f.conf", "[Up]\n  type = queue\n  url = "+up.URL()+"\n")
	for _, args := range [][]string{{path, "-probe", "Up"}, {"-probe", "Up", path, "-json"}, {path, "-json", "-probe=Up"}} {
		code, out, errOut := runCmd(args...)
		if code != exitOK || !strings.Contains(out, up.URL()) {
			t.Errorf("confcheck %q: exit %d\n%s%s", args, code, out, errOut)
		}
	}
	for _, args := range [][]string{{valid, valid}, {valid, "-json", valid}, {valid, "-yaml"}, {"--", "-json"}} {
		code, out, _ := runCmd(args...)
		want := exitUsage
		if args[0] == "--" {
			want = exitInvalid // "-json" is a file name after "--"
		}
		if code != want || out != "" {
			t.Errorf("confcheck %q: exit %d, want %d\n%s", args, code, want, out)
		}
	}
}

// TestEveryURLErrorReported: a mixed failover URI lists all its problems
// in one run.
func TestEveryURLErrorReported(t *testing.T) {
	path := write(t, "mixed.conf", "[Mixed]\n  type = queue\n  url = failover:(stomp://127.0.0.1:61616,nio+ssl://127.0.0.1:61617,ftp://q:1)?initialReconnectDelay=100&fooBar=1&timeout=abc\n")
	code, out, errOut := runCmd(path)
	if code != exitInvalid || out != "" {
		t.Fatalf("exit %d, want %d\n%s%s", code, exitInvalid, out, errOut)
	}
	for _, want := range []string{
		"url: failover URI: unknown option fooBar",
		`url: failover option timeout: "abc" is not a duration`,
		`url: "ssl://127.0.0.1:61617": scheme "ssl" differs from the list's scheme "tcp"`,
		`url: "ftp://q:1": scheme "ftp" is not supported`,
	} {
		if !strings.Contains(errOut, path+":3:") || !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if n := strings.Count(errOut, "\n"); n != 4 {
		t.Errorf("%d error lines, want 4:\n%s", n, errOut)
	}
}

// TestUnknownFactoryListsKnownNames: -probe with a name the file does not
// define says which names it does define.
func TestUnknownFactoryListsKnownNames(t *testing.T) {
	valid := write(t, "factories.conf", validConf)
	code, out, errOut := runCmd("-probe", "FTQueue", valid)
	if code != exitInvalid || out != "" {
		t.Fatalf("exit %d, want %d\n%s%s", code, exitInvalid, out, errOut)
	}
	want := `confcheck: stompft: unknown factory "FTQueue" in ` + valid + "; known factories: FTQueueConnectionFactory, Migrated\n"
	if !strings.HasSuffix(errOut, "\n"+want) { // after the file's warning
		t.Errorf("stderr:\n%s\nwant it to end with:\n%s", errOut, want)
	}
	empty := write(t, "empty.conf", "# nothing yet\n")
	if code, _, errOut := runCmd("-probe", "X", empty); code != exitInvalid || !strings.Contains(errOut, "the file defines no factory") {
		t.Errorf("empty file: exit %d\n%s", code, errOut)
	}
}

// TestEffectiveAttemptTimeout: an attempt timeout left out or written as 0
// prints as the limit the factory applies, in the table and the JSON.
func TestEffectiveAttemptTimeout(t *testing.T) {
	if confparse.DefaultAttemptTimeout != factory.DefaultAttemptTimeout {
		t.Fatalf("confparse.DefaultAttemptTimeout %v, factory.DefaultAttemptTimeout %v: confcheck would print a limit the factory does not apply",
			confparse.DefaultAttemptTimeout, factory.DefaultAttemptTimeout)
	}
	path := write(t, "t.conf", "[F]\n  type = queue\n  url = tcp://7222\n  reconnect_attempt_timeout = 0\n")
	code, out, errOut := runCmd(path)
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	for _, key := range []string{"connect_attempt_timeout", "reconnect_attempt_timeout"} {
		if !containsRow(out, key, "10s") {
			t.Errorf("table: %s is not 10s:\n%s", key, out)
		}
	}
	_, out, _ = runCmd("-json", path)
	if strings.Count(out, `"attempt_timeout_ms": 10000`) != 2 {
		t.Errorf("JSON attempt timeouts are not 10000 ms:\n%s", out)
	}
}

func containsRow(out, key, value string) bool {
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) == 2 && f[0] == key && f[1] == value {
			return true
		}
	}
	return false
}
