# shellcheck shell=bash
# Shared settings and helpers of up.sh, down.sh and ctl.sh. Sourced, not run.
#
# Every broker runs by hand on 127.0.0.1 with a private directory under
# tests/.brokers/ and its PID in tests/.brokers/pids/<name>.pid, so down.sh
# can stop exactly what was started and nothing else.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# The private directory; another one (and STOMPFT_PORT_BASE) lets a second
# set of brokers run beside the first.
BDIR=${STOMPFT_BROKERS_DIR:-$ROOT/tests/.brokers}
PIDS="$BDIR/pids"
ENVFILE="$BDIR/env"
PROBE="$BDIR/bin/probe"

# Ports: fixed defaults (STOMPFT_PORT_BASE=61713), each overridable.
PB=${STOMPFT_PORT_BASE:-61713}
AMQ_MASTER_PORT=${STOMPFT_AMQ_MASTER_PORT:-$PB}
AMQ_SLAVE_PORT=${STOMPFT_AMQ_SLAVE_PORT:-$((PB + 1))}
AMQ1_PORT=${STOMPFT_AMQ1_PORT:-$((PB + 10))}
AMQ2_PORT=${STOMPFT_AMQ2_PORT:-$((PB + 11))}
RABBIT1_PORT=${STOMPFT_RABBIT1_PORT:-$((PB + 20))}
RABBIT2_PORT=${STOMPFT_RABBIT2_PORT:-$((PB + 21))}
# RabbitMQ's own AMQP and Erlang distribution ports, and a private epmd port
# so a system epmd (or another user's) is never touched.
RABBIT1_AMQP_PORT=${STOMPFT_RABBIT1_AMQP_PORT:-$((PB + 22))}
RABBIT2_AMQP_PORT=${STOMPFT_RABBIT2_AMQP_PORT:-$((PB + 23))}
RABBIT1_DIST_PORT=${STOMPFT_RABBIT1_DIST_PORT:-$((PB + 24))}
RABBIT2_DIST_PORT=${STOMPFT_RABBIT2_DIST_PORT:-$((PB + 25))}
EPMD_PORT=${STOMPFT_EPMD_PORT:-$((PB + 26))}
# The 3-node RabbitMQ cluster: STOMP, AMQP and Erlang distribution ports
# of rabbitc1..3, and the port range of rabbitmqctl's own Erlang node (its
# default, 35672-35682, is shared with every other RabbitMQ on the machine).
RABBITC1_PORT=${STOMPFT_RABBITC1_PORT:-$((PB + 30))}
RABBITC2_PORT=${STOMPFT_RABBITC2_PORT:-$((PB + 31))}
RABBITC3_PORT=${STOMPFT_RABBITC3_PORT:-$((PB + 32))}
RABBITC1_AMQP_PORT=${STOMPFT_RABBITC1_AMQP_PORT:-$((PB + 33))}
RABBITC2_AMQP_PORT=${STOMPFT_RABBITC2_AMQP_PORT:-$((PB + 34))}
RABBITC3_AMQP_PORT=${STOMPFT_RABBITC3_AMQP_PORT:-$((PB + 35))}
RABBITC1_DIST_PORT=${STOMPFT_RABBITC1_DIST_PORT:-$((PB + 36))}
RABBITC2_DIST_PORT=${STOMPFT_RABBITC2_DIST_PORT:-$((PB + 37))}
RABBITC3_DIST_PORT=${STOMPFT_RABBITC3_DIST_PORT:-$((PB + 38))}
RABBIT_CTL_DIST_MIN=${STOMPFT_RABBIT_CTL_DIST_MIN:-$((PB + 40))}
RABBIT_CTL_DIST_MAX=${STOMPFT_RABBIT_CTL_DIST_MAX:-$((PB + 49))}
# How often an ActiveMQ slave polls the shared KahaDB lock (ms).
AMQ_LOCK_INTERVAL=${STOMPFT_AMQ_LOCK_INTERVAL:-500}

AMQ_HOME=/usr/share/activemq
CLUSTER="rabbitc1 rabbitc2 rabbitc3"
ALL_BROKERS="amq-master amq-slave amq1 amq2 rabbit1 rabbit2 $CLUSTER"

