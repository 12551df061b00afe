#!/bin/sh
# A node's database from before outbox and inbox were keyed by entry: the
# first open rebuilds both tables, every row carried over (every row of
# the JSON views is the same before and after; the only new ones are the
# test entries the nodes log when they start), the node goes on exchanging
# and its audit passes.  A table that cannot be carried over whole (a row naming no
# log held here) stops the node with an error naming the table, and the
# database is left as it was.
#
# The earlier layout is made here from a current database (python3's
# sqlite3): outbox(peer, idx, ...) and inbox(origin, idx, ...), WITHOUT
# ROWID, each with a partial index holding every row.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/nodes.sh
BASE=$((21000 + ($$ % 400) * 20))

unreceipted() { "$PARLEY" status "$T/$1" | sed -n 's/.*awaiting receipt: //p'; }
all_receipted() { [ "$(unreceipted a)" = 0 ] && [ "$(unreceipted b)" = 0 ]; }

# downgrade DB [EXTRA-SQL]: rewrites outbox and inbox in the earlier layout.
downgrade() {
	python3 - "$1" "${2:-}" <<'EOF' || fail "downgrade of $1"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.executescript("""
BEGIN;
DROP INDEX IF EXISTS outbox_urg;
DROP INDEX IF EXISTS inbox_urg;
CREATE TABLE outbox_old(peer TEXT, idx INTEGER, prec INTEGER, type TEXT, time INTEGER,
  id TEXT, receipted INTEGER, rtime INTEGER, rcpt INTEGER, acked INTEGER,
  PRIMARY KEY(peer, idx)) WITHOUT ROWID;
INSERT INTO outbox_old SELECT substr(l.origin, instr(l.origin, '/to/') + 4),
  o.k & 1099511627775, o.prec, o.type, o.time, o.id, o.receipted, o.rtime, o.rcpt,
  o.acked FROM outbox o JOIN logs l ON l.id = o.k >> 40;
DROP TABLE outbox;
ALTER TABLE outbox_old RENAME TO outbox;
CREATE INDEX outbox_unr ON outbox(peer, prec, idx) WHERE receipted IS NULL;
CREATE TABLE inbox_old(origin TEXT, idx INTEGER, prec INTEGER, type TEXT, time INTEGER,
  received INTEGER, acked INTEGER, ackidx INTEGER, PRIMARY KEY(origin, idx)) WITHOUT ROWID;
INSERT INTO inbox_old SELECT l.origin, i.k & 1099511627775, i.prec, i.type, i.time,
  i.received, i.acked, i.ackidx FROM inbox i JOIN logs l ON l.id = i.k >> 40;
DROP TABLE inbox;
ALTER TABLE inbox_old RENAME TO inbox;
CREATE INDEX inbox_unacked ON inbox(origin, prec, idx) WHERE acked IS NULL;
""" + sys.argv[2] + """
COMMIT;
""")
EOF
}

# layout DB: "old" or "new" for each of outbox and inbox, and the row counts.
layout() {
	python3 - "$1" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for t in ("outbox", "inbox"):
    sql = db.execute("SELECT sql FROM sqlite_schema WHERE name = ?", (t,)).fetchone()[0]
    n = db.execute("SELECT COUNT(*) FROM " + t).fetchone()[0]
    print(t, "old" if "WITHOUT ROWID" in sql else "new", n)
EOF
}

# same_rows FILE1 FILE2: every row of FILE1 is in FILE2, field for field;
# FILE2 may also hold periodic test entries logged since (a node logs one
# at its first tick after a start), and nothing else.
same_rows() {
	python3 - "$1" "$2" <<'EOF'
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
key = lambda r: (r["origin"], r["index"])
old, new = {key(r): r for r in a}, {key(r): r for r in b}
bad = [k for k in old if new.get(k) != old[k]]
bad += [k for k in new if k not in old and new[k].get("type") != "test"]
if bad:
    print("rows that differ:", bad)
sys.exit(1 if bad else 0)
EOF
}

