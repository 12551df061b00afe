#!/bin/sh
# faultproxy-selftest.sh — shows that tests/tools/faultproxy does what its
# header comment promises, against a loopback echo server.  Not part of
# `make test`; run it by hand from anywhere:
#
#   tests/tools/faultproxy-selftest.sh
#
# FAULTPROXY=path overrides the binary (default build/rel/tools/faultproxy,
# built with make when missing).  Ports are 20000-29999, picked from $$.
set -eu
cd "$(dirname "$0")/../.."
FP=${FAULTPROXY:-build/rel/tools/faultproxy}
[ -x "$FP" ] || make "$FP" >/dev/null || { echo "selftest: cannot build $FP" >&2; exit 1; }
case "$FP" in /*) ;; *) FP="$(pwd)/$FP" ;; esac

work=$(mktemp -d)
pids=""
cleanup() {
	exec 3>&- || true
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	for p in $pids; do wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
cd "$work"

base=$((20000 + ($$ % 3300) * 3))
ECHO=$base PROXY=$((base + 1)) PROXY2=$((base + 2))
checks=0
fail() {
	echo "selftest: FAIL: $*" >&2
	echo "--- faultproxy stderr (last 30 lines):" >&2
	tail -n 30 fp.err >&2 2>/dev/null || true
	exit 1
}
ok() { checks=$((checks + 1)); }

# count FILE LINE: how many lines of FILE are exactly LINE.
# (Helpers use _-prefixed variables: sh has no locals.)
count() { _c=$(grep -cxF -- "$2" "$1" 2>/dev/null) || _c=0; echo "$_c"; }
# wait_line FILE LINE [N]: until FILE holds N lines exactly LINE (10 s).
wait_line() {
	_i=0
	while [ "$(count "$1" "$2")" -lt "${3:-1}" ]; do
		_i=$((_i + 1)); [ $_i -le 100 ] || fail "timed out waiting for '$2' in $1"
		sleep 0.1
	done
}
# cmd LINE: send a command, wait for its "ok" reply.
cmd() {
	_n=$(($(count fp.out "ok $1") + 1))
	echo "$1" >&3
	wait_line fp.out "ok $1" "$_n"
}
# idle: until every connection the proxy accepted has been closed (10 s).
idle() {
	_i=0
	while [ "$(grep -c '^faultproxy: accept #' fp.err)" != "$(grep -c '^faultproxy: close #' fp.err)" ]; do
		_i=$((_i + 1)); [ $_i -le 100 ] || fail "connections left open"
		sleep 0.1
	done
}
# settled: idle, and the echo server has logged every connection made to it.
settled() {
	idle
	wait_lines echo.log "$(grep -c '^faultproxy: connect #' fp.err)"
}
nlines() { if [ -f "$1" ]; then wc -l <"$1" | tr -d ' '; else echo 0; fi; }
# wait_lines FILE N: until FILE has at least N lines (10 s).
wait_lines() {
	_i=0
	while [ "$(nlines "$1")" -lt "$2" ]; do
		_i=$((_i + 1)); [ $_i -le 100 ] || fail "timed out waiting for $2 lines in $1"
		sleep 0.1
	done
}
# spawn NAME ARGS...: h.py ARGS in the background, output in NAME.out, pid
# in $last.  python3 itself, not a function: $! must be the process to kill.
spawn() {
	name=$1; shift
	: >"$name.out"	# now, not in the child: wait_line must not see the last run's
	python3 "$work/h.py" "$@" >>"$name.out" 2>&1 &
	last=$!
	pids="$pids $last"
}

cat >h.py <<'EOF'
import os, socket, socketserver, sys, time

def pattern(n):
    return bytes((i * 7 + 3) % 251 for i in range(n))

def die(msg):
    print("client: " + msg, flush=True)
    sys.exit(1)

def recv_exact(s, n):
    got = bytearray()
    while len(got) < n:
        b = s.recv(min(65536, n - len(got)))
        if not b:
            die("EOF after %d of %d bytes" % (len(got), n))
        got += b
    return bytes(got)

def roundtrip(s, n):
    data = pattern(n)
    t0 = time.monotonic()
    s.sendall(data)
    got = recv_exact(s, n)
    return data, got, (time.monotonic() - t0) * 1000

def wait_closed(s, secs):
    s.settimeout(secs)
    try:
        while s.recv(65536):
            pass
    except socket.timeout:
        die("still open after %g s" % secs)
    except OSError:
        pass            # reset counts as closed

def echo(port, log, ready):
    class H(socketserver.BaseRequestHandler):
        def handle(self):
            total = 0
            try:
                while True:
                    b = self.request.recv(65536)
                    if not b:
                        break
                    total += len(b)
                    self.request.sendall(b)
            except OSError:
                pass
            with open(log, "a") as f:
                f.write("%d\n" % total)
    class S(socketserver.ThreadingTCPServer):
        allow_reuse_address = True
        daemon_threads = True
        request_queue_size = 128
    srv = S(("127.0.0.1", port), H)
    open(ready, "w").close()
    srv.serve_forever()

def client(port, steps):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    for step in steps:
        a = step.split(":")
        if a[0] == "rt":                    # rt:N  exact echo of N bytes
            data, got, ms = roundtrip(s, int(a[1]))
            if got != data:
                die("echo differs")
        elif a[0] == "slow":                # slow:N:MS  echo, at least MS
            data, got, ms = roundtrip(s, int(a[1]))
            if got != data or ms < int(a[2]):
                die("slow: %d ms, equal %s" % (ms, got == data))
        elif a[0] == "fast":                # fast:N:MS  echo, under MS
            data, got, ms = roundtrip(s, int(a[1]))
            if got != data or ms >= int(a[2]):
                die("fast: %d ms, equal %s" % (ms, got == data))
        elif a[0] == "flip":                # flip:N:K  only byte K flipped
            data, got, _ = roundtrip(s, int(a[1]))
            k = int(a[2]) - 1
            diff = [i for i in range(len(data)) if data[i] != got[i]]
            if diff != [k] or data[k] ^ got[k] != 1:
                die("flip: differences at %s" % diff[:10])
        elif a[0] == "mark":
            print(a[1], flush=True)
        elif a[0] == "wait":                # wait:FILE
            t = time.monotonic() + 10
            while not os.path.exists(a[1]):
                if time.monotonic() > t:
                    die("no " + a[1])
                time.sleep(0.05)
        elif a[0] == "silent":              # silent:N  sent, nothing back
            s.sendall(pattern(int(a[1])))
            s.settimeout(1)
            try:
                b = s.recv(65536)
                die("silent: got %r" % (b[:20] if b else "EOF"))
            except socket.timeout:
                pass
            s.settimeout(5)
        elif a[0] == "send":                # send:N  ignoring errors
            try:
                s.sendall(pattern(int(a[1])))
            except OSError:
                pass
        elif a[0] == "closed":
            wait_closed(s, 5)
        else:
            die("bad step " + step)
    s.close()

def many(port, n):
    socks = [socket.create_connection(("127.0.0.1", port), timeout=5)
             for _ in range(n)]
    time.sleep(0.3)
    good = 0
    for s in socks:
        try:
            s.sendall(b"x" * 10)
            if recv_exact_quiet(s, 10) == b"x" * 10:
                good += 1
        except OSError:
            pass
    for s in socks:
        s.close()
    print(good, flush=True)

def recv_exact_quiet(s, n):
    got = b""
    while len(got) < n:
        b = s.recv(n - len(got))
        if not b:
            return got
        got += b
    return got

def flood(port, secs):
    # Writes and never reads: the echo server blocks, then the proxy must
    # stop reading us instead of buffering without bound.
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.setblocking(False)
    chunk, sent, t = b"y" * 65536, 0, time.monotonic() + secs
    while time.monotonic() < t:
        try:
            sent += s.send(chunk)
        except BlockingIOError:
            time.sleep(0.01)
    print(sent, flush=True)
    s.close()

m = sys.argv[1]
if m == "echo":
    echo(int(sys.argv[2]), sys.argv[3], sys.argv[4])
elif m == "client":
    client(int(sys.argv[2]), sys.argv[3:])
elif m == "many":
    many(int(sys.argv[2]), int(sys.argv[3]))
elif m == "flood":
    flood(int(sys.argv[2]), float(sys.argv[3]))
EOF
py() { python3 "$work/h.py" "$@"; }
c() { py client "$PROXY" "$@"; }

# The echo server, then the proxy in front of it, commands through a FIFO.
spawn echo echo "$ECHO" "$work/echo.log" "$work/echo.ready"
i=0; while [ ! -f echo.ready ]; do i=$((i + 1)); [ $i -le 100 ] || fail "echo server"; sleep 0.1; done
mkfifo ctl
"$FP" "127.0.0.1:$PROXY" "127.0.0.1:$ECHO" <ctl >fp.out 2>fp.err &
fp=$!
pids="$pids $fp"
exec 3>ctl
wait_line fp.err "faultproxy: listening on 127.0.0.1:$PROXY"; ok

# pass: relays both ways, large transfers too (back-pressure path).
c rt:1000 rt:300000 rt:1 >/dev/null || fail "pass"; ok
grep -q '^faultproxy: accept #1 from 127.0.0.1:' fp.err || fail "accept logged"; ok
grep -q "^faultproxy: connect #1 to 127.0.0.1:$ECHO\$" fp.err || fail "connect logged"; ok
wait_line fp.err "faultproxy: close #1: closed by both peers (client->target 301001 bytes, target->client 301001 bytes)"; ok

# Replies to bad lines, which change nothing.
echo "bogus  x" >&3; wait_line fp.out "error unknown command: bogus  x"; ok
echo "delay abc" >&3; wait_line fp.out "error bad argument: delay abc"; ok
echo "corrupt 0" >&3; wait_line fp.out "error bad argument: corrupt 0"; ok
echo "cut now" >&3; wait_line fp.out "error bad argument: cut now"; ok
cmd "pass"; c rt:100 >/dev/null || fail "pass after errors"; ok

# delay: 300 ms each way makes a round trip take at least 600 ms, in order.
c fast:1000:250 || fail "undelayed round trip is fast"; ok
cmd "delay 300"
c slow:1000:590 slow:100000:590 >/dev/null || fail "delay 300"; ok
cmd "delay 0"
c fast:1000:250 || fail "delay 0 ends the delay"; ok

# corrupt: byte N of each new connection, once; current connections too.
spawn cur client "$PROXY" rt:100 mark:ready wait:"$work/go1" flip:100:5 rt:100
cur=$last
wait_line cur.out ready
cmd "corrupt 5"
touch go1
wait "$cur" || fail "corrupt on a current connection: $(cat cur.out)"; ok
c flip:100:5 rt:100 || fail "corrupt 5 on a new connection, once"; ok
c rt:3 flip:10:2 rt:100 || fail "corrupt counts bytes across chunks"; ok
grep -q '^faultproxy: corrupt #[0-9]* client->target byte 5 (0x' fp.err || fail "corrupt logged"; ok
cmd "corrupt-down 7"
c flip:100:5 rt:100 >/dev/null && fail "corrupt and corrupt-down both apply"
cmd "pass"
cmd "corrupt-down 7"
c flip:100:7 rt:100 || fail "corrupt-down 7"; ok
cmd "pass"
c rt:100 || fail "pass clears corrupt"; ok

# truncate: the target gets exactly N client bytes, then both sides close.
n=$(nlines echo.log)
cmd "truncate 100"
c send:300 closed || fail "truncate closes the client"; ok
wait_lines echo.log $((n + 1))
[ "$(tail -n 1 echo.log)" = 100 ] || fail "target got $(tail -n 1 echo.log) bytes, not 100"; ok
spawn cur client "$PROXY" rt:60 mark:ready wait:"$work/go2" send:100 closed
cur=$last
wait_line cur.out ready
cmd "truncate 10"
touch go2
wait "$cur" || fail "truncate on a current connection: $(cat cur.out)"; ok
wait_lines echo.log $((n + 2))
[ "$(tail -n 1 echo.log)" = 70 ] || fail "current connection: target got $(tail -n 1 echo.log), not 60+10"; ok
cmd "truncate 0"
c closed || fail "truncate 0 closes new connections at once"; ok
cmd "pass"
c rt:1000 || fail "pass clears truncate"; ok

# cut: current connections close at once, new ones are closed, until restore.
spawn cur client "$PROXY" rt:100 mark:ready closed
cur=$last
wait_line cur.out ready
cmd "cut"
wait "$cur" || fail "cut closes current connections: $(cat cur.out)"; ok
c closed || fail "cut closes new connections"; ok
grep -q '^faultproxy: refuse 127.0.0.1:[0-9]*: cut$' fp.err || fail "refusal logged"; ok
cmd "restore"
c rt:100 || fail "restore"; ok

# drop: current connections close, new ones relay at once.
spawn cur client "$PROXY" rt:100 mark:ready closed
cur=$last
wait_line cur.out ready
cmd "drop"
wait "$cur" || fail "drop closes current connections: $(cat cur.out)"; ok
c rt:100 || fail "drop keeps accepting"; ok

# blackhole: nothing passes either way, nobody is closed, and a peer that
# leaves is not reported to the other side until the path is back.
settled
spawn cur client "$PROXY" rt:100 mark:ready wait:"$work/go3" silent:100 silent:10
cur=$last
wait_line cur.out ready
n=$(nlines echo.log)
cmd "blackhole"
touch go3
c silent:100 || fail "blackhole: new connection"; ok
wait "$cur" || fail "blackhole: current connection: $(cat cur.out)"; ok
sleep 0.5
[ "$(nlines echo.log)" = "$n" ] || fail "blackhole let a client close through to the target ($n -> $(nlines echo.log): $(tr "\n" " " <echo.log))"; ok
cmd "pass"
wait_lines echo.log $((n + 2)); ok
c rt:100 || fail "pass after blackhole"; ok

# At most 64 connections: the others are accepted and closed.
idle
[ "$(py many "$PROXY" 70)" = 64 ] || fail "connection limit"; ok
grep -q '^faultproxy: refuse .*: 64 connections open$' fp.err || fail "limit logged"; ok
sleep 0.5
c rt:100 || fail "slots freed"; ok

# Back-pressure: a client that only writes, to a target whose replies no
# one reads, must not grow the proxy.
if [ -r "/proc/$fp/status" ]; then
	rss0=$(awk '/^VmRSS/ {print $2}' "/proc/$fp/status")
	sent=$(py flood "$PROXY" 2)
	rss1=$(awk '/^VmRSS/ {print $2}' "/proc/$fp/status")
	[ $((rss1 - rss0)) -lt 4096 ] || fail "RSS grew from $rss0 to $rss1 kB after $sent bytes"; ok
	echo "selftest: flood wrote $sent bytes; proxy RSS $rss0 -> $rss1 kB"
fi
sleep 0.3
c rt:100 || fail "after flood"; ok

# End of stdin stops a second proxy.
(sleep 1) | "$FP" "127.0.0.1:$PROXY2" "127.0.0.1:$ECHO" >fp2.out 2>fp2.err &
fp2=$!
pids="$pids $fp2"
wait_line fp2.err "faultproxy: listening on 127.0.0.1:$PROXY2"
py client "$PROXY2" rt:10 || fail "second proxy relays"
wait "$fp2" || fail "end of stdin: exit status $?"; ok
grep -qx 'faultproxy: exiting on end of stdin' fp2.err || fail "end of stdin logged"; ok

# SIGTERM: every connection closed, clean exit.
spawn cur client "$PROXY" rt:100 mark:ready closed
cur=$last
wait_line cur.out ready
kill -TERM "$fp"
rc=0; wait "$fp" || rc=$?
[ "$rc" = 0 ] || fail "SIGTERM: exit status $rc"; ok
wait "$cur" || fail "SIGTERM closes connections: $(cat cur.out)"; ok
grep -qx 'faultproxy: exiting on SIGTERM' fp.err || fail "SIGTERM logged"; ok
grep -q '^faultproxy: close #[0-9]*: exit ' fp.err || fail "exit closes connections"; ok
if kill -0 "$fp" 2>/dev/null; then fail "still running after SIGTERM"; fi

echo "faultproxy-selftest: all $checks checks passed"
