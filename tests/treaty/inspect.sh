#!/bin/bash
# tests/treaty/inspect.sh — `parley inspect odds|commit|disclose|verify|draw`
# as a user runs them (docs/treaties.md, "Inspections").
#
# Run from the repository root with $PARLEY the binary under test (default
# build/rel/parley); tests/run-all runs it for the normal and the sanitizer
# build.  Everything happens in a temporary directory removed on exit.
#
# Each check is a sentence about the CLI's behaviour; the first one that
# does not hold stops the script with "FAIL [section]: what was expected".
# Errors must follow the CLI convention (src/cli/cli.h): exit status 1,
# exactly one line "parley: ..." on stderr, nothing on stdout; usage errors
# exit 2.  Successful commands write nothing on stderr (so a sanitizer
# report fails the test too).
#
# The commitment's root is recomputed independently with openssl(1) from
# the salts of the private file and canonical records written out here.
set -eu
LC_ALL=C
export LC_ALL

PARLEY=${PARLEY:-build/rel/parley}
case $PARLEY in /*) ;; *) PARLEY="$(pwd)/$PARLEY" ;; esac
if [ ! -x "$PARLEY" ]; then
	echo "inspect.sh: $PARLEY is not an executable; build it first" >&2
	exit 1
fi
command -v openssl >/dev/null 2>&1 || { echo "inspect.sh: openssl(1) is missing (scripts/install-deps installs it)" >&2; exit 1; }

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT TERM
cd "$T"

started=$(date +%s)
checks=0
section=setup

# Seeds of the known-answer draw (tests/treaty/test_select.c).
SEED_A=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
SEED_B=202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f
EMPTY_B64=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU= # SHA-256(""), a wrong hash

# ---------------------------------------------------------------- helpers

fail() {
	echo "FAIL [$section]: $*" >&2
	echo "inspect.sh: stopped after $checks passing checks (PARLEY=$PARLEY)" >&2
	exit 1
}
pass() { checks=$((checks + 1)); }
check() {
	_what=$1
	shift
	"$@" || fail "$_what"
	pass
}
differ() { ! cmp -s "$1" "$2"; }
nlines() { awk 'END { print NR }' "$1"; }
show_err() { head -c 800 err | tr '\n' '|'; }

run() {
	rc=0
	"$@" </dev/null >out 2>err || rc=$?
}
# ok DESC ARGS...: parley ARGS succeeds, silently on stderr; output in ./out.
ok() {
	_what=$1
	shift
	run "$PARLEY" "$@"
	[ "$rc" -eq 0 ] || fail "$_what: exit status $rc (stderr: $(show_err))"
	[ ! -s err ] || fail "$_what: succeeded but wrote on stderr: $(show_err)"
	pass
}
# err DESC ARGS...: parley ARGS fails by the convention; message in ./err.
err() {
	_what=$1
	shift
	run "$PARLEY" "$@"
	[ "$rc" -ne 0 ] || fail "$_what: succeeded, expected an error"
	[ "$rc" -eq 1 ] || fail "$_what: exit status $rc, expected 1 (stderr: $(show_err))"
	[ "$(nlines err)" -eq 1 ] || fail "$_what: expected one line on stderr: $(show_err)"
	grep -q '^parley: ..' err || fail "$_what: stderr does not start with \"parley: \": $(show_err)"
	[ ! -s out ] || fail "$_what: the error also wrote on stdout: $(head -c 200 out)"
	pass
}
# err_says PATTERN DESC: the last error message matches PATTERN (grep -E).
err_says() {
	grep -Eq -- "$1" err || fail "$2: message \"$(cat err)\" does not match /$1/"
	pass
}
# usage DESC ARGS...: status 2, a message on stderr, nothing on stdout.
usage() {
	_what=$1
	shift
	run "$PARLEY" "$@"
	[ "$rc" -eq 2 ] || fail "$_what: exit status $rc, expected 2 (usage) (stderr: $(show_err))"
	grep -Eq '^(usage|parley): ' err || fail "$_what: no usage message on stderr: $(show_err)"
	[ ! -s out ] || fail "$_what: the usage error wrote on stdout"
	pass
}
# out_is TEXT DESC: ./out is exactly TEXT plus a newline.
out_is() {
	printf '%s\n' "$1" >expected
	cmp -s out expected || fail "$2: output \"$(head -c 300 out)\" is not \"$1\""
	pass
}
# out_matches PATTERN DESC: ./out is one line matching PATTERN (grep -E).
out_matches() {
	[ "$(nlines out)" -eq 1 ] && grep -Eq -- "$1" out ||
		fail "$2: output \"$(head -c 300 out)\" does not match /$1/"
	pass
}

# Independent RFC 6962 hashing: 32-byte hashes as lowercase hex.
hexbin() { printf "$(printf '%s' "$1" | sed 's/../\\x&/g')"; }
sha256hex() { openssl dgst -sha256 -binary | od -An -v -tx1 | tr -d ' \n'; }
leafhex() { { printf '\000'; hexbin "$1"; printf '%s' "$2"; } | sha256hex; } # SALT RECORD
nodehex() { { printf '\001'; hexbin "$1"; hexbin "$2"; } | sha256hex; }       # LEFT RIGHT

# ------------------------------------------------------------------ odds
section=odds

ok "odds of one draw out of ten with one fraud" inspect odds 10 1 1
out_is "P(detect) = 0.1 (N=10 D=1 K=1)" "one draw finds one fraud in ten with P = 1/10"
ok "odds for a million items" inspect odds 1000000 100 1000
out_matches '^P\(detect\) = 0\.09521233637[0-9]* \(N=1000000 D=100 K=1000\)$' \
	"1000 of a million find one of 100 frauds with P = 0.0952123363..."
ok "odds when detection is certain" inspect odds 1000 500 501
out_is "P(detect) = 1 (N=1000 D=500 K=501)" "drawing more than the honest items is certain"
ok "odds close to but below 1" inspect odds 1000 500 100
out_matches '^P\(detect\) = 0\.9999999999999' "a P below 1 is never printed as 1"
ok "odds with nothing falsified" inspect odds 1000 0 10
out_is "P(detect) = 0 (N=1000 D=0 K=10)" "nothing to find gives 0"
ok "odds --json" inspect odds 1000000 100 1000 --json
out_matches '^\{"n":1000000,"d":100,"k":1000,"p":0\.0952123363[0-9]*\}$' "--json prints n, d, k and p"
ok "odds --confidence" inspect odds 1000000 100 --confidence 0.95
out_matches '^K = 29512 inspections give P\(detect\) = 0\.95[0-9]* >= 0\.95$' \
	"29,512 inspections of a million find one of 100 frauds with P >= 0.95"
ok "odds --confidence with one inspection" inspect odds 10 5 --confidence 0.5
out_is "K = 1 inspection gives P(detect) = 0.5 >= 0.5" "one inspection, in the singular"
ok "odds --confidence 1" inspect odds 10 2 --confidence 1
out_is "K = 9 inspections give P(detect) = 1 >= 1" "certainty needs every honest item plus one"
ok "odds --confidence --json" inspect odds 1000000 100 --json --confidence 0.95
out_matches '^\{"n":1000000,"d":100,"k":29512,"p":0\.95[0-9]*\}$' "--json with --confidence"

err "odds with K > N" inspect odds 10 1 11
err_says 'K .* is 11 but N is only 10' "K > N is named"
err "odds with D > N" inspect odds 10 11 1
err_says 'D .* is 11 but N is only 10' "D > N is named"
err "odds with a negative count" inspect odds 10 -1 1
err_says 'D must be a non-negative integer, not "-1"' "a negative D is named"
err "odds with N = 1e6" inspect odds 1e6 1 1
err_says 'N must be a non-negative integer' "an exponent is not a count"
err "odds with confidence 0" inspect odds 10 1 --confidence 0
err_says 'confidence' "confidence 0 is refused"
err "odds with confidence 1.5" inspect odds 10 1 --confidence 1.5
err_says 'confidence' "confidence above 1 is refused"
err "odds --confidence with nothing falsified" inspect odds 10 0 --confidence 0.5
usage "odds with two counts and no --confidence" inspect odds 10 1
usage "odds with four counts" inspect odds 10 1 1 1
usage "odds with an unknown option" inspect odds 10 1 1 --fast
usage "odds with both K and --confidence" inspect odds 10 1 1 --confidence 0.5
usage "inspect with no subcommand" inspect

# ---------------------------------------------------------------- commit
section=commit

cat >inventory.json <<'EOF'
{"treaty": "new-start", "party": "a.example", "date": "2026-03-01",
 "items": [
  {"id": "icbm-003", "category": "icbm", "status": "deployed", "warheads": 1},
  {"id": "icbm-001", "category": "icbm", "status": "deployed", "warheads": 4, "base": "Uzhur"},
  {"id": "icbm-002", "category": "icbm", "status": "non_deployed"},
  {"id": "slbm/17", "category": "slbm", "status": "deployed", "warheads": 4}
 ]}
EOF
# The canonical records in id order: compact, members sorted, '/' as is.
REC0='{"base":"Uzhur","category":"icbm","id":"icbm-001","status":"deployed","warheads":4}'
REC1='{"category":"icbm","id":"icbm-002","status":"non_deployed"}'
REC2='{"category":"icbm","id":"icbm-003","status":"deployed","warheads":1}'
REC3='{"category":"slbm","id":"slbm/17","status":"deployed","warheads":4}'

ok "commit an inventory" inspect commit inventory.json private.json
out_matches '^\{"root":"[0-9a-f]{64}","count":4\}$' "commit prints {\"root\", \"count\"}"
cp out commitment.json
ROOT=$(sed 's/.*"root":"\([0-9a-f]*\)".*/\1/' commitment.json)
check "the private file is 0600" [ "$(stat -c %a private.json)" = 600 ]
grep -o '"salt":"[0-9a-f]*"' private.json | sed 's/.*"\([0-9a-f]*\)"/\1/' >salts
check "the private file holds one salt per item" [ "$(nlines salts)" -eq 4 ]
check "the private file has one record a line" [ "$(grep -c '^  {"index":[0-3],"salt":"[0-9a-f]\{64\}","item":{' private.json)" -eq 4 ]
L0=$(leafhex "$(sed -n 1p salts)" "$REC0")
L1=$(leafhex "$(sed -n 2p salts)" "$REC1")
L2=$(leafhex "$(sed -n 3p salts)" "$REC2")
L3=$(leafhex "$(sed -n 4p salts)" "$REC3")
check "the root is MTH of SHA-256(0x00 || salt || record) in id order (openssl)" \
	[ "$(nodehex "$(nodehex "$L0" "$L1")" "$(nodehex "$L2" "$L3")")" = "$ROOT" ]