nodes_setup $BASE
node_start a
node_start b
wait_for sh -c "\"$PARLEY\" status \"$T/a\" | grep -q '(active)'" || fail "a's path never up"
printf 'one\ntwo\nthree\n' | "$PARLEY" send "$T/a" --to $B_NAME --lines >/dev/null || fail "send"
echo "keyed" | "$PARLEY" send "$T/a" --to $B_NAME --id up-1 >/dev/null || fail "send --id"
echo "urgent" | "$PARLEY" send "$T/a" --to $B_NAME --precedence FLASH >"$T/f" || fail "send FLASH"
echo "reply" | "$PARLEY" send "$T/b" --to $A_NAME --precedence IMMEDIATE >/dev/null || fail "send b"
wait_for all_receipted || fail "messages never receipted"
"$PARLEY" ack "$T/b" "$A_OUT" "$(awk '{print $2}' "$T/f")" >/dev/null || fail "ack"
wait_for sh -c "\"$PARLEY\" outbox \"$T/a\" | grep FLASH | grep -q acknowledged" || fail "ack never seen"
for x in a b; do
	"$PARLEY" outbox "$T/$x" --json >"$T/out-$x.1" || fail "outbox $x"
	"$PARLEY" inbox "$T/$x" --json >"$T/in-$x.1" || fail "inbox $x"
done
node_kill a
node_kill b

for x in a b; do
	downgrade "$T/$x/node.db"
	layout "$T/$x/node.db" >"$T/layout-$x.old"
	grep -q "outbox old" "$T/layout-$x.old" && grep -q "inbox old" "$T/layout-$x.old" ||
		fail "$x's database not in the earlier layout: $(cat "$T/layout-$x.old")"
done
node_start a
node_start b
# The running nodes may have logged their start's test entries meanwhile:
# the tables hold at least the rows they held, and the views say which.
for x in a b; do
	layout "$T/$x/node.db" >"$T/layout-$x.new"
	for t in outbox inbox; do
		o=$(awk -v t=$t '$1 == t {print $3}' "$T/layout-$x.old")
		set -- $(awk -v t=$t '$1 == t {print $2, $3}' "$T/layout-$x.new")
		[ "${1:-}" = new ] && [ "${2:-0}" -ge "$o" ] ||
			fail "$x's tables after the upgrade: $(cat "$T/layout-$x.new") (before: $(cat "$T/layout-$x.old"))"
	done
	"$PARLEY" outbox "$T/$x" --json >"$T/out-$x.2" || fail "outbox $x after the upgrade"
	"$PARLEY" inbox "$T/$x" --json >"$T/in-$x.2" || fail "inbox $x after the upgrade"
	same_rows "$T/out-$x.1" "$T/out-$x.2" || fail "$x's outbox differs after the upgrade"
	same_rows "$T/in-$x.1" "$T/in-$x.2" || fail "$x's inbox differs after the upgrade"
done
ok "both tables upgraded on each node, every row carried over: $(tr '\n' ' ' <"$T/layout-a.new")"
echo "after" | "$PARLEY" send "$T/a" --to $B_NAME >/dev/null || fail "send after the upgrade"
wait_for all_receipted || fail "message after the upgrade never receipted"
[ "$("$PARLEY" inbox "$T/b" | awk '$4 == "message"' | wc -l)" = 6 ] || fail "b does not hold 6 messages"
"$PARLEY" audit "$T/a" >/dev/null || fail "audit of a after the upgrade"
"$PARLEY" audit "$T/b" >/dev/null || fail "audit of b after the upgrade"
ok "the upgraded nodes exchange, receipt and pass their audits"

node_kill a
downgrade "$T/a/node.db" "INSERT INTO outbox(peer, idx, prec, type, time) VALUES('nobody.example', 0, 3, 'message', 0);"
layout "$T/a/node.db" >"$T/layout-a.bad"
"$PARLEY" serve "$T/a" 2>"$T/err" && fail "a node whose outbox names an unknown peer started"
grep -q "upgrading table outbox: 1 rows name no log held here" "$T/err" ||
	fail "the error does not name the problem: $(cat "$T/err")"
layout "$T/a/node.db" >"$T/layout-a.after"
cmp -s "$T/layout-a.bad" "$T/layout-a.after" || fail "the refused upgrade changed the database"
ok "a row naming no log stops the upgrade, clearly, and changes nothing"
python3 -c 'import sqlite3, sys; d = sqlite3.connect(sys.argv[1]); d.execute("DELETE FROM outbox WHERE peer = ?", ("nobody.example",)); d.commit()' "$T/a/node.db"
node_start a
"$PARLEY" audit "$T/a" >/dev/null || fail "audit of a after the second upgrade"
ok "without it, the upgrade goes through"
node_kill a
node_kill b
