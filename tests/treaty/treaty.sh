#!/bin/bash
# tests/treaty/treaty.sh — `parley treaty check|validate|show|exchange|replay`
# offline, as an operator or an auditor runs them (docs/treaties.md).
#
# The replay part builds two signed logs by hand with `parley log` (so the
# receipt times, and therefore the deadlines, are chosen by the test, and
# notifications a node would refuse can be put in a log), exports them in
# C2SP form and replays them: late and confirmed deadlines judged by the
# receiver's receipts, an illegal change flagged and not applied, invalid
# fields flagged, a definition not held and another version of one
# flagged, a data exchange compared item by item, a missing part, and a
# log whose entries do not make its checkpoint refused.
#
# Run from the repository root with $PARLEY the binary under test.
set -eu
LC_ALL=C
export LC_ALL

PARLEY=${PARLEY:-build/rel/parley}
case $PARLEY in /*) ;; *) PARLEY="$(pwd)/$PARLEY" ;; esac
ROOT=$(pwd)
TR="$ROOT/treaties"
T=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
cd "$T"
checks=0
section=setup

fail() {
	echo "FAIL [$section]: $*" >&2
	[ -f err ] && { echo "--- stderr:" >&2; head -c 1500 err >&2; }
	[ -f out ] && { echo "--- stdout:" >&2; head -c 1500 out >&2; }
	exit 1
}
pass() { checks=$((checks + 1)); }
check() { _w=$1; shift; "$@" || fail "$_w"; pass; }
# ok WHAT ARGS...: parley succeeds, nothing on stderr
ok() { _w=$1; shift; "$PARLEY" "$@" >out 2>err || fail "$_w (exit $?)"; [ ! -s err ] || fail "$_w: stderr not empty"; pass; }
# bad WHAT ARGS...: parley exits 1 with "parley: ..." first on stderr, nothing on stdout
bad() {
	_w=$1; shift
	set +e; "$PARLEY" "$@" >out 2>err; _rc=$?; set -e
	[ $_rc -eq 1 ] || fail "$_w: exit $_rc, expected 1"
	[ ! -s out ] || fail "$_w: stdout not empty"
	head -n 1 err | grep -q '^parley: ' || fail "$_w: no one-line error"
	pass
}
has() { grep -q -- "$1" "${2:-out}" || fail "expected \"$1\" in ${2:-out}"; pass; }
hasnt() { ! grep -q -- "$1" "${2:-out}" || fail "did not expect \"$1\" in ${2:-out}"; pass; }

# ------------------------------------------------------------------ check
section=check
ok "US sample" treaty check new-start "$TR/samples/us-2020-09-01.json" --json
has '"within_limits": true'
check "US totals 675 / 1457 / 800" sh -c "tr -d ' \n' <out | grep -q '\"name\":\"deployed\",[^}]*\"total\":675' &&
	tr -d ' \n' <out | grep -q '\"name\":\"deployed_warheads\",[^}]*\"total\":1457' &&
	tr -d ' \n' <out | grep -q '\"name\":\"launchers\",[^}]*\"total\":800'"
ok "RU sample" treaty check new-start "$TR/samples/ru-2020-09-01.json" --json
check "RU totals 510 / 1447 / 764" sh -c "tr -d ' \n' <out | grep -q '\"name\":\"deployed\",[^}]*\"total\":510' &&
	tr -d ' \n' <out | grep -q '\"name\":\"deployed_warheads\",[^}]*\"total\":1447' &&
	tr -d ' \n' <out | grep -q '\"name\":\"launchers\",[^}]*\"total\":764'"
ok "text form, in Russian" treaty check new-start "$TR/samples/ru-2020-09-01.json" --lang ru
has 'Развёрнутые МБР'
has 'статус: в пределах ограничений'
ok "by path" treaty check "$TR/new-start.json" "$TR/samples/us-2020-09-01.json"
has 'status: within all limits'

# A structurally different definition, exactly at its limits, then one over.
ok "cfe-lite at its limits" treaty check "$ROOT/tests/treaty/alt-treaty.json" "$ROOT/tests/treaty/alt-inventory.json"
has 'within all limits'
has '100 / 100'
has '250 / 250'
# hand-built: 2 deployed ICBMs with 4 warheads each on a 1-launcher limit
cat >def.json <<'EOF'
{"format":"parley-treaty/1","name":"tiny","label":{"en":"Tiny","ru":"Малый"},
 "statuses":{"up":{"label":{"en":"Up","ru":"Развёрнут"}},"down":{"label":{"en":"Down","ru":"Свёрнут"}}},
 "categories":{"m":{"label":{"en":"Missile","ru":"Ракета"},"statuses":["up","down"],"transitions":{"up":["down"],"down":["up"]}}},
 "item_fields":{"id":{"type":"string","label":{"en":"Id","ru":"Ид"}},
  "category":{"type":"category","label":{"en":"Cat","ru":"Кат"}},
  "status":{"type":"status","label":{"en":"St","ru":"Ст"}},
  "wh":{"type":"integer","max":10,"required":false,"label":{"en":"Warheads","ru":"Боезаряды"}}},
 "limits":[{"name":"up","max":1,"label":{"en":"Up","ru":"Развёрнутые"},"count":[{"categories":["m"],"statuses":["up"]}]},
  {"name":"wh","max":8,"label":{"en":"Warheads","ru":"Боезаряды"},"count":[{"categories":["m"],"statuses":["up","down"],"sum":"wh"}]}],
 "kinds":{"flip":{"label":{"en":"Flip","ru":"Смена"},"fields":{"item_id":{"type":"item_id","label":{"en":"Item","ru":"Ед."}},
  "to":{"type":"status","label":{"en":"To","ru":"В"}}},"effect":{"op":"update","item":"item_id","set":{"status":"to"}}}}}
EOF
echo '[{"id":"a","category":"m","status":"up","wh":4},{"id":"b","category":"m","status":"down","wh":4}]' >at.json
ok "exactly at both limits" treaty check def.json at.json --json
has '"within_limits": true'
echo '[{"id":"a","category":"m","status":"up","wh":4},{"id":"b","category":"m","status":"up","wh":5}]' >over.json
ok "one over each limit" treaty check def.json over.json --json
has '"within_limits": false'
check "margins are negative when over" sh -c "tr -d ' \n' <out | grep -q '\"margin\":-1'"
ok "over, in text" treaty check def.json over.json
has 'OVER by 1'
has 'status: OVER a limit'

echo '[{"id":"a","category":"m","status":"sideways"},{"id":"a","category":"x","status":"up","wh":11,"colour":"red"}]' >broken.json
bad "an inventory with bad items" treaty check def.json broken.json
for w in 'items\[0\].status: "sideways" is not a status' 'items\[1\].category: "x" is not a category' \
	 'items\[1\].wh: 11 is above the maximum 10' 'items\[1\].colour: not a field' 'items\[1\].id: "a" appears twice'; do
	has "$w" err
done
bad "a treaty that does not exist" treaty check no-such-treaty at.json
has 'no treaty "no-such-treaty"' err
echo '{"format":"parley-treaty/1","name":"x","label":{"en":"X"}}' >nolabel.json
bad "a definition with a label missing its Russian" treaty check nolabel.json at.json
has 'ru' err

# --------------------------------------------------------------- validate
section=validate
cat >good.json <<'EOF'
{"kind":"status-change","fields":{"item_id":"US-ICBM-0001","new_status":"non_deployed","event_date":"2020-09-10"}}
EOF
ok "a valid notification" treaty validate new-start good.json
has 'valid: status-change under new-start'
cat >many.json <<'EOF'
{"kind":"new-item","fields":{"item":{"id":"X1","category":"icbm","status":"converted","warheads":15},
 "event_date":"2020-13-01","colour":"red"}}
EOF
bad "every problem at once" treaty validate new-start many.json
has '6 problems' err
has 'fields.item.type: missing (required)' err
has 'fields.item.status: "converted" is not a status of category "icbm"' err
has 'fields.item.warheads: 15 is above the maximum 14' err
has 'fields.event_date: must be a date' err
has 'fields.colour: not a field of this kind' err
echo '{"kind":"elimination","fields":{"item_id":"A","event_date":"2020-01-01","method":"burn"}}' >code.json
bad "an unknown code names the codes allowed" treaty validate new-start code.json
has 'fields.method: "burn" is not one of the codes (' err
echo '{"kind":"no-such-kind","fields":{}}' >kind.json
bad "an unknown kind" treaty validate new-start kind.json
has 'kind "no-such-kind" is not a notification kind of new-start' err
echo '{"kind":"launch-notice","fields":{"notice_id":"L1","missile_type":"icbm","launch_time":"2020-09-10T10:00:00Z","launch_area":{"polygon":[{"lat":1,"lon":2},{"lat":3,"lon":4}]},"impact_area":{"centre":{"lat":95,"lon":0},"radius_km":0}}}' >area.json
bad "areas are checked" treaty validate bmlna-1988 area.json
has 'fields.launch_area.polygon: must be an array of 3..64 positions' err
has 'fields.impact_area.centre.lat' err
has 'fields.impact_area.radius_km' err
echo '{"kind":"flip","fields":{},"extra":1}' >extra.json
bad "a notification file has kind and fields only" treaty validate def.json extra.json
has 'unexpected member "extra"' err

# ------------------------------------------------------------------- show
section=show
ok "a definition's kinds" treaty show new-start
has 'status-change'
has 'limit Deployed ICBMs'
ok "a notification, in Russian" treaty show new-start good.json --lang ru
has 'Неразвёрнут\|неразвёрнут'
ok "a notification, in English" treaty show new-start good.json
has 'Non-deployed\|non-deployed'

# ------------------------------------------------------------------ exchange
section=exchange
ok "an exchange from an inventory" treaty exchange new-start "$TR/samples/us-2020-09-01.json" --exchange US-1
has '"kind":"data-exchange"'
has '"item_count":1622'
has '"deployed":675'
cp out dx.json
ok "an exchange validates" treaty validate new-start dx.json
usage_rc() { set +e; "$PARLEY" "$@" >/dev/null 2>&1; _rc=$?; set -e; [ $_rc -eq 2 ]; }
check "--no-items needs a commitment" usage_rc treaty exchange new-start at.json --exchange X --no-items

# ------------------------------------------------------------------- replay
section=replay-setup
A=a.example
B=b.example
SHA=$(sha256sum "$TR/new-start.json" | cut -d' ' -f1)
BSHA=$(sha256sum "$TR/bmlna-1988.json" | cut -d' ' -f1)
"$PARLEY" keygen $A/to/$B --out a.key >a.vkey
"$PARLEY" keygen $B/to/$A --out b.key >b.vkey
"$PARLEY" log init a.db --key a.key >/dev/null
"$PARLEY" log init b.db --key b.key >/dev/null
n=0
# note KIND FIELDS [TREATY SHA]: one notification envelope, a line of A's log
note() {
	printf '{"v":1,"type":"notification","from":"%s","to":"%s","time":"2020-09-01T00:00:00Z","precedence":"ROUTINE","id":"n%d","treaty":{"name":"%s","sha256":"%s"},"kind":"%s","fields":%s}\n' \
		$A $B $n "${3:-new-start}" "${4:-$SHA}" "$1" "$2"
	n=$((n + 1))
}
# receipt BELOW TIME: one receipt in B's log
receipt() {
	printf '{"v":1,"type":"receipt","from":"%s","to":"%s","time":"%s","precedence":"ROUTINE","id":"r%s","of":"%s/to/%s","below":%d,"also":[]}\n' \
		$B $A "$2" "$1" $A $B "$1"
}
ITEMS='[{"id":"M1","category":"icbm","status":"deployed","type":"T","base":"X","warheads":1},{"id":"M2","category":"icbm","status":"deployed","type":"T","base":"X","warheads":3},{"id":"L1","category":"icbm_launcher","status":"deployed","type":"T","base":"X"}]'
{
	# 0, 1: a baseline exchange in two parts
	note data-exchange '{"exchange":"E1","as_of":"2020-09-01","part":1,"parts":2,"item_count":3,"items":'"$(echo "$ITEMS" | sed 's/,{"id":"L1".*/]/')"'}'
	note data-exchange '{"exchange":"E1","as_of":"2020-09-01","part":2,"parts":2,"item_count":3,"items":[{"id":"L1","category":"icbm_launcher","status":"deployed","type":"T","base":"X"}]}'
	# 2: on time (event 09-05, received 09-10 = day 5)
	note status-change '{"item_id":"M1","new_status":"non_deployed","event_date":"2020-09-05"}'
	# 3: late (event 09-01, received 09-10)
	note movement '{"item_id":"M2","new_base":"Y","event_date":"2020-09-01"}'
	# 4: illegal: M1 is already non_deployed
	note status-change '{"item_id":"M1","new_status":"non_deployed","event_date":"2020-09-09"}'
	# 5: invalid fields
	note rv-change '{"item_id":"M2","warheads":99,"event_date":"2020-09-09"}'
	# 6: a definition not held; 7: another version of one held
	note whatever '{}' some-treaty 0000000000000000000000000000000000000000000000000000000000000000
	note status-change '{"item_id":"M2","new_status":"non_deployed","event_date":"2020-09-09"}' new-start 1111111111111111111111111111111111111111111111111111111111111111
	# 8: a launch notice 30 h ahead of its receipt; 9: one 10 h ahead
	note launch-notice '{"notice_id":"L-1","missile_type":"icbm","launch_time":"2020-09-11T06:00:00Z","launch_area":{"centre":{"lat":60,"lon":40},"radius_km":10},"impact_area":{"centre":{"lat":65,"lon":170},"radius_km":50}}' bmlna-1988 $BSHA
	note launch-notice '{"notice_id":"L-2","missile_type":"slbm","launch_time":"2020-09-10T10:00:00Z","launch_area":{"centre":{"lat":60,"lon":40},"radius_km":10},"impact_area":{"centre":{"lat":65,"lon":170},"radius_km":50}}' bmlna-1988 $BSHA
	# 10: a second exchange that disagrees with the replay: M2's base (Y
	# replayed, X declared), L1 missing, X9 extra; and its totals are wrong
	note data-exchange '{"exchange":"E2","as_of":"2020-09-10","part":1,"parts":1,"item_count":3,"items":[{"id":"M1","category":"icbm","status":"non_deployed","type":"T","base":"X","warheads":1},{"id":"M2","category":"icbm","status":"deployed","type":"T","base":"X","warheads":3},{"id":"X9","category":"slbm","status":"deployed","type":"S","base":"Z","warheads":4}],"totals":{"deployed":1,"deployed_warheads":7,"launchers":0}}'
	# 11: part 1 of 2 of an exchange that never completes
	note data-exchange '{"exchange":"E3","as_of":"2020-09-20","part":1,"parts":2,"item_count":1,"items":[]}'
	# 12: part 3 of 2
	note data-exchange '{"exchange":"E3","as_of":"2020-09-20","part":3,"parts":2,"item_count":1,"items":[]}'
} >a.lines
{
	receipt 2 2020-09-02T00:00:00Z
	receipt 10 2020-09-10T00:00:00Z
	receipt 13 2020-09-21T00:00:00Z
} >b.lines
check "A's log written" sh -c "'$PARLEY' log append a.db --lines <a.lines >/dev/null"
check "B's log written" sh -c "'$PARLEY' log append b.db --lines <b.lines >/dev/null"
mkdir -p exp/$A/to exp/$B/to
"$PARLEY" log export a.db exp/$A/to/$B >/dev/null
"$PARLEY" log export b.db exp/$B/to/$A >/dev/null
cp a.vkey exp/$A/to/$B/vkey
cp b.vkey exp/$B/to/$A/vkey

