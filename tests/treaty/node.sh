#!/bin/bash
# tests/treaty/node.sh — treaty notifications through two running nodes
# (DESIGN principle 5; docs/treaties.md).
#
# The sender's node refuses an invalid notification or an illegal change
# before anything is logged, with every problem listed; the receiver keeps
# what the other party logged and flags it (late, a definition it does not
# hold, another version of one), in its inbox and as an alarm, also after
# a restart; both nodes derive the same declarations from the signed
# entries; the joint random selection runs through both nodes, with its
# refusals (a reveal before the peer's commitment, a seed that does not
# match, no reveal by the deadline).
set -u
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
. tests/lib/nodes.sh
BASE=$((27000 + ($$ % 250) * 20)) # below the ephemeral ports (32768)
nodes_setup $BASE
node_start a
node_start b
P=$PARLEY
A=$A_NAME
B=$B_NAME

outbox_n() { "$P" outbox "$T/a" | grep -c ' notification ' || true; }
inbox_json() { "$P" inbox "$T/b" --json >"$T/inbox.json" || return 1; }
# the flags B shows for entry N of A's log
flags_of() {
	inbox_json || return 1
	tr -d '\n' <"$T/inbox.json" | sed 's/},\s*{/}\n{/g' | grep "\"index\": $1," | grep -o '"flags": \[[^]]*\]'
}

# --- the sender's node refuses, nothing is logged ------------------------
"$P" treaty exchange new-start treaties/samples/us-2020-09-01.json --exchange US-1 >"$T/dx.json" || fail "exchange"
"$P" notify "$T/a" --to $B --treaty new-start --id dx "$T/dx.json" >"$T/dx.out" 2>"$T/dx.err" || fail "data exchange sent: $(cat "$T/dx.err")"
[ "$(wc -l <"$T/dx.out")" -ge 4 ] || fail "the exchange went in at least 4 parts"
ok "a 1,622-item data exchange is sent in $(wc -l <"$T/dx.out") numbered parts"
before=$(outbox_n)
echo '{"kind":"elimination","fields":{"item_id":"US-NOPE","event_date":"2020-09-01","method":"cut"},"x":1}' >"$T/bad1.json"
"$P" notify "$T/a" --to $B --treaty new-start "$T/bad1.json" 2>"$T/err" && fail "a malformed file was sent"
grep -q 'unexpected member "x"' "$T/err" || fail "the bad member is named: $(cat "$T/err")"
echo '{"kind":"new-item","fields":{"item":{"id":"US-ICBM-0001","category":"icbm","status":"deployed","type":"T","base":"B"},"event_date":"2020-09-32"}}' >"$T/bad2.json"
"$P" notify "$T/a" --to $B --treaty new-start "$T/bad2.json" 2>"$T/err" && fail "an invalid notification was sent"
grep -q 'event_date: must be a date' "$T/err" || fail "invalid date named: $(cat "$T/err")"
echo '{"kind":"new-item","fields":{"item":{"id":"US-ICBM-0001","category":"icbm","status":"deployed","type":"T","base":"B"},"event_date":"2020-09-02"}}' >"$T/dup.json"
"$P" notify "$T/a" --to $B --treaty new-start "$T/dup.json" 2>"$T/err" && fail "a duplicate id was logged"
grep -q 'HTTP 422' "$T/err" && grep -q 'item "US-ICBM-0001" is already declared' "$T/err" || fail "duplicate refused by the node: $(cat "$T/err")"
echo '{"kind":"elimination","fields":{"item_id":"US-ICBM-0404","event_date":"2020-09-05","method":"cut"}}' >"$T/el.json"
"$P" notify "$T/a" --to $B --treaty new-start "$T/el.json" >"$T/last.out" || fail "first elimination"
"$P" notify "$T/a" --to $B --treaty new-start "$T/el.json" 2>"$T/err" && fail "eliminating twice was logged"
grep -q 'already eliminated' "$T/err" || fail "eliminating twice refused: $(cat "$T/err")"
echo '{"kind":"status-change","fields":{"item_id":"US-ICBM-0404","new_status":"deployed","event_date":"2020-09-06"}}' >"$T/dep.json"
"$P" notify "$T/a" --to $B --treaty new-start "$T/dep.json" 2>"$T/err" && fail "deploying an eliminated missile was logged"
grep -q 'cannot go from eliminated to deployed' "$T/err" || fail "illegal transition refused: $(cat "$T/err")"
[ "$(outbox_n)" -eq $((before + 1)) ] || fail "only the legal elimination was logged ($(outbox_n) vs $before)"
ok "invalid and illegal notifications refused by the sender's node, every problem named, nothing logged"
"$P" notify "$T/a" --to $B --treaty new-start --id el-2 "$T/el.json" 2>/dev/null && fail "a new id does not make it legal"
ok "a retry under another id is checked again"

