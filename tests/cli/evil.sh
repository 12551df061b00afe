#!/bin/sh
# A malicious peer against a running node (DESIGN, "What the link
# guarantees"): anything malformed, unverifiable or inconsistent from a peer
# is rejected, recorded as an alarm with the evidence, and never stored as
# accepted; the node keeps serving.
#
# The victim is b (nrrc.ru.example); a (nrrc.us.example) is never started:
# build/rel/tools/evilpeer speaks a's log with a's real keys, one scenario
# per run (see tests/tools/evilpeer.c).  After each scenario the victim must
# still answer `parley status`, have recorded exactly the expected alarms,
# and hold nothing new (inbox, mirror size).
set -u
PARLEY="${PARLEY:-build/rel/parley}"
case "$PARLEY" in /*) ;; *) PARLEY="$(pwd)/$PARLEY" ;; esac
EVIL="${EVILPEER:-build/rel/tools/evilpeer}"
[ -x "$EVIL" ] || { echo "evil.sh: $EVIL is not built (make build/rel/tools/evilpeer)" >&2; exit 1; }
. tests/lib/nodes.sh

base=$((23000 + ($$ % 480) * 20)) # below the ephemeral ports (32768)
nodes_setup $base
node_start b
VICTIM=127.0.0.1:$((base + 11))
KINDS="rejected-frame bad-frame split-view unproven-entries wrong-key"

# evil SCENARIO: runs evilpeer; its transcript is $T/evil-SCENARIO.out.
evil() {
	out="$T/evil-$1.out"
	"$EVIL" "$T/a" "$VICTIM" "$T/b.card" "$1" >"$out" 2>&1 ||
		fail "evilpeer $1 exited $?: $(tail -n 5 "$out")"
}

# The victim's state, by its API (pretty JSON, one member per line).
status() {
	"$PARLEY" status "$T/b" --json >"$T/status.json" 2>"$T/status.err" ||
		fail "the victim no longer answers parley status: $(cat "$T/status.err")"
}
inbox() {
	"$PARLEY" inbox "$T/b" --json >"$T/inbox.json" 2>"$T/inbox.err" ||
		fail "the victim no longer answers parley inbox: $(cat "$T/inbox.err")"
}
count() { c=$(grep -c -e "$1" "$2"); echo "${c:-0}"; }
nkind() { count "\"kind\": \"$1\"" "$T/status.json"; }
received() { sed -n 's/^ *"received": \([0-9-]*\),\{0,1\}$/\1/p' "$T/status.json"; }
mirror_size() {
	grep -A1 -F "\"origin\": \"$A_OUT\"" "$T/status.json" | sed -n 's/^ *"size": \([0-9-]*\),\{0,1\}$/\1/p'
}
var() { echo "$1" | tr -c 'a-z0-9\n' '_'; }

# snapshot: remembers the alarm counts before a scenario.
snapshot() {
	status
	before_total=$(count '"kind":' "$T/status.json")
	for k in $KINDS; do eval "before_$(var "$k")=$(nkind "$k")"; done
}

# expect_alarms SCENARIO KIND=N...: exactly these new alarms (and no other)
# since the snapshot.  Alarms are committed by the victim's next group
# commit, so this waits up to 5 s for them.
expect_alarms() {
	s=$1
	shift
	want_total=$before_total
	for kn in "$@"; do want_total=$((want_total + ${kn#*=})); done
	i=0
	while status && [ "$(count '"kind":' "$T/status.json")" -lt "$want_total" ] && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	for kn in "$@"; do
		k=${kn%=*}
		n=${kn#*=}
		bk=0
		eval "bk=\$before_$(var "$k")"
		got=$(($(nkind "$k") - bk))
		[ "$got" -eq "$n" ] || fail "$s: $got new $k alarm(s), expected $n"
	done
	got=$(($(count '"kind":' "$T/status.json") - before_total))
	[ "$got" -eq $((want_total - before_total)) ] ||
		fail "$s: $got new alarms, expected $((want_total - before_total)): $(grep '"kind":' "$T/status.json" | tail -n 3)"
	ok "$s: alarms recorded:$(for kn in "$@"; do printf ' %s' "$kn"; done)"
}

# step SCENARIO/STEP: its outcome line from evilpeer's transcript.
step() {
	l=$(grep -F "STEP $1: " "$T/evil-${1%%/*}.out")
	[ -n "$l" ] || fail "evilpeer did not perform $1: $(tail -n 5 "$T/evil-${1%%/*}.out")"
	echo "${l#STEP "$1": }"
}

# refused SCENARIO STEP...: the victim refused each step: no ACK, and the
# path closed (with or without an ERROR frame).
refused() {
	s=$1
	shift
	for st in "$@"; do
		r=$(step "$s/$st")
		case "$r" in
		rejected* | closed*) ;;
		*) fail "$s/$st: the victim did not refuse it: $r" ;;
		esac
	done
	ok "$s: refused $*"
}

# check DESCRIPTION CMD...: CMD must succeed.
check() {
	d=$1
	shift
	"$@" || fail "$d"
	ok "$d"
}

# A refused frame closes the path with an ERROR naming why (protocol.md,
# "Frames"): evilpeer reports "rejected" only when the ERROR arrived.
no_bare_close() { ! grep -q "^STEP $1/[^:]*: closed" "$T/evil-$1.out"; }

# unchanged SCENARIO: nothing new is held or shown after it.
unchanged() {
	status
	[ "$(received)" = 3 ] || fail "$1: the victim now holds $(received) entries of $A_OUT, not 3"
	[ "$(mirror_size)" = 3 ] || fail "$1: the mirror of $A_OUT has $(mirror_size) entries, not 3"
	inbox
	[ "$(count '"index":' "$T/inbox.json")" = 3 ] ||
		fail "$1: the inbox has $(count '"index":' "$T/inbox.json") entries, not 3"
	! grep -q 'rewritten' "$T/inbox.json" || fail "$1: a rewritten entry is in the inbox"
	ok "$1: the victim still serves; nothing new held (mirror 3, inbox 3)"
}

# --- good: the control.  Three valid entries, sent as a real node does.
snapshot
evil good
case "$(step good/run)" in
"accepted ACK size=3 "*) ok "good: the victim ACKs 3 entries" ;;
*) fail "good: $(step good/run)" ;;
esac
inbox
for i in 0 1 2; do
	grep -q "\"subject\": \"genuine $i\"" "$T/inbox.json" || fail "good: entry $i is not in the inbox"
done
ok "good: the inbox shows the 3 messages"
expect_alarms good
unchanged good

# --- badsig: checkpoints that do not open with a's pinned log key.
snapshot
evil badsig
refused badsig foreign-key flipped-signature other-origin key-of-other-origin unsigned
expect_alarms badsig rejected-frame=5
unchanged badsig
check "badsig: each refusal sends an ERROR frame before closing" no_bare_close badsig

# --- badroot: entries that do not hash to the signed root.
snapshot
evil badroot
refused badroot entries-not-in-checkpoint made-up-root size-not-first-plus-count
expect_alarms badroot unproven-entries=2 rejected-frame=3
unchanged badroot

# --- badproof: an out-of-order entry whose inclusion proof fails (with a
# valid consistency proof, so only the inclusion is wrong).
snapshot
evil badproof
refused badproof corrupt-inclusion entry-not-in-tree short-inclusion \
	overlong-inclusion proof-not-base64 index-beyond-checkpoint
expect_alarms badproof unproven-entries=3 rejected-frame=6
unchanged badproof

# --- fork: two signed views of one log.  Both checkpoints are the evidence.
snapshot
evil fork
refused fork split-view inconsistent
expect_alarms fork split-view=2 rejected-frame=2
held=$(sed -n 's/^info held-root 3 //p' "$T/evil-fork.out")
forged=$(sed -n 's/^info forged-root 3 //p' "$T/evil-fork.out")
larger=$(sed -n 's/^info forged-larger-root 5 //p' "$T/evil-fork.out")
if [ -z "$held" ] || [ -z "$forged" ] || [ -z "$larger" ]; then fail "fork: evilpeer printed no roots"; fi
grep -A4 '"kind": "split-view"' "$T/status.json" | grep '"evidence":' >"$T/evidence"
ev=$(grep -F "$held" "$T/evidence" | grep -F "$forged")
[ -n "$ev" ] || fail "fork: no split-view alarm carries both checkpoints of size 3 (roots $held, $forged)"
[ "$(echo "$ev" | grep -o -F "$A_OUT " | wc -l)" -eq 2 ] ||
	fail "fork: the evidence is not two signed notes: $ev"
ok "fork: the split-view evidence holds both signed checkpoints of size 3"
ev=$(grep -F "$held" "$T/evidence" | grep -F "$larger")
if [ -z "$ev" ] || [ "$(echo "$ev" | grep -o -F "$A_OUT " | wc -l)" -ne 2 ]; then
	fail "fork: no split-view alarm carries the held checkpoint and the inconsistent one of size 5"
fi
ok "fork: the failed consistency proof's alarm holds both signed checkpoints"
unchanged fork

# --- replay: the held indices again.
snapshot
evil replay
case "$(step replay/identical-resend)" in
"accepted ACK size=3 "*) ok "replay: an identical resend is a harmless retry (ACK 3)" ;;
*) fail "replay: identical resend: $(step replay/identical-resend)" ;;
esac
refused replay rewritten-prefix
# Protocol.md: a run at or below the mirror's size is a resend, ignored if
# its checkpoint agrees with the mirror; what matters is that nothing of it
# is stored (checked by unchanged and the audit below).
case "$(step replay/rewritten-under-genuine-checkpoint)" in
accepted* | rejected* | closed*) ok "replay: rewritten entries under the genuine checkpoint are not stored" ;;
*) fail "replay: rewritten-under-genuine-checkpoint: $(step replay/rewritten-under-genuine-checkpoint)" ;;
esac
rp=$(sed -n 's/^info rewritten-prefix-root 2 //p' "$T/evil-replay.out")
ooo_refused() { case "$(step replay/rewritten-out-of-order)" in rejected* | closed*) return 0 ;; esac; return 1; }
check "replay: a rewritten entry at a held index, proven out of order in a signed inconsistent tree, is refused" ooo_refused
if ooo_refused; then
	expect_alarms replay split-view=2 rejected-frame=2
else
	expect_alarms replay split-view=1 rejected-frame=1
fi
status
grep -A4 '"kind": "split-view"' "$T/status.json" | grep '"evidence":' | grep -F "$held" | grep -q -F "$rp" ||
	fail "replay: the split-view alarm does not carry the rewritten checkpoint of size 2"
ok "replay: the rewritten prefix's split-view alarm carries both checkpoints"
unchanged replay

# --- oversize: frame headers over 1 MiB are refused from the header alone;
# a frame of exactly 1 MiB is read and judged on its content.
snapshot
evil oversize
refused oversize 2MiB limit-plus-1 4GiB exactly-1MiB
expect_alarms oversize bad-frame=3 rejected-frame=1
unchanged oversize

# --- garbage: bytes that are no frame, bodies that are no JSON object,
# frames out of place, bad greetings, counts over the limits.
snapshot
evil garbage
refused garbage random-bytes unknown-type type-zero zero-length not-json json-array \
	duplicate-keys nesting-bomb invalid-utf8
refused garbage ack-to-receiver welcome-from-client second-hello cosig-to-receiver \
	entries-before-hello hello-with-another-name hello-version-2 4097-entries \
	negative-first other-origin entry-not-base64
expect_alarms garbage bad-frame=9 rejected-frame=11
unchanged garbage
check "garbage: each refusal sends an ERROR frame before closing" no_bare_close garbage

# --- wrongkey: a TLS key b did not pin.  The handshake fails; not even
# WELCOME reaches it.
snapshot
evil wrongkey
case "$(step wrongkey/unpinned-tls-key)" in
refused*) ok "wrongkey: the handshake fails before any data flows" ;;
*) fail "wrongkey: $(step wrongkey/unpinned-tls-key)" ;;
esac
expect_alarms wrongkey wrong-key=1
unchanged wrongkey

# --- stalefrom: a genuine out-of-order entry proven from a size b has
# verified past (an honest sender's ACK still in flight): ignored, with an
# ACK, no alarm (no false split view), nothing held.
snapshot
evil stalefrom
case "$(step stalefrom/proof-from-an-older-size)" in
accepted*) ok "stalefrom: answered with an ACK, not an ERROR" ;;
*) fail "stalefrom: $(step stalefrom/proof-from-an-older-size)" ;;
esac
# ... which asks for the entry again, so that an honest sender resends it
# with a proof from b's size instead of leaving it to the runs.
sidx=$(sed -n 's|^OOO stalefrom/proof-from-an-older-size: index \([0-9]*\)$|\1|p' "$T/evil-stalefrom.out")
[ -n "$sidx" ] || fail "stalefrom: evilpeer did not name the entry's index"
case "$(step stalefrom/proof-from-an-older-size)" in
*" resend=[$sidx]"*) ok "stalefrom: the ACK asks for entry $sidx again (resend)" ;;
*) fail "stalefrom: the ACK does not ask for entry $sidx again: $(step stalefrom/proof-from-an-older-size)" ;;
esac
expect_alarms stalefrom
unchanged stalefrom

# --- stall: half a frame, then silence.  The path is dropped as silent
# (LINK_DEAD_MS, 3 s; protocol.md: within about 4 s) and nothing else.
snapshot
evil stall
r=$(step stall/half-frame)
ms=$(echo "$r" | sed -n 's/.*(after \([0-9]*\) ms)$/\1/p')
case "$r" in
closed*) if [ -z "$ms" ] || [ "$ms" -gt 6000 ]; then fail "stall: closed after ${ms:-?} ms"; fi ;;
*) fail "stall: the victim kept a stalled path: $r" ;;
esac
ok "stall: the victim drops a stalled path after $ms ms"
expect_alarms stall
unchanged stall

"$PARLEY" audit "$T/b" >"$T/audit.out" 2>&1 || fail "audit: $(tail -n 3 "$T/audit.out")"
ok "audit of the victim passes after every scenario"

# --- bigindex: a correctly signed, consistent, proven entry at index 2^53
# (then 2^63 - 1): beyond what an envelope can reference (receipts, acks:
# 0..2^53-1), so the receiver must refuse it.  Last: it changes the inbox.
evil bigindex
big_refused() {
	for st in index-2^53 index-2^63-1; do
		case "$(step "bigindex/$st")" in rejected* | closed*) ;; *) return 1 ;; esac
	done
	inbox
	[ "$(count '"index":' "$T/inbox.json")" = 3 ]
}
check "bigindex: out-of-order entries at indices 2^53 and 2^63-1 are refused" big_refused
status
"$PARLEY" audit "$T/b" >"$T/audit.out" 2>&1 || fail "audit after bigindex: $(tail -n 3 "$T/audit.out")"
ok "bigindex: the victim still serves and passes its audit"

# --- more (after the scenarios that expect nothing new held): an
# out-of-order entry as sent on a quiet path, its first proof
# from a size b verified past and the right one in "more": held and ACKed;
# a corrupt proof there, or a "more" that is not proofs: refused.
snapshot
evil more
case "$(step more/proof-in-more)" in
accepted*also=*) ok "more: the entry proven from b's size in \"more\" is held: $(step more/proof-in-more)" ;;
*) fail "more: $(step more/proof-in-more)" ;;
esac
step more/proof-in-more | grep -q "also=\[[0-9, ]*[0-9]" || fail "more: the entry is not held: $(step more/proof-in-more)"
refused more corrupt-proof-in-more more-not-proofs
expect_alarms more split-view=1 rejected-frame=2
"$PARLEY" audit "$T/b" >"$T/audit.out" 2>&1 || fail "audit after more: $(tail -n 3 "$T/audit.out")"
ok "more: the victim holds the entry proven in \"more\" and passes its audit"

# --- urgent (a control, after "more"): runs marked "urgent", in the form a
# node writes them and in another JSON spelling, are stored and ACKed like
# any run; the mark only schedules the commit.  b held 3 entries in order
# (and entry 4 out of order, from "more").
snapshot
evil urgent
case "$(step urgent/fast)" in
"accepted ACK size=6 "*) ok "urgent: a run marked urgent, as a node writes it, is ACKed: $(step urgent/fast)" ;;
*) fail "urgent/fast: $(step urgent/fast)" ;;
esac
case "$(step urgent/general)" in
"accepted ACK size=8 "*) ok "urgent: the same in another JSON spelling is ACKed: $(step urgent/general)" ;;
*) fail "urgent/general: $(step urgent/general)" ;;
esac
inbox
for i in 3 4 5 6 7; do
	grep -q "\"subject\": \"genuine $i\"" "$T/inbox.json" || fail "urgent: entry $i is not in the inbox"
done
expect_alarms urgent
"$PARLEY" audit "$T/b" >"$T/audit.out" 2>&1 || fail "audit after urgent: $(tail -n 3 "$T/audit.out")"
ok "urgent: entries 3..7 are in the inbox, no alarm, the audit passes"

# --- a flood: a pinned peer refused again and again cannot fill the
# victim's disk with alarms (at most 60 a minute per kind and peer are
# stored, and one alarm-flood alarm says so).
status
before=$(count '"kind":' "$T/status.json")
for k in 1 2 3 4 5 6 7 8; do evil garbage; done
status
after=$(count '"kind":' "$T/status.json")
[ "$(nkind alarm-flood)" -ge 1 ] || fail "flood: no alarm-flood alarm after 160 refusals"
[ $((after - before)) -lt 160 ] || fail "flood: every one of $((after - before)) alarms was stored"
ok "flood: $((after - before)) of 160 refusals stored as alarms, the rest logged (alarm-flood)"

# --- the victim survived all of it and stops cleanly (under ASan: no leak
# or error report at exit).
pid=$(node_pid b)
kill -0 "$pid" 2>/dev/null || fail "the victim died"
kill -TERM "$pid"
wait "$pid"
rc=$?
eval "PID_b="
[ "$rc" -eq 0 ] || fail "the victim exited with status $rc on SIGTERM"
! grep -q -e 'Sanitizer' -e 'runtime error' "$T/b.log" || fail "sanitizer report in the victim's log"
ok "the victim stops cleanly on SIGTERM"
echo "evil.sh: all checks passed"