err "commit over an existing private file" inspect commit inventory.json private.json
err_says 'already exists; refusing to overwrite' "the private file is never overwritten"

# A bare array of items is accepted too; fresh salts give another root.
sed -n '/"items"/,$p' inventory.json | sed '1s/.*\[/[/; $s/\]}/]/' >items.json
ok "commit a bare array of items" inspect commit items.json private2.json
out_matches '"count":4' "the bare array commits to the same four items"
check "fresh salts give another root" [ "$(cat out)" != "$(cat commitment.json)" ]

printf '[{"id": "a"}, {"id": "b"}, {"id": "a"}]' >dup.json
err "commit with a duplicate id" inspect commit dup.json p-dup.json
err_says 'id "a" appears more than once' "a duplicate id is named"
check "a refused commitment writes no private file" [ ! -e p-dup.json ]
printf '[{"id": "a"}, {"name": "b"}]' >noid.json
err "commit with an item without id" inspect commit noid.json p-noid.json
err_says 'items\[1\]: no "id" member' "the item without id is named"
printf '[{"id": "a", "yield": 0.5}]' >real.json
err "commit with a real" inspect commit real.json p-real.json
err_says '"yield" is a JSON real' "a real is refused by name"
printf '{"items": [{"id": "a"}], "items": []}' >dupkey.json
err "commit with a duplicate member" inspect commit dupkey.json p-dupkey.json
err_says 'not valid JSON' "duplicate members are refused"
printf '{"party": "a"}' >noitems.json
err "commit of an object without items" inspect commit noitems.json p-noitems.json
err_says 'items' "the missing items array is named"
err "commit of a missing file" inspect commit missing.json p-missing.json
usage "commit with one file" inspect commit inventory.json