# --- the receiver flags ---------------------------------------------------
wait_for sh -c "[ \$(\"$P\" inbox \"$T/b\" | grep -c ' notification ') -ge 5 ]" || fail "B received the notifications"
EL=$("$P" outbox "$T/a" | awk '$4 == "notification" {i=$2} END {print i}')
wait_for flags_of "$EL" || fail "flags shown"
flags_of "$EL" | grep -q '"late"' || fail "an elimination of 2020-09-05 notified today is late: $(flags_of "$EL")"
ok "B's inbox flags the late elimination"
"$P" inbox "$T/b" --lang ru >"$T/inbox.ru" || fail "inbox --lang ru"
grep -q 'Уведомление о ликвидации.*\[late\]' "$T/inbox.ru" || fail "the elimination in Russian, with its flag: $(grep notification "$T/inbox.ru" | tail -2)"
"$P" inbox "$T/b" --lang en | grep -q 'Notification of elimination.*\[late\]' || fail "the elimination in English, with its flag"
"$P" inbox "$T/b" --lang fr 2>"$T/err" && fail "an unknown language"
grep -q 'must be en or ru' "$T/err" || fail "--lang fr refused by name"
ok "the inbox renders notifications in English or Russian, with their flags"
"$P" status "$T/b" --json >"$T/st.json" || fail "status"
grep -q '"treaty"' "$T/st.json" && grep -q 'late' "$T/st.json" || fail "a treaty alarm in B's status"
ok "and raises a treaty alarm"

# --- both nodes agree (while they hold the same definitions) -----------------------------------------------------
agree() {
	"$P" treaty replay "$T/a" --party $A >"$T/ra" 2>&1 &&
	"$P" treaty replay "$T/b" --party $A >"$T/rb" 2>&1 &&
	cmp -s "$T/ra" "$T/rb" && grep -q 'cosigned checkpoint' "$T/ra" &&
	grep -q '; 5 notifications' "$T/ra"
}
wait_for agree || { diff "$T/ra" "$T/rb" >&2; fail "A and B derive the same declarations"; }
grep -q '675 / 700' "$T/ra" || fail "a non-deployed ICBM eliminated: still 675 deployed"
ok "A and B derive A's declarations identically at the cosigned checkpoint"
"$P" status "$T/b" | grep -q 'declared under new-start: 1622 items; deployed 675/700 deployed_warheads 1457/1550 launchers 800/800' ||
	fail "B's status shows A's declared totals: $("$P" status "$T/b" | grep declared)"
ok "B's status shows A's declared totals against the limits"

# a definition B does not hold (sent with its text; A checks it with its
# own rules, and keeps it)
echo '{"kind":"exercise-end","fields":{"exercise_id":"EX-0","end_time":"2030-01-01T00:00:00Z"}}' >"$T/note.json"
"$P" notify "$T/a" --to $B --treaty tests/treaty/alt-treaty.json "$T/note.json" 2>"$T/err" >/dev/null &&
	fail "closing an exercise that was never opened was logged"
grep -q 'no open "EX-0" to close' "$T/err" || fail "cfe-lite checked by A with its own rules: $(cat "$T/err")"
ls "$T/a/treaties/" | grep -q '^cfe-lite-' || fail "A keeps the definition it was sent"
cp treaties/new-start.json "$T/new-start-v2.json"
echo " " >>"$T/new-start-v2.json"
# (inventories are per definition: under this version A has declared
# nothing yet, so a new item is what it can notify)
echo '{"kind":"new-item","fields":{"item":{"id":"US-ICBM-2001","category":"icbm","status":"test","type":"T","base":"B"},"event_date":"2030-01-01"}}' >"$T/mv.json"
"$P" notify "$T/a" --to $B --treaty "$T/new-start-v2.json" "$T/mv.json" >"$T/mv.out" 2>"$T/err" || fail "a notification under another version: $(cat "$T/err")"
MV=$(awk '{print $2}' "$T/mv.out")
wait_for flags_of "$MV" || fail "flag for the other version"
flags_of "$MV" | grep -q 'treaty-version' || fail "another version flagged: $(flags_of "$MV")"
ok "a notification under another version of a definition is flagged treaty-version"
# an exercise notice under cfe-lite, which B does not hold
START=$(date -u -d '+3 days' +%Y-%m-%dT%H:%M:%SZ)
echo '{"kind":"exercise-notice","fields":{"exercise_id":"EX-1","start_time":"'"$START"'","troops":1200,"area":{"centre":{"lat":50,"lon":20},"radius_km":30}}}' >"$T/ex.json"
if "$P" treaty validate tests/treaty/alt-treaty.json "$T/ex.json" >/dev/null 2>&1; then
	"$P" notify "$T/a" --to $B --treaty tests/treaty/alt-treaty.json "$T/ex.json" >"$T/ex.out" 2>"$T/err" || fail "cfe-lite notice: $(cat "$T/err")"
	EX=$(awk '{print $2}' "$T/ex.out")
	wait_for flags_of "$EX" || fail "flag for cfe-lite"
	flags_of "$EX" | grep -q 'unknown-treaty' || fail "a definition B does not hold: $(flags_of "$EX")"
	ok "a notification under a definition B does not hold is flagged unknown-treaty"
