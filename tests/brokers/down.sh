#!/usr/bin/env bash
# Stops exactly the processes recorded by up.sh and ctl.sh (tests/.brokers/
# pids/*.pid): TERM, a bounded wait, then KILL. A PID is signalled only if it
# is still the process we started. Removes nothing outside tests/.brokers/.
# Idempotent: nothing recorded, nothing done.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
t0=$SECONDS
[ -d "$PIDS" ] || { log "nothing to stop"; exit 0; }
names=()
for f in "$PIDS"/*.pid; do
	[ -e "$f" ] || continue
	n=$(basename "$f" .pid)
	[ "$n" = epmd ] || names+=("$n")
done
if [ ${#names[@]} -gt 0 ]; then
	log "stop ${names[*]}"
	stop_pids 30 "${names[@]}"
fi
# epmd last: the nodes unregister from it while they stop.
stop_pids 10 epmd
rm -f "$ENVFILE"
log "all stopped in $((SECONDS - t0))s"
