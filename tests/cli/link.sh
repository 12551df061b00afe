#!/bin/sh
# The node's guarantees between two real nodes on loopback (issue: "The
# node"): exactly once through crashes at each named point and at random
# points, idempotent --id, precedence under a 5 MB backlog, deadlines and
# alarms, clock skew, storage quota (a full disk), and the operator
# commands.  Fault injection on paths is in tests/cli/paths.sh; hostile
# peers in tests/cli/evil.sh.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/nodes.sh
BASE=$((21000 + ($$ % 400) * 20))

unreceipted() { "$PARLEY" status "$T/$1" | sed -n 's/.*awaiting receipt: //p'; }
msgs_in() { "$PARLEY" inbox "$T/$1" | awk '$4 == "message"' | wc -l; }
msgs_out() { "$PARLEY" outbox "$T/$1" | awk '$4 == "message"' | wc -l; }
all_receipted() { [ "$(unreceipted a)" = 0 ]; }
exactly_once() { # $1: expected number of messages
	wait_for all_receipted || fail "$2: $(unreceipted a) messages never receipted"
	o=$(msgs_out a)
	i=$(msgs_in b)
	[ "$o" = "$1" ] || fail "$2: a's outbox has $o messages, expected $1"
	[ "$i" = "$1" ] || fail "$2: b's inbox has $i messages, expected $1"
	# Exactly once: every text of a's burst is in b's log once.
	"$PARLEY" audit "$T/a" >/dev/null || fail "$2: audit of a"
	"$PARLEY" audit "$T/b" >/dev/null || fail "$2: audit of b"
	ok "$2: $1 sent, $1 received, all receipted, audits pass"
}

nodes_setup $BASE
node_start a
node_start b
wait_for sh -c "\"$PARLEY\" status \"$T/a\" | grep -q '(active)'" || fail "a's path never up"

# --- basic exchange, receipts, cosignatures, operator ack ----------------
echo "status report" | "$PARLEY" send "$T/a" --to $B_NAME --subject one >"$T/s1" || fail "send"
grep -q "^$A_OUT [0-9]*$" "$T/s1" || fail "send prints origin and index: $(cat "$T/s1")"
ok "send prints origin and index"
wait_for all_receipted || fail "first message not receipted"
IDX=$(awk '{print $2}' "$T/s1")
"$PARLEY" inbox "$T/b" --json >"$T/in.json"
for f in origin index precedence time state overdue; do
	grep -q "\"$f\":" "$T/in.json" || fail "inbox --json lacks $f"
done
grep -q '"state": "new"' "$T/in.json" || fail "inbox state new"
"$PARLEY" ack "$T/b" "$A_OUT" "$IDX" >/dev/null || fail "ack"
wait_for sh -c "\"$PARLEY\" outbox \"$T/a\" | awk '\$2 == $IDX' | grep -q acknowledged" ||
	fail "a never saw the operator's ack"
"$PARLEY" inbox "$T/b" | awk -v i="$IDX" '$2 == i' | grep -q acknowledged || fail "inbox state acknowledged"
"$PARLEY" outbox "$T/a" --json >"$T/out.json"
for f in origin index precedence time state overdue; do
	grep -q "\"$f\":" "$T/out.json" || fail "outbox --json lacks $f"
done
ok "receipt, operator ack: outbox receipted -> acknowledged, inbox new -> acknowledged"
"$PARLEY" ack "$T/b" "$A_OUT" 999999 2>"$T/err" && fail "ack of a missing message succeeded"
grep -q "no message" "$T/err" || fail "ack error unclear: $(cat "$T/err")"
ok "ack of an unknown message refused clearly"
wait_for sh -c "\"$PARLEY\" status \"$T/a\" | grep -q \"log $A_OUT: .* cosigned\"" || fail "no cosignature"
ok "a's log cosigned by b"

# --- idempotent --id ------------------------------------------------------
echo "same" | "$PARLEY" send "$T/a" --to $B_NAME --id retry-1 >"$T/r1" || fail "send --id"
echo "same" | "$PARLEY" send "$T/a" --to $B_NAME --id retry-1 >"$T/r2" || fail "resend --id"
[ "$(awk '{print $2}' "$T/r1")" = "$(awk '{print $2}' "$T/r2")" ] || fail "same --id gave two entries"
grep -q "already submitted" "$T/r2" || fail "resend not reported as a duplicate"
ok "the same --id twice is one entry"
N=2
exactly_once $N "basic"
# Keys are stored in groups (src/store/rows.h); a group holding keys seen
# before is stored key by key.  Lines 0..9 first, then 0..69 in one
# request: its first ten are the same entries as before.
i=0
while [ $i -lt 70 ]; do echo "keyed line $i"; i=$((i + 1)); done >"$T/mix"
head -n 10 "$T/mix" | "$PARLEY" send "$T/a" --to $B_NAME --lines --id mix >"$T/m1" ||
	fail "send of 10 keyed lines"