else
	"$P" treaty validate tests/treaty/alt-treaty.json "$T/ex.json" >&2
	fail "the cfe-lite exercise notice used by this test is not valid"
fi

# flags survive a restart (rebuilt from the log)
node_kill b
node_start b
wait_for flags_of "$EL" || fail "flags after restart"
flags_of "$EL" | grep -q '"late"' || fail "the late flag after a restart"
ok "B rebuilds its flags from the log after a restart"

# --- joint random selection ----------------------------------------------
RB=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)
echo '{"kind":"inspection-request","fields":{"round":"R1","exchange":"US-1","n":1622,"k":6,"reveal_by":"'"$RB"'"}}' >"$T/req.json"
"$P" notify "$T/b" --to $A --treaty new-start "$T/req.json" >"$T/req.out" || fail "request"
REQ="$B/to/$A/$(awk '{print $2}' "$T/req.out")"
wait_for "$P" inspect seed "$T/b" --to $A --request "$REQ" || fail "B commits"
"$P" inspect reveal "$T/b" --to $A --request "$REQ" 2>"$T/err" && fail "B revealed before A committed"
grep -q 'has not committed its seed yet' "$T/err" || fail "early reveal refused: $(cat "$T/err")"
ok "a reveal before the peer's commitment is refused"
wait_for "$P" inspect seed "$T/a" --to $B --request "$REQ" || fail "A commits"
"$P" inspect seed "$T/a" --to $B --request "$REQ" 2>"$T/err" && fail "A committed twice"
grep -q 'already committed' "$T/err" || fail "second commitment refused: $(cat "$T/err")"
SF=$(ls "$T/a/seeds/"*.seed)
[ "$(stat -c %a "$SF")" = 600 ] || fail "the seed file is private"
cp "$SF" "$T/seed.keep"
echo ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff >"$SF"
wait_for sh -c "\"$P\" inspect reveal \"$T/a\" --to $B --request \"$REQ\" 2>&1 | grep -q 'does not match'" ||
	fail "a seed that does not match A's commitment is refused"
cp "$T/seed.keep" "$SF"
ok "a seed that does not match its commitment is refused"
wait_for "$P" inspect reveal "$T/a" --to $B --request "$REQ" || fail "A reveals"
wait_for "$P" inspect reveal "$T/b" --to $A --request "$REQ" || fail "B reveals"
sel() { "$P" inspect select "$T/$1" --request "$REQ" >"$T/sel.$1" 2>&1 && grep -q 'outcome: selected' "$T/sel.$1"; }
wait_for sel a || fail "selection at A: $(cat "$T/sel.a")"
wait_for sel b || fail "selection at B: $(cat "$T/sel.b")"
grep 'indices' "$T/sel.a" >"$T/ia"
grep 'indices' "$T/sel.b" >"$T/ib"
cmp -s "$T/ia" "$T/ib" || fail "both nodes draw the same items"
[ "$(tr ' ' '\n' <"$T/ia" | grep -c '^[0-9]')" -eq 6 ] || fail "6 items drawn"
ok "both nodes compute the same 6 of 1,622 items from the logs"

# a side that does not reveal by the deadline: no selection
RB2=$(date -u -d '+3 seconds' +%Y-%m-%dT%H:%M:%SZ)
echo '{"kind":"inspection-request","fields":{"round":"R2","exchange":"US-1","n":1622,"k":6,"reveal_by":"'"$RB2"'"}}' >"$T/req2.json"
"$P" notify "$T/b" --to $A --treaty new-start "$T/req2.json" >"$T/req2.out" || fail "request 2"
REQ2="$B/to/$A/$(awk '{print $2}' "$T/req2.out")"
wait_for "$P" inspect seed "$T/b" --to $A --request "$REQ2" || fail "B commits (2)"
wait_for "$P" inspect seed "$T/a" --to $B --request "$REQ2" || fail "A commits (2)"
wait_for "$P" inspect reveal "$T/b" --to $A --request "$REQ2" || fail "B reveals (2)"
sleep 4
"$P" inspect select "$T/b" --request "$REQ2" >"$T/sel2" || fail "select 2"
grep -q "$A: refused" "$T/sel2" && grep -q 'outcome: refused' "$T/sel2" || fail "A refused: $(cat "$T/sel2")"
grep -q 'indices' "$T/sel2" && fail "no selection without both reveals"
ok "a side that did not reveal by the deadline is recorded as refusing; nothing is drawn"

"$P" audit "$T/a" >/dev/null || fail "audit a"
"$P" audit "$T/b" >/dev/null || fail "audit b"
ok "audits pass"
node_kill a
node_kill b
ok "nodes stopped cleanly"
