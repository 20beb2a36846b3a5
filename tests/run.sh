#!/usr/bin/env bash
# The project's one test command (docs/brokers.md: "The test command").
#
#   1. go vet and a gofmt check
#   2. tests/brokers/up.sh: installs (apt-get, if missing) and starts the real
#      brokers: ActiveMQ master/slave pair, two ActiveMQ, two RabbitMQ, and a
#      3-node RabbitMQ cluster
#   3. go test -race ./... with STOMPFT_REAL_BROKERS=1 and their addresses
#   4. tests/brokers/down.sh: stops exactly the processes up.sh started,
#      ALWAYS (trap), even when a step fails or the run is interrupted
#   5. a short fuzz pass: every Fuzz target of the module, FUZZTIME each
#
# Runs non-interactively (CI=true, no stdin, root on Debian 12). Exits
# non-zero if any step failed; every step runs even after a failure, so one
# run reports everything.
#
# Knobs: STOMPFT_FUZZTIME (default 10s), STOMPFT_SKIP_BROKERS=1 (no brokers:
# real-broker tests are skipped, with the reason), STOMPFT_SKIP_FUZZ=1.
#
# Modules: the library is the root go.mod; the bench and storm programs are
# nested modules (tests/bench, tests/storm) so their plotting dependencies
# stay out of the library's go.mod. Every module is vetted, checked with
# `go mod tidy -diff`, tested with -race (the nested ones before the brokers
# start: they need none) and fuzzed, each on its own (GOWORK=off), so every
# go.mod stays complete; go.work only lets `go run ./tests/bench` work from
# the root.
set -uo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
# Each module is built from its own go.mod, never through go.work.
export GOWORK=off
exec </dev/null

failed=()
step() { printf '\n== %s (%s UTC)\n' "$*" "$(date -u +%H:%M:%S)"; }
fail() { failed+=("$1"); printf '!! FAILED: %s\n' "$1"; }

brokers_started=0
cleanup() {
	if [ $brokers_started = 1 ]; then
		step "tests/brokers/down.sh"
		bash tests/brokers/down.sh || echo "!! down.sh failed"
		brokers_started=0
	fi
}
trap cleanup EXIT
trap 'echo "!! interrupted"; exit 130' INT TERM HUP

# Every module of the repository: ".", then the nested ones.
mapfile -t modules < <(find . -name go.mod -not -path './tests/.brokers/*' -not -path '*/testdata/*' -printf '%h\n' | sort)
# inmod MODULE CMD...: run CMD in the module's directory.
inmod() { (cd "$1" && shift && "$@"); }

for m in "${modules[@]}"; do
	step "go vet ./... (module $m)"
	inmod "$m" go vet ./... || fail "go vet ($m)"
	step "go mod tidy -diff (module $m)"
	inmod "$m" go mod tidy -diff || fail "go mod tidy ($m): run go mod tidy there"
done

step "gofmt -l"
# Tracked and new (not ignored) files: the lead commits new files later.
mapfile -t gofiles < <(git ls-files --cached --others --exclude-standard '*.go' 2>/dev/null || find . -name '*.go' -not -path './tests/.brokers/*')
[ ${#gofiles[@]} -gt 0 ] || mapfile -t gofiles < <(find . -name '*.go' -not -path './tests/.brokers/*')
unformatted=$(gofmt -l "${gofiles[@]}")
if [ -n "$unformatted" ]; then
	echo "not gofmt-formatted:"
	echo "$unformatted"
	fail "gofmt"
fi

# The nested modules (bench and storm programs) use no real broker.
for m in "${modules[@]}"; do
	[ "$m" = . ] && continue
	step "go test -race -count=1 ./... (module $m)"
	(unset STOMPFT_REAL_BROKERS && inmod "$m" go test -race -count=1 -timeout 30m ./...) || fail "go test ($m)"
done

real=0
if [ "${STOMPFT_SKIP_BROKERS:-}" = 1 ]; then
	step "brokers skipped (STOMPFT_SKIP_BROKERS=1): real-broker tests will be skipped"
else
	step "tests/brokers/up.sh (install if missing, start real brokers)"
	brokers_started=1 # down.sh stops whatever up.sh managed to start
	if bash tests/brokers/up.sh; then
		real=1
	else
		fail "tests/brokers/up.sh"
	fi
fi

step "go test -race -count=1 ./... (real brokers: $([ $real = 1 ] && echo yes || echo no))"
summary="${STOMPFT_BROKERS_DIR:-tests/.brokers}/summary.txt"
rm -f "$summary"
if [ $real = 1 ]; then
	# shellcheck disable=SC1091
	(set -a && . "${STOMPFT_BROKERS_DIR:-tests/.brokers}/env" && export STOMPFT_REAL_BROKERS=1 &&
		go test -race -count=1 -timeout 30m ./...) || fail "go test"
else
	(unset STOMPFT_REAL_BROKERS && go test -race -count=1 -timeout 30m ./...) || fail "go test"
fi

if [ -s "$summary" ]; then
	step "real-broker figures (the SUMMARY lines of the real-broker tests)"
	cat "$summary"
fi

cleanup
if [ $real = 1 ]; then
	# Every process up.sh or a test's ctl.sh started must be gone.
	left=$(ps -eo pid=,args= | grep -F -e "${STOMPFT_BROKERS_DIR:-$PWD/tests/.brokers}/" -e "epmd -address 127.0.0.1 -port ${STOMPFT_EPMD_PORT:-$((${STOMPFT_PORT_BASE:-61713} + 26))}" | grep -v -e grep -e "ps -eo" || true)
	if [ -n "$left" ]; then
		echo "broker processes left behind:"
		echo "$left"
		fail "brokers left running"
	fi
fi

# fuzz_one MODULE PKG NAME: see tests/fuzz.sh.
. tests/fuzz.sh

if [ "${STOMPFT_SKIP_FUZZ:-}" = 1 ]; then
	step "fuzz pass skipped (STOMPFT_SKIP_FUZZ=1)"
else
	fuzztime=${STOMPFT_FUZZTIME:-10s}
	step "fuzz pass: every Fuzz target, $fuzztime each"
	for m in "${modules[@]}"; do
		# `go test -list` prints a package's test names, then "ok <pkg> ...".
		targets=()
		names=()
		listing=$(inmod "$m" go test -list '^Fuzz' ./... 2>&1) || {
			echo "$listing" | grep -v '^ok\|^Fuzz\|no test files'
			fail "go test -list in $m (fuzz targets of the failing packages are not run)"
		}
		while IFS= read -r line; do
			case $line in
			Fuzz*) names+=("$line") ;;
			ok*)
				pkg=$(awk '{print $2}' <<<"$line")
				for n in ${names[@]+"${names[@]}"}; do targets+=("$pkg $n"); done
				names=()
				;;
			*) names=() ;;
			esac
		done <<<"$listing"
		echo "module $m: ${#targets[@]} fuzz targets"
		for tgt in ${targets[@]+"${targets[@]}"}; do
			pkg=${tgt% *} name=${tgt#* }
			echo "-- $pkg $name"
			fuzz_one "$m" "$pkg" "$name" || fail "fuzz $pkg $name"
		done
	done
fi

echo
if [ ${#failed[@]} -gt 0 ]; then
	echo "== FAILED: ${failed[*]}"
	exit 1
fi
echo "== all passed"