cat "$T/mix" | "$PARLEY" send "$T/a" --to $B_NAME --lines --id mix >"$T/m2" ||
	fail "send of 70 keyed lines"
[ "$(grep -c "already submitted" "$T/m2")" = 10 ] ||
	fail "10 of 70 keyed lines should be duplicates: $(grep -c "already submitted" "$T/m2")"
head -n 10 "$T/m2" | awk '{print $2}' >"$T/m2idx"
awk '{print $2}' "$T/m1" | cmp -s - "$T/m2idx" || fail "a duplicate key gave a new entry"
[ "$(awk '{print $2}' "$T/m2" | sort -u | wc -l)" = 70 ] || fail "70 keyed lines are not 70 entries"
ok "a request with some keys seen before stores only the new ones"
N=$((N + 70))
exactly_once $N "keyed lines, some sent twice"

# --- crash points ---------------------------------------------------------
# Sender: the reply to `send` is lost (crash before the commit, after it
# before the WAL sync, after the sync before anything is sent); the
# operator retries with the same --id: one message.
for point in seq-before-commit commit-before-sync commit-before-send; do
	node_kill a
	CRASH=$point node_start a
	echo "crash $point" | "$PARLEY" send "$T/a" --to $B_NAME --id "crash-$point" \
		>/dev/null 2>"$T/err" && fail "$point: send answered although the node died"
	wait "$(node_pid a)" 2>/dev/null
	PID_a=
	node_start a
	echo "crash $point" | "$PARLEY" send "$T/a" --to $B_NAME --id "crash-$point" >/dev/null ||
		fail "$point: retry failed"
	N=$((N + 1))
	exactly_once $N "sender killed at $point, send retried with --id"
done
# Receiver: killed after storing before the WAL sync, after the sync before
# its ACK, and after the ACK before its receipt entry.
for point in commit-before-sync stored-before-ack ack-before-receipt; do
	node_kill b
	CRASH=$point node_start b
	printf 'r1 %s\nr2 %s\nr3 %s\n' $point $point $point |
		"$PARLEY" send "$T/a" --to $B_NAME --lines >/dev/null || fail "$point: send"
	i=0
	while kill -0 "$(node_pid b)" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	kill -0 "$(node_pid b)" 2>/dev/null && fail "$point: b did not reach its crash point"
	PID_b=
	node_start b
	N=$((N + 3))
	exactly_once $N "receiver killed at $point"
done

# --- random kills over several rounds --------------------------------------
i=0
while [ $i -lt 2000 ]; do echo "random round message $i"; i=$((i + 1)); done >"$T/lines"
for round in 1 2 3; do
	victim=a
	[ $((round % 2)) = 0 ] && victim=b
	"$PARLEY" send "$T/a" --to $B_NAME --lines --id "rk$round" "$T/lines" >/dev/null || fail "round $round send"
	sleep "0.$(( ($$ + round * 37) % 5 + 1))"
	node_kill $victim KILL
	node_start $victim
	# The retry after a possible lost reply: same ids, no new messages.
	"$PARLEY" send "$T/a" --to $B_NAME --lines --id "rk$round" "$T/lines" >/dev/null || fail "round $round resend"
	N=$((N + 2000))
	exactly_once $N "random SIGKILL of $victim, round $round"
done

# --- precedence: FLASH ahead of a 5 MB backlog ------------------------------
i=0
while [ $i -lt 26000 ]; do
	printf 'backlog %05d padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding padding pad\n' $i
	i=$((i + 1))
done >"$T/big"
[ "$(wc -c <"$T/big")" -ge 5000000 ] || fail "backlog under 5 MB"
# b is stopped while the backlog and the FLASH are submitted, so that all
# 5 MB are queued and unsent when the FLASH comes (with b up, a drained
# much of it meanwhile, more or less depending on the machine's load).
node_kill b
"$PARLEY" send "$T/a" --to $B_NAME --lines "$T/big" >/dev/null || fail "backlog send"
echo "FLASH now" | "$PARLEY" send "$T/a" --to $B_NAME --precedence FLASH >"$T/f" || fail "flash send"
F=$(awk '{print $2}' "$T/f")
# What was not yet written to any path when the FLASH was durable: every
# index from a's in-order send position up to the FLASH.
S=$("$PARLEY" status "$T/a" --json | sed -n 's/.*"sent_in_order": \([0-9]*\).*/\1/p')
[ -n "$S" ] || fail "status has no sent_in_order"
Q=$((F - S))
[ "$Q" -ge 26000 ] || fail "only $Q ROUTINE still queued when the FLASH was submitted"
node_start b
# b holds the FLASH out of order, and its checkpoint shows the gap below it.
WAIT_S=5 wait_for sh -c "\"$PARLEY\" status \"$T/b\" | grep -q 'their log to us: .* [1-9][0-9]* out of order, [1-9][0-9]* missing'" ||
	fail "b never showed the FLASH held out of order with the gap below it"