log() { printf '[brokers %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# port NAME: the STOMP port of a broker.
port() {
	case $1 in
	amq-master) echo "$AMQ_MASTER_PORT" ;;
	amq-slave) echo "$AMQ_SLAVE_PORT" ;;
	amq1) echo "$AMQ1_PORT" ;;
	amq2) echo "$AMQ2_PORT" ;;
	rabbit1) echo "$RABBIT1_PORT" ;;
	rabbit2) echo "$RABBIT2_PORT" ;;
	rabbitc1) echo "$RABBITC1_PORT" ;;
	rabbitc2) echo "$RABBITC2_PORT" ;;
	rabbitc3) echo "$RABBITC3_PORT" ;;
	*) die "unknown broker '$1' (names: $ALL_BROKERS)" ;;
	esac
}

# alive PID: the process exists and is not a zombie (nobody may reap it here).
alive() {
	local st
	[ -n "${1:-}" ] || return 1
	st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# owned NAME PID: the PID is still the process we started (PIDs get reused):
# its command line names our private directory (or our epmd port).
owned() {
	local cmd
	cmd=$(tr '\0' ' ' <"/proc/$2/cmdline" 2>/dev/null) || return 1
	case $1 in
	epmd) [[ $cmd == *epmd* && $cmd == *"-port $EPMD_PORT"* ]] ;;
	rabbit*) [[ $cmd == *beam* && $cmd == *"-home $BDIR/erlang-home "* ]] &&
		tr '\0' '\n' <"/proc/$2/environ" 2>/dev/null |
		grep -qx "RABBITMQ_NODENAME=$1@localhost" ;;
	*) [[ $cmd == *"$BDIR/$1/"* ]] ;;
	esac
}

# pidof_rec NAME: the recorded PID if that process is alive and ours.
pidof_rec() {
	local p
	p=$(cat "$PIDS/$1.pid" 2>/dev/null) || return 1
	alive "$p" && owned "$1" "$p" && echo "$p"
}

