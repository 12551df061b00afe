#!/bin/sh
# parley init / card / peer add: creating nodes and pinning peers offline.
set -eu
PARLEY="${PARLEY:-build/rel/parley}"
case "$PARLEY" in /*) ;; *) PARLEY="$(pwd)/$PARLEY" ;; esac
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
checks=0
fail() { echo "node.sh: FAIL: $*" >&2; exit 1; }
ok() { checks=$((checks + 1)); }
# must_fail DESC CMD...: non-zero exit and exactly one "parley: " line on stderr
must_fail() {
	d=$1; shift
	if "$@" >out 2>err; then fail "$d: succeeded"; fi
	[ "$(wc -l <err)" -eq 1 ] && grep -q '^parley: ' err || fail "$d: stderr is not one parley: line: $(cat err)"
	ok
}

"$PARLEY" init us --name nrrc.us.example --listen 127.0.0.1:7101 --listen 127.0.0.1:7102 \
	--api 127.0.0.1:8101 >init.out 2>err || fail "init us: $(cat err)"
grep -q '^fingerprint [A-Z2-7]\{4\}-[A-Z2-7]\{4\}-[A-Z2-7]\{4\}-[A-Z2-7]\{4\}$' init.out || fail "init prints the fingerprint"; ok
"$PARLEY" init ru --name nrrc.ru.example --listen 127.0.0.1:7201 --advertise 127.0.0.1:7202 \
	--api 127.0.0.1:8201 >/dev/null || fail "init ru"
[ "$(stat -c %a us)" = 700 ] || fail "node dir is 0700"; ok
for f in log.key cosign.key tls.key api.token auditor.token node.db; do
	[ "$(stat -c %a us/$f)" = 600 ] || fail "$f is not 0600"; ok
done
must_fail "init over an existing node" "$PARLEY" init us --name x --listen 127.0.0.1:1 --api 127.0.0.1:2
must_fail "bad node name" "$PARLEY" init n1 --name 'a b' --listen 127.0.0.1:1 --api 127.0.0.1:2
must_fail "bad listen address" "$PARLEY" init n2 --name a --listen 127.0.0.1 --api 127.0.0.1:2
must_fail "bad port" "$PARLEY" init n3 --name a --listen 127.0.0.1:65536 --api 127.0.0.1:2
[ ! -e n1 ] && [ ! -e n2 ] || fail "a refused init leaves no node"; ok

"$PARLEY" card us >us.card && "$PARLEY" card ru >ru.card || fail "card"
[ "$(sed -n 1p us.card)" = "parley-card v1" ] || fail "card header"; ok
grep -qx 'addr 127.0.0.1:7101' us.card && grep -qx 'addr 127.0.0.1:7102' us.card || fail "card lists every listen address"; ok
grep -qx 'addr 127.0.0.1:7202' ru.card && ! grep -q 7201 ru.card || fail "--advertise replaces the card's addresses"; ok
grep -q "$(sed -n 's/^fingerprint //p' init.out)" us.card || fail "card shows the fingerprint printed by init"; ok
"$PARLEY" card us | cmp -s - us.card || fail "card is stable"; ok

"$PARLEY" peer add us ru.card --addr 127.0.0.1:7201 >add.out || fail "peer add"
grep -q "^fingerprint $(sed -n 's/^fingerprint //p' ru.card) " add.out || fail "peer add shows the fingerprint"; ok
grep -qx 'path 1: 127.0.0.1:7201' add.out || fail "--addr replaces the card's addresses"; ok
"$PARLEY" peer add us ru.card >/dev/null || fail "re-adding the same card updates it"; ok
must_fail "own card" "$PARLEY" peer add us us.card
sed 's/7101/7109/' us.card >tampered.card
must_fail "tampered card (signature)" "$PARLEY" peer add ru tampered.card
sed 's/^fingerprint .*/fingerprint AAAA-AAAA-AAAA-AAAA/' us.card >fpr.card
must_fail "wrong fingerprint" "$PARLEY" peer add ru fpr.card
"$PARLEY" init us2 --name nrrc.us.example --listen 127.0.0.1:7301 --api 127.0.0.1:8301 >/dev/null
"$PARLEY" card us2 >us2.card
"$PARLEY" peer add ru us.card >/dev/null || fail "peer add ru"
must_fail "other keys under a pinned name" "$PARLEY" peer add ru us2.card
must_fail "bad --addr" "$PARLEY" peer add ru us.card --addr nohostport
must_fail "not a node dir" "$PARLEY" card nowhere
echo "node.sh: all $checks checks passed"