ok "b holds the FLASH out of order and sees the gap from the signed checkpoint"
N=$((N + 26001))
wait_for all_receipted || fail "backlog never receipted"
"$PARLEY" outbox "$T/a" --json >"$T/o2.json"
# index, receipt index per message, at the end.
flat() { awk '/"index":/ {gsub(/[^0-9]/, "", $2); i = $2} /"precedence":/ {p = $2} /"state":/ {s = $2} /"receipt_index":/ {gsub(/[^0-9]/, "", $2); r = $2} /^  }/ {print i, p, s, r; r = ""}' "$1"; }
FR=$(flat "$T/o2.json" | awk -v f="$F" '$1 == f {print $4}')
[ -n "$FR" ] || fail "FLASH has no receipt"
flat "$T/o2.json" | awk -v s="$S" -v f="$F" -v fr="$FR" '$1 >= s && $1 < f && $4 <= fr {bad++} END {exit bad > 0}' ||
	fail "a ROUTINE queued before the FLASH was receipted no later than it"
ok "FLASH receipted (receipt $FR) before all $Q ROUTINE messages still queued when it was submitted"
# Receipts are cumulative: a ROUTINE row is receipted by the first receipt
# whose mark is above it, so receipt indices never go down along a's log,
# and a backlog this size is covered by many receipts.  The attribution is
# stored, not remembered: a restarted node shows the same.
flat "$T/o2.json" | awk '$2 ~ /ROUTINE/ && $4 == "" {bad++} END {exit bad > 0}' ||
	fail "a receipted ROUTINE row has no receipt index"
flat "$T/o2.json" | awk '$2 ~ /ROUTINE/ {if ($4 < last) bad++; last = $4} END {exit bad > 0}' ||
	fail "receipt indices go down along the outbox"
NR_RC=$(flat "$T/o2.json" | awk '$2 ~ /ROUTINE/ {print $4}' | sort -u | wc -l)
[ "$NR_RC" -gt 5 ] || fail "the backlog was receipted by only $NR_RC receipts"
node_kill a
node_start a
"$PARLEY" outbox "$T/a" --json >"$T/o3.json"
# (the restarted node may have logged a test message since: rows up to the
# last one seen before)
LAST=$(flat "$T/o2.json" | awk '{i = $1} END {print i}')
[ "$(flat "$T/o2.json")" = "$(flat "$T/o3.json" | awk -v l="$LAST" '$1 <= l')" ] ||
	fail "receipt attribution changed across a restart"
ok "receipt indices rise along the outbox ($NR_RC receipts cover the backlog) and survive a restart"
exactly_once $N "after the 5 MB backlog"

# --- deadlines, test messages, alarms --------------------------------------
node_kill b
echo "receipt-deadlines 1 1 1 1" >>"$T/a/node.conf"
echo "test-interval 1" >>"$T/a/node.conf"
node_kill a
node_start a
echo "nobody there" | "$PARLEY" send "$T/a" --to $B_NAME --precedence FLASH >/dev/null || fail "send to a stopped peer"
echo "nobody there either" | "$PARLEY" send "$T/a" --to $B_NAME --precedence ROUTINE >"$T/s2" ||
	fail "send ROUTINE to a stopped peer"
R=$(awk '{print $2}' "$T/s2")
for pr in FLASH ROUTINE; do
	wait_for sh -c "\"$PARLEY\" status \"$T/a\" | grep -q 'receipt-overdue .* for $pr entry'" ||
		fail "no receipt-overdue alarm for the $pr message"
done
# The oldest unreceipted ROUTINE entry is R, or a periodic test entry
# (test-interval 1) logged before it.
"$PARLEY" outbox "$T/a" --json >"$T/o4.json"
O=$(flat "$T/o4.json" | awk '$2 ~ /ROUTINE/ && $3 ~ /queued|sent/ {print $1; exit}')
[ -n "$O" ] && [ "$O" -le "$R" ] || fail "the oldest unreceipted ROUTINE entry is '$O', not at most $R"
"$PARLEY" status "$T/a" | grep -q "receipt-overdue .* for ROUTINE entry $A_OUT/$O within" ||
	fail "the ROUTINE receipt alarm does not name the oldest unreceipted ROUTINE entry, $O"