section=replay
ok "replay of an export" treaty replay exp --party $A --json
cp out rep.json
ok "replay, text" treaty replay exp --party $A
cp out rep.txt
has '13 notifications' rep.txt
has '\[baseline\] entry 1: exchange "E1": 3 items' rep.txt
hasnt '\[baseline\] entry 0' rep.txt
hasnt '\[late\] entry 2' rep.txt
has '\[late\] entry 3: movement received 2020-09-10T00:00:00Z, due by 2020-09-06T23:59:59Z' rep.txt
has '\[illegal-transition\] entry 4: status-change: item "M1" is already non_deployed (not applied)' rep.txt
has '\[invalid\] entry 5: rv-change: fields.warheads: 99 is above the maximum 14 (not applied)' rep.txt
has '\[unknown-treaty\] entry 6' rep.txt
has '\[treaty-version\] entry 7' rep.txt
has '\[confirmed\] entry 8: launch-notice received 2020-09-10T00:00:00Z, 30.0 hours before' rep.txt
has '\[late\] entry 9: launch-notice received 2020-09-10T00:00:00Z, 10.0 hours before' rep.txt
has 'item "M2" field base: declared "X", replayed "Y"' rep.txt
has 'item "L1" is in the replayed inventory but not declared' rep.txt
has 'item "X9" is declared but not in the replayed inventory' rep.txt
has '\[totals-mismatch\] entry 10: exchange "E2": declared deployed 1, the declared items count 2' rep.txt
has '\[extra-part\] entry 12: data-exchange: exchange "E3": part 3 of 2' rep.txt
has '\[missing-part\] entry 11: exchange "E3": 1 of 2 parts received; missing 2' rep.txt
has 'open: L-1 (entry 8) L-2 (entry 9)' rep.txt
# after E2 the declaration is the inventory: M1 non-deployed, M2 + X9 deployed
check "totals follow the last declaration" sh -c "tr -d ' \n' <rep.json | grep -q '\"name\":\"deployed\",\"max\":700,\"total\":2'"
check "the invalid rv-change was not applied (X9's 4 + M2's 3)" sh -c "tr -d ' \n' <rep.json | grep -q '\"name\":\"deployed_warheads\",\"max\":1550,\"total\":7'"