# -------------------------------------------------------- disclose/verify
section=disclose

for id in icbm-001 icbm-002 icbm-003 slbm/17; do
	ok "disclose $id" inspect disclose private.json "$id"
	cp out "d-${id%%/*}.json"
	ok "verify the disclosure of $id" inspect verify commitment.json "d-${id%%/*}.json"
done
ok "disclose icbm-002" inspect disclose private.json icbm-002
cp out d.json
grep -q "\"$(sed -n 2p salts)\"" d.json || fail "the disclosure carries the item's salt"
pass
[ "$(grep -c '^    "[A-Za-z0-9+/]*=*",\?$' d.json)" -eq 2 ] || fail "a proof in a tree of 4 has 2 hashes"
pass
ok "verify a disclosure" inspect verify commitment.json d.json
out_is 'verified: item "icbm-002" at index 1 of 4' "verify names the item, its index and the count"
ok "verify against the private file's commitment member" inspect verify private.json d.json
out_is 'verified: item "icbm-002" at index 1 of 4' "a file with a \"commitment\" member is a commitment"

# Tampering: each change to the disclosure fails with a reason.
section=tamper
sed 's/"non_deployed"/"deployed"/' d.json >t-field.json
err "verify a disclosure with a changed record field" inspect verify commitment.json t-field.json
err_says 'item does not match the commitment \(inclusion proof fails\)' "a changed record fails the proof"
sed 's/"category": "icbm",/"category": "icbm", "base": "x",/' d.json >t-added.json
err "verify a disclosure with an added record field" inspect verify commitment.json t-added.json
err_says 'inclusion proof fails' "an added field fails the proof"
sed 's/"salt": "0/"salt": "1/;t;s/"salt": "./"salt": "0/' d.json >t-salt.json
check "the salt was changed" differ d.json t-salt.json
err "verify a disclosure with a changed salt" inspect verify commitment.json t-salt.json
err_says 'inclusion proof fails' "a changed salt fails the proof"
sed 's/"salt": "\(.*\)"/"salt": "\U\1"/' d.json >t-salt-upper.json
err "verify a disclosure with an upper-case salt" inspect verify commitment.json t-salt-upper.json
err_says 'disclosure: salt must be 64 lowercase hex characters' "a malformed salt is named"
sed "/\"proof\"/{n;s|\"[A-Za-z0-9+/=]*\"|\"$EMPTY_B64\"|}" d.json >t-proof.json
check "the proof was changed" differ d.json t-proof.json
err "verify a disclosure with a changed proof hash" inspect verify commitment.json t-proof.json
err_says 'inclusion proof fails' "a changed proof fails"
sed '/"proof"/{n;s|"[A-Za-z0-9+/=]*"|"not base64"|}' d.json >t-proof-b64.json
err "verify a disclosure with a proof that is not base64" inspect verify commitment.json t-proof-b64.json
err_says 'disclosure: proof\[0\] is not a base64 SHA-256 hash' "a malformed proof hash is named"
sed 's/"index": 1/"index": 2/' d.json >t-index.json
err "verify a disclosure with another index" inspect verify commitment.json t-index.json
err_says 'inclusion proof fails' "a changed index fails the proof"
sed 's/"index": 1/"index": 4/' d.json >t-index4.json
err "verify a disclosure with an index beyond the count" inspect verify commitment.json t-index4.json
err_says 'disclosure: index 4 is not below count 4' "an index beyond the count is named"
sed 's/"count": 4/"count": 5/' d.json >t-count.json
err "verify a disclosure that claims another count" inspect verify commitment.json t-count.json
err_says 'disclosure: it is for another commitment' "a disclosure of another commitment is named"
err "verify against another commitment" inspect verify private2.json d.json
err_says 'disclosure: it is for another commitment' "the checker's commitment decides"
sed 's/"count": 4/"count": 4, "note": "x"/' d.json >t-member.json
err "verify a disclosure with an unknown member" inspect verify commitment.json t-member.json
err_says 'unexpected member "note"' "unknown members are refused by name"
printf '{"root": "%s"}' "$ROOT" >c-nocount.json
err "verify against a commitment without count" inspect verify c-nocount.json d.json
err_says 'c-nocount.json: no "count" member' "a malformed commitment file is named"
printf 'not json' >garbage.json
err "verify a disclosure that is not JSON" inspect verify commitment.json garbage.json
err_says 'garbage.json: not valid JSON' "a file that is not JSON is named"

