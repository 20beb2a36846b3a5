#!/usr/bin/env bash
# Installs (if missing) and starts the real STOMP brokers of the integration
# tests, each by hand on 127.0.0.1 with a private directory under
# tests/.brokers/. Idempotent: a broker already up is left alone.
#
#   amq-master, amq-slave  ActiveMQ shared-store master/slave pair (one KahaDB)
#   amq1, amq2             two independent ActiveMQ brokers
#   rabbit1, rabbit2       two independent RabbitMQ nodes with rabbitmq_stomp
#   rabbitc1..rabbitc3     one 3-node RabbitMQ cluster (rabbitmqctl join_cluster)
#
# Writes tests/.brokers/env (export lines, see the end of this file).
# Ports are overridable: STOMPFT_PORT_BASE, STOMPFT_AMQ_MASTER_PORT, ...
# (see lib.sh); STOMPFT_BROKERS_DIR moves the private directory.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
t0=$SECONDS
export DEBIAN_FRONTEND=noninteractive

# 1. Install what is missing from Debian's packages.
missing=()
[ -f "$AMQ_HOME/bin/activemq.jar" ] || missing+=(activemq)
[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || missing+=(rabbitmq-server)
# STOMPFT_FORCE_INSTALL=1 runs the apt-get path anyway (to test it; a no-op
# for installed packages).
[ "${STOMPFT_FORCE_INSTALL:-}" = 1 ] && missing=(activemq rabbitmq-server)
mkdir -p "$BDIR"
if [ ${#missing[@]} -gt 0 ]; then
	[ "$(id -u)" = 0 ] || die "need root to install ${missing[*]}"
	log "install ${missing[*]} (apt-get)"
	if ! apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=120 "${missing[@]}" </dev/null >"$BDIR/apt.log" 2>&1; then
		log "apt-get update (package lists missing or stale)"
		apt-get update -o DPkg::Lock::Timeout=120 </dev/null >>"$BDIR/apt.log" 2>&1 || { cat "$BDIR/apt.log" >&2; die "apt-get update failed"; }
		apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=120 "${missing[@]}" </dev/null >>"$BDIR/apt.log" 2>&1 ||
			{ tail -30 "$BDIR/apt.log" >&2; die "apt-get install ${missing[*]} failed"; }
	fi
	log "installed ${missing[*]} in $((SECONDS - t0))s"
fi
command -v java >/dev/null || die "java not found (OpenJDK is expected on the machine)"
mkdir -p "$PIDS"
ensure_probe &
probe_build=$!

# 2. Start what is not running, in parallel. The pair's second instance
# starts only once the first holds the KahaDB lock (so it becomes the slave).
pair_running=()
for n in amq-master amq-slave; do
	if p=$(pidof_rec "$n"); then
		log "$n already running (pid $p)"
		pair_running+=("$n")
	fi
done
[ ${#pair_running[@]} -gt 0 ] || start_broker amq-master
# The cluster: when none of its nodes runs, it is formed afresh (old
# membership and queues wiped), so a node never waits for a peer from an
# earlier run; a node started alone rejoins from its own membership.
cluster_up=0
for n in $CLUSTER; do pidof_rec "$n" >/dev/null && cluster_up=1; done
if [ $cluster_up = 0 ]; then
	for n in $CLUSTER; do rm -rf "${BDIR:?}/$n/mnesia" "$BDIR/$n/joined"; done
fi
for n in amq1 amq2 rabbit1 rabbit2 $CLUSTER; do
	if p=$(pidof_rec "$n"); then
		log "$n already running (pid $p)"
	else
		start_broker "$n"
	fi
done
wait "$probe_build" || die "cannot build the STOMP probe"

# 3. Wait until each answers a real STOMP CONNECT (in parallel).
declare -A waiters=()
for n in amq1 amq2 rabbit1 rabbit2 $CLUSTER; do
	wait_up "$n" 120 >"$BDIR/$n.probe" 2>&1 &
	waiters[$n]=$!
done
# The pair: whichever instance answers is the master (after fault tests it
# may be either); the other one is started, or left running, as the slave.
leader=
deadline=$((SECONDS + 120))
while [ -z "$leader" ] && [ $SECONDS -lt $deadline ]; do
	for n in amq-master amq-slave; do
		if "$PROBE" -addr "127.0.0.1:$(port "$n")" -timeout 1s >"$BDIR/$n.probe" 2>&1; then
			leader=$n
			break
		fi
	done
done
[ -n "$leader" ] || die "neither amq-master nor amq-slave answers STOMP CONNECT; logs under $BDIR/amq-*/data/"
log "$leader up (pair master): $(cat "$BDIR/$leader.probe")"
follower=amq-slave
[ "$leader" = amq-master ] || follower=amq-master
if p=$(pidof_rec "$follower"); then
	log "$follower already running as slave (pid $p)"
else
	start_broker "$follower"
	amq_wait_slave "$follower" 60
fi
fail=0
for n in amq1 amq2 rabbit1 rabbit2 $CLUSTER; do
	if wait "${waiters[$n]}"; then
		log "$n up: $(cat "$BDIR/$n.probe")"
	else
		log "$n NOT up: $(cat "$BDIR/$n.probe")"
		fail=1
	fi
done
[ $fail = 0 ] || die "some brokers did not come up; logs under $BDIR/<name>/"

# 3b. Join rabbitc2 and rabbitc3 to rabbitc1 (once per fresh cluster), and
# check all three run as one cluster.
: >"$BDIR/rabbitc1/joined"
for n in rabbitc2 rabbitc3; do
	[ -f "$BDIR/$n/joined" ] || rabbit_join "$n"
done
rabbit_wait_cluster rabbitc1 120

# 4. The environment of the tests.
cat >"$ENVFILE.tmp" <<ENV
# Written by tests/brokers/up.sh; read by tests/brokers (package brokers).
export STOMPFT_REAL_BROKERS=1
export STOMPFT_BROKERS_DIR="$BDIR"
export STOMPFT_BROKERS_CTL="$ROOT/tests/brokers/ctl.sh"
export STOMPFT_PORT_BASE="$PB"
export STOMPFT_EPMD_PORT="$EPMD_PORT"
export STOMPFT_AMQ_PAIR="127.0.0.1:$AMQ_MASTER_PORT,127.0.0.1:$AMQ_SLAVE_PORT"
export STOMPFT_AMQ_PAIR_NAMES="amq-master,amq-slave"
export STOMPFT_AMQ_PAIR_PIDS="$PIDS"
export STOMPFT_AMQ_MASTER="127.0.0.1:$AMQ_MASTER_PORT"
export STOMPFT_AMQ_SLAVE="127.0.0.1:$AMQ_SLAVE_PORT"
export STOMPFT_AMQ1="127.0.0.1:$AMQ1_PORT"
export STOMPFT_AMQ2="127.0.0.1:$AMQ2_PORT"
export STOMPFT_RABBIT1="127.0.0.1:$RABBIT1_PORT"
export STOMPFT_RABBIT2="127.0.0.1:$RABBIT2_PORT"
export STOMPFT_RABBIT_VHOST="/"
export STOMPFT_RABBITC1="127.0.0.1:$RABBITC1_PORT"
export STOMPFT_RABBITC2="127.0.0.1:$RABBITC2_PORT"
export STOMPFT_RABBITC3="127.0.0.1:$RABBITC3_PORT"
ENV
mv "$ENVFILE.tmp" "$ENVFILE"
log "all brokers up in $((SECONDS - t0))s; environment in $ENVFILE"
