#!/bin/bash
# The node's HTTP server: the operator API's token and its refusals of bad
# requests, and each log in C2SP form under /logs/<origin>/ (checkpoint and
# hash tiles public, entry bundles only with the auditor token), byte for
# byte what `parley export` writes.  bash for its /dev/tcp.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/nodes.sh
BASE=$((25000 + ($$ % 380) * 20)) # below the ephemeral ports (32768)
nodes_setup $BASE
API=$((BASE + 3))
node_start a
node_start b

# http METHOD PATH TOKEN BODYFILE OUT: prints the status code; body in OUT.
http() {
	exec 5<>/dev/tcp/127.0.0.1/$API || return 1
	len=0
	[ -n "$4" ] && len=$(wc -c <"$4")
	{
		printf '%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %s\r\n' "$1" "$2" "$len"
		[ -n "$3" ] && printf 'Authorization: Bearer %s\r\n' "$3"
		printf '\r\n'
		[ -n "$4" ] && cat "$4"
	} >&5
	cat <&5 >"$T/resp"
	exec 5<&-
	head -n 1 "$T/resp" | cut -d' ' -f2
	# the body, bytes exact: everything after the blank line ending the header
	hl=$(grep -b -m1 -a $'^\r$' "$T/resp" | cut -d: -f1)
	tail -c +$((hl + 3)) "$T/resp" >"$5"
}
TOKEN=$(cat "$T/a/api.token")
AUD=$(cat "$T/a/auditor.token")

i=0
while [ $i -lt 300 ]; do echo "api message $i"; i=$((i + 1)); done >"$T/lines"
"$PARLEY" send "$T/a" --to $B_NAME --lines "$T/lines" >/dev/null || fail "send"
# Settled: both sides' messages receipted and a's log cosigned at its size,
# twice half a second apart (receipts for b's test message grow a's log).
settled1() {
	"$PARLEY" status "$T/b" | grep -q 'awaiting receipt: 0$' || return 1
	"$PARLEY" status "$T/a" >"$T/st" || return 1
	grep -q 'awaiting receipt: 0$' "$T/st" || return 1
	grep "^log $A_OUT:" "$T/st" | awk '{ exit !($3 == $NF) }'
}
settled() {
	settled1 || return 1
	cp "$T/st" "$T/st0"
	sleep 0.5
	settled1 && cmp -s "$T/st0" "$T/st" 2>/dev/null ||
		[ "$(grep "^log $A_OUT:" "$T/st0")" = "$(grep "^log $A_OUT:" "$T/st")" ]
}
wait_for settled || fail "never settled"

# --- the operator API needs its token ---------------------------------------
[ "$(http GET /api/status "" "" "$T/o")" = 401 ] || fail "status without a token"
[ "$(http GET /api/status wrong "" "$T/o")" = 401 ] || fail "status with a wrong token"
[ "$(http GET /api/status "$AUD" "" "$T/o")" = 401 ] || fail "the auditor token opened the operator API"
grep -q "token" "$T/o" || fail "401 without a reason"
[ "$(http GET /api/status "$TOKEN" "" "$T/o")" = 200 ] || fail "status with the token"
ok "operator API: 401 without, with a wrong, or with the auditor token; 200 with the API token"