section=private
err "disclose an unknown id" inspect disclose private.json icbm-999
err_says 'no item with id "icbm-999"' "an unknown id is named"
sed '/"index":0,/{s/"salt":"0/"salt":"1/;t;s/"salt":"./"salt":"0/}' private.json >p-edited.json
chmod 600 p-edited.json
check "the private file was changed" differ private.json p-edited.json
err "disclose from an edited private file" inspect disclose p-edited.json icbm-001
err_says 'do not hash to its commitment.s root' "an edited private file is refused"
ln -s private.json p-link.json
err "disclose through a symbolic link" inspect disclose p-link.json icbm-001
usage "disclose with no id" inspect disclose private.json

# ------------------------------------------------------------------ draw
section=draw

ok "draw the known answer" inspect draw --round a.example/to/b.example/42 --n 1000 --k 10 \
	a.example=$SEED_A b.example=$SEED_B
printf '%s\n' 20 226 269 592 642 724 815 855 909 920 >expected
check "the draw is parley-select/v1 (python3 hashlib reference)" cmp -s out expected
cp out draw1
ok "draw again" inspect draw --round a.example/to/b.example/42 --n 1000 --k 10 \
	a.example=$SEED_A b.example=$SEED_B
check "the draw is deterministic" cmp -s out draw1
ok "draw with the sides given the other way round" inspect draw \
	b.example=$SEED_B a.example=$SEED_A --k 10 --n 1000 --round a.example/to/b.example/42