ok "a missed receipt deadline raises an alarm in status (FLASH, and ROUTINE naming entry $O, the oldest)"
"$PARLEY" outbox "$T/a" | grep FLASH | grep -q OVERDUE || fail "outbox does not flag the overdue FLASH"
ok "outbox flags it overdue"
wait_for sh -c "\"$PARLEY\" status \"$T/a\" | grep -q test-missed" || fail "no test-missed alarm"
ok "a missed periodic test message raises an alarm"
N=$((N + 2))

# --- clock skew --------------------------------------------------------------
PARLEY_CLOCK_OFFSET_MS=120000 node_start b
wait_for sh -c "\"$PARLEY\" status \"$T/a\" | grep -q clock-skew" || fail "no clock-skew alarm"
ok "a peer clock 120 s off raises a clock-skew alarm"
node_kill b
node_start b
exactly_once $N "after the outage"

# --- operator acknowledgment deadlines ----------------------------------------
# b's oldest unacknowledged message of each precedence raises ack-overdue;
# acknowledging the oldest ROUTINE one moves the alarm on to the next.
oldest_new() {
	"$PARLEY" inbox "$T/b" --json >"$T/in2.json"
	flat "$T/in2.json" | awk -v p="$1" '$2 ~ p && $3 ~ /new/ {print $1; exit}'
}
ack_alarm() { "$PARLEY" status "$T/b" | grep -q "ack-overdue .*: $1 message $A_OUT/$2 not acknowledged"; }
node_kill b
echo "ack-deadlines 1 1 1 1" >>"$T/b/node.conf"
node_start b
for pr in FLASH ROUTINE; do
	I=$(oldest_new $pr)
	[ -n "$I" ] || fail "b holds no unacknowledged $pr message"
	wait_for ack_alarm $pr "$I" || fail "no ack-overdue alarm for $pr message $I, b's oldest unacknowledged"
	[ $pr = FLASH ] && IF=$I
done
"$PARLEY" ack "$T/b" "$A_OUT" "$I" >/dev/null || fail "ack of ROUTINE message $I"
J=$(oldest_new ROUTINE)
[ -n "$J" ] && [ "$J" -gt "$I" ] || fail "after acknowledging $I, the oldest unacknowledged ROUTINE is '$J'"
wait_for ack_alarm ROUTINE "$J" || fail "no ack-overdue alarm for ROUTINE message $J once $I was acknowledged"
ok "missed acknowledgment deadlines raise alarms (FLASH, ROUTINE $I, then ROUTINE $J once $I was acknowledged)"
# Every tick finds the FLASH still overdue; it is one event, logged once.
sleep 3
NF=$(grep -c "ALARM ack-overdue .*: FLASH message $A_OUT/$IF not acknowledged" "$T/b.log")
[ "$NF" = 1 ] || fail "the overdue FLASH $IF was logged $NF times, not once"
ok "an alarm still standing is logged once, not at every check"

# --- storage quota: a full disk refuses submissions, damages nothing --------
node_kill a
SZ=$(stat -c %s "$T/a/node.db")
echo "max-db-bytes $((SZ + 3000000))" >>"$T/a/node.conf"
node_start a
i=0
while [ $i -lt 4000 ]; do
	printf 'filler %05d %01000d\n' $i 0
	i=$((i + 1))
done >"$T/fill"
full=0
for k in 1 2 3 4 5 6 7 8; do
	if ! "$PARLEY" send "$T/a" --to $B_NAME --lines --id "fill$k" "$T/fill" >"$T/fo" 2>"$T/fe"; then
		full=1
		break
	fi
	N=$((N + 4000))
done
[ $full = 1 ] || fail "quota never reached"
grep -q "full" "$T/fe" || fail "full-disk error unclear: $(cat "$T/fe")"
ok "a full store refuses the submission: $(cat "$T/fe")"
echo "one more" | "$PARLEY" send "$T/a" --to $B_NAME >/dev/null 2>&1 && N=$((N + 1))
"$PARLEY" status "$T/a" >/dev/null || fail "node stopped serving after the full disk"
ok "the node keeps serving"
"$PARLEY" audit "$T/a" >/dev/null || fail "audit after the full disk"
ok "nothing stored was damaged (audit passes)"

# --- export --------------------------------------------------------------
"$PARLEY" export "$T/b" "$T/exp" >/dev/null || fail "export"
for o in "$A_OUT" "$B_OUT"; do
	for f in checkpoint vkey tile/0/000; do
		[ -e "$T/exp/$o/$f" ] || [ -e "$T/exp/$o/$f.p" ] || fail "export lacks $o/$f"
	done
	ls "$T/exp/$o/tile/entries" >/dev/null 2>&1 || fail "export lacks $o/tile/entries"
done
ok "export writes every log with checkpoint, vkey, tiles and entry bundles"
node_kill a
node_kill b
grep -q "stopped" "$T/a.log" || fail "SIGTERM did not stop a cleanly"
ok "SIGTERM stops the nodes cleanly"
echo "all link checks passed"