# --- bad requests: refused, named, nothing stored ------------------------------
before=$("$PARLEY" outbox "$T/a" | awk '$4 == "message"' | wc -l)
bad() { # expected-status description body
	printf '%s' "$3" >"$T/body"
	st=$(http POST /api/send "$TOKEN" "$T/body" "$T/o")
	[ "$st" = "$1" ] || fail "$2: HTTP $st, expected $1: $(cat "$T/o")"
	grep -q '"error"' "$T/o" || fail "$2: no error message"
	ok "$2 -> $1: $(sed 's/.*"error": *"\([^"]*\)".*/\1/' "$T/o")"
}
bad 400 "body not JSON" '{"to": '
bad 400 "duplicate keys" '{"to":"x","to":"y","messages":[]}'
bad 404 "unknown peer" '{"to":"nobody.example","messages":[{"text":"x"}]}'
bad 400 "bad precedence" "{\"to\":\"$B_NAME\",\"messages\":[{\"text\":\"x\",\"precedence\":\"URGENT\"}]}"
bad 400 "no text" "{\"to\":\"$B_NAME\",\"messages\":[{\"subject\":\"x\"}]}"
head -c 70000 /dev/zero | tr '\0' 'x' >"$T/big"
printf '{"to":"%s","messages":[{"text":"ok"},{"text":"%s"}]}' "$B_NAME" "$(cat "$T/big")" >"$T/body"
st=$(http POST /api/send "$TOKEN" "$T/body" "$T/o")
[ "$st" = 400 ] || fail "oversized entry: HTTP $st"
grep -q "message 1" "$T/o" || fail "the oversized message is not named: $(cat "$T/o")"
ok "an entry over 65,535 bytes is refused, naming message 1"
# a bulk request is built in chunks across turns of the loop; one bad
# message in a later chunk still refuses the whole request
{
	printf '{"to":"%s","messages":[' "$B_NAME"
	i=0
	while [ $i -lt 700 ]; do
		[ $i -gt 0 ] && printf ','
		if [ $i -eq 612 ]; then printf '{"text":"bad","precedence":"SOON"}'; else printf '{"text":"bulk %d"}' $i; fi
		i=$((i + 1))
	done
	printf ']}'
} >"$T/body"
st=$(http POST /api/send "$TOKEN" "$T/body" "$T/o")
[ "$st" = 400 ] || fail "a bad message in a later chunk: HTTP $st"
grep -q "message 612" "$T/o" || fail "the bad message of a later chunk is not named: $(cat "$T/o")"
ok "a bad message among 700 (a later chunk) refuses the request, naming message 612"
[ "$("$PARLEY" outbox "$T/a" | awk '$4 == "message"' | wc -l)" = "$before" ] || fail "a refused request stored something"
ok "nothing of a refused request is stored (not even its valid messages)"
# escaped quotes and backslashes, and brackets inside strings, do not end a
# message early or late when a bulk request is cut into messages
printf '%s' "{\"to\":\"$B_NAME\",\"messages\":[{\"subject\":\"q \\\"[x]\\\" {y}\",\"text\":\"1\"},{\"subject\":\"ends \\\\\",\"text\":\"2]\"},{\"subject\":\"\\\\\\\"}\",\"text\":\"3\"}]}" >"$T/body"
st=$(http POST /api/send "$TOKEN" "$T/body" "$T/o")
[ "$st" = 200 ] || fail "escapes in a bulk request: HTTP $st: $(cat "$T/o") for $(cat "$T/body")"
"$PARLEY" outbox "$T/a" --json >"$T/esc.json"
for want in '"subject": "q \"[x]\" {y}"' '"subject": "ends \\"' '"subject": "\\\"}"'; do
	grep -qF "$want" "$T/esc.json" || fail "escaped subject $want not stored as sent"
done
ok "quotes, backslashes and brackets inside strings of a bulk request: 3 messages, each as sent"
[ "$(http GET /nothing "" "" "$T/o")" = 404 ] || fail "unknown path"

# --- paging: a box listed in pages, the pages adding up to the whole -----------
[ "$(http GET /api/outbox "$TOKEN" "" "$T/all")" = 200 ] || fail "outbox"
whole=$(grep -o '"index":' "$T/all" | wc -l)
[ "$(http GET "/api/outbox?limit=100" "$TOKEN" "" "$T/p1")" = 200 ] || fail "outbox page 1"
[ "$(grep -o '"index":' "$T/p1" | wc -l)" = 100 ] || fail "page 1 is not 100 rows"
grep -q '"next":{"peer":"'"$B_NAME"'","after":' "$T/p1" || fail "page 1 has no next: $(tail -c 200 "$T/p1")"
total=0
path="/api/outbox?limit=100"
while :; do
	[ "$(http GET "$path" "$TOKEN" "" "$T/pg")" = 200 ] || fail "outbox page"
	total=$((total + $(grep -o '"index":' "$T/pg" | wc -l)))
	grep -q '"next":null' "$T/pg" && break
	after=$(sed 's/.*"after":\([0-9]*\).*/\1/' "$T/pg")
	path="/api/outbox?limit=100&peer=$B_NAME&after=$after"
done
[ "$total" = "$whole" ] || fail "pages add up to $total rows, the whole box has $whole"
[ "$("$PARLEY" outbox "$T/a" | tail -n +2 | wc -l)" = "$whole" ] || fail "parley outbox (paged) lists another count"
ok "outbox in pages of 100: $total rows, the same as the whole box and as parley outbox"

# --- /logs/<origin>/: C2SP, as exported ------------------------------------------
# The log may still grow by a receipt; compare a served checkpoint with an
# export of the same moment (retried until the two agree on the size).
E="$T/exp/$A_OUT"
for try in 1 2 3 4 5 6 7 8 9 10; do
	rm -rf "$T/exp"
	"$PARLEY" export "$T/a" "$T/exp" >/dev/null || fail "export"
	[ "$(http GET "/logs/$A_OUT/checkpoint" "" "" "$T/cp")" = 200 ] || fail "checkpoint is public"
	cmp -s "$T/cp" "$E/checkpoint" && break
	sleep 0.5
done
cmp -s "$T/cp" "$E/checkpoint" || fail "served checkpoint differs from the export: $(cat "$T/cp") /// $(cat "$E/checkpoint")"
grep -q "^— $B_NAME " "$T/cp" || fail "served checkpoint lacks the peer's cosignature"
ok "checkpoint public, with the peer's cosignature, as exported"
n=0
for f in $(cd "$E" && find tile -type f | grep -v '^tile/entries/'); do
	[ "$(http GET "/logs/$A_OUT/$f" "" "" "$T/t")" = 200 ] || fail "hash tile $f is public"
	cmp -s "$T/t" "$E/$f" || fail "served $f differs from the export"
	n=$((n + 1))
done
[ $n -ge 2 ] || fail "only $n hash tiles"
ok "$n hash tiles public, byte for byte as exported"
f=$(cd "$E" && find tile/entries -type f | head -n 1)
[ "$(http GET "/logs/$A_OUT/$f" "" "" "$T/t")" = 401 ] || fail "entry bundle without a token"
[ "$(http GET "/logs/$A_OUT/$f" wrong "" "$T/t")" = 401 ] || fail "entry bundle with a wrong token"
[ "$(http GET "/logs/$A_OUT/$f" "$AUD" "" "$T/t")" = 200 ] || fail "entry bundle with the auditor token"
cmp -s "$T/t" "$E/$f" || fail "served $f differs from the export"
ok "entry bundles: 401 without the auditor token, exact bytes with it"
[ "$(http GET "/logs/$A_OUT/tile/0/999" "" "" "$T/t")" = 404 ] || fail "a tile beyond the log"
[ "$(http GET "/logs/$A_OUT/tile/0/x/000" "" "" "$T/t")" = 404 ] || fail "a malformed tile path"
[ "$(http GET "/logs/nobody/checkpoint" "" "" "$T/t")" = 404 ] || fail "an unknown log"
ok "unknown logs, malformed and missing tiles: 404"
node_kill a
node_kill b
echo "all API checks passed"