check "the order of the sides on the command line does not matter" cmp -s out draw1
ok "draw --json" inspect draw --round a.example/to/b.example/42 --n 1000 --k 10 --json \
	a.example=$SEED_A b.example=$SEED_B
out_is '[20,226,269,592,642,724,815,855,909,920]' "--json prints the same indices as an array"
ok "draw another round" inspect draw --round a.example/to/b.example/43 --n 1000 --k 10 \
	a.example=$SEED_A b.example=$SEED_B
check "another round draws another selection" differ out draw1

ok "draw 200 of 5000" inspect draw --round big --n 5000 --k 200 x=$SEED_A y=$SEED_B
check "K lines" [ "$(nlines out)" -eq 200 ]
check "K distinct indices in increasing order" cmp -s out <(sort -n -u out)
check "every index is below N" [ "$(awk '$1 >= 5000 || $1 !~ /^[0-9]+$/' out | wc -l)" -eq 0 ]
ok "draw all of 7" inspect draw --round r --n 7 --k 7 x=$SEED_A y=$SEED_B
check "K = N draws every index" cmp -s out <(seq 0 6)
ok "draw none" inspect draw --round r --n 7 --k 0 x=$SEED_A y=$SEED_B
check "K = 0 prints nothing" [ ! -s out ]

err "draw more than N" inspect draw --round r --n 10 --k 11 a=$SEED_A b=$SEED_B
err_says 'K = 11: cannot draw more than N = 10' "K > N is named"
err "draw with a short seed" inspect draw --round r --n 10 --k 1 a=0001 b=$SEED_B
err_says 'side "a": a seed must be 64 lowercase hex characters' "a malformed seed is named"
err "draw with both seeds from one side" inspect draw --round r --n 10 --k 1 a=$SEED_A a=$SEED_B
err_says 'both seeds are from the side "a"' "two seeds of one side are refused"
err "draw with N = 0" inspect draw --round r --n 0 --k 0 a=$SEED_A b=$SEED_B
err "draw with a round of 129 bytes" inspect draw --round "$(printf 'r%.0s' $(seq 129))" --n 10 --k 1 \
	a=$SEED_A b=$SEED_B
err_says 'the round must be 1..128 bytes' "the round's length is bounded"
err "draw with a seed without a name" inspect draw --round r --n 10 --k 1 =$SEED_A b=$SEED_B
usage "draw without --round" inspect draw --n 10 --k 1 a=$SEED_A b=$SEED_B
usage "draw with one seed" inspect draw --round r --n 10 --k 1 a=$SEED_A
usage "draw with an unknown option" inspect draw --round r --n 10 --k 1 --fast a=$SEED_A b=$SEED_B

# ---------------------------------------------------------------- summary
section=summary
echo "inspect.sh: all $checks checks passed in $(($(date +%s) - started))s (PARLEY=$PARLEY)"
