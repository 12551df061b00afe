#!/bin/sh
# tests/cli/log.sh — `parley keygen` and `parley log ...` as a user runs them.
#
# Run from the repository root with $PARLEY the binary under test (default
# build/rel/parley); tests/run-all runs it for the normal and the sanitizer
# build.  Everything happens in a temporary directory removed on exit.
#
# Each check is a sentence about the CLI's behaviour.  The first one that
# does not hold stops the script with "FAIL [section]: what was expected".
# The error convention (src/cli/cli.h) is checked on every error: exit
# status 1, exactly one line "parley: ..." on stderr, nothing on stdout.
# Usage errors exit with status 2.  Successful commands must write nothing
# on stderr (so a sanitizer report fails the test too).
#
# Hashes and signatures are also checked independently with openssl(1)
# (SHA-256 Merkle hashes of RFC 6962, Ed25519 of the note text and of the
# tlog-cosignature message); openssl is required (scripts/install-deps installs it) and
# counted in the summary.
set -eu
LC_ALL=C
export LC_ALL

PARLEY=${PARLEY:-build/rel/parley}
case $PARLEY in /*) ;; *) PARLEY="$(pwd)/$PARLEY" ;; esac
if [ ! -x "$PARLEY" ]; then
	echo "log.sh: $PARLEY is not an executable; build it first" >&2
	exit 1
fi

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT TERM
cd "$T"
mkdir ent

started=$(date +%s)
checks=0
skipped=0
section=setup
# openssl(1) is installed by scripts/install-deps; its absence is a failure,
# never a silent skip.
command -v openssl >/dev/null 2>&1 || { echo "log.sh: openssl(1) is missing (scripts/install-deps installs it)" >&2; exit 1; }
HAVE_OPENSSL=1

EMDASH=$(printf '\342\200\224')
EMPTY_ROOT=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU= # SHA-256("")

# ---------------------------------------------------------------- helpers

fail() {
	echo "FAIL [$section]: $*" >&2
	echo "log.sh: stopped after $checks passing checks (PARLEY=$PARLEY)" >&2
	exit 1
}
pass() { checks=$((checks + 1)); }
# check DESCRIPTION TEST...: a check written as a shell test.
check() {
	_what=$1
	shift
	"$@" || fail "$_what"
	pass
}
nlines() { awk 'END { print NR }' "$1"; }
line() { sed -n "$1p" "$2"; }
b64() { base64 | tr -d '\n'; }
# The base64 key material of a verifier key text / of a signer key file
# (base64 may hold '+', so fields are counted from the left).
vkey_b64() { printf '%s' "$1" | cut -d+ -f3-; }
skey_b64() { cut -d+ -f5- "$1"; }
# The first N bytes of base64 text $1 in hex.
b64hex() { printf '%s' "$1" | base64 -d | od -An -v -tx1 -N "$2" | tr -d ' \n'; }
cksum_of() { cksum <"$1"; }

# run STDIN CMD...: stdout to out, stderr to err, status in rc.
run() {
	_in=$1
	shift
	rc=0
	"$@" <"$_in" >out 2>err || rc=$?
}
show_err() { head -c 800 err | tr '\n' '|'; }

# ok DESC ARGS... / ok_in STDIN DESC ARGS...: parley ARGS succeeds, silently
# on stderr.  Its output is left in ./out.
ok_in() {
	_in=$1 _what=$2
	shift 2
	run "$_in" "$PARLEY" "$@"
	[ "$rc" -eq 0 ] || fail "$_what: exit status $rc (stderr: $(show_err))"
	[ ! -s err ] || fail "$_what: succeeded but wrote on stderr: $(show_err)"
	pass
}
ok() {
	_w=$1
	shift
	ok_in /dev/null "$_w" "$@"
}

# err DESC ARGS... / err_in STDIN DESC ARGS...: parley ARGS fails the way
# every parley error must: status 1, one line "parley: ..." on stderr and
# nothing on stdout.  The message is left in ./err.
err_in() {
	_in=$1 _what=$2
	shift 2
	run "$_in" "$PARLEY" "$@"
	[ "$rc" -ne 0 ] || fail "$_what: succeeded, expected an error"
	[ "$rc" -eq 1 ] || fail "$_what: exit status $rc, expected 1 (stderr: $(show_err))"
	{ [ "$(wc -l <err)" -eq 1 ] && [ "$(nlines err)" -eq 1 ]; } ||
		fail "$_what: expected one line on stderr, got $(nlines err): $(show_err)"
	grep -q '^parley: ..' err || fail "$_what: stderr does not start with \"parley: \": $(show_err)"
	[ ! -s out ] || fail "$_what: the error also wrote on stdout: $(head -c 200 out)"
	pass
}
err() {
	_w=$1
	shift
	err_in /dev/null "$_w" "$@"
}
# err_says PATTERN DESC: the last error message matches PATTERN (grep -E).
err_says() {
	grep -Eq "$1" err || fail "$2: message \"$(cat err)\" does not match /$1/"
	pass
}

# usage DESC ARGS...: a usage error: status 2, a message on stderr, nothing
# on stdout.
usage() {
	_what=$1
	shift
	run /dev/null "$PARLEY" "$@"
	[ "$rc" -eq 2 ] || fail "$_what: exit status $rc, expected 2 (usage) (stderr: $(show_err))"
	grep -Eq '^(usage|parley): ' err || fail "$_what: no usage message on stderr: $(show_err)"
	[ ! -s out ] || fail "$_what: the usage error wrote on stdout"
	pass
}

# same FILE1 FILE2 DESC: byte for byte equal.
same() {
	cmp -s "$1" "$2" || fail "$3 ($1 and $2 differ)"
	pass
}
# out_is TEXT DESC: ./out is exactly TEXT (printf format).
out_is() {
	# shellcheck disable=SC2059
	printf "$1" >expected
	cmp -s out expected || fail "$2: output $(od -An -c out | head -c 300) is not $(od -An -c expected | head -c 300)"
	pass
}

size_of() { # DB: the log's size, from its checkpoint
	"$PARLEY" log checkpoint "$1" | sed -n 2p
}
root_of() { # DB [SIZE]: the root hash line of the checkpoint
	if [ $# -eq 2 ]; then
		"$PARLEY" log checkpoint "$1" --size "$2" | sed -n 3p
	else
		"$PARLEY" log checkpoint "$1" | sed -n 3p
	fi
}
# size_still DB N DESC: an error left the log at size N.
size_still() {
	[ "$(size_of "$1")" = "$2" ] || fail "$3: the log's size changed from $2 to $(size_of "$1")"
	pass
}

# Independent RFC 6962 hashing with openssl: files of 32 raw bytes.
sha256() { openssl dgst -sha256 -binary; }
leaf() { { printf '\000'; printf '%s' "$1"; } | sha256 >"$2"; }  # leaf ENTRY OUT
node() { { printf '\001'; cat "$1" "$2"; } | sha256 >"$3"; }     # node L R OUT
skip() { skipped=$((skipped + $1)); } # N checks need openssl
# Ed25519 keys for openssl (DER: SubjectPublicKeyInfo, PKCS #8) from
# parley's key texts.
pub_der() { # VKEY OUT
	{ printf '\060\052\060\005\006\003\053\145\160\003\041\000'
	  vkey_b64 "$1" | base64 -d | tail -c 32; } >"$2"
}
seed_der() { # KEYFILE OUT
	{ printf '\060\056\002\001\000\060\005\006\003\053\145\160\004\042\004\040'
	  skey_b64 "$1" | base64 -d | tail -c 32; } >"$2"
}
ed25519_verify() { # PUBDER MSGFILE SIGFILE
	openssl pkeyutl -verify -pubin -keyform DER -inkey "$1" -rawin -in "$2" \
		-sigfile "$3" >/dev/null 2>&1
}

# --------------------------------------------------------------- keygen
section=keygen

ok "keygen of a log key" keygen example.org/log --out log.key
check "keygen prints one line" [ "$(nlines out)" -eq 1 ]
LOGV=$(cat out)
printf '%s' "$LOGV" | grep -Eq '^example\.org/log\+[0-9a-f]{8}\+[A-Za-z0-9+/]{44}$' ||
	fail "keygen printed \"$LOGV\", not name+hex8+base64(0x01 || 32-byte key)"
pass
LOGID=$(printf '%s' "$LOGV" | cut -d+ -f2)
check "a log key is an Ed25519 (0x01) key" [ "$(b64hex "$(vkey_b64 "$LOGV")" 1)" = 01 ]
check "the key file is private (0600)" [ "$(stat -c %a log.key)" = 600 ]
check "the key file is one line" [ "$(nlines log.key)" -eq 1 ]
grep -Eq "^PRIVATE\+KEY\+example\.org/log\+$LOGID\+[A-Za-z0-9+/]{44}\$" log.key ||
	fail "log.key is not PRIVATE+KEY+name+<the same id>+base64: $(cat log.key)"
pass
check "the key file does not hold the public key" [ "$(vkey_b64 "$LOGV")" != "$(skey_b64 log.key)" ]
printf '%s\n' "$LOGV" >log.vkey

ok "a second key" keygen example.org/log --out same-name.key
SAMENAMEV=$(cat out)
check "two keys of one name differ (fresh randomness)" [ "$SAMENAMEV" != "$LOGV" ]

ok "keygen --cosigner" keygen example.org/witness --cosigner --out w1.key
W1V=$(cat out)
check "a cosigner key is a tlog-cosignature (0x04) key" [ "$(b64hex "$(vkey_b64 "$W1V")" 1)" = 04 ]
check "a cosigner key file is private (0600)" [ "$(stat -c %a w1.key)" = 600 ]
ok "--cosigner before the name" keygen --cosigner --out w2.key witness2.example
W2V=$(cat out)
printf '%s\n' "$W1V" >w1.vkey
ok "another log's key" keygen other.example/log --out other.key
OTHERV=$(cat out)

cp log.key log.key.orig
err "keygen over an existing key" keygen example.org/log --out log.key
err_says 'log\.key' "the message names the file"
same log.key log.key.orig "an existing key file is left as it was"
printf 'precious\n' >precious
cp precious precious.orig
err "keygen over an existing file" keygen x.example --out precious
same precious precious.orig "an existing file is left as it was"
ln -s "$T/target" dangling
err "keygen through a symbolic link" keygen x.example --out dangling
check "nothing is created at the link's target" [ ! -e target ]
err "keygen into a missing directory" keygen x.example --out nodir/k.key

for bad in 'a+b' 'a b' '' "$(printf 'tab\tname')" "$(printf 'bad\377utf8')" \
	"$(printf 'nbsp\302\240name')" "$(printf '%0256d' 0)"; do
	err "keygen with the invalid name \"$bad\"" keygen "$bad" --out bad.key
	check "no key file for the invalid name \"$bad\"" [ ! -e bad.key ]
done
ok "a 255-byte name is valid" keygen "$(printf '%0255d' 0)" --out long.key
ok "a UTF-8 name is valid" keygen "$(printf 'caf\303\251.example/log')" --out utf8.key

usage "keygen without arguments" keygen
usage "keygen without --out" keygen x.example
usage "keygen --out without a file" keygen x.example --out
usage "keygen without a name" keygen --out x.key
usage "keygen with two names" keygen a.example b.example --out x.key
usage "keygen with an unknown option" keygen x.example --out x.key --bogus
check "usage errors create no file" [ ! -e x.key ]

# ----------------------------------------------------------------- init
section=init

ok "log init" log init log.db --key log.key
out_is 'example.org/log\n' "log init prints the origin"
check "the database is private (0600)" [ "$(stat -c %a log.db)" = 600 ]
ok "checkpoint of a new log" log checkpoint log.db
check "the origin is the key's name" [ "$(line 1 out)" = example.org/log ]
check "a new log has size 0" [ "$(line 2 out)" = 0 ]
check "a new log has the empty tree's root, SHA-256(\"\")" [ "$(line 3 out)" = "$EMPTY_ROOT" ]

before=$(cksum_of log.db)
err "init on an existing database" log init log.db --key log.key
check "the existing database is untouched" [ "$(cksum_of log.db)" = "$before" ]
err "init over an existing file" log init precious --key log.key
same precious precious.orig "init leaves an existing file as it was"
err "init with a cosigner key" log init w.db --key w1.key
err_says 'cosigner|0x01' "the message says why a cosigner key cannot sign a log"
check "no database after a refused cosigner key" [ ! -e w.db ]
err "init in a missing directory" log init nodir/m.db --key log.key
check "no directory is created" [ ! -e nodir ]
err "init with a missing key file" log init m.db --key missing.key
check "no database after a missing key file" [ ! -e m.db ]
err "init with a verifier key instead of a signer key" log init m.db --key log.vkey
check "no database after a verifier key" [ ! -e m.db ]
sed 's/+[0-9a-f]\{8\}+/+00000000+/' log.key >wrongid.key
err "init with a key whose id does not match" log init m.db --key wrongid.key
check "no database after a bad key" [ ! -e m.db ]
usage "log init without --key" log init m.db
usage "log init without a database" log init --key log.key
usage "log init --key without a file" log init m.db --key
usage "log without a subcommand" log
usage "log with an unknown subcommand" log frobnicate log.db

err "append to a missing database" log append nosuch.db precious
check "append does not create a database" [ ! -e nosuch.db ]
err "append to a file that is not a parley store" log append precious precious
same precious precious.orig "a non-store file is left as it was"
err "checkpoint of a missing database" log checkpoint nosuch.db

# --------------------------------------------------------------- append
section=append

printf 'first entry\n' >ent/0
{ printf 'nul\000in the middle\000'; head -c 1000 /dev/urandom; printf '\000'; } >ent/1
: >ent/2
ok "append of three files" log append log.db ent/0 ent/1 ent/2
out_is '0\n1\n2\n' "append prints each new index"
for i in 0 1 2; do
	ok "entry $i" log entry log.db $i
	same out ent/$i "entry $i returns the file's exact bytes"
done

head -c 3000 /dev/urandom >ent/3
ok_in ent/3 "append from standard input" log append log.db
out_is '3\n' "without FILE, standard input is one entry"
ok "entry 3" log entry log.db 3
same out ent/3 "binary standard input comes back exactly"

printf 'from stdin' >ent/4
cp ent/0 ent/5
ok_in ent/4 "append of - and a file" log append log.db - ent/5
out_is '4\n5\n' "- reads standard input"
ok "entry 4" log entry log.db 4
same out ent/4 "entry 4 is standard input"

printf 'one\n\nthree' >lines
ok_in lines "append --lines" log append log.db --lines
out_is '6\n7\n8\n' "--lines: one entry per line, the empty line included"
printf 'one' >ent/6
: >ent/7
printf 'three' >ent/8
for i in 6 7 8; do
	ok "entry $i" log entry log.db $i
	same out ent/$i "--lines entry $i is the line without its newline"
done
printf 'crlf\r\nlast\n' >lines
ok_in lines "append --lines with CR LF and a final newline" log append log.db --lines
out_is '9\n10\n' "a final newline ends the last line, it does not add an empty one"
printf 'crlf\r' >ent/9
printf 'last' >ent/10
for i in 9 10; do
	ok "entry $i" log entry log.db $i
	same out ent/$i "--lines splits at LF only (entry $i)"
done
printf '\n' >lines
ok_in lines "append --lines of a single newline" log append log.db --lines
out_is '11\n' "a lone newline is one empty entry"
: >ent/11
ok_in /dev/null "append --lines of empty input" log append log.db --lines
out_is '' "empty input appends no line"
size_still log.db 12 "empty --lines input"

# The entry limit: 65,535 bytes (tlog-tiles' u16 length prefix).
head -c 65536 /dev/urandom >over
head -c 65535 /dev/urandom >ent/12
err "append of a 65,536-byte file" log append log.db over
err_says '65535|65,535' "the message states the limit"
err_says 'nothing' "the message says nothing was appended"
size_still log.db 12 "a too large file"
err "append of a good file and a too large one" log append log.db ent/0 over
size_still log.db 12 "a batch with one too large file"
err_in over "append of 65,536 bytes on standard input" log append log.db
size_still log.db 12 "too large standard input"
ok "append of a 65,535-byte file" log append log.db ent/12
out_is '12\n' "the largest entry is accepted"
ok "entry 12" log entry log.db 12
same out ent/12 "the largest entry comes back exactly"
{ echo short; head -c 65536 /dev/zero | tr '\0' x; echo; echo after; } >lines
err_in lines "append --lines with one 65,536-byte line" log append log.db --lines
err_says 'line 2' "the message names the line"
size_still log.db 13 "--lines with one over-long line"
{ echo short; head -c 65535 /dev/zero | tr '\0' y; } >lines
ok_in lines "append --lines with a 65,535-byte last line" log append log.db --lines
out_is '13\n14\n' "a line of the largest size is accepted"
printf 'short' >ent/13
head -c 65535 /dev/zero | tr '\0' y >ent/14
ok "entry 14" log entry log.db 14
same out ent/14 "the longest line comes back exactly"

err "append of a missing file" log append log.db ent/0 missing
size_still log.db 15 "a missing file"
err "append of a directory" log append log.db ent
size_still log.db 15 "a directory"
usage "append without a database" log append
usage "append --lines with FILE" log append log.db --lines ent/0
usage "append with an unknown option" log append log.db --bogus
size_still log.db 15 "usage errors"

err "entry at the log's size" log entry log.db 15
for bad in 01 -1 x 1x '' 18446744073709551616; do
	err "entry \"$bad\"" log entry log.db "$bad"
done
usage "entry without an index" log entry log.db
N=15 # entries in log.db, ent/0 .. ent/14

# ----------------------------------------------------------- checkpoint
section=checkpoint

ok "checkpoint" log checkpoint log.db
cp out cp15
check "a checkpoint note has five lines" [ "$(nlines cp15)" -eq 5 ]
check "line 1 is the origin" [ "$(line 1 cp15)" = example.org/log ]
check "line 2 is the size" [ "$(line 2 cp15)" = $N ]
line 3 cp15 | grep -Eq '^[A-Za-z0-9+/]{43}=$' || fail "line 3 is not a base64 hash: $(line 3 cp15)"
pass
check "line 4 is blank" [ -z "$(line 4 cp15)" ]
line 5 cp15 | grep -Eq "^$EMDASH example\.org/log [A-Za-z0-9+/]{91}=\$" ||
	fail "line 5 is not \"— example.org/log base64(keyid||sig)\": $(line 5 cp15)"
pass
SIG=$(line 5 cp15 | sed 's/.* //')
check "the signature starts with the key id" [ "$(b64hex "$SIG" 4)" = "$LOGID" ]
if [ $HAVE_OPENSSL -eq 1 ]; then
	pub_der "$LOGV" log.pub
	sed -n 1,3p cp15 >cptext
	printf '%s' "$SIG" | base64 -d | tail -c 64 >cpsig
	ed25519_verify log.pub cptext cpsig || fail "openssl does not verify the checkpoint's Ed25519 signature"
	pass
else
	skip 1
fi

# Past sizes: record each checkpoint while the log grows.
ok "checkpoint at size 15" log checkpoint log.db --size 15
same out cp15 "--size of the current size is the plain checkpoint"
ok "checkpoint --size 0" log checkpoint log.db --size 0
check "--size 0 gives size 0" [ "$(line 2 out)" = 0 ]
check "--size 0 gives the empty root" [ "$(line 3 out)" = "$EMPTY_ROOT" ]
for i in 15 16 17 18 19 20; do
	printf 'grown %s' $i >ent/$i
	"$PARLEY" log checkpoint log.db >cp$i
	"$PARLEY" log append log.db ent/$i >/dev/null
done
N=21
for i in 15 16 17 18 19 20; do
	ok "checkpoint --size $i" log checkpoint log.db --size $i
	check "--size $i gives size $i" [ "$(line 2 out)" = $i ]
	check "--size $i gives the root the log had at size $i" [ "$(line 3 out)" = "$(line 3 cp$i)" ]
	# Ed25519 is deterministic: the same text gives the same note.
	same out cp$i "--size $i gives the very checkpoint printed at size $i"
done
err "checkpoint --size beyond the size" log checkpoint log.db --size 22
err_says '22' "the message names the size"
for bad in x 01 -1 18446744073709551616; do
	err "checkpoint --size \"$bad\"" log checkpoint log.db --size "$bad"
done
usage "checkpoint --size without a value" log checkpoint log.db --size
usage "checkpoint without a database" log checkpoint

# ------------------------------------------------- RFC 6962, independently
section=rfc6962

# m.db holds "0".."6": roots, an audit path and a consistency proof are
# recomputed here with openssl from the RFC 6962 definitions.
ok "init m.db" log init m.db --key log.key
seq 0 6 >lines
ok_in lines "append 0..6" log append m.db --lines
if [ $HAVE_OPENSSL -eq 1 ]; then
	for i in 0 1 2 3 4 5 6; do leaf "$i" L$i; done
	node L0 L1 M01
	node L2 L3 M23
	node M01 M23 M03
	node L4 L5 M45
	node M45 L6 M46
	node M03 M46 R7
	node M01 L2 R3
	check "root at size 1 is the leaf hash SHA-256(0x00 || entry)" \
		[ "$(root_of m.db 1)" = "$(b64 <L0)" ]
	check "root at size 3 is MTH(MTH(0,1), L2)" [ "$(root_of m.db 3)" = "$(b64 <R3)" ]
	check "root at size 4" [ "$(root_of m.db 4)" = "$(b64 <M03)" ]
	check "root at size 7" [ "$(root_of m.db)" = "$(b64 <R7)" ]
	ok "prove 2 in 7" log prove m.db 2
	sed '1,2d; /^$/,$d' out >got
	for f in L3 M01 M46; do b64 <$f; echo; done >want
	same got want "the audit path of leaf 2 in 7 is [L3, MTH(0:2), MTH(4:7)]"
	ok "consistency 3 7" log consistency m.db 3 7
	for f in L2 L3 M01 M46; do b64 <$f; echo; done >want
	same out want "the consistency proof 3 -> 7 is [L2, L3, MTH(0:2), MTH(4:7)]"
else
	skip 8
fi

# --------------------------------------------------------- prove, verify
section=prove-verify

i=0
while [ $i -lt $N ]; do
	ok "prove $i" log prove log.db $i
	cp out proof$i
	ok "verify entry $i with the key as text" log verify "$LOGV" ent/$i proof$i
	grep -q "^verified: entry $i of example.org/log (tree size $N)" out ||
		fail "verify printed \"$(cat out)\""
	pass
	i=$((i + 1))
done
check "a proof starts with the tlog-proof header" [ "$(line 1 proof1)" = c2sp.org/tlog-proof@v1 ]
check "then the index" [ "$(line 2 proof1)" = "index 1" ]
sed '1,2d; /^$/,$d' proof1 >hashes
grep -Evq '^[A-Za-z0-9+/]{43}=$' hashes && fail "proof hash lines are not base64 hashes"
pass
check "a 21-leaf tree has 5 hashes in the path of leaf 1" [ "$(nlines hashes)" -eq 5 ]
"$PARLEY" log checkpoint log.db >cp21
sed '1,/^$/d' proof1 >note
same note cp21 "the proof ends with the signed checkpoint"
ok "verify with the key in a file" log verify log.vkey ent/1 proof1

ok "prove 3 --size 5" log prove log.db 3 --size 5
cp out proof3at5
sed '1,/^$/d' proof3at5 >note
"$PARLEY" log checkpoint log.db --size 5 >cp5
same note cp5 "a proof at a past size carries that size's checkpoint"
ok "verify the proof at a past size" log verify "$LOGV" ent/3 proof3at5
grep -q '(tree size 5)' out || fail "verify printed \"$(cat out)\""
pass
ok "prove 0 --size 1" log prove log.db 0 --size 1
check "in a one-leaf tree the audit path is empty" [ "$(line 3 out)" = "" ]
cp out proof0at1
ok "verify in a one-leaf tree" log verify "$LOGV" ent/0 proof0at1
ok "prove 4 --size 5" log prove log.db 4 --size 5
cp out proof4at5
ok "verify the last leaf at a past size" log verify "$LOGV" ent/4 proof4at5

err "verify with a wrong entry" log verify "$LOGV" ent/2 proof1
{ cat ent/5; printf 'x'; } >longer
err "verify with an entry with a byte appended" log verify "$LOGV" longer proof5
awk 'NR == 3 { c = substr($0, 1, 1); $0 = (c == "A" ? "B" : "A") substr($0, 2) } { print }' \
	proof1 >badhash
check "the modified proof differs only in its first hash" [ "$(cmp badhash proof1 | wc -l)" -eq 1 ]
err "verify with a modified proof hash" log verify "$LOGV" ent/1 badhash
sed '3d' proof1 >short
err "verify with a hash missing" log verify "$LOGV" ent/1 short
sed "3p" proof1 >long
err "verify with a hash too many" log verify "$LOGV" ent/1 long
sed 's/^index 1$/index 2/' proof1 >otherindex
err "verify with another index" log verify "$LOGV" ent/1 otherindex
sed "s/^index 1\$/index $N/" proof1 >beyond
err "verify of an index beyond the tree size" log verify "$LOGV" ent/1 beyond
sed "s/^index 1\$/index 18446744073709551615/" proof1 >beyond
err "verify of the largest index" log verify "$LOGV" ent/1 beyond
sed "s/^$N\$/$((N + 1))/" proof1 >badsize
err "verify with a checkpoint whose size was changed" log verify "$LOGV" ent/1 badsize
err "verify with another log's key" log verify "$OTHERV" ent/1 proof1
err "verify with another key of the same name" log verify "$SAMENAMEV" ent/1 proof1
err "verify with a cosigner key as the log key" log verify "$W1V" ent/1 proof1
err "verify with a key that is not a key" log verify notakey ent/1 proof1
err "verify with a malformed key" log verify 'example.org/log+12345678+AAAA' ent/1 proof1
err "verify with the private key" log verify log.key ent/1 proof1
err "verify of a checkpoint instead of a proof" log verify "$LOGV" ent/1 cp21
err "verify with a missing entry file" log verify "$LOGV" missing proof1
err "verify with a missing proof file" log verify "$LOGV" ent/1 missing
err "verify of an entry over the limit" log verify "$LOGV" over proof1
err "prove an index at the size" log prove log.db $N
err "prove an index beyond --size" log prove log.db 5 --size 5
err "prove in an empty tree" log prove log.db 0 --size 0
err "prove with --size beyond the size" log prove log.db 1 --size $((N + 1))
err "prove a non-decimal index" log prove log.db 1x
usage "prove without an index" log prove log.db
usage "verify with two arguments" log verify "$LOGV" ent/1
usage "verify with four arguments" log verify "$LOGV" ent/1 proof1 proof1

# ---------------------------------------------------------------- cosign
section=cosign

ok "cosign a proof" log cosign w1.key "$LOGV" proof1 --time 1700000000
cp out cos1
check "cosigning adds one line" [ "$(nlines cos1)" -eq $(($(nlines proof1) + 1)) ]
head -c "$(wc -c <proof1)" cos1 >start
same start proof1 "the cosigned proof starts with the proof unchanged"
COSIG=$(tail -n 1 cos1)
printf '%s' "$COSIG" | grep -Eq "^$EMDASH example\.org/witness [A-Za-z0-9+/]{102}==\$" ||
	fail "the cosignature line is \"$COSIG\""
pass
COSIG=${COSIG##* }
W1ID=$(printf '%s' "$W1V" | cut -d+ -f2)
check "the cosignature starts with the cosigner's key id" [ "$(b64hex "$COSIG" 4)" = "$W1ID" ]
check "then the time as u64be (tlog-cosignature)" \
	[ "$(b64hex "$COSIG" 12)" = "${W1ID}000000006553f100" ]
if [ $HAVE_OPENSSL -eq 1 ]; then
	pub_der "$W1V" w1.pub
	{ printf 'cosignature/v1\ntime 1700000000\n'; sed -n 1,3p cp21; } >cosmsg
	printf '%s' "$COSIG" | base64 -d | tail -c 64 >cossig
	ed25519_verify w1.pub cosmsg cossig ||
		fail "openssl does not verify the cosignature over \"cosignature/v1\\ntime T\\n\" || checkpoint"
	pass
else
	skip 1
fi
ok "cosign again at the same time" log cosign w1.key "$LOGV" proof1 --time 1700000000
same out cos1 "cosigning is deterministic"

ok "verify --cosigner" log verify "$LOGV" ent/1 cos1 --cosigner "$W1V"
grep -q '1 cosignature$' out || fail "verify printed \"$(cat out)\""
pass
ok "verify --cosigner with the key in a file" log verify "$LOGV" ent/1 cos1 --cosigner w1.vkey
ok "verify --cosigner before the arguments" log verify --cosigner "$W1V" "$LOGV" ent/1 cos1
ok "verify without --cosigner ignores the cosignature" log verify "$LOGV" ent/1 cos1
err "verify --cosigner with another cosigner" log verify "$LOGV" ent/1 cos1 --cosigner "$W2V"
err "verify --cosigner of an uncosigned proof" log verify "$LOGV" ent/1 proof1 --cosigner "$W1V"
err "verify --cosigner with a log key" log verify "$LOGV" ent/1 cos1 --cosigner "$LOGV"
err "verify --cosigner with a wrong entry" log verify "$LOGV" ent/2 cos1 --cosigner "$W1V"
ok "cosign by a second cosigner" log cosign w2.key "$LOGV" cos1
cp out cos12
ok "verify with two cosigners" log verify "$LOGV" ent/1 cos12 --cosigner "$W1V" --cosigner "$W2V"
grep -q '2 cosignatures$' out || fail "verify printed \"$(cat out)\""
pass
# Change one signature byte (base64 character 30 of the cosignature).
awk -v d="$EMDASH" 'index($0, d " example.org/witness ") == 1 {
	n = length(d " example.org/witness ") + 30
	c = substr($0, n, 1)
	$0 = substr($0, 1, n - 1) (c == "A" ? "B" : "A") substr($0, n + 1)
} { print }' cos1 >badcos
check "the tampered cosignature differs in one byte" [ "$(cmp -l badcos cos1 | wc -l)" -eq 1 ]
err "verify --cosigner of a tampered cosignature" log verify "$LOGV" ent/1 badcos --cosigner "$W1V"

ok "cosign a checkpoint" log cosign w1.key "$LOGV" cp21 --time 1700000000
check "a cosigned checkpoint has six lines" [ "$(nlines out)" -eq 6 ]
check "and ends with the same cosignature as the proof at that size" \
	[ "$(tail -n 1 out)" = "$(tail -n 1 cos1)" ]
ok_in cp21 "cosign a checkpoint on standard input" log cosign w1.key "$LOGV" - --time 1700000000
err "cosign with a log key" log cosign log.key "$LOGV" proof1
err_says 'cosigner' "the message says a cosigner key is needed"
err "cosign with a verifier key" log cosign w1.vkey "$LOGV" proof1
err "cosign for another log's key" log cosign w1.key "$OTHERV" proof1
err "cosign for another key of the same name" log cosign w1.key "$SAMENAMEV" proof1
err "cosign with a cosigner key as the log key" log cosign w1.key "$W2V" proof1
ok "init other.db" log init other.db --key other.key
"$PARLEY" log checkpoint other.db >cpother
err "cosign a checkpoint another log signed" log cosign w1.key "$LOGV" cpother
err "cosign a checkpoint whose size was changed" log cosign w1.key "$LOGV" badsize
sed '$d' cp21 >unsigned
err "cosign a checkpoint without signature" log cosign w1.key "$LOGV" unsigned
printf 'c2sp.org/tlog-proof@v1\nindex x\n\n' >garbage
err "cosign a proof that does not parse" log cosign w1.key "$LOGV" garbage
err "cosign a missing file" log cosign w1.key "$LOGV" missing
for bad in x -1 9223372036854775808; do
	err "cosign --time \"$bad\"" log cosign w1.key "$LOGV" proof1 --time "$bad"
done
usage "cosign with two arguments" log cosign w1.key "$LOGV"

# ----------------------------------------------------------- consistency
section=consistency

for old in 1 2 5 8 13 20; do
	for new in $((old + 1)) 16 $N; do
		[ "$new" -gt "$old" ] || continue
		ok "consistency $old $new" log consistency log.db "$old" "$new"
		grep -Evq '^[A-Za-z0-9+/]{43}=$' out && fail "consistency $old $new: a line is not a base64 hash"
		check "consistency $old $new is not empty" [ -s out ]
		check "consistency $old $new has at most 2 log2($new) hashes" [ "$(nlines out)" -le 10 ]
	done
done
ok "consistency 13 (to the size)" log consistency log.db 13
cp out c13
ok "consistency 13 $N" log consistency log.db 13 $N
same out c13 "NEW defaults to the log's size"
ok "consistency 8 16" log consistency log.db 8 16
check "from a complete subtree the proof is its sibling alone" [ "$(nlines out)" -eq 1 ]
ok "consistency 7 7" log consistency log.db 7 7
out_is '' "OLD == NEW gives an empty proof"
ok "consistency $N $N" log consistency log.db $N
out_is '' "OLD == size gives an empty proof"
ok "consistency 0 5" log consistency log.db 0 5
out_is '' "from 0 the proof is empty (tlog-witness)"
ok "consistency 0 0" log consistency log.db 0 0
out_is '' "from 0 to 0 the proof is empty"
err "consistency with OLD > NEW" log consistency log.db 6 5
err "consistency with NEW beyond the size" log consistency log.db 5 $((N + 1))
err "consistency with OLD beyond the size" log consistency log.db $((N + 1))
err "consistency with a non-decimal OLD" log consistency log.db x 5
err "consistency with a non-decimal NEW" log consistency log.db 1 05
err "consistency of a missing database" log consistency nosuch.db 1 2
usage "consistency without OLD" log consistency log.db
usage "consistency with too many arguments" log consistency log.db 1 2 3

# ---------------------------------------------------------------- export
section="export"

ok "init e.db" log init e.db --key log.key
ok "export an empty log" log export e.db empty
check "an empty log exports its checkpoint alone" [ "$(cd empty && find . -type f)" = ./checkpoint ]
seq 0 299 >lines
ok_in lines "append 300 lines" log append e.db --lines
check "300 indices are printed" [ "$(nlines out)" -eq 300 ]
check "the last index is 299" [ "$(tail -n 1 out)" = 299 ]
ok "export 300 entries" log export e.db exp
"$PARLEY" log checkpoint e.db >cp300
same exp/checkpoint cp300 "DIR/checkpoint is the log's checkpoint"
(cd exp && find . -type f | sort) >files
printf '%s\n' ./checkpoint ./tile/0/000 ./tile/0/001.p/44 ./tile/1/000.p/1 \
	./tile/entries/000 ./tile/entries/001.p/44 >want
same files want "300 entries give exactly the C2SP tiles 0/000, 0/001.p/44, 1/000.p/1 and two bundles"
check "a full tile holds 256 hashes" [ "$(wc -c <exp/tile/0/000)" -eq 8192 ]
check "a partial tile of width 44 holds 44 hashes" [ "$(wc -c <exp/tile/0/001.p/44)" -eq 1408 ]
check "the level-1 tile holds 1 hash" [ "$(wc -c <exp/tile/1/000.p/1)" -eq 32 ]
B0=$(seq 0 255 | awk '{ s += 2 + length($0) } END { print s }')
B1=$(seq 256 299 | awk '{ s += 2 + length($0) } END { print s }')
check "the full entry bundle is sum(2 + len) = $B0 bytes" [ "$(wc -c <exp/tile/entries/000)" -eq "$B0" ]
check "the partial entry bundle is sum(2 + len) = $B1 bytes" \
	[ "$(wc -c <exp/tile/entries/001.p/44)" -eq "$B1" ]
check "a bundle is u16be length || entry" \
	[ "$(od -An -tx1 -N 3 exp/tile/entries/000 | tr -d ' ')" = 000130 ]
check "the second bundle starts with entry 256" \
	[ "$(od -An -tx1 -N 5 exp/tile/entries/001.p/44 | tr -d ' ')" = 0003323536 ]
check "the level-1 hash is the root of the first 256 leaves" \
	[ "$(b64 <exp/tile/1/000.p/1)" = "$(root_of e.db 256)" ]
if [ $HAVE_OPENSSL -eq 1 ]; then
	leaf 0 l0
	leaf 299 l299
	head -c 32 exp/tile/0/000 >first
	cat exp/tile/0/000 exp/tile/0/001.p/44 | tail -c 32 >last
	same first l0 "level-0 tiles hold leaf hashes, the first"
	same last l299 "level-0 tiles hold leaf hashes, the 300th"
else
	skip 2
fi
for i in 255 256 299; do
	printf '%s' $i >entry
	ok "prove $i in e.db" log prove e.db $i
	cp out p
	ok "verify entry $i, at a tile edge" log verify "$LOGV" entry p
done
seq 300 511 >lines
ok_in lines "grow to 512 entries" log append e.db --lines
ok "export 512 entries" log export e.db exp512
(cd exp512 && find . -type f | sort) >files
printf '%s\n' ./checkpoint ./tile/0/000 ./tile/0/001 ./tile/1/000.p/2 \
	./tile/entries/000 ./tile/entries/001 >want
same files want "512 entries give two full level-0 tiles and bundles, and 1/000.p/2"
same exp512/tile/0/000 exp/tile/0/000 "a full tile never changes"
head -c 32 exp512/tile/1/000.p/2 >first
same first exp/tile/1/000.p/1 "the level-1 tile grows by appending"
err "export into a path that is a file" log export e.db precious
same precious precious.orig "export leaves that file as it was"
err "export of a missing database" log export nosuch.db out2
usage "export without DIR" log export e.db

# ------------------------------------------------------ batches and limits
section=limits

# --lines appends in batches of 1,024; the indices run on across them.
ok "init b.db" log init b.db --key log.key
seq 1 2100 >lines
ok_in lines "append 2,100 lines" log append b.db --lines
seq 0 2099 >want
same out want "2,100 lines print the indices 0..2099"
ok "entry 1024" log entry b.db 1024
out_is '1025' "entry 1024 is line 1025"
printf '2100' >entry
ok "prove 2099" log prove b.db 2099
cp out p
ok "verify the last of 2,100" log verify "$LOGV" entry p

# A 255-byte name: the longest origin and key name.
NAME255=$(printf '%0255d' 0)
ok "keygen with a 255-byte name" keygen "$NAME255" --out long255.key
LONGV=$(cat out)
ok "keygen of a cosigner with a 255-byte name" keygen "$(printf '%0254dw' 0)" --cosigner --out longw.key
LONGW=$(cat out)
ok "init with a 255-byte origin" log init long.db --key long255.key
out_is "$NAME255\n" "init prints the 255-byte origin"
ok_in ent/1 "append to long.db" log append long.db
ok "prove in long.db" log prove long.db 0
cp out p
ok "cosign in long.db" log cosign longw.key "$LONGV" p
cp out pc
ok "verify with 255-byte names" log verify "$LONGV" ent/1 pc --cosigner "$LONGW"

# -------------------------------------------------------- the command line
section="command"

usage "parley without arguments"
usage "an unknown command" frobnicate
ok "parley help" help
grep -q '^usage: parley' out || fail "parley help does not print the usage"
pass
for f in *.db *.db-wal *.db-shm; do
	[ -e "$f" ] || continue
	check "$f stays private (0600)" [ "$(stat -c %a "$f")" = 600 ]
done

# -------------------------------------------- errors quote input on one line
# These checks came with bug reports: they failed when they were written,
# and come last so that, while a bug is open, it hides nothing above.
section=quoted-input

# checkpoint_parse quoted a bad size line with "%.24s", which ran on over
# the newline into the root line (and, in core, past the end of the input:
# tests/fuzz/regress/fuzz_checkpoint).  Fixed in 24236b6; reached from the
# CLI with a note the log key signed, made here with openssl.
if [ $HAVE_OPENSSL -eq 1 ]; then
	seed_der log.key log.sk
	printf '%s' "$SIG" | base64 -d | head -c 4 >keyid
	# sign_note TEXTFILE OUT: a note signed with log.key by openssl.
	sign_note() {
		openssl pkeyutl -sign -inkey log.sk -keyform DER -rawin -in "$1" -out sig.bin ||
			fail "openssl cannot sign with log.key"
		{ cat "$1"; printf '\n%s example.org/log %s\n' "$EMDASH" "$(cat keyid sig.bin | b64)"; } >"$2"
	}
	sed -n 1,3p cp21 >text
	sign_note text crafted
	same crafted cp21 "a note signed by openssl is the log's own checkpoint (control)"
	printf 'not a checkpoint\n' >text
	sign_note text crafted
	err "cosign of a signed note that is not a checkpoint" log cosign w1.key "$LOGV" crafted
	printf 'example.org/log\nx\n%s\n' "$EMPTY_ROOT" >text
	sign_note text crafted
	err "cosign of a signed checkpoint whose size is \"x\"" log cosign w1.key "$LOGV" crafted
	{ printf 'c2sp.org/tlog-proof@v1\nindex 0\n\n'; cat crafted; } >p
	err "verify of a proof whose signed checkpoint has size \"x\"" log verify "$LOGV" ent/0 p
else
	skip 4
fi

# Open: messages that quote a command-line argument print it raw, newline
# and all (cli_fail, and note_signer_from_seed's "invalid key name").
err "keygen with a newline in the name" keygen "$(printf 'two\nlines')" --out bad.key
err "entry with a newline in the index" log entry log.db "$(printf '1\n2')"

# ---------------------------------------------------------------- summary
section=summary
msg="log.sh: all $checks checks passed in $(($(date +%s) - started))s (PARLEY=$PARLEY)"
[ "$skipped" -gt 0 ] && msg="$msg; $skipped openssl checks skipped (no openssl)"
echo "$msg"
