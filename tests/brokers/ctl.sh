#!/usr/bin/env bash
# ctl.sh NAME ACTION [ARG]: control one broker started by up.sh, for fault
# tests. Every action ends in bounded time.
#
# NAME: amq-master amq-slave amq1 amq2 rabbit1 rabbit2 rabbitc1 rabbitc2
# rabbitc3 (the last three: one RabbitMQ cluster). The two pair names
# are instances with fixed ports (amq-master 61713, amq-slave 61714), not
# roles: whichever holds the KahaDB lock is the master; a restarted instance
# waits for the lock as the new slave (its port stays closed meanwhile).
#
# ACTION:
#   kill9          SIGKILL (a crash); returns once the process is gone
#   stop           SIGTERM, wait up to 30 s, then SIGKILL
#   start          start again with the same config, record the new PID;
#                  returns once started (does not wait for STOMP: use wait-up)
#   freeze / thaw  SIGSTOP / SIGCONT (a hung broker: TCP accepts, no CONNECTED)
#   wait-up [SEC]  wait (default 60 s) until a STOMP CONNECT gets CONNECTED
#   wait-slave [SEC]  ActiveMQ pair only: wait (default 60 s) until the
#                  instance reports waiting for the shared lock (a slave)
#   wait-cluster [SEC]  RabbitMQ cluster only: wait (default 60 s) until the
#                  node answers STOMP and sees all three nodes running (a
#                  restarted node has rejoined)
#   queues         RabbitMQ only: print `name type messages` of every queue
#   pid            print the recorded PID (exit 1 if not running)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ $# -ge 2 ] || die "usage: ctl.sh NAME ACTION [ARG]   (names: $ALL_BROKERS)"
name=$1 action=$2
port "$name" >/dev/null

need_pid() { pidof_rec "$name" || die "$name is not running (no live recorded PID)"; }

# gone PID SEC: wait until the process no longer exists.
gone() {
	local deadline=$((SECONDS + $2))
	while alive "$1"; do
		[ $SECONDS -lt $deadline ] || return 1
		sleep 0.05
	done
}

case $action in
kill9)
	p=$(need_pid)
	kill -KILL "$p"
	gone "$p" 10 || die "$name (pid $p) survived SIGKILL for 10s"
	rm -f "$PIDS/$name.pid"
	log "$name (pid $p) killed with SIGKILL"
	;;
stop)
	p=$(need_pid)
	stop_pids 30 "$name"
	log "$name (pid $p) stopped"
	;;
start)
	if p=$(pidof_rec "$name"); then die "$name is already running (pid $p)"; fi
	start_broker "$name"
	p=$(cat "$PIDS/$name.pid")
	# A start that fails at once (bad config, port in use) shows up here.
	sleep 0.3
	alive "$p" || die "$name exited right after start; see $BDIR/$name/"
	log "$name started (pid $p)"
	;;
freeze)
	p=$(need_pid)
	kill -STOP "$p"
	log "$name (pid $p) frozen (SIGSTOP)"
	;;
thaw)
	p=$(need_pid)
	kill -CONT "$p"
	log "$name (pid $p) thawed (SIGCONT)"
	;;
wait-up)
	wait_up "$name" "${3:-60}"
	;;
wait-slave)
	case $name in amq-master|amq-slave) ;; *) die "wait-slave: $name is not in the ActiveMQ pair" ;; esac
	amq_wait_slave "$name" "${3:-60}"
	;;
wait-cluster)
	case $name in rabbitc?) ;; *) die "wait-cluster: $name is not in the RabbitMQ cluster ($CLUSTER)" ;; esac
	rabbit_wait_cluster "$name" "${3:-60}"
	;;
queues)
	case $name in rabbit*) ;; *) die "queues: $name is not a RabbitMQ node" ;; esac
	rabbitctl "$name" list_queues name type messages
	;;
pid)
	need_pid
	;;
*)
	die "unknown action '$action' (kill9 stop start freeze thaw wait-up wait-slave wait-cluster queues pid)"
	;;
esac
