#!/bin/sh
# Redundant paths through a fault-injecting proxy (tests/tools/faultproxy),
# one per path from a to b: a silent path is marked down within 5 s and
# traffic fails over; both paths cut, then restored: catch-up, exactly
# once; drop, delay, truncate and corrupt on the active path lose and
# duplicate nothing.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/nodes.sh
FP="$(pwd)/build/rel/tools/faultproxy"
[ -x "$FP" ] || fail "$FP not built"
BASE=$((22000 + ($$ % 400) * 20))
P1=$((BASE + 15))
P2=$((BASE + 16))
A_ADDRS="--addr 127.0.0.1:$P1 --addr 127.0.0.1:$P2"
nodes_setup $BASE
proxy() { # n listen target
	mkfifo "$T/ctl$1"
	"$FP" 127.0.0.1:$2 127.0.0.1:$3 <"$T/ctl$1" >"$T/proxy$1.out" 2>"$T/proxy$1.log" &
	PIDS="$PIDS $!"
	eval "exec $((3 + $1))>\"$T/ctl$1\""
}
ctl() { # n command
	echo "$2" >&$((3 + $1))
	wait_for grep -q "ok $2" "$T/proxy$1.out" || fail "proxy $1 did not apply $2"
	: >"$T/proxy$1.out"
}
proxy 1 $P1 $((BASE + 11))
proxy 2 $P2 $((BASE + 12))
node_start a
node_start b
all_receipted() { [ "$("$PARLEY" status "$T/a" | sed -n 's/.*awaiting receipt: //p')" = 0 ]; }
path_state() { "$PARLEY" status "$T/a" | grep "path -> 127.0.0.1:$1 " | awk '{print $4}'; }
active_port() { "$PARLEY" status "$T/a" | grep '(active)' | sed 's/.*127.0.0.1:\([0-9]*\).*/\1/'; }
wait_for sh -c "\"$PARLEY\" status \"$T/a\" | grep -q '(active)'" || fail "no active path"
wait_for sh -c "[ \"\$(\"$PARLEY\" status \"$T/a\" | grep -c 'path -> .* up')\" = 2 ]" || fail "both paths up"
ok "two paths up, each through its own proxy and address"
N=0
check() { # expected count, label
	wait_for all_receipted || fail "$2: not all receipted"
	i=$("$PARLEY" inbox "$T/b" | awk '$4 == "message"' | wc -l)
	[ "$i" = "$1" ] || fail "$2: b holds $i messages, expected $1"
	ok "$2: $1 messages, each once, all receipted"
}
i=0
while [ $i -lt 300 ]; do echo "path traffic $i"; i=$((i + 1)); done >"$T/lines"

# A silent path (no RST, no FIN: packets just vanish).
ACT=$(active_port)
n=1; [ "$ACT" = $P2 ] && n=2
other=$((3 - n))
t0=$(date +%s%N)
ctl $n blackhole
"$PARLEY" send "$T/a" --to $B_NAME --lines "$T/lines" >/dev/null || fail "send during blackhole"
N=$((N + 300))
WAIT_S=10 wait_for sh -c "\"$PARLEY\" status \"$T/a\" | grep \"path -> 127.0.0.1:$ACT \" | grep -q down" ||
	fail "silent path never marked down"
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
[ $ms -le 5000 ] || fail "silent path marked down after $ms ms (limit 5000)"
ok "silent path marked down after $ms ms"
check $N "failover to the other path"
[ "$(active_port)" != "$ACT" ] || fail "traffic did not move to the other path"
ctl $n pass
wait_for sh -c "[ \"\$(\"$PARLEY\" status \"$T/a\" | grep -c 'path -> .* up')\" = 2 ]" || fail "path did not come back"
ok "the path comes back when restored"

# Both paths cut: traffic waits; restored: catch-up from the checkpoints.
ctl 1 cut
ctl 2 cut
"$PARLEY" send "$T/a" --to $B_NAME --lines --id cut "$T/lines" >/dev/null || fail "send while cut"
N=$((N + 300))
sleep 1
all_receipted && fail "messages receipted although every path was cut"
"$PARLEY" status "$T/a" | grep -q 'backlog: .*ROUTINE [1-9]' || fail "status shows no backlog while cut"
ok "with every path cut, messages wait in the backlog"
ctl 1 restore
ctl 2 restore
check $N "both paths restored: catch-up"

# Faults on whatever path is active.
for f in "drop" "delay 200" "truncate 3000" "corrupt 2000" "corrupt-down 500"; do
	ACT=$(active_port)
	n=1; [ "$ACT" = $P2 ] && n=2
	ctl $n "$f"
	"$PARLEY" send "$T/a" --to $B_NAME --lines "$T/lines" >/dev/null || fail "send under $f"
	N=$((N + 300))
	WAIT_S=60 check $N "$f on the active path"
	ctl $n pass
done
"$PARLEY" audit "$T/a" >/dev/null || fail "audit a"
"$PARLEY" audit "$T/b" >/dev/null || fail "audit b"
ok "audits pass on both nodes"
echo "all path checks passed"