# stop_pids TIMEOUT NAME...: TERM (and CONT, in case it is frozen) each
# recorded process, wait up to TIMEOUT seconds for all, then KILL the rest.
stop_pids() {
	local timeout=$1 n p deadline left
	shift
	local -a live=()
	for n in "$@"; do
		if p=$(pidof_rec "$n"); then
			kill -TERM "$p" 2>/dev/null || true
			kill -CONT "$p" 2>/dev/null || true
			live+=("$n:$p")
		fi
		rm -f "$PIDS/$n.pid"
	done
	deadline=$((SECONDS + timeout))
	while :; do
		left=()
		for n in ${live[@]+"${live[@]}"}; do alive "${n#*:}" && left+=("$n"); done
		[ ${#left[@]} -eq 0 ] && return 0
		[ $SECONDS -ge $deadline ] && break
		sleep 0.2
	done
	for n in "${left[@]}"; do
		log "${n%%:*} (pid ${n#*:}) ignored TERM for ${timeout}s: KILL"
		kill -KILL "${n#*:}" 2>/dev/null || true
	done
	deadline=$((SECONDS + 5))
	for n in "${left[@]}"; do
		while alive "${n#*:}" && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
	done
}

# ensure_probe: build the STOMP CONNECT probe once (go run would rebuild it
# on every call).
ensure_probe() {
	[ -x "$PROBE" ] && [ "$PROBE" -nt "$ROOT/tests/brokers/probe/main.go" ] && return 0
	mkdir -p "$BDIR/bin"
	(cd "$ROOT" && go build -o "$PROBE" ./tests/brokers/probe)
}

# wait_up NAME [TIMEOUT]: the broker answers a real STOMP CONNECT.
wait_up() {
	ensure_probe
	"$PROBE" -addr "127.0.0.1:$(port "$1")" -host / -timeout "${2:-60}s"
}

# ---- ActiveMQ -------------------------------------------------------------

# amq_write_conf NAME PORT KAHADIR: a private base dir with a minimal config.
amq_write_conf() {
	local name=$1 port=$2 kaha=$3 b="$BDIR/$1"
	mkdir -p "$b/conf" "$b/data" "$b/tmp" "$kaha"
	cat >"$b/conf/activemq.xml" <<XML
<beans xmlns="http://www.springframework.org/schema/beans"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xsi:schemaLocation="http://www.springframework.org/schema/beans http://www.springframework.org/schema/beans/spring-beans.xsd
  http://activemq.apache.org/schema/core http://activemq.apache.org/schema/core/activemq-core.xsd">
  <broker xmlns="http://activemq.apache.org/schema/core" brokerName="$name"
          dataDirectory="$b/data" useJmx="false" persistent="true" advisorySupport="false">
    <persistenceAdapter>
      <kahaDB directory="$kaha">
        <locker><shared-file-locker lockAcquireSleepInterval="$AMQ_LOCK_INTERVAL"/></locker>
      </kahaDB>
    </persistenceAdapter>
    <systemUsage>
      <systemUsage>
        <memoryUsage><memoryUsage limit="64 mb"/></memoryUsage>
        <storeUsage><storeUsage limit="1 gb"/></storeUsage>
        <tempUsage><tempUsage limit="512 mb"/></tempUsage>
      </systemUsage>
    </systemUsage>
    <transportConnectors>
      <transportConnector name="stomp" uri="stomp://127.0.0.1:$port"/>
    </transportConnectors>
  </broker>
</beans>
XML
	cat >"$b/conf/log4j.properties" <<PROPS
log4j.rootLogger=INFO, logfile
log4j.logger.org.springframework=WARN
log4j.logger.org.apache.xbean=WARN
log4j.appender.logfile=org.apache.log4j.FileAppender
log4j.appender.logfile.file=$b/data/activemq.log
log4j.appender.logfile.append=true
log4j.appender.logfile.layout=org.apache.log4j.PatternLayout
log4j.appender.logfile.layout.ConversionPattern=%d | %-5p | %m | %c | %t%n
PROPS
}

amq_conf() {
	case $1 in
	amq-master) amq_write_conf amq-master "$AMQ_MASTER_PORT" "$BDIR/amq-pair-kahadb" ;;
	amq-slave) amq_write_conf amq-slave "$AMQ_SLAVE_PORT" "$BDIR/amq-pair-kahadb" ;;
	amq1) amq_write_conf amq1 "$AMQ1_PORT" "$BDIR/amq1/kahadb" ;;
	amq2) amq_write_conf amq2 "$AMQ2_PORT" "$BDIR/amq2/kahadb" ;;
	esac
}

# amq_start NAME: start the broker JVM itself (not the wrapper script) so the
# recorded PID is the broker's. The JDK flags are those of /usr/bin/activemq.
amq_start() {
	local name=$1 b="$BDIR/$1" p
	amq_conf "$name"
	mkdir -p "$PIDS"
	# A fresh log per start, so "slave mode" below is this run's line.
	[ -f "$b/data/activemq.log" ] && mv -f "$b/data/activemq.log" "$b/data/activemq.log.prev"
	log "start ActiveMQ $name (STOMP 127.0.0.1:$(port "$name"), dir $b)"
	setsid java -Xms64m -Xmx256m -XX:+UseSerialGC -Djava.awt.headless=true \
		-Djava.io.tmpdir="$b/tmp" \
		--add-reads=java.xml=java.logging \
		--add-opens java.base/java.security=ALL-UNNAMED \
		--add-opens java.base/java.net=ALL-UNNAMED \
		--add-opens java.base/java.lang=ALL-UNNAMED \
		--add-opens java.base/java.util=ALL-UNNAMED \
		--add-opens java.naming/javax.naming.spi=ALL-UNNAMED \
		--add-opens java.rmi/sun.rmi.transport.tcp=ALL-UNNAMED \
		--add-opens java.base/java.util.concurrent=ALL-UNNAMED \
		--add-opens java.base/java.util.concurrent.atomic=ALL-UNNAMED \
		--add-exports=java.base/sun.net.www.protocol.http=ALL-UNNAMED \
		--add-exports=java.base/sun.net.www.protocol.https=ALL-UNNAMED \
		--add-exports=java.base/sun.net.www.protocol.jar=ALL-UNNAMED \
		--add-exports=jdk.xml.dom/org.w3c.dom.html=ALL-UNNAMED \
		--add-exports=jdk.naming.rmi/com.sun.jndi.url.rmi=ALL-UNNAMED \
		-Dactivemq.classpath="$b/conf" \
		-Dactivemq.home="$AMQ_HOME" \
		-Dactivemq.base="$b" \
		-Dactivemq.conf="$b/conf" \
		-Dactivemq.data="$b/data" \
		-jar "$AMQ_HOME/bin/activemq.jar" start "xbean:file:$b/conf/activemq.xml" \
		</dev/null >>"$b/data/console.log" 2>&1 &
	p=$!
	echo "$p" >"$PIDS/$name.pid"
}

