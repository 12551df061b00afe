# Shared helpers of the node integration tests (sourced, not run).
#
#   nodes_setup BASEPORT   creates $T/a and $T/b (nrrc.us.example and
#                          nrrc.ru.example), two paths each, pinned both ways
#   node_start a|b         starts `parley serve` in the background
#   node_kill a|b [SIG]    stops it (default SIGTERM) and waits
#   wait_for CMD...        retries CMD for up to $WAIT_S seconds (default 30)
#
# Every server listens on 127.0.0.1 on ports derived from BASEPORT, and the
# EXIT trap stops every node the test started.
: "${PARLEY:?PARLEY must name the parley binary}"
T=$(mktemp -d)
WAIT_S=${WAIT_S:-30}
PIDS=""
nodes_cleanup() {
	for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$T"
}
trap nodes_cleanup EXIT

# The reason is said again after the logs: the test runner shows a failed
# script's last lines only.
fail() {
	echo "FAIL: $*" >&2
	for f in "$T"/*.log; do [ -f "$f" ] && { echo "--- $f" >&2; tail -n 30 "$f" >&2; }; done
	echo "FAIL: $*" >&2
	exit 1
}
ok() { echo "ok - $*"; }

# nodes_setup BASE: node a on BASE+1..3, b on BASE+11..13.  Every script
# keeps BASE + 20 below 32768, where the kernel's ephemeral ports begin:
# a port there may be the local end of some connection, and a node could
# not listen on it.
nodes_setup() {
	base=$1
	A_NAME=nrrc.us.example
	B_NAME=nrrc.ru.example
	"$PARLEY" init "$T/a" --name $A_NAME --listen 127.0.0.1:$((base + 1)) \
		--listen 127.0.0.1:$((base + 2)) --api 127.0.0.1:$((base + 3)) >/dev/null || fail "init a"
	"$PARLEY" init "$T/b" --name $B_NAME --listen 127.0.0.1:$((base + 11)) \
		--listen 127.0.0.1:$((base + 12)) --api 127.0.0.1:$((base + 13)) >/dev/null || fail "init b"
	"$PARLEY" card "$T/a" >"$T/a.card" || fail "card a"
	"$PARLEY" card "$T/b" >"$T/b.card" || fail "card b"
	"$PARLEY" peer add "$T/a" "$T/b.card" ${A_ADDRS:-} >/dev/null || fail "peer add a"
	"$PARLEY" peer add "$T/b" "$T/a.card" ${B_ADDRS:-} >/dev/null || fail "peer add b"
	A_OUT="$A_NAME/to/$B_NAME"
	B_OUT="$B_NAME/to/$A_NAME"
}

node_pid() { eval echo "\${PID_$1:-}"; }

# With CRASH set, the node may reach its crash point before it answers
# (a receiver set to die once it stores something, when its peer sends
# right away, say its periodic test entry): that is a start too.
node_start() {
	PARLEY_CRASH=${CRASH:-} "$PARLEY" serve "$T/$1" >>"$T/$1.log" 2>&1 &
	eval "PID_$1=$!"
	PIDS="$PIDS $!"
	if [ -n "${CRASH:-}" ]; then
		wait_for node_up_or_gone "$1" $! || fail "node $1 did not start ($(node_state $!))"
	else
		wait_for "$PARLEY" status "$T/$1" || fail "node $1 did not start ($(node_state $!))"
	fi
}

# node_alive PID: the process exists and is not a zombie.
node_alive() {
	[ -d "/proc/$1" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}
node_up_or_gone() { "$PARLEY" status "$T/$1" >/dev/null 2>&1 || ! node_alive "$2"; }

# What a process is doing: alive or not, and each thread's state and the
# kernel function it waits in.
node_state() {
	[ -d "/proc/$1" ] || { echo "pid $1 has exited"; return; }
	for t in /proc/"$1"/task/*; do
		printf '%s %s %s; ' "${t##*/}" "$(sed -n 's/^State:[[:space:]]*//p' "$t/status" 2>/dev/null)" \
			"$(cat "$t/wchan" 2>/dev/null)"
	done
}

# SIGTERM must end a node with status 0: under ASan/UBSan, a leak or an
# error report makes it non-zero, and the test fails on it.
node_kill() {
	p=$(node_pid "$1")
	[ -n "$p" ] || return 0
	kill -"${2:-TERM}" "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	st=$?
	eval "PID_$1="
	if [ "${2:-TERM}" = TERM ] && [ $st -ne 0 ]; then
		fail "node $1 exited with status $st after SIGTERM"
	fi
	if grep -q "ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:" "$T/$1.log"; then
		fail "node $1: sanitizer report"
	fi
}

wait_for() {
	i=0
	while [ $i -lt $((WAIT_S * 10)) ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}