# the node directory form and the export form agree (no node here: an
# export is all an auditor needs); a replay is deterministic
ok "replay again" treaty replay exp --party $A
check "a replay is deterministic" cmp -s out rep.txt
bad "a party with no log" treaty replay exp --party c.example
has 'no log of c.example' err
bad "not a node directory or an export" treaty replay nowhere --party $A

# a log whose entries were changed after export is refused
cp -r exp exp2
printf 'X' | dd of=exp2/$A/to/$B/tile/entries/000.p/13 bs=1 seek=40 conv=notrunc 2>/dev/null
bad "entries that do not make the checkpoint" treaty replay exp2 --party $A
has 'do not make the checkpoint' err
cp b.vkey exp2/$A/to/$B/vkey
bad "a checkpoint not signed by the folder's key" treaty replay exp2 --party $A

# ---------------------------------------------------------------- selection
# A joint random selection recomputed from the logs alone: a request in
# A's log, a seed-commit each, reveals received (by the other side's
# receipts) before or after the deadline, a reveal that does not match.
section=selection
leaf() { { printf '\000'; printf '%s' "$1"; } | openssl dgst -sha256 -binary | base64; }
sha_hex() { printf "$(echo "$1" | sed 's/../\\x&/g')" | openssl dgst -sha256 -hex | sed 's/.*= //'; }
SA=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
SB=202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f
BAD=ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
env() { # FROM TO ID TYPE BODY
	printf '{"v":1,"type":"%s","from":"%s","to":"%s","time":"2020-10-01T00:00:00Z","precedence":"PRIORITY","id":"%s",%s}' "$4" "$1" "$2" "$3" "$5"
}
# scenario NAME REVEAL_BY B_SEED B_RECEIPT_TIME: builds exp-NAME
scenario() {
	rm -f sa.db sb.db
	"$PARLEY" log init sa.db --key a.key >/dev/null
	"$PARLEY" log init sb.db --key b.key >/dev/null
	req=$(env $A $B q1 notification '"treaty":{"name":"new-start","sha256":"'$SHA'"},"kind":"inspection-request","fields":{"round":"R1","exchange":"E1","n":50,"k":5,"reveal_by":"'$2'"}')
	ref0='{"origin":"'$A/to/$B'","index":0,"leaf":"'$(leaf "$req")'"}'
	ca=$(env $A $B c1 seed-commit '"commit":"'$(sha_hex $SA)'","refs":['"$ref0"']')
	cb=$(env $B $A c2 seed-commit '"commit":"'$(sha_hex $SB)'","refs":['"$ref0"']')
	ra=$(env $A $B s1 seed-reveal '"seed":"'$SA'","refs":[{"origin":"'$A/to/$B'","index":1,"leaf":"'$(leaf "$ca")'"}]')
	rb=$(env $B $A s2 seed-reveal '"seed":"'$3'","refs":[{"origin":"'$B/to/$A'","index":0,"leaf":"'$(leaf "$cb")'"}]')
	# B receipts A's entries 0..2 at 10:00; A receipts B's at $4
	rcb=$(env $B $A r1 receipt '"of":"'$A/to/$B'","below":3,"also":[]' | sed 's/2020-10-01T00:00:00Z/2020-10-01T10:00:00Z/')
	rca=$(env $A $B r2 receipt '"of":"'$B/to/$A'","below":2,"also":[]' | sed "s/2020-10-01T00:00:00Z/$4/")
	printf '%s\n%s\n%s\n%s\n' "$req" "$ca" "$ra" "$rca" | "$PARLEY" log append sa.db --lines >/dev/null
	printf '%s\n%s\n%s\n' "$cb" "$rb" "$rcb" | "$PARLEY" log append sb.db --lines >/dev/null
	rm -rf exp-$1
	mkdir -p exp-$1/$A/to exp-$1/$B/to
	"$PARLEY" log export sa.db exp-$1/$A/to/$B >/dev/null
	"$PARLEY" log export sb.db exp-$1/$B/to/$A >/dev/null
	cp a.vkey exp-$1/$A/to/$B/vkey
	cp b.vkey exp-$1/$B/to/$A/vkey
}
scenario good 2020-10-01T12:00:00Z $SB 2020-10-01T11:00:00Z
ok "select from the logs" inspect select exp-good --request $A/to/$B/0
has 'outcome: selected'
sed -n 's/^selected item indices: //p' out | tr ' ' '\n' >sel.txt
ok "the pure draw" inspect draw --round R1 --n 50 --k 5 $A=$SA $B=$SB
check "anyone recomputes the same selection" cmp -s out sel.txt
check "5 indices" [ "$(wc -l <sel.txt)" = 5 ]

scenario mismatch 2020-10-01T12:00:00Z $BAD 2020-10-01T11:00:00Z
ok "a reveal that does not match its commitment" inspect select exp-mismatch --request $A/to/$B/0
has "$B: rejected"
has 'does not match its commitment'
has 'outcome: refused'
hasnt 'selected item indices'

scenario late 2020-10-01T12:00:00Z $SB 2020-10-01T13:00:00Z
ok "a reveal received after the deadline" inspect select exp-late --request $A/to/$B/0
has "$B: late"
has "$A: revealed"
has 'outcome: refused'
hasnt 'selected item indices'

bad "a request that is not one" inspect select exp-good --request $A/to/$B/1
has 'not a notification\|not an inspection request' err
bad "an index beyond the log" inspect select exp-good --request $A/to/$B/99

echo "treaty.sh: $checks checks passed"