# amq_wait_slave NAME TIMEOUT: a slave is up when its JVM runs and it reports
# waiting for the shared lock (its STOMP port stays closed: that is correct).
amq_wait_slave() {
	local name=$1 deadline=$((SECONDS + ${2:-60})) p
	while [ $SECONDS -lt $deadline ]; do
		p=$(pidof_rec "$name") || die "$name exited; see $BDIR/$name/data/console.log"
		if grep -q "slave mode\|is locked by another" "$BDIR/$name/data/activemq.log" 2>/dev/null; then
			log "$name is slave (pid $p, waits for the KahaDB lock; port $(port "$name") closed)"
			return 0
		fi
		sleep 0.2
	done
	die "$name did not report slave mode within ${2:-60}s; see $BDIR/$name/data/activemq.log"
}

# ---- RabbitMQ -------------------------------------------------------------

# rabbit_env NAME: the environment of one node (also needed by rabbitmqctl).
rabbit_env() {
	local name=$1 d="$BDIR/$1" sp ap dp
	case $name in
	rabbit1) sp=$RABBIT1_PORT ap=$RABBIT1_AMQP_PORT dp=$RABBIT1_DIST_PORT ;;
	rabbit2) sp=$RABBIT2_PORT ap=$RABBIT2_AMQP_PORT dp=$RABBIT2_DIST_PORT ;;
	rabbitc1) sp=$RABBITC1_PORT ap=$RABBITC1_AMQP_PORT dp=$RABBITC1_DIST_PORT ;;
	rabbitc2) sp=$RABBITC2_PORT ap=$RABBITC2_AMQP_PORT dp=$RABBITC2_DIST_PORT ;;
	rabbitc3) sp=$RABBITC3_PORT ap=$RABBITC3_AMQP_PORT dp=$RABBITC3_DIST_PORT ;;
	*) die "rabbit_env: unknown node '$name'" ;;
	esac
	mkdir -p "$d/mnesia" "$d/log" "$BDIR/erlang-home"
	# A private HOME keeps the Erlang cookie inside tests/.brokers. Written
	# here, once, before any node starts: nodes started in parallel would
	# each create their own, and a cluster's nodes need the same one.
	chmod 700 "$BDIR/erlang-home"
	if [ ! -s "$BDIR/erlang-home/.erlang.cookie" ]; then
		(umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' | tr a-f A-F >"$BDIR/erlang-home/.erlang.cookie.$$" &&
			mv -n "$BDIR/erlang-home/.erlang.cookie.$$" "$BDIR/erlang-home/.erlang.cookie")
		rm -f "$BDIR/erlang-home/.erlang.cookie.$$"
		chmod 400 "$BDIR/erlang-home/.erlang.cookie"
	fi
	printf '[rabbitmq_stomp].\n' >"$d/enabled_plugins"
	cat >"$d/rabbitmq.conf" <<CONF
listeners.tcp.default = 127.0.0.1:$ap
stomp.listeners.tcp.1 = 127.0.0.1:$sp
stomp.default_user = guest
stomp.default_pass = guest
loopback_users.guest = true
management.tcp.port = 0
log.console = false
log.file.level = info
CONF
	export HOME="$BDIR/erlang-home" ERL_EPMD_PORT=$EPMD_PORT \
		RABBITMQ_NODENAME="$name@localhost" \
		RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT=$ap RABBITMQ_DIST_PORT=$dp \
		RABBITMQ_CONFIG_FILE="$d/rabbitmq.conf" RABBITMQ_ENABLED_PLUGINS_FILE="$d/enabled_plugins" \
		RABBITMQ_MNESIA_BASE="$d/mnesia" RABBITMQ_LOG_BASE="$d/log" RABBITMQ_PID_FILE="$d/beam.pid" \
		RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}" \
		RABBITMQ_PLUGINS_EXPAND_DIR="$d/plugins-expand" RABBITMQ_CONF_ENV_FILE="$d/rabbitmq-env.conf" \
		RABBITMQ_CTL_DIST_PORT_MIN=$RABBIT_CTL_DIST_MIN RABBITMQ_CTL_DIST_PORT_MAX=$RABBIT_CTL_DIST_MAX
	: >"$d/rabbitmq-env.conf"
}

# epmd_start: our own epmd on a private port, so no node starts one that
# would outlive it.
epmd_start() {
	local p
	if p=$(pidof_rec epmd); then return 0; fi
	mkdir -p "$PIDS"
	log "start epmd (127.0.0.1:$EPMD_PORT)"
	setsid epmd -address 127.0.0.1 -port "$EPMD_PORT" </dev/null >>"$BDIR/epmd.log" 2>&1 &
	p=$!
	echo "$p" >"$PIDS/epmd.pid"
}

rabbit_start() {
	local name=$1 p
	epmd_start
	(
		rabbit_env "$name"
		log "start RabbitMQ $name (STOMP 127.0.0.1:$(port "$name"), dir $BDIR/$name)"
		# RUNNING_UNDER_SYSTEMD makes the script exec erl (no wrapper shell),
		# so $! is the node's own beam PID.
		RUNNING_UNDER_SYSTEMD=true setsid /usr/lib/rabbitmq/bin/rabbitmq-server \
			</dev/null >>"$BDIR/$name/log/console.log" 2>&1 &
		echo $! >"$PIDS/$name.pid"
	)
}

# rabbitctl NAME ARGS...: rabbitmqctl against one node, with that node's
# environment (cookie, epmd port, CLI port range), bounded to 60 s.
rabbitctl() {
	local name=$1
	shift
	(
		rabbit_env "$name"
		timeout 60 /usr/lib/rabbitmq/bin/rabbitmqctl -q -n "$name@localhost" "$@" </dev/null
	)
}

# rabbit_running NAME: how many cluster nodes NAME sees running (0 when it
# does not answer).
rabbit_running() {
	local n
	n=$(rabbitctl "$1" eval 'length(rabbit_nodes:all_running()).' 2>/dev/null | tr -dc 0-9) || true
	echo "${n:-0}"
}

# rabbit_join NAME: make NAME (running, fresh) a member of rabbitc1's
# cluster: stop_app, join_cluster, start_app.
rabbit_join() {
	local name=$1 out
	log "$name: join_cluster rabbitc1@localhost"
	out=$({ rabbitctl "$name" stop_app && rabbitctl "$name" join_cluster rabbitc1@localhost &&
		rabbitctl "$name" start_app; } 2>&1) || die "$name could not join the cluster: $out"
	: >"$BDIR/$name/joined"
}

# rabbit_wait_cluster NAME TIMEOUT: NAME answers STOMP and sees all three
# cluster nodes running (a restarted node has rejoined).
rabbit_wait_cluster() {
	local name=$1 deadline=$((SECONDS + ${2:-60})) n=0
	wait_up "$name" "${2:-60}" >/dev/null || die "$name does not answer STOMP CONNECT"
	while [ $SECONDS -lt $deadline ]; do
		n=$(rabbit_running "$name")
		if [ "$n" = 3 ]; then
			log "$name is up and sees 3 running cluster nodes"
			return 0
		fi
		sleep 0.5
	done
	die "$name sees $n running cluster nodes after ${2:-60}s, want 3; see $BDIR/$name/log/"
}

# ---- generic --------------------------------------------------------------

start_broker() {
	case $1 in
	amq-*|amq1|amq2) amq_start "$1" ;;
	rabbit1|rabbit2|rabbitc1|rabbitc2|rabbitc3) rabbit_start "$1" ;;
	*) die "unknown broker '$1' (names: $ALL_BROKERS)" ;;
	esac
}
