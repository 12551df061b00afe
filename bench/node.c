/*
 * bench/node.c — the running node, end to end: two `parley serve` processes
 * on loopback, driven through their HTTP API, next to the peers and the
 * disk's floor measured in the same run (bench/peers).
 *
 *   build/rel/bench/node [--quick] [--keep] [--dir DIR] [--parley PATH]
 *                        [--peers PATH] [--no-peers] [--flash N] [--rounds R]
 *
 * What is measured, each figure printed as one `RESULT <name> <value>` line:
 *
 *  1. Durable throughput: N messages (100,000 of 256 B, 50,000 of 1 KiB;
 *     --quick 20,000 and 10,000) submitted at A with POST /api/send in
 *     requests of 5,000, one request at a time (each is answered once its
 *     messages are durable at A; bodies are built before the clock starts),
 *     until every one is receipted at A: B has made it durable, logged a
 *     receipt and sent it once durable, and A has verified and committed
 *     that receipt (receipted_ms is taken then, before A's own sync).
 *     Rate = N / (last receipted_ms - first submitted_ms), both from node
 *     A's outbox, one clock; the rate from the first POST is printed too.  "256 B" and
 *     "1 KiB" are the size of the whole log entry, envelope included: the
 *     text is cut with env_encode so that every entry is exactly that size,
 *     and tile 1 of the entry bundles, fetched from A and from B's mirror,
 *     shows it (and that both serve the same bytes).  A fresh pair of nodes
 *     for each size.
 *  2. FLASH latency, idle: 100 FLASH messages of 256 B (--quick 20, or
 *     --flash N, in this step and the next), one at a time on a fresh
 *     pair, each waited for until its outbox row says receipted.  The
 *     figure is the node's own receipted_ms - submitted_ms (whole ms); the
 *     client's view (POST sent -> receipt seen, polling every ms) is
 *     printed next to it.
 *  3. FLASH latency under load, same pair: a ROUTINE backlog sized so that it
 *     outlasts the FLASH phase twice over at three times step 1's rate (a
 *     catch-up drains faster than requests do; at most 1,200,000),
 *     queued at A while B is stopped (the node drains about as fast as it
 *     is fed, so a backlog submitted to a pair that is up would be mostly
 *     gone before the FLASH phase); B is started again, and once it
 *     receives, one FLASH every 50 ms while the backlog drains.  For each
 *     FLASH: how many ROUTINE messages were submitted before it and not yet
 *     receipted when it was submitted (the queue it had to jump), and how
 *     many of those it overtook.  A FLASH that found no queue does not
 *     measure "under load"; those are counted, with a warning.  If the
 *     node has not receipted everything within a time limit (90 s, --quick
 *     30 s) or stops moving for a minute, the run is cut off with a NODE
 *     PROBLEM line and FLASH messages not yet receipted count with their
 *     age then: the latencies printed are lower bounds.  Meanwhile a disk
 *     probe (the floor's write + fdatasync, every 10 ms, from a thread of
 *     this process) measures the disk under that load; each FLASH at twice
 *     the median or more is printed beside the slowest probe sync in its
 *     time (e2e_probe_report).  And from the kernel's schedstat, how long
 *     each node's event loop (and all its threads) waited for a CPU while
 *     runnable during the phase.
 *  4. bench/peers as a child: Redis (appendfsync always, one run of each
 *     size) right after each throughput round of step 1; the fdatasync
 *     floor right after step 3; Mosquitto last.  The peers' clients keep
 *     as many messages in flight as step 1's client: 5,000 (--inflight),
 *     where bench/peers alone keeps 1,024.  Its RESULT lines are
 *     re-printed (Redis's as medians of the rounds), then the ratios the
 *     targets are stated in and a PASS or MISS line per target.
 *
 * Rounds.  Step 1 runs R times (--rounds, default 3; --quick 1), each
 * round on fresh pairs and followed at once by Redis; the RESULT lines are
 * medians of the rounds, and the ratio to Redis is the median of each
 * round's ratio to the Redis run just after it.  The machine is shared:
 * between full runs minutes apart, Redis's rate moved from 38,000 to
 * 63,000 messages/s and the nodes' with it, more than between neighbours
 * in time (BENCHMARKS.md).
 *
 * Every message has an idempotency key naming its run and sequence number;
 * afterwards every key must be in A's outbox exactly once, and receipted,
 * and B must report A's whole log as received — a fast wrong answer cannot
 * pass for a fast answer.  Next to each rate: CPU time per message of node
 * A, node B and this process, which move less than rates on a shared
 * 2-core machine, and the bytes each node wrote to the disk per message
 * (/proc/PID/io; the checkpoints' copies only as far as they have got).
 * After each pair is stopped, the alarms its nodes raised
 * and the paths their logs show going down are printed as NOTE lines.
 *
 * While a run drains, B's status is polled (B's durable contiguous copy,
 * and its own log, which grows with each receipt): A's status counts A's
 * outbox backlog and costs A, the busier node, tens of milliseconds a view.
 * A's outbox is fetched only when B holds everything, except in the idle
 * FLASH run, whose outbox holds a few dozen rows.
 *
 * Nodes live in a fresh directory under DIR (default: the current
 * directory, hidden), on the disk being measured; ports are picked by the
 * kernel.  Every node is stopped with SIGTERM and waited for after its
 * phase, when a step fails and on SIGINT/SIGTERM, and gets SIGTERM if this
 * program is killed outright (PR_SET_PDEATHSIG).  The directory is removed
 * unless --keep.
 *
 * Limits: nodes, client and (in step 4) the peers share the machine's
 * CPUs; the node's timestamps have millisecond resolution, so FLASH
 * latencies are whole milliseconds.  Percentiles are nearest rank: with
 * 100 samples the p99 is the second largest (the largest is printed too);
 * --quick's 20 give a p99 that is the largest.  submitted_ms is taken when A's flush logs a
 * request's messages, after parsing it, so the rate of step 1 leaves out the
 * parsing of the first request (the rate from the first POST does not).
 */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <sqlite3.h>

#include "envelope.h"

#include "benchutil.h"

#define E2E_PATH_MAX 1024
#define E2E_BATCH 5000               /* messages per POST /api/send */
#define E2E_START_SECS 20            /* API answers and paths up within this */
#define E2E_STOP_SECS 20             /* SIGTERM, then SIGKILL after this */
#define E2E_LOG_TAIL 3000            /* bytes of a node's log shown on failure */
#define E2E_STALL_SECS 60            /* no progress this long: the run failed */
#define E2E_IO_SECS 120              /* one HTTP exchange */
#define E2E_MAX_RESPONSE (1u << 30)
#define E2E_POLL_SECS 0.2            /* status polls while a run drains */
#define E2E_TAIL_POLL_SECS 0.005     /* A's status polls once B holds everything */
#define E2E_SEQ_DIGITS 8
#define E2E_SUBJECT "bench"
#define E2E_NAME_A "bench-a"
#define E2E_NAME_B "bench-b"
#define E2E_FLASH_GAP_SECS 0.02      /* idle: pause between FLASH messages */
#define E2E_LOAD_INTERVAL_SECS 0.05  /* load: one FLASH every 50 ms */
#define E2E_MAX_BACKLOG 1200000
#define E2E_MAX_ROUNDS 9             /* throughput rounds (--rounds) */
#define E2E_PROBE_SECS 0.01          /* load: one disk-probe sync every 10 ms */
#define E2E_PROBE_LEN 256            /* bytes appended per probe sync (as the floor) */
#define E2E_PROBE_MAX 4096           /* probe syncs kept (41 s at the interval) */
#define E2E_STALL_MS 5.0             /* a probe sync this slow is a stall */

/* Targets of the issue. */
#define E2E_TARGET_RATE_256 20000.0
#define E2E_TARGET_FLASH_X_FSYNC 20.0

struct e2e_opts {
	int quick, keep, no_peers;
	int rounds;                  /* throughput rounds, each with Redis after it */
	uint64_t n256, n1024;        /* messages per throughput run */
	int flash_idle, flash_load;  /* FLASH messages per latency run */
	uint64_t min_backlog, max_backlog;
	double drain_limit;          /* seconds the FLASH-load run may take to drain */
	const char *parent, *parley, *peers;
};

/* Idempotency keys: a prefix per run, then the sequence number. */
enum e2e_tag { E2E_T256, E2E_T1024, E2E_TIDLE, E2E_TBACK, E2E_TLOAD, E2E_NTAGS };
static const char *const e2e_prefix[E2E_NTAGS] = { "e256-", "e1024-", "fi-", "bl-", "fl-" };

/* ---- processes, scratch directory, cleanup ----------------------------- */

/* Every child still to be stopped: the signal handler and atexit stop them. */
#define E2E_MAX_CHILDREN 8
static volatile pid_t e2e_children[E2E_MAX_CHILDREN];
static char e2e_dir[E2E_PATH_MAX];
static volatile sig_atomic_t e2e_have_dir, e2e_keep;

/* Milliseconds on the nodes' clock (CLOCK_REALTIME, as node_now_ms). */
static int64_t e2e_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void e2e_child_add(pid_t pid)
{
	int i;

	for (i = 0; i < E2E_MAX_CHILDREN; i++)
		if (e2e_children[i] == 0) {
			e2e_children[i] = pid;
			return;
		}
	assert(!"more children than slots");
}

static void e2e_child_forget(pid_t pid)
{
	int i;

	for (i = 0; i < E2E_MAX_CHILDREN; i++)
		if (e2e_children[i] == pid)
			e2e_children[i] = 0;
}

/* SIGTERM, wait up to E2E_STOP_SECS for a clean exit, then SIGKILL.
 * Returns the wait status; *secs gets the time the exit took, since a
 * node that is slow to stop is worth a note. */
static int e2e_stop(pid_t pid, double *secs)
{
	double t0 = bu_now();
	int status = bu_stop(pid, E2E_STOP_SECS);

	e2e_child_forget(pid);
	if (secs)
		*secs = bu_now() - t0;
	return status;
}

static void e2e_cleanup(void)
{
	int i;

	for (i = 0; i < E2E_MAX_CHILDREN; i++)
		if (e2e_children[i] > 0)
			e2e_stop(e2e_children[i], NULL);
	if (e2e_have_dir && !e2e_keep)
		bu_rmtree(e2e_dir);
	e2e_have_dir = 0;
}

/* Set while a pair of nodes runs: their logs explain a failure. */
static const char *e2e_logs[2];

/* What bu_die shows before the cleanup removes it: the nodes' own words. */
static void e2e_explain(void)
{
	bu_dump_log(e2e_logs[0], E2E_LOG_TAIL);
	bu_dump_log(e2e_logs[1], E2E_LOG_TAIL);
}

/* The scratch directory, hidden under --dir or the current directory; a
 * closed connection is an error to report, not a signal to die of. */
static void e2e_make_dir(const char *parent)
{
	bu_make_dir(e2e_dir, sizeof e2e_dir, parent != NULL ? parent : ".",
		    ".bench-node-XXXXXX");
	e2e_have_dir = 1;
	bu_catch_signals();
	signal(SIGPIPE, SIG_IGN);
}

/* Starts argv[0] with stdin from /dev/null and stdout, stderr to the files
 * named (NULL: /dev/null); out_fd >= 0 is used as stdout instead.  With
 * track, the child is stopped by e2e_cleanup and gets SIGTERM when this
 * program dies. */
static pid_t e2e_spawn(char *const argv[], const char *out, int out_fd, const char *err,
		       int track)
{
	pid_t parent = getpid(), pid;

	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) < 0)
		bu_die("fork: %s", strerror(errno));
	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
		int o = out_fd >= 0 ? out_fd : open(out ? out : "/dev/null",
						     O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		int e = open(err ? err : "/dev/null", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
			     0600);
		if ((track && (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)) ||
		    in < 0 || o < 0 || e < 0 || dup2(in, 0) < 0 || dup2(o, 1) < 0 ||
		    dup2(e, 2) < 0)
			_exit(126);
		signal(SIGPIPE, SIG_DFL);
		execv(argv[0], argv);
		dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	if (track)
		e2e_child_add(pid);
	return pid;
}

/* Runs a parley command to completion; dies, with what it said, if it fails. */
static void e2e_run(char *const argv[], const char *out, const char *err)
{
	pid_t pid = e2e_spawn(argv, out, -1, err, 0);
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			bu_die("waitpid: %s", strerror(errno));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		bu_dump_log(err, E2E_LOG_TAIL);
		bu_die("%s %s failed (status %d)", argv[0], argv[1],
			WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status));
	}
}

/* ---- small tools ------------------------------------------------------- */

struct e2e_buf {
	char *p;
	size_t len, cap;
};

static void e2e_buf_reserve(struct e2e_buf *b, size_t more)
{
	size_t cap = b->cap ? b->cap : 4096;

	if (more > E2E_MAX_RESPONSE || b->len + more + 1 > E2E_MAX_RESPONSE)
		bu_die("buffer over %u bytes", E2E_MAX_RESPONSE);
	while (cap < b->len + more + 1)
		cap *= 2;
	if (cap != b->cap) {
		char *p = realloc(b->p, cap);
		if (p == NULL)
			bu_die("out of memory");
		b->p = p;
		b->cap = cap;
	}
}

static void e2e_buf_add(struct e2e_buf *b, const void *d, size_t n)
{
	e2e_buf_reserve(b, n);
	memcpy(b->p + b->len, d, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void e2e_buf_printf(struct e2e_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void e2e_buf_printf(struct e2e_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	e2e_buf_reserve(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

static void e2e_buf_free(struct e2e_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

/* Nearest-rank percentile (p in 0..100) of n values; sorts v. */
static double e2e_pct(double *v, size_t n, double p)
{
	size_t k;

	assert(n > 0);
	qsort(v, n, sizeof *v, bu_cmp_double);
	k = (size_t)ceil(p / 100.0 * (double)n);
	return v[k == 0 ? 0 : k - 1];
}

/* bu_result, but whole numbers below 100 (counts, whole milliseconds)
 * without decimals too, as this bench has always printed them. */
static void e2e_result(const char *name, double v)
{
	if (v < 100 && v == floor(v))
		printf("RESULT %s %.0f\n", name, v);
	else
		bu_result(name, v);
}

/* ---- HTTP/1.1 client, blocking, one keep-alive connection -------------- */

struct e2e_http {
	int fd;                 /* -1: not connected */
	int port;
	const char *token;
	const char *who;        /* for messages */
	struct e2e_buf in;      /* received, not yet consumed */
};

static void e2e_http_close(struct e2e_http *h)
{
	if (h->fd >= 0)
		close(h->fd);
	h->fd = -1;
	h->in.len = 0;
}

static int e2e_http_connect(struct e2e_http *h)
{
	struct timeval tv = { E2E_IO_SECS, 0 };
	struct sockaddr_in a;
	int one = 1;

	e2e_http_close(h);
	if ((h->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		bu_die("socket: %s", strerror(errno));
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)h->port);
	if (connect(h->fd, (struct sockaddr *)&a, sizeof a) != 0) {
		e2e_http_close(h);
		return -1;
	}
	setsockopt(h->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	setsockopt(h->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(h->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	return 0;
}

/* Reads more bytes into h->in; 0 at EOF, -1 on error (errno). */
static ssize_t e2e_http_fill(struct e2e_http *h)
{
	ssize_t r;

	e2e_buf_reserve(&h->in, 65536);
	do
		r = recv(h->fd, h->in.p + h->in.len, 65536, 0);
	while (r < 0 && errno == EINTR);
	if (r > 0) {
		h->in.len += (size_t)r;
		h->in.p[h->in.len] = '\0';
	}
	return r;
}

/* Case-insensitive header lookup in the head (NUL-terminated); the value
 * as a number, or -1. */
static long long e2e_http_header_num(const char *head, const char *name)
{
	size_t nl = strlen(name);
	const char *p = head;

	while ((p = strstr(p, "\r\n")) != NULL) {
		p += 2;
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':')
			return strtoll(p + nl + 1, NULL, 10);
	}
	return -1;
}

static int e2e_http_header_has(const char *head, const char *name, const char *value)
{
	size_t nl = strlen(name);
	const char *p = head;

	while ((p = strstr(p, "\r\n")) != NULL) {
		p += 2;
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1, *end = strstr(v, "\r\n");
			size_t vl = strlen(value);
			for (; end && v + vl <= end; v++)
				if (strncasecmp(v, value, vl) == 0)
					return 1;
		}
	}
	return 0;
}

/* One exchange.  Returns the HTTP status, the body in *resp; -2 when the
 * connection was found closed before any byte of the answer (the caller
 * may reconnect and retry: every request here is idempotent). */
static int e2e_http_try(struct e2e_http *h, const char *method, const char *path,
			const char *body, size_t blen, struct e2e_buf *resp)
{
	char head[1024];
	struct iovec iov[2];
	size_t hl, sent = 0, total, hend;
	long long clen;
	int status, got_any = 0;
	char *eoh;

	hl = (size_t)snprintf(head, sizeof head,
			      "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
			      "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
			      "Content-Length: %zu\r\n\r\n",
			      method, path, h->port, h->token, blen);
	assert(hl < sizeof head);
	total = hl + blen;
	while (sent < total) {
		ssize_t w;
		if (sent < hl) {
			iov[0].iov_base = head + sent;
			iov[0].iov_len = hl - sent;
			iov[1].iov_base = (void *)body;
			iov[1].iov_len = blen;
		} else {
			iov[0].iov_base = (char *)body + (sent - hl);
			iov[0].iov_len = blen - (sent - hl);
			iov[1].iov_base = NULL;
			iov[1].iov_len = 0;
		}
		w = writev(h->fd, iov, iov[1].iov_len ? 2 : 1);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EPIPE || errno == ECONNRESET) && sent == 0)
			return -2;
		if (w <= 0)
			bu_die("%s: %s %s: write: %s", h->who, method, path,
				w < 0 ? strerror(errno) : "nothing written");
		sent += (size_t)w;
	}
	h->in.len = 0;
	while ((eoh = h->in.p ? strstr(h->in.p, "\r\n\r\n") : NULL) == NULL) {
		ssize_t r = e2e_http_fill(h);
		if (r == 0 || (r < 0 && errno == ECONNRESET)) {
			if (!got_any)
				return -2;
			bu_die("%s: %s %s: connection closed in the answer's head", h->who,
				method, path);
		}
		if (r < 0)
			bu_die("%s: %s %s: no answer (%s) within %d s", h->who, method, path,
				strerror(errno), E2E_IO_SECS);
		got_any = 1;
	}
	hend = (size_t)(eoh - h->in.p) + 4;
	*eoh = '\0';
	if (sscanf(h->in.p, "HTTP/1.%*d %d", &status) != 1)
		bu_die("%s: %s %s: not an HTTP answer: %.80s", h->who, method, path, h->in.p);
	if (e2e_http_header_has(h->in.p, "Transfer-Encoding", "chunked"))
		bu_die("%s: %s %s: chunked answers are not handled here", h->who, method, path);
	clen = e2e_http_header_num(h->in.p, "Content-Length");
	if (clen < 0 || clen > E2E_MAX_RESPONSE)
		bu_die("%s: %s %s: no usable Content-Length", h->who, method, path);
	if (e2e_http_header_has(h->in.p, "Connection", "close"))
		status = -status; /* marked: reconnect after this one */
	while (h->in.len - hend < (size_t)clen) {
		ssize_t r = e2e_http_fill(h);
		if (r <= 0)
			bu_die("%s: %s %s: answer cut short after %zu of %lld bytes (%s)",
				h->who, method, path, h->in.len - hend, clen,
				r == 0 ? "connection closed" : strerror(errno));
	}
	resp->len = 0;
	e2e_buf_add(resp, h->in.p + hend, (size_t)clen);
	h->in.len = 0;
	if (status < 0) {
		e2e_http_close(h);
		status = -status;
	}
	return status;
}

static int e2e_http(struct e2e_http *h, const char *method, const char *path,
		    const char *body, size_t blen, struct e2e_buf *resp)
{
	int tries, st = -2;

	for (tries = 0; tries < 2 && st == -2; tries++) {
		if (h->fd < 0 && e2e_http_connect(h) != 0)
			bu_die("%s: cannot connect to 127.0.0.1:%d: %s", h->who, h->port,
				strerror(errno));
		st = e2e_http_try(h, method, path, body, blen, resp);
		if (st == -2)
			e2e_http_close(h);
	}
	if (st == -2)
		bu_die("%s: %s %s: the node closed the connection twice without answering",
			h->who, method, path);
	return st;
}

/* GET or POST, 200 expected, JSON answer; dies otherwise. */
static json_t *e2e_json(struct e2e_http *h, const char *method, const char *path,
			const char *body, size_t blen)
{
	struct e2e_buf r = { 0 };
	json_error_t je;
	json_t *j;
	int st = e2e_http(h, method, path, body, blen, &r);

	if (st != 200)
		bu_die("%s: %s %s: HTTP %d: %.300s", h->who, method, path, st,
			r.p ? r.p : "");
	j = json_loadb(r.p, r.len, 0, &je);
	if (j == NULL)
		bu_die("%s: %s %s: answer is not JSON: %s", h->who, method, path, je.text);
	e2e_buf_free(&r);
	return j;
}

/* A string member, or dflt when absent. */
static const char *e2e_jstr(json_t *o, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? s : dflt;
}

static int64_t e2e_jint(json_t *o, const char *key, const char *what)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v))
		bu_die("%s: no integer \"%s\"", what, key);
	return (int64_t)json_integer_value(v);
}

/* ---- a pair of nodes --------------------------------------------------- */

struct e2e_node {
	const char *name;
	char dir[E2E_PATH_MAX + 64];
	char log[E2E_PATH_MAX + 64];
	char token[128];
	int port[3];            /* two peer paths, the API */
	pid_t pid;
	struct e2e_http http;
};

struct e2e_pair {
	char dir[E2E_PATH_MAX + 32];
	struct e2e_node a, b;
	char origin_ab[64];     /* A's log to B */
	const char *parley;     /* the binary the nodes run */
};

static void e2e_node_init(struct e2e_pair *pr, struct e2e_node *n, const char *name,
			  const char *parley)
{
	char listen[2][32], api[32], out[E2E_PATH_MAX + 64];
	int i;

	memset(n, 0, sizeof *n);
	n->name = name;
	snprintf(n->dir, sizeof n->dir, "%s/%s", pr->dir, name);
	snprintf(n->log, sizeof n->log, "%s/%s.log", pr->dir, name);
	snprintf(out, sizeof out, "%s/%s.out", pr->dir, name);
	for (i = 0; i < 3; i++)
		n->port[i] = bu_free_port();
	snprintf(listen[0], sizeof listen[0], "127.0.0.1:%d", n->port[0]);
	snprintf(listen[1], sizeof listen[1], "127.0.0.1:%d", n->port[1]);
	snprintf(api, sizeof api, "127.0.0.1:%d", n->port[2]);
	{
		char *argv[] = { (char *)parley, "init", n->dir, "--name", (char *)name,
				 "--listen", listen[0], "--listen", listen[1], "--api", api,
				 NULL };
		e2e_run(argv, out, n->log);
	}
	n->http.fd = -1;
	n->http.port = n->port[2];
	n->http.token = n->token;
	n->http.who = name;
}

static void e2e_node_token(struct e2e_node *n)
{
	char path[E2E_PATH_MAX + 128];
	FILE *f;

	snprintf(path, sizeof path, "%s/api.token", n->dir);
	if ((f = fopen(path, "r")) == NULL || fgets(n->token, sizeof n->token, f) == NULL)
		bu_die("%s: cannot read the API token", path);
	fclose(f);
	n->token[strcspn(n->token, "\r\n")] = '\0';
}

/* B's card pinned at A and A's at B: card to a file, then peer add. */
static void e2e_pin(struct e2e_pair *pr, struct e2e_node *at, struct e2e_node *of,
		    const char *parley)
{
	char card[E2E_PATH_MAX + 64], out[E2E_PATH_MAX + 64];
	char *argv_card[] = { (char *)parley, "card", of->dir, NULL };
	char *argv_add[] = { (char *)parley, "peer", "add", at->dir, card, NULL };

	snprintf(card, sizeof card, "%s/%s.card", pr->dir, of->name);
	snprintf(out, sizeof out, "%s/%s.out", pr->dir, at->name);
	e2e_run(argv_card, card, of->log);
	e2e_run(argv_add, out, at->log);
}

/* Whether status shows every outgoing path up, one active, and an
 * incoming path up. */
static int e2e_paths_up(json_t *st)
{
	json_t *p = json_array_get(json_object_get(st, "peers"), 0), *v;
	json_t *paths = json_object_get(p, "paths"), *inc = json_object_get(p, "incoming");
	size_t i;
	int active = 0, in_up = 0;

	if (!json_is_array(paths) || json_array_size(paths) == 0 || !json_is_array(inc))
		return 0;
	json_array_foreach(paths, i, v) {
		if (strcmp(e2e_jstr(v, "state", ""), "up") != 0)
			return 0;
		active |= json_is_true(json_object_get(v, "active"));
	}
	json_array_foreach(inc, i, v)
		in_up += strcmp(e2e_jstr(v, "state", ""), "up") == 0;
	return active && in_up > 0;
}

/* Answers the API without dying: 0 when GET /api/status gives 200. */
static int e2e_api_answers(struct e2e_node *n)
{
	struct e2e_buf r = { 0 };
	int st;

	if (e2e_http_connect(&n->http) != 0)
		return -1;
	st = e2e_http_try(&n->http, "GET", "/api/status", "", 0, &r);
	e2e_buf_free(&r);
	if (st != 200)
		e2e_http_close(&n->http);
	return st == 200 ? 0 : -1;
}

static void e2e_pair_start(struct e2e_pair *pr, const char *tag, const struct e2e_opts *o)
{
	struct e2e_node *ns[2] = { &pr->a, &pr->b };
	double t0 = bu_now();
	int i, ready = 0;

	memset(pr, 0, sizeof *pr);
	snprintf(pr->dir, sizeof pr->dir, "%s/%s", e2e_dir, tag);
	if (mkdir(pr->dir, 0700) != 0)
		bu_die("%s: %s", pr->dir, strerror(errno));
	pr->parley = o->parley;
	e2e_node_init(pr, &pr->a, E2E_NAME_A, o->parley);
	e2e_node_init(pr, &pr->b, E2E_NAME_B, o->parley);
	e2e_pin(pr, &pr->a, &pr->b, o->parley);
	e2e_pin(pr, &pr->b, &pr->a, o->parley);
	snprintf(pr->origin_ab, sizeof pr->origin_ab, "%s/to/%s", E2E_NAME_A, E2E_NAME_B);
	for (i = 0; i < 2; i++) {
		char *argv[] = { (char *)o->parley, "serve", ns[i]->dir, NULL };
		e2e_node_token(ns[i]);
		ns[i]->pid = e2e_spawn(argv, NULL, -1, ns[i]->log, 1);
		e2e_logs[i] = ns[i]->log;
	}
	/* Both APIs answer, then both sides' paths are up. */
	while (ready < 2) {
		int status;
		for (i = 0; i < 2; i++)
			if (waitpid(ns[i]->pid, &status, WNOHANG) == ns[i]->pid) {
				e2e_child_forget(ns[i]->pid);
				bu_die("node %s exited at start (status %d)", ns[i]->name,
					WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status));
			}
		ready = 0;
		for (i = 0; i < 2; i++) {
			json_t *st;
			if (ns[i]->http.fd < 0 && e2e_api_answers(ns[i]) != 0)
				continue;
			st = e2e_json(&ns[i]->http, "GET", "/api/status", "", 0);
			ready += e2e_paths_up(st);
			json_decref(st);
		}
		if (ready < 2 && bu_now() - t0 > E2E_START_SECS)
			bu_die("pair %s: APIs and paths not all up after %d s", tag,
				E2E_START_SECS);
		if (ready < 2)
			bu_sleep(0.05);
	}
	printf("pair %s: nodes %s (pid %d, API :%d) and %s (pid %d, API :%d), 2 paths each "
	       "way, up in %.2f s\n", tag, pr->a.name, (int)pr->a.pid, pr->a.port[2],
	       pr->b.name, (int)pr->b.pid, pr->b.port[2], bu_now() - t0);
}

/* What a node said that a clean run would not: its alarms (by kind, with
 * the first one's detail), its storage state, and the paths its log shows
 * going down before it was told to stop. */
static void e2e_node_report(struct e2e_node *n)
{
	json_t *st = e2e_json(&n->http, "GET", "/api/status", "", 0);
	json_t *al = json_object_get(st, "alarms"), *v;
	const char *storage = e2e_jstr(st, "storage", "ok");
	const char *kinds[16];
	const char *first[16];
	int counts[16], nk = 0, k, downs = 0;
	char line[1200], first_down[1200] = "";
	size_t i;
	FILE *f;

	json_array_foreach(al, i, v) {
		const char *kind = e2e_jstr(v, "kind", "?");
		for (k = 0; k < nk && strcmp(kinds[k], kind) != 0; k++)
			;
		if (k == nk && nk < 16) {
			kinds[nk] = kind;
			first[nk] = e2e_jstr(v, "detail", "?");
			counts[nk++] = 0;
		}
		if (k < nk)
			counts[k]++;
	}
	for (k = 0; k < nk; k++)
		printf("NOTE node %s raised %d %s alarm%s; the first: %s\n", n->name, counts[k],
		       kinds[k], counts[k] > 1 ? "s" : "", first[k]);
	if (strcmp(storage, "ok") != 0)
		printf("NOTE node %s reports storage: %s\n", n->name, storage);
	json_decref(st);
	if ((f = fopen(n->log, "r")) == NULL)
		return;
	while (fgets(line, sizeof line, f) != NULL) {
		if (strstr(line, "SIGTERM") != NULL)
			break;
		if (strstr(line, " down: ") != NULL && downs++ == 0)
			snprintf(first_down, sizeof first_down, "%s", line);
	}
	fclose(f);
	if (downs > 0)
		printf("NOTE node %s logged %d path-down events; the first: %s", n->name, downs,
		       first_down);
}

static void e2e_pair_stop(struct e2e_pair *pr)
{
	struct e2e_node *ns[2] = { &pr->a, &pr->b };
	int i;

	e2e_node_report(&pr->a);
	e2e_node_report(&pr->b);
	for (i = 0; i < 2; i++) {
		double secs;
		int st;
		e2e_http_close(&ns[i]->http);
		e2e_buf_free(&ns[i]->http.in);
		st = e2e_stop(ns[i]->pid, &secs);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || secs > 2)
			printf("NOTE node %s: SIGTERM -> exit took %.2f s, %s %d\n", ns[i]->name,
			       secs, WIFEXITED(st) ? "exit status" : "killed by signal",
			       WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
		ns[i]->pid = 0;
		e2e_logs[i] = NULL;
	}
	if (!e2e_keep)
		bu_rmtree(pr->dir);
}

/* ---- messages ---------------------------------------------------------- */

/* The bytes env_encode gives for a message like the node will log. */
static size_t e2e_entry_len(enum env_prec prec, const char *id, size_t text_len)
{
	struct envelope env;
	struct perr e;
	char *text = malloc(text_len + 1), *out;
	size_t len;

	if (text == NULL)
		bu_die("out of memory");
	memset(text, 'a', text_len);
	text[text_len] = '\0';
	memset(&env, 0, sizeof env);
	env.type = ENV_MESSAGE;
	env.prec = prec;
	snprintf(env.id, sizeof env.id, "%s", id);
	snprintf(env.from, sizeof env.from, "%s", E2E_NAME_A);
	snprintf(env.to, sizeof env.to, "%s", E2E_NAME_B);
	env.time = (int64_t)time(NULL);
	env.subject = (char *)E2E_SUBJECT;
	env.text = text;
	if (env_encode(&env, &out, &len, &e) != 0)
		bu_die("env_encode: %s", e.msg);
	free(out);
	free(text);
	return len;
}

/* The text length that makes a message of tag and precedence an entry of
 * exactly entry bytes (the envelope's other fields have fixed widths). */
static size_t e2e_text_len(enum e2e_tag tag, enum env_prec prec, size_t entry)
{
	char id[64];
	size_t base, t;

	snprintf(id, sizeof id, "%s%0*u", e2e_prefix[tag], E2E_SEQ_DIGITS, 0u);
	base = e2e_entry_len(prec, id, 32) - 32;
	if (entry < base + 32)
		bu_die("an entry of %zu bytes leaves no room for a text (envelope %zu)",
			entry, base);
	t = entry - base;
	if (e2e_entry_len(prec, id, t) != entry)
		bu_die("envelope size is not linear in the text: sizing failed");
	return t;
}

/* Text of message seq: its number in hex, then letters that depend on it. */
static void e2e_text(char *buf, size_t len, uint64_t seq)
{
	size_t i;
	char hex[17];

	snprintf(hex, sizeof hex, "%016llx", (unsigned long long)seq);
	for (i = 0; i < len; i++)
		buf[i] = i < 16 ? hex[i] : (char)('a' + (seq + i) % 26);
	buf[len] = '\0';
}

/* The body of POST /api/send for messages first .. first+n-1 of a run. */
static void e2e_send_body(struct e2e_buf *b, enum e2e_tag tag, const char *prec,
			  size_t text_len, uint64_t first, uint64_t n)
{
	char *text = malloc(text_len + 1);
	uint64_t i;

	if (text == NULL)
		bu_die("out of memory");
	b->len = 0;
	e2e_buf_printf(b, "{\"to\":\"%s\",\"messages\":[", E2E_NAME_B);
	for (i = 0; i < n; i++) {
		e2e_text(text, text_len, first + i);
		e2e_buf_printf(b, "%s{\"precedence\":\"%s\",\"subject\":\"%s\",\"text\":\"%s\","
			       "\"id\":\"%s%0*llu\"}", i ? "," : "", prec, E2E_SUBJECT, text,
			       e2e_prefix[tag], E2E_SEQ_DIGITS, (unsigned long long)(first + i));
	}
	e2e_buf_printf(b, "]}");
	free(text);
}

/* Submits the messages first .. first+n-1 in body; checks the answer (n
 * entries, none a duplicate, indices increasing); returns the highest index
 * in A's log and the first in *lo. */
static uint64_t e2e_post(struct e2e_node *a, const struct e2e_buf *body, enum e2e_tag tag,
			 uint64_t first, uint64_t n, uint64_t *lo)
{
	json_t *r, *ents, *v;
	uint64_t prev = 0, idx = 0;
	size_t i;

	r = e2e_json(&a->http, "POST", "/api/send", body->p, body->len);
	ents = json_object_get(r, "entries");
	if (!json_is_array(ents) || json_array_size(ents) != n)
		bu_die("send of %llu messages: answer has %zu entries", (unsigned long long)n,
			json_array_size(ents));
	json_array_foreach(ents, i, v) {
		idx = (uint64_t)e2e_jint(v, "index", "send answer");
		if (json_is_true(json_object_get(v, "duplicate")))
			bu_die("send: message %s%llu called a duplicate", e2e_prefix[tag],
				(unsigned long long)(first + i));
		if (i > 0 && idx <= prev)
			bu_die("send: indices not increasing (%llu after %llu)",
				(unsigned long long)idx, (unsigned long long)prev);
		if (i == 0 && lo)
			*lo = idx;
		prev = idx;
	}
	json_decref(r);
	return idx;
}

/* Builds and submits messages first .. first+n-1 (see e2e_post). */
static uint64_t e2e_submit(struct e2e_node *a, struct e2e_buf *body, enum e2e_tag tag,
			   const char *prec, size_t text_len, uint64_t first, uint64_t n,
			   uint64_t *lo)
{
	e2e_send_body(body, tag, prec, text_len, first, n);
	return e2e_post(a, body, tag, first, n, lo);
}

/* ---- outbox ------------------------------------------------------------ */

struct e2e_row {
	uint64_t idx, seq;
	int64_t sub, rcpt;      /* node A's ms; rcpt -1 when not receipted */
	int tag;                /* e2e_tag, -1 for rows not made here */
	int prec;
};

static int e2e_tag_of(const char *id, uint64_t *seq)
{
	int t;

	for (t = 0; t < E2E_NTAGS; t++) {
		size_t pl = strlen(e2e_prefix[t]);
		char *end;
		if (strncmp(id, e2e_prefix[t], pl) == 0 && strlen(id) == pl + E2E_SEQ_DIGITS) {
			*seq = strtoull(id + pl, &end, 10);
			if (*end == '\0')
				return t;
		}
	}
	return -1;
}

/* A's outbox (brief), as rows; *fetch gets the seconds the view took. */
static struct e2e_row *e2e_outbox(struct e2e_node *a, size_t *n, double *fetch)
{
	double t0 = bu_now();
	json_t *arr = e2e_json(&a->http, "GET", "/api/outbox?brief=1", "", 0), *v;
	struct e2e_row *rows;
	size_t i;

	if (fetch)
		*fetch = bu_now() - t0;
	if (!json_is_array(arr))
		bu_die("outbox is not an array");
	rows = calloc(json_array_size(arr) + 1, sizeof *rows);
	if (rows == NULL)
		bu_die("out of memory");
	json_array_foreach(arr, i, v) {
		struct e2e_row *r = &rows[i];
		const char *id = json_string_value(json_object_get(v, "id"));
		const char *prec = json_string_value(json_object_get(v, "precedence"));
		enum env_prec p = ENV_ROUTINE;
		r->idx = (uint64_t)e2e_jint(v, "index", "outbox row");
		r->sub = e2e_jint(v, "submitted_ms", "outbox row");
		r->rcpt = json_is_integer(json_object_get(v, "receipted_ms"))
			  ? e2e_jint(v, "receipted_ms", "outbox row") : -1;
		r->tag = id ? e2e_tag_of(id, &r->seq) : -1;
		if (prec)
			env_prec_parse(prec, &p);
		r->prec = (int)p;
	}
	*n = json_array_size(arr);
	json_decref(arr);
	return rows;
}

/* Checks that messages 0..n-1 of tag are each in rows exactly once; returns
 * how many are receipted. */
static uint64_t e2e_check_rows(const struct e2e_row *rows, size_t nrows, int tag, uint64_t n)
{
	uint8_t *seen = calloc((size_t)(n + 7) / 8, 1);
	uint64_t got = 0, rc = 0;
	size_t i;

	if (seen == NULL)
		bu_die("out of memory");
	for (i = 0; i < nrows; i++) {
		const struct e2e_row *r = &rows[i];
		if (r->tag != tag)
			continue;
		if (r->seq >= n)
			bu_die("outbox holds %s%llu, beyond the %llu sent", e2e_prefix[tag],
				(unsigned long long)r->seq, (unsigned long long)n);
		if (seen[r->seq / 8] & (1u << (r->seq % 8)))
			bu_die("outbox holds %s%llu twice", e2e_prefix[tag],
				(unsigned long long)r->seq);
		seen[r->seq / 8] |= (uint8_t)(1u << (r->seq % 8));
		got++;
		rc += r->rcpt >= 0;
	}
	free(seen);
	if (got != n)
		bu_die("outbox holds %llu of the %llu %s messages sent", (unsigned long long)got,
			(unsigned long long)n, e2e_prefix[tag]);
	return rc;
}

/* B's durable contiguous copy of A's log ("received") and the size of B's
 * own log to A, which grows with every receipt B writes: either moving is
 * progress.  B's status is cheap (its outbox is nearly empty); A's would
 * cost A, the busier node, tens of milliseconds a view. */
static void e2e_b_progress(struct e2e_pair *pr, int64_t *received, int64_t *b_log)
{
	char origin_ba[64];
	json_t *st = e2e_json(&pr->b.http, "GET", "/api/status", "", 0), *v;
	size_t i;

	snprintf(origin_ba, sizeof origin_ba, "%s/to/%s", E2E_NAME_B, E2E_NAME_A);
	*received = e2e_jint(json_array_get(json_object_get(st, "peers"), 0), "received",
			     "B status");
	*b_log = -1;
	json_array_foreach(json_object_get(st, "logs"), i, v)
		if (strcmp(e2e_jstr(v, "origin", ""), origin_ba) == 0)
			*b_log = e2e_jint(v, "size", "B status log");
	json_decref(st);
}

/* CPU seconds of each node and of this process; bytes each node has
 * written to the disk (its WAL, and the checkpoints' copies to the
 * database file as far as they have got). */
struct e2e_cpu {
	double a, b, self;
	double wa, wb;
};

static struct e2e_cpu e2e_cpu_now(struct e2e_pair *pr)
{
	struct e2e_cpu c = { bu_proc_cpu(pr->a.pid), bu_proc_cpu(pr->b.pid), bu_cpu(),
			     bu_proc_write_bytes(pr->a.pid), bu_proc_write_bytes(pr->b.pid) };
	return c;
}

/* A's count of its messages not yet receipted (status "unreceipted"). */
static int64_t e2e_a_unreceipted(struct e2e_pair *pr)
{
	json_t *st = e2e_json(&pr->a.http, "GET", "/api/status", "", 0);
	int64_t u = e2e_jint(json_array_get(json_object_get(st, "peers"), 0), "unreceipted",
			     "A status");

	json_decref(st);
	return u;
}

/* Waits until B holds A's log up to need, then until every message of the
 * tags is receipted; returns the final outbox (*nrows rows), *t_b the time
 * (this clock) B was first seen holding everything, *c_end the CPU times
 * when A first said it had nothing unreceipted (or when the run was cut
 * off).  The whole outbox, which costs A tens of microseconds a row, is
 * fetched only then: fetched earlier, it would hold up A's loop with the
 * last receipts still to apply, and count in A's CPU per message.  When
 * nothing moves for E2E_STALL_SECS, or after limit seconds: with must the
 * run dies, else the outbox as it is then is returned and *complete is 0. */
static struct e2e_row *e2e_drain(struct e2e_pair *pr, uint64_t need, const int *tags,
				 const uint64_t *counts, int ntags, double limit, int must,
				 size_t *nrows, double *t_b, double *fetch, int *complete,
				 struct e2e_cpu *c_end)
{
	double t0 = bu_now(), progress = t0, smax = 0, ssum = 0;
	int64_t last_r = -1, last_l = -1, d = 0, bl = 0;
	struct e2e_row *rows;
	uint64_t rc_last = 0, rc = 0, all = 0;
	int ns = 0, t;

	*complete = 0;
	*t_b = 0;
	for (;;) {
		double s0 = bu_now();
		e2e_b_progress(pr, &d, &bl);
		s0 = bu_now() - s0;
		ssum += s0;
		smax = s0 > smax ? s0 : smax;
		ns++;
		if ((uint64_t)d >= need)
			break;
		if (d != last_r || bl != last_l) {
			last_r = d;
			last_l = bl;
			progress = bu_now();
		} else if (bu_now() - progress > E2E_STALL_SECS || bu_now() - t0 > limit) {
			char why[256];
			snprintf(why, sizeof why, "B holds %lld entries of A's log, %llu needed; "
				 "%s", (long long)d, (unsigned long long)need,
				 bu_now() - t0 > limit ? "time limit of the run reached"
							: "no progress for a minute");
			if (must)
				bu_die("%s", why);
			printf("NODE PROBLEM: %s; the run is cut off here\n", why);
			*c_end = e2e_cpu_now(pr);
			rows = e2e_outbox(&pr->a, nrows, fetch);
			for (t = 0; t < ntags; t++)
				e2e_check_rows(rows, *nrows, tags[t], counts[t]);
			return rows;
		}
		bu_sleep(E2E_POLL_SECS);
	}
	*t_b = bu_now();
	printf("(while draining: %d status views of B, answered in %.1f ms on average, %.1f ms at "
	       "most)\n", ns, ssum * 1e3 / ns, smax * 1e3);
	/* A's status is cheap once everything is delivered: its counts
	 * start at the delivered size and at the receipt mark. */
	progress = bu_now();
	for (int64_t u = -1, u_last = -1;;) {
		if ((u = e2e_a_unreceipted(pr)) == 0)
			break;
		if (u != u_last) {
			u_last = u;
			progress = bu_now();
		} else if (bu_now() - progress > E2E_STALL_SECS || bu_now() - t0 > limit) {
			break; /* the outbox below says what is missing */
		}
		bu_sleep(E2E_TAIL_POLL_SECS);
	}
	*c_end = e2e_cpu_now(pr);
	progress = bu_now();
	for (;;) {
		rows = e2e_outbox(&pr->a, nrows, fetch);
		for (t = 0, rc = 0, all = 0; t < ntags; t++) {
			rc += e2e_check_rows(rows, *nrows, tags[t], counts[t]);
			all += counts[t];
		}
		if (rc == all) {
			*complete = 1;
			return rows;
		}
		if (rc != rc_last) {
			rc_last = rc;
			progress = bu_now();
		} else if (bu_now() - progress > E2E_STALL_SECS || bu_now() - t0 > limit) {
			if (must)
				bu_die("%llu of %llu messages receipted, then no progress",
					(unsigned long long)rc, (unsigned long long)all);
			printf("NODE PROBLEM: B holds everything but only %llu of %llu messages "
			       "are receipted; the run is cut off here\n", (unsigned long long)rc,
			       (unsigned long long)all);
			return rows;
		}
		free(rows);
		bu_sleep(E2E_POLL_SECS);
	}
}

/* B must report A's whole log as received. */
static void e2e_check_b(struct e2e_pair *pr)
{
	json_t *sa = e2e_json(&pr->a.http, "GET", "/api/status", "", 0);
	json_t *sb = e2e_json(&pr->b.http, "GET", "/api/status", "", 0), *v;
	int64_t size = -1, rcv;
	size_t i;

	json_array_foreach(json_object_get(sa, "logs"), i, v)
		if (strcmp(e2e_jstr(v, "origin", ""),
			   pr->origin_ab) == 0)
			size = e2e_jint(v, "size", "status log");
	rcv = e2e_jint(json_array_get(json_object_get(sb, "peers"), 0), "received", "B status");
	if (size < 0 || rcv < size)
		bu_die("B has received %lld entries of A's log of %lld", (long long)rcv,
			(long long)size);
	json_decref(sa);
	json_decref(sb);
}

/* Tile 1 of entries (indices 256..511) of A's log, from A and from B's
 * mirror: both must give the same bytes; counts the entries of want bytes. */
static void e2e_check_tile(struct e2e_pair *pr, size_t want)
{
	char path[256];
	struct e2e_buf ra = { 0 }, rb = { 0 };
	size_t off = 0, n = 0, hit = 0;
	int sa, sb;

	snprintf(path, sizeof path, "/logs/%s/tile/entries/001", pr->origin_ab);
	sa = e2e_http(&pr->a.http, "GET", path, "", 0, &ra);
	sb = e2e_http(&pr->b.http, "GET", path, "", 0, &rb);
	if (sa != 200 || sb != 200)
		bu_die("GET %s: A answers %d, B answers %d", path, sa, sb);
	if (ra.len != rb.len || memcmp(ra.p, rb.p, ra.len) != 0)
		bu_die("%s: A and B serve different bytes", path);
	while (off + 2 <= ra.len) {
		size_t l = ((size_t)(uint8_t)ra.p[off] << 8) | (uint8_t)ra.p[off + 1];
		if (off + 2 + l > ra.len)
			bu_die("%s: bundle cut short", path);
		hit += l == want;
		n++;
		off += 2 + l;
	}
	printf("entry bundle tile 1 of %s: A and B serve the same %zu bytes; %zu of its %zu "
	       "entries are %zu B\n", pr->origin_ab, ra.len, hit, n, want);
	if (hit < n / 2)
		bu_die("most entries of the tile are not %zu B: the sizing is wrong", want);
	e2e_buf_free(&ra);
	e2e_buf_free(&rb);
}

/* ---- 1. throughput ----------------------------------------------------- */

struct e2e_tput {
	double rate;            /* N / (last receipted - first submitted) */
	double from_post;       /* N / (last receipted - first POST sent) */
	double submit_rate;     /* client: N / time of all POSTs */
	double cpu_a, cpu_b;    /* CPU us per message, node A and node B */
	double bytes_a, bytes_b; /* bytes written to the disk per message */
};

static struct e2e_tput e2e_throughput(size_t entry, uint64_t n, enum e2e_tag tag,
				      const struct e2e_opts *o)
{
	struct e2e_pair pr;
	struct e2e_buf *bodies;
	struct e2e_tput res;
	struct e2e_cpu c0, c1;
	struct e2e_row *rows;
	size_t text_len = e2e_text_len(tag, ENV_ROUTINE, entry), nrows, i, k = 0, nbodies;
	uint64_t first, hi = 0;
	int64_t held_b, wall0;
	double t0, t_sub, t_b, t_end, fetch, *lat, span_ms;
	int64_t s_min = INT64_MAX, r_max = 0;
	int tags[1] = { (int)tag }, complete;
	uint64_t counts[1] = { n };

	printf("\n== end-to-end throughput, %zu B entries (text %zu B): %llu ROUTINE messages, "
	       "requests of %d, one at a time ==\n", entry, text_len, (unsigned long long)n,
	       E2E_BATCH);
	/* Request bodies are built before the clock starts: the client's JSON
	 * formatting is not the node's work, and the machine has two CPUs. */
	nbodies = (size_t)((n + E2E_BATCH - 1) / E2E_BATCH);
	if ((bodies = calloc(nbodies, sizeof *bodies)) == NULL)
		bu_die("out of memory");
	for (first = 0, i = 0; first < n; first += E2E_BATCH, i++)
		e2e_send_body(&bodies[i], tag, "ROUTINE", text_len, first,
			      n - first < E2E_BATCH ? n - first : E2E_BATCH);
	e2e_pair_start(&pr, tag == E2E_T256 ? "tput256" : "tput1024", o);
	c0 = e2e_cpu_now(&pr);
	t0 = bu_now();
	wall0 = e2e_wall_ms();
	for (first = 0, i = 0; first < n; first += E2E_BATCH, i++) {
		hi = e2e_post(&pr.a, &bodies[i], tag, first,
			      n - first < E2E_BATCH ? n - first : E2E_BATCH, NULL);
		e2e_buf_free(&bodies[i]);
	}
	t_sub = bu_now();
	{
		int64_t bl_log;
		e2e_b_progress(&pr, &held_b, &bl_log);
	}
	rows = e2e_drain(&pr, hi + 1, tags, counts, 1, 1e9, 1, &nrows, &t_b, &fetch,
			 &complete, &c1);
	t_end = bu_now();
	e2e_check_b(&pr);
	e2e_check_tile(&pr, entry);

	if ((lat = malloc(n * sizeof *lat)) == NULL)
		bu_die("out of memory");
	for (i = 0; i < nrows; i++) {
		if (rows[i].tag != (int)tag)
			continue;
		if (rows[i].sub < s_min)
			s_min = rows[i].sub;
		if (rows[i].rcpt > r_max)
			r_max = rows[i].rcpt;
		lat[k++] = (double)(rows[i].rcpt - rows[i].sub);
	}
	assert(k == n);
	span_ms = (double)(r_max - s_min);
	if (span_ms < 1)
		span_ms = 1;
	res.rate = (double)n / (span_ms / 1000.0);
	res.submit_rate = (double)n / (t_sub - t0);
	printf("submitted (durable at A) in %.2f s: %.0f msgs/s; B then held %lld entries of "
	       "A's log; B held all %.2f s after the first POST (polled every %.1f s)\n",
	       t_sub - t0, res.submit_rate, (long long)held_b, t_b - t0, E2E_POLL_SECS);
	printf("node A's clock: first submitted -> last receipted %.0f ms: %.0f msgs/s, "
	       "%.2f MB/s of entries\n", span_ms, res.rate, res.rate * (double)entry / 1e6);
	/* submitted_ms is taken when the first request is already parsed and
	 * committed; from the first POST (same machine, same clock) it is: */
	printf("first POST sent -> last receipted %lld ms: %.0f msgs/s\n",
	       (long long)(r_max - wall0), (double)n / ((double)(r_max - wall0) / 1000.0));
	{
		double p50 = e2e_pct(lat, n, 50), p99 = e2e_pct(lat, n, 99);
		printf("per message, submitted -> receipted (queueing included): p50 %.0f ms, "
		       "p99 %.0f ms, max %.0f ms\n", p50, p99, lat[n - 1]);
	}
	printf("CPU per message: node A %.1f us, node B %.1f us, this client %.1f us "
	       "(%.2f s from first POST to the whole outbox fetched)\n",
	       (c1.a - c0.a) * 1e6 / (double)n, (c1.b - c0.b) * 1e6 / (double)n,
	       (c1.self - c0.self) * 1e6 / (double)n, t_end - t0);
	printf("written to the disk per message (WAL, and checkpoints so far): node A %.0f B, "
	       "node B %.0f B\n", (c1.wa - c0.wa) / (double)n, (c1.wb - c0.wb) / (double)n);
	printf("checked: all %llu keys in A's outbox once, all receipted; B received A's "
	       "whole log (outbox view of %zu rows took %.2f s)\n", (unsigned long long)n,
	       nrows, fetch);
	res.from_post = (double)n / ((double)(r_max - wall0) / 1000.0);
	res.cpu_a = (c1.a - c0.a) * 1e6 / (double)n;
	res.cpu_b = (c1.b - c0.b) * 1e6 / (double)n;
	res.bytes_a = (c1.wa - c0.wa) / (double)n;
	res.bytes_b = (c1.wb - c0.wb) / (double)n;
	free(lat);
	free(rows);
	free(bodies);
	e2e_pair_stop(&pr);
	return res;
}

/* ---- 2. FLASH, idle ---------------------------------------------------- */

struct e2e_flash {
	double p50, p99;
	double disk_p99_us;  /* the disk probe's, under load; -1 without it */
};

/* One FLASH after another, each waited for; the outbox is polled every
 * millisecond (it holds a few dozen rows on this fresh pair). */
static struct e2e_flash e2e_flash_idle(struct e2e_pair *pr, int n)
{
	size_t text_len = e2e_text_len(E2E_TIDLE, ENV_FLASH, 256), i;
	struct e2e_buf body = { 0 };
	double *node = malloc((size_t)n * sizeof *node), *cli = malloc((size_t)n * sizeof *cli);
	double *post = malloc((size_t)n * sizeof *post);
	struct e2e_flash res;
	int k;

	if (node == NULL || cli == NULL || post == NULL)
		bu_die("out of memory");
	printf("\n== FLASH latency, idle: %d FLASH messages of 256 B, one at a time ==\n", n);
	for (k = 0; k < n; k++) {
		double t0 = bu_now(), t1, t2;
		uint64_t idx = e2e_submit(&pr->a, &body, E2E_TIDLE, "FLASH", text_len,
					  (uint64_t)k, 1, NULL);
		int done = 0;
		t1 = bu_now();
		while (!done) {
			size_t nrows;
			struct e2e_row *rows = e2e_outbox(&pr->a, &nrows, NULL);
			for (i = 0; i < nrows; i++)
				if (rows[i].idx == idx && rows[i].rcpt >= 0) {
					node[k] = (double)(rows[i].rcpt - rows[i].sub);
					done = 1;
				}
			free(rows);
			if (!done) {
				if (bu_now() - t0 > E2E_STALL_SECS)
					bu_die("FLASH %d (index %llu) not receipted after %d s", k,
						(unsigned long long)idx, E2E_STALL_SECS);
				bu_sleep(0.001);
			}
		}
		t2 = bu_now();
		post[k] = (t1 - t0) * 1e3;
		cli[k] = (t2 - t0) * 1e3;
		bu_sleep(E2E_FLASH_GAP_SECS);
	}
	res.disk_p99_us = -1;
	res.p50 = e2e_pct(node, (size_t)n, 50);
	res.p99 = e2e_pct(node, (size_t)n, 99);
	printf("node A's clock, submitted -> receipted (whole ms): p50 %.0f  p99 %.0f  "
	       "min %.0f  max %.0f ms\n", res.p50, res.p99, node[0], node[n - 1]);
	printf("client's view, POST -> receipt seen (1 ms polls): p50 %.2f  p99 %.2f ms; "
	       "POST answered (durable at A): p50 %.2f  p99 %.2f ms\n",
	       e2e_pct(cli, (size_t)n, 50), e2e_pct(cli, (size_t)n, 99),
	       e2e_pct(post, (size_t)n, 50), e2e_pct(post, (size_t)n, 99));
	e2e_result("flash_p50_ms_idle", res.p50);
	e2e_result("flash_p99_ms_idle", res.p99);
	e2e_result("flash_client_p50_ms_idle", e2e_pct(cli, (size_t)n, 50));
	e2e_result("flash_client_p99_ms_idle", e2e_pct(cli, (size_t)n, 99));
	free(node);
	free(cli);
	free(post);
	e2e_buf_free(&body);
	return res;
}

/* ---- 3. FLASH under load ----------------------------------------------- */

/* Stops node n (SIGTERM) and forgets its connection. */
static void e2e_node_down(struct e2e_node *n)
{
	double secs;
	int st;

	e2e_http_close(&n->http);
	st = e2e_stop(n->pid, &secs);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		bu_die("node %s did not stop cleanly (status %d)", n->name, st);
	n->pid = 0;
}

/* Starts node n of pair pr again and waits until its API answers, its own
 * paths are up and it holds at least want entries more of A's log than
 * when it answered (the peer's paths are redialed with backoff). */
static void e2e_node_up(struct e2e_pair *pr, struct e2e_node *n, int64_t want)
{
	char *argv[] = { (char *)pr->parley, "serve", n->dir, NULL };
	double t0 = bu_now();
	int64_t base = -1, got = -1, blog;

	n->pid = e2e_spawn(argv, NULL, -1, n->log, 1);
	for (;;) {
		if (bu_now() - t0 > E2E_START_SECS)
			bu_die("node %s: not receiving %d s after its restart (holds %lld)",
			       n->name, E2E_START_SECS, (long long)got);
		if (n->http.fd < 0 && e2e_api_answers(n) != 0) {
			bu_sleep(0.02);
			continue;
		}
		e2e_b_progress(pr, &got, &blog);
		if (base < 0)
			base = got;
		if (got - base >= want)
			return;
		bu_sleep(0.02);
	}
}


/* ---- the disk under the FLASH phase's load --------------------------------
 *
 * While the FLASH messages go, a thread of this process appends 256 bytes
 * to a file next to the nodes' and syncs it (fdatasync), every 10 ms: the
 * same operation as the floor of step 4, under the load the FLASH
 * messages meet.  Each FLASH needs two syncs in turn (its sender's, then
 * the receiver's, which also logs the receipt); a FLASH much slower than
 * its median is set beside the slowest probe sync in its time, to tell a
 * disk that stalled everyone from a node that was slow by itself.  The
 * probe adds 100 syncs a second to the nodes' own several hundred. */
struct e2e_probe {
	pthread_t th;
	int fd, started;
	atomic_int stop;
	size_t n;
	int64_t start_ms[E2E_PROBE_MAX];  /* wall clock, as node A's stamps */
	double us[E2E_PROBE_MAX];
};

static void *e2e_probe_main(void *arg)
{
	struct e2e_probe *pb = arg;
	char buf[E2E_PROBE_LEN];
	double next = bu_now();

	memset(buf, 'p', sizeof buf);
	while (!pb->stop && pb->n < E2E_PROBE_MAX) {
		int64_t w = e2e_wall_ms();
		double s = bu_now();
		if (write(pb->fd, buf, sizeof buf) != (ssize_t)sizeof buf || fdatasync(pb->fd) != 0)
			break; /* reported by the count of samples */
		pb->start_ms[pb->n] = w;
		pb->us[pb->n++] = (bu_now() - s) * 1e6;
		next += E2E_PROBE_SECS;
		if (next < bu_now())
			next = bu_now(); /* fell behind a slow sync: no burst after it */
		bu_sleep(next - bu_now());
	}
	return NULL;
}

static void e2e_probe_start(struct e2e_probe *pb)
{
	char path[E2E_PATH_MAX + 32];

	snprintf(path, sizeof path, "%s/probe.dat", e2e_dir);
	pb->stop = 0;
	pb->n = 0;
	pb->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (pb->fd < 0)
		bu_die("%s: %s", path, strerror(errno));
	unlink(path);
	if (pthread_create(&pb->th, NULL, e2e_probe_main, pb) != 0)
		bu_die("cannot start the disk probe");
	pb->started = 1;
}

static void e2e_probe_stop(struct e2e_probe *pb)
{
	if (!pb->started)
		return;
	pb->stop = 1;
	pthread_join(pb->th, NULL);
	close(pb->fd);
	pb->started = 0;
}

/* The slowest probe sync whose time overlaps [from_ms, to_ms]; -1 if none. */
static double e2e_probe_worst(const struct e2e_probe *pb, int64_t from_ms, int64_t to_ms)
{
	double w = -1;

	for (size_t i = 0; i < pb->n; i++) {
		int64_t end = pb->start_ms[i] + (int64_t)ceil(pb->us[i] / 1e3);
		if (pb->start_ms[i] <= to_ms && end >= from_ms && pb->us[i] > w)
			w = pb->us[i];
	}
	return w;
}

/* Time a node's threads spent runnable but waiting for a CPU, from the
 * kernel's schedstat: the event loop (the main thread) and all threads. */
struct e2e_wait {
	double loop_ns, loop_slices, all_ns;
};

static struct e2e_wait e2e_wait_now(pid_t pid)
{
	struct e2e_wait w = { 0, 0, 0 };
	char path[96];
	DIR *d;
	struct dirent *de;

	snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (d == NULL)
		return w;
	while ((de = readdir(d)) != NULL) {
		unsigned long long run, wait, slices;
		FILE *f;
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "/proc/%d/task/%.16s/schedstat", (int)pid, de->d_name);
		f = fopen(path, "r");
		if (f == NULL)
			continue;
		if (fscanf(f, "%llu %llu %llu", &run, &wait, &slices) == 3) {
			w.all_ns += (double)wait;
			if (atoi(de->d_name) == (int)pid) {
				w.loop_ns = (double)wait;
				w.loop_slices = (double)slices;
			}
		}
		fclose(f);
	}
	closedir(d);
	return w;
}

static void e2e_wait_report(const char *who, struct e2e_wait a, struct e2e_wait b,
			    const char *result)
{
	double slices = b.loop_slices - a.loop_slices;
	double per = slices > 0 ? (b.loop_ns - a.loop_ns) / 1e3 / slices : 0;

	printf("  node %s: its event loop %.1f ms in %.0f turns on a CPU (%.1f us a turn on "
	       "average), all its threads %.1f ms\n", who, (b.loop_ns - a.loop_ns) / 1e6,
	       slices, per, (b.all_ns - a.all_ns) / 1e6);
	e2e_result(result, per);
}

/* The probe's syncs, and each FLASH at twice the median latency or more
 * beside the slowest probe sync in its time.  lat[k] is FLASH k's latency,
 * post[k] how long its POST took (durable at A), both unsorted; fl[k] its
 * row. */
static double e2e_probe_report(const struct e2e_probe *pb, struct e2e_row *const *fl,
			       const double *lat, const double *post, int n)
{
	double *v = malloc((pb->n + 1) * sizeof *v), *s = malloc((size_t)n * sizeof *s);
	double med, p50, p99;
	size_t i;
	int k, slow = 0, stalled = 0, stalls = 0;

	if (v == NULL || s == NULL)
		bu_die("out of memory");
	if (pb->n < 10) {
		printf("disk probe: only %zu syncs (write or fdatasync failed)\n", pb->n);
		free(v);
		free(s);
		return -1;
	}
	memcpy(s, lat, (size_t)n * sizeof *s);
	med = e2e_pct(s, (size_t)n, 50);
	for (i = 0; i < pb->n; i++) {
		v[i] = pb->us[i];
		stalls += pb->us[i] >= E2E_STALL_MS * 1e3;
	}
	p50 = e2e_pct(v, pb->n, 50);
	p99 = e2e_pct(v, pb->n, 99);
	printf("disk probe under this load (%d B appended + fdatasync every %.0f ms, %zu "
	       "times): p50 %.0f us  p99 %.0f us  max %.0f us; %d of them %.0f ms or "
	       "slower\n", E2E_PROBE_LEN, E2E_PROBE_SECS * 1e3, pb->n, p50, p99, v[pb->n - 1],
	       stalls, E2E_STALL_MS);
	for (k = 0; k < n; k++) {
		double w;
		if (lat[k] < 2 * med || lat[k] < 2)
			continue;
		w = e2e_probe_worst(pb, fl[k]->sub, fl[k]->rcpt);
		slow++;
		stalled += w >= E2E_STALL_MS * 1e3;
		if (w < 0)
			printf("  FLASH %d: %.0f ms (durable at A after %.1f ms); no probe sync "
			       "in its time\n", k, lat[k], post[k]);
		else
			printf("  FLASH %d: %.0f ms (durable at A after %.1f ms); slowest probe "
			       "sync in its time %.1f ms\n", k, lat[k], post[k], w / 1e3);
	}
	printf("%d FLASH messages took twice the median (%.0f ms) or more; %d of them met a "
	       "probe sync of %.0f ms or more\n", slow, med, stalled, E2E_STALL_MS);
	e2e_result("fdatasync_load_p50_us", p50);
	e2e_result("fdatasync_load_p99_us", p99);
	e2e_result("fdatasync_load_max_us", v[pb->n - 1]);
	e2e_result("flash_load_slow", slow);
	e2e_result("flash_load_slow_in_stall", stalled);
	free(v);
	free(s);
	return p99;
}

static struct e2e_flash e2e_flash_load(struct e2e_pair *pr, int n, uint64_t backlog,
				       double limit)
{
	size_t text_r = e2e_text_len(E2E_TBACK, ENV_ROUTINE, 256);
	size_t text_f = e2e_text_len(E2E_TLOAD, ENV_FLASH, 256);
	struct e2e_buf body = { 0 };
	double *lat = malloc((size_t)n * sizeof *lat), *post = malloc((size_t)n * sizeof *post);
	double *qs = malloc((size_t)n * sizeof *qs);
	uint64_t *fidx = malloc((size_t)n * sizeof *fidx), first, hi = 0, bl_lo = 0;
	uint64_t bl_rc = 0;
	struct e2e_row *rows, **fl, **bl;
	struct e2e_flash res;
	size_t nrows, i, nb = 0;
	double t0, t_sub, t_lead, t_b, fetch, next, slip = 0, qmed, pp50, pp99;
	int k, empty = 0, complete, unrc = 0;
	int tags[3] = { E2E_TIDLE, E2E_TBACK, E2E_TLOAD };
	uint64_t counts[3];
	int64_t now_ms;
	struct e2e_cpu c0, c1;
	struct e2e_wait wa0, wb0, wa1, wb1;
	static struct e2e_probe probe;

	if (lat == NULL || post == NULL || qs == NULL || fidx == NULL)
		bu_die("out of memory");
	printf("\n== FLASH latency under load: %llu ROUTINE messages of 256 B queued at A "
	       "while B is offline; B restarted; once B receives, one FLASH of 256 B every %.0f "
	       "ms, %d of them, while the backlog drains ==\n", (unsigned long long)backlog,
	       E2E_LOAD_INTERVAL_SECS * 1e3, n);
	/* The node drains about as fast as it is fed, so a backlog submitted
	 * to a pair that is up is mostly gone by the time it is all in: it is
	 * queued while the receiver is down instead (an outage, then the
	 * catch-up), and the FLASH messages go while it drains at full speed. */
	e2e_node_down(&pr->b);
	c0 = e2e_cpu_now(pr);
	t0 = bu_now();
	for (first = 0; first < backlog; first += E2E_BATCH) {
		uint64_t k1 = backlog - first < E2E_BATCH ? backlog - first : E2E_BATCH;
		uint64_t lo;
		hi = e2e_submit(&pr->a, &body, E2E_TBACK, "ROUTINE", text_r, first, k1, &lo);
		if (first == 0)
			bl_lo = lo;
	}
	t_sub = bu_now();
	printf("backlog submitted (durable at A, B offline) in %.2f s\n", t_sub - t0);
	e2e_node_up(pr, &pr->b, backlog / 100);
	t_lead = bu_now();
	printf("B back up and receiving after %.2f s\n", t_lead - t_sub);
	c0 = e2e_cpu_now(pr);
	wa0 = e2e_wait_now(pr->a.pid);
	wb0 = e2e_wait_now(pr->b.pid);
	e2e_probe_start(&probe);
	next = bu_now();
	for (k = 0; k < n; k++) {
		double s;
		bu_sleep(next - bu_now());
		s = bu_now();
		if (s - next > slip)
			slip = s - next;
		fidx[k] = e2e_submit(&pr->a, &body, E2E_TLOAD, "FLASH", text_f, (uint64_t)k, 1,
				     NULL);
		post[k] = (bu_now() - s) * 1e3;
		next += E2E_LOAD_INTERVAL_SECS;
		if (next < bu_now())
			next = bu_now(); /* fell behind: no burst to catch up */
	}
	e2e_probe_stop(&probe);
	wa1 = e2e_wait_now(pr->a.pid);
	wb1 = e2e_wait_now(pr->b.pid);
	printf("FLASH phase took %.2f s (largest slip behind the schedule %.1f ms)\n",
	       bu_now() - t_lead, slip * 1e3);
	printf("waiting for a CPU while runnable, in the FLASH phase (schedstat):\n");
	e2e_wait_report("A", wa0, wa1, "flash_load_loop_wait_us_a");
	e2e_wait_report("B", wb0, wb1, "flash_load_loop_wait_us_b");
	/* Idle FLASH rows are on this pair too; the idle run checked them. */
	counts[0] = 0;
	counts[1] = backlog;
	counts[2] = (uint64_t)n;
	if (fidx[n - 1] > hi)
		hi = fidx[n - 1];
	rows = e2e_drain(pr, hi + 1, tags + 1, counts + 1, 2, limit, 0, &nrows, &t_b, &fetch,
			 &complete, &c1);
	now_ms = e2e_wall_ms();
	if (complete)
		e2e_check_b(pr);

	/* The FLASH rows by their number, the backlog rows in index order.  A
	 * row not receipted when the run was cut off counts as receipted now:
	 * its latency is then a lower bound. */
	fl = calloc((size_t)n, sizeof *fl);
	bl = calloc(backlog, sizeof *bl);
	if (fl == NULL || bl == NULL)
		bu_die("out of memory");
	for (i = 0; i < nrows; i++) {
		if (rows[i].tag == E2E_TLOAD) {
			fl[rows[i].seq] = &rows[i];
			unrc += rows[i].rcpt < 0;
		} else if (rows[i].tag == E2E_TBACK) {
			bl[nb++] = &rows[i];
			bl_rc += rows[i].rcpt >= 0;
		}
		if (rows[i].rcpt < 0)
			rows[i].rcpt = now_ms;
	}
	assert(nb == backlog);
	printf("per FLASH: latency ms / ROUTINE queued when submitted (submitted earlier, "
	       "not yet receipted) / of those, overtaken (receipted after it)%s:\n",
	       unrc ? "; + marks a FLASH not receipted when the run was cut off" : "");
	for (k = 0; k < n; k++) {
		const struct e2e_row *f = fl[k];
		uint64_t queued = 0, over = 0;
		assert(f != NULL);
		for (i = 0; i < nb; i++) {
			const struct e2e_row *b = bl[i];
			if (b->sub <= f->sub && b->rcpt > f->sub) {
				queued++;
				over += b->rcpt > f->rcpt;
			}
		}
		lat[k] = (double)(f->rcpt - f->sub);
		qs[k] = (double)queued;
		empty += queued == 0;
		printf("  %5.0f%s/%-6llu/%-6llu%s", lat[k], f->rcpt == now_ms ? "+" : "",
		       (unsigned long long)queued, (unsigned long long)over,
		       k % 5 == 4 || k == n - 1 ? "\n" : "");
	}
	{
		int64_t bs = INT64_MAX, br = 0;
		for (i = 0; i < nb; i++) {
			if (bl[i]->sub < bs)
				bs = bl[i]->sub;
			if (bl[i]->rcpt > br)
				br = bl[i]->rcpt;
		}
		printf("backlog: %llu of %llu receipted, at %.0f msgs/s (node A's clock, first "
		       "submitted -> last receipted, from index %llu); CPU per backlog message: "
		       "node A %.1f us, node B %.1f us\n", (unsigned long long)bl_rc,
		       (unsigned long long)backlog,
		       (double)bl_rc / ((double)(br - bs) / 1000.0), (unsigned long long)bl_lo,
		       (c1.a - c0.a) * 1e6 / (double)backlog, (c1.b - c0.b) * 1e6 / (double)backlog);
	}
	res.disk_p99_us = e2e_probe_report(&probe, fl, lat, post, n);
	res.p50 = e2e_pct(lat, (size_t)n, 50);
	res.p99 = e2e_pct(lat, (size_t)n, 99);
	printf("node A's clock, submitted -> receipted (whole ms): p50 %.0f  p99 %.0f  "
	       "min %.0f  max %.0f ms%s\n", res.p50, res.p99, lat[0], lat[n - 1],
	       unrc ? " (lower bounds: not all receipted)" : "");
	pp50 = e2e_pct(post, (size_t)n, 50);
	pp99 = e2e_pct(post, (size_t)n, 99);
	printf("POST of one FLASH answered (durable at A): p50 %.2f  p99 %.2f  max %.2f ms\n",
	       pp50, pp99, post[n - 1]);
	qmed = e2e_pct(qs, (size_t)n, 50);
	printf("ROUTINE queued at a FLASH: min %.0f, median %.0f, max %.0f; %d of %d FLASH "
	       "messages found none\n", qs[0], qmed, qs[n - 1], empty, n);
	if (empty * 10 > n)
		printf("WARNING the ROUTINE backlog was empty at %d of %d FLASH messages: the "
		       "load was not saturating for those, the figures understate the latency "
		       "under load\n", empty, n);
	if (unrc)
		printf("NODE PROBLEM: %d of %d FLASH messages were not receipted when the run "
		       "was cut off, %.0f s after the last was submitted\n", unrc, n,
		       bu_now() - t_sub);
	e2e_result("flash_p50_ms_load", res.p50);
	e2e_result("flash_p99_ms_load", res.p99);
	e2e_result("flash_max_ms_load", lat[n - 1]);
	e2e_result("flash_load_queued_median", qmed);
	e2e_result("flash_load_unsaturated", (double)empty);
	e2e_result("flash_load_unreceipted", (double)unrc);
	e2e_result("flash_load_backlog_unreceipted", (double)(backlog - bl_rc));
	free(fl);
	free(bl);
	free(rows);
	free(lat);
	free(post);
	free(qs);
	free(fidx);
	e2e_buf_free(&body);
	return res;
}

/* ---- 4. the peers ------------------------------------------------------ */

#define E2E_MAX_PEER_RESULTS 64

struct e2e_peer_results {
	char name[E2E_MAX_PEER_RESULTS][64];
	double value[E2E_MAX_PEER_RESULTS];
	int n;
};

static int e2e_peer_get(const struct e2e_peer_results *r, const char *name, double *v)
{
	int i;

	for (i = 0; i < r->n; i++)
		if (strcmp(r->name[i], name) == 0) {
			*v = r->value[i];
			return 0;
		}
	return -1;
}

/* Runs bench/peers --only `only` (one round of it if rounds1), its output
 * indented, its RESULT lines kept (and printed as they are, if echo).
 * Returns 0 when it succeeded. */
static int e2e_peers(const struct e2e_opts *o, const char *only, int rounds1, int echo,
		     struct e2e_peer_results *res)
{
	char *argv[12], inflight[16];
	char line[4096];
	int fds[2], status, argc = 0;
	pid_t pid;
	FILE *f;

	/* The peers get the node's client's number of messages in flight:
	 * one request of E2E_BATCH at a time. */
	snprintf(inflight, sizeof inflight, "%d", E2E_BATCH);
	printf("\n== bench/peers%s --only %s%s --inflight %s, this run ==\n",
	       o->quick ? " --quick" : "", only, rounds1 ? " --rounds 1" : "", inflight);
	argv[argc++] = (char *)o->peers;
	if (o->quick)
		argv[argc++] = "--quick";
	argv[argc++] = "--dir";
	argv[argc++] = e2e_dir;
	argv[argc++] = "--only";
	argv[argc++] = (char *)only;
	if (rounds1) {
		argv[argc++] = "--rounds";
		argv[argc++] = "1";
	}
	argv[argc++] = "--inflight";
	argv[argc++] = inflight;
	argv[argc] = NULL;
	if (pipe(fds) != 0)
		bu_die("pipe: %s", strerror(errno));
	fcntl(fds[0], F_SETFD, FD_CLOEXEC);
	pid = e2e_spawn(argv, NULL, fds[1], NULL, 1);
	close(fds[1]);
	if ((f = fdopen(fds[0], "r")) == NULL)
		bu_die("fdopen: %s", strerror(errno));
	res->n = 0;
	while (fgets(line, sizeof line, f) != NULL) {
		char name[64];
		double v;
		if (sscanf(line, "RESULT %63s %lf", name, &v) == 2) {
			if (res->n < E2E_MAX_PEER_RESULTS) {
				snprintf(res->name[res->n], sizeof res->name[0], "%s", name);
				res->value[res->n++] = v;
			}
			if (echo)
				fputs(line, stdout);
			else
				printf("  peers| %s", line);
		} else {
			printf("  peers| %s", line);
		}
	}
	fclose(f);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			bu_die("waitpid: %s", strerror(errno));
	e2e_child_forget(pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		printf("bench/peers failed (status %d): no ratios to the peers\n",
		       WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status));
		return -1;
	}
	return 0;
}

/* ---- main -------------------------------------------------------------- */

static void e2e_usage(void)
{
	fprintf(stderr, "usage: node [--quick] [--keep] [--dir DIR] [--parley PATH] "
		"[--peers PATH] [--no-peers] [--flash N] [--rounds R]\n"
		"  --quick        short run (< 60 s): 20,000 / 10,000 messages, 20 FLASH\n"
		"  --flash N      FLASH messages in each latency run (default 100, --quick 20)\n"
		"  --rounds R     throughput rounds, each followed by Redis (default 3,\n"
		"                 --quick 1; at most 9); medians reported\n"
		"  --keep         keep the nodes' directories (and logs) afterwards\n"
		"  --dir DIR      scratch directory under DIR (default: .)\n"
		"  --parley PATH  the parley binary (default: bin/parley)\n"
		"  --peers PATH   bench/peers (default: next to this program)\n"
		"  --no-peers     skip bench/peers and the ratios\n");
	exit(2);
}

/* An absolute path to a program: given, or found relative to the current
 * directory or to this program (build/rel/bench/node). */
static char *e2e_find(const char *given, const char *rel_cwd, const char *rel_self)
{
	char self[PATH_MAX], cand[PATH_MAX + 64], *slash, *out;

	if (given != NULL) {
		if ((out = realpath(given, NULL)) == NULL)
			bu_die("%s: %s", given, strerror(errno));
		return out;
	}
	if (access(rel_cwd, X_OK) == 0 && (out = realpath(rel_cwd, NULL)) != NULL)
		return out;
	{
		ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
		if (n <= 0)
			bu_die("cannot find %s", rel_cwd);
		self[n] = '\0';
	}
	if ((slash = strrchr(self, '/')) != NULL)
		*slash = '\0';
	snprintf(cand, sizeof cand, "%s/%s", self, rel_self);
	if (access(cand, X_OK) != 0 || (out = realpath(cand, NULL)) == NULL)
		bu_die("cannot find %s (tried ./%s and %s)", rel_cwd, rel_cwd, cand);
	return out;
}

/* bench/peers' Redis figures, kept for each throughput round; [0] and [3]
 * are the rates the ratios are taken to. */
static const char *const e2e_redis_names[6] = {
	"redis_msgs_per_s_256", "redis_server_cpu_us_per_msg_256",
	"redis_client_cpu_us_per_msg_256", "redis_msgs_per_s_1024",
	"redis_server_cpu_us_per_msg_1024", "redis_client_cpu_us_per_msg_1024"
};

static void e2e_target(const char *what, int ok)
{
	printf("TARGET %s: %s\n", what, ok ? "PASS" : "MISS");
}

int main(int argc, char **argv)
{
	struct e2e_opts o = {
		.n256 = 100000, .n1024 = 50000, .flash_idle = 100, .flash_load = 100,
		.min_backlog = 60000, .max_backlog = E2E_MAX_BACKLOG, .drain_limit = 90,
	};
	struct e2e_tput tr[2][E2E_MAX_ROUNDS];
	double red[6][E2E_MAX_ROUNDS], ratio[2][E2E_MAX_ROUNDS];
	struct e2e_flash fi, fload;
	struct e2e_peer_results pres;
	struct e2e_pair pr;
	double t0 = bu_now(), drain, phase, fsync_us = -1, rate256 = 0, rate1024 = 0;
	double vs256 = -1, vs1024 = -1;
	uint64_t backlog;
	char cpu[256], fs[PATH_MAX + 512];
	int i, k, r, nred = 0, flash = 0, rounds = 0;

	bu_set_name("bench node");
	bu_set_cleanup(e2e_cleanup);
	bu_set_explain(e2e_explain);
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0)
			o.quick = 1;
		else if (strcmp(argv[i], "--keep") == 0)
			o.keep = 1;
		else if (strcmp(argv[i], "--no-peers") == 0)
			o.no_peers = 1;
		else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
			o.parent = argv[++i];
		else if (strcmp(argv[i], "--parley") == 0 && i + 1 < argc)
			o.parley = argv[++i];
		else if (strcmp(argv[i], "--peers") == 0 && i + 1 < argc)
			o.peers = argv[++i];
		else if (strcmp(argv[i], "--flash") == 0 && i + 1 < argc &&
			 (flash = atoi(argv[++i])) >= 2 && flash <= 1000)
			;
		else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc &&
			 (rounds = atoi(argv[++i])) >= 1 && rounds <= E2E_MAX_ROUNDS)
			;
		else
			e2e_usage();
	}
	if (o.quick) {
		o.n256 = 20000;
		o.n1024 = 10000;
		o.flash_idle = 20;
		o.flash_load = 20;
		o.min_backlog = 20000;
		o.max_backlog = 50000;
		o.drain_limit = 30;
	}
	o.rounds = rounds ? rounds : o.quick ? 1 : 3;
	if (flash > 0) { /* the backlog is sized for them (step 3) */
		o.flash_idle = o.flash_load = flash;
		o.max_backlog = E2E_MAX_BACKLOG;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	o.parley = e2e_find(o.parley, "bin/parley", "../../../bin/parley");
	if (!o.no_peers)
		o.peers = e2e_find(o.peers, "build/rel/bench/peers", "peers");
	e2e_keep = o.keep;
	e2e_make_dir(o.parent);

	bu_cpu_model(cpu, sizeof cpu);
	bu_filesystem(e2e_dir, 0, fs, sizeof fs);
	printf("parley end-to-end benchmark (%s run): two nodes on loopback, through the HTTP "
	       "API\n", o.quick ? "quick" : "full");
	printf("machine:  %ld CPUs (nproc), %s\n", sysconf(_SC_NPROCESSORS_ONLN), cpu);
	printf("disk:     %s\n", fs);
	printf("sqlite:   %s; openssl: %s\n", sqlite3_libversion(),
	       OpenSSL_version(OPENSSL_VERSION));
	printf("parley:   %s\nscratch:  %s%s\n", o.parley, e2e_dir, o.keep ? " (kept)" : "");

	/* 1, rounds of it, each followed at once by Redis: the machine's
	 * speed drifts by a third between runs, less between neighbours. */
	for (r = 0; r < o.rounds; r++) {
		struct e2e_peer_results rr;
		int got = 0;
		if (o.rounds > 1)
			printf("\n=== throughput, round %d of %d ===\n", r + 1, o.rounds);
		tr[0][r] = e2e_throughput(256, o.n256, E2E_T256, &o);
		tr[1][r] = e2e_throughput(1024, o.n1024, E2E_T1024, &o);
		if (o.no_peers || e2e_peers(&o, "redis", 1, 0, &rr) != 0)
			continue;
		for (k = 0; k < 6; k++)
			got += e2e_peer_get(&rr, e2e_redis_names[k], &red[k][nred]) == 0;
		if (got < 6 || red[0][nred] <= 0 || red[3][nred] <= 0)
			continue;
		ratio[0][nred] = tr[0][r].rate / red[0][nred];
		ratio[1][nred] = tr[1][r].rate / red[3][nred];
		printf("round %d: e2e / Redis just after it: 256 B %.0f / %.0f = %.3f, "
		       "1 KiB %.0f / %.0f = %.3f\n", r + 1, tr[0][r].rate, red[0][nred],
		       ratio[0][nred], tr[1][r].rate, red[3][nred], ratio[1][nred]);
		nred++;
	}
	printf("\n== throughput: medians of %d round%s ==\n", o.rounds, o.rounds == 1 ? "" : "s");
	for (k = 0; k < 2; k++) {
		static const char *const fmt[7] = {
			"e2e_msgs_per_s_%d", "e2e_from_post_msgs_per_s_%d",
			"e2e_submit_msgs_per_s_%d", "e2e_node_a_cpu_us_per_msg_%d",
			"e2e_node_b_cpu_us_per_msg_%d", "e2e_node_a_bytes_per_msg_%d",
			"e2e_node_b_bytes_per_msg_%d"
		};
		double v[7][E2E_MAX_ROUNDS];
		char name[64];
		for (r = 0; r < o.rounds; r++) {
			const struct e2e_tput *t = &tr[k][r];
			v[0][r] = t->rate;
			v[1][r] = t->from_post;
			v[2][r] = t->submit_rate;
			v[3][r] = t->cpu_a;
			v[4][r] = t->cpu_b;
			v[5][r] = t->bytes_a;
			v[6][r] = t->bytes_b;
		}
		for (i = 0; i < 7; i++) {
			snprintf(name, sizeof name, fmt[i], k ? 1024 : 256);
			e2e_result(name, bu_median(v[i], o.rounds));
		}
		if (k == 0)
			rate256 = bu_median(v[0], o.rounds);
		else
			rate1024 = bu_median(v[0], o.rounds);
	}
	if (nred == o.rounds && nred > 0) {
		for (i = 0; i < 6; i++)
			e2e_result(e2e_redis_names[i], bu_median(red[i], nred));
		vs256 = bu_median(ratio[0], nred);
		vs1024 = bu_median(ratio[1], nred);
		e2e_result("e2e_vs_redis_256", vs256);
		e2e_result("e2e_vs_redis_1024", vs1024);
	} else if (!o.no_peers) {
		printf("Redis did not run in every round: no ratios to it\n");
	}

	e2e_pair_start(&pr, "flash", &o);
	fi = e2e_flash_idle(&pr, o.flash_idle);
	/* The backlog must outlast the FLASH phase twice over at the drain
	 * rate.  A catch-up drains faster than step 1's rate (no API, no
	 * requests: on a faster host, 400,000 at 84,000 msgs/s from step 1
	 * were gone before 45 of the 100 FLASH messages), hence 3 x. */
	drain = rate256;
	phase = o.flash_load * E2E_LOAD_INTERVAL_SECS + 1.0;
	backlog = (uint64_t)(3.0 * 2.0 * drain * phase);
	if (backlog < o.min_backlog)
		backlog = o.min_backlog;
	if (backlog > o.max_backlog)
		backlog = o.max_backlog;
	fload = e2e_flash_load(&pr, o.flash_load, backlog, o.drain_limit);
	e2e_pair_stop(&pr);

	/* 4: the floor right after the FLASH phase it is compared with, then
	 * Mosquitto. */
	if (!o.no_peers && e2e_peers(&o, "fdatasync", 0, 1, &pres) == 0 &&
	    e2e_peer_get(&pres, "fdatasync_p99_us", &fsync_us) != 0)
		fsync_us = -1;
	if (!o.no_peers)
		e2e_peers(&o, "mosquitto", 0, 1, &pres);
	if (!o.no_peers) {
		printf("\n== ratios and targets ==\n");
		if (fsync_us > 0)
			e2e_result("flash_p99_load_vs_fdatasync_p99", fload.p99 / (fsync_us / 1e3));
		printf("e2e 256 B: %.0f msgs/s, target >= %.0f\n", rate256, E2E_TARGET_RATE_256);
		e2e_target("e2e_msgs_per_s_256 >= 20000", rate256 >= E2E_TARGET_RATE_256);
		if (vs256 > 0) {
			printf("e2e vs Redis appendfsync always (median of the rounds' ratios, "
			       "each to the Redis run just after it): 256 B %.3f, 1 KiB %.3f "
			       "(medians of the rates: %.0f msgs/s, 1 KiB %.0f)\n", vs256, vs1024,
			       rate256, rate1024);
			e2e_target("e2e_msgs_per_s_256 >= redis_msgs_per_s_256", vs256 >= 1.0);
			e2e_target("e2e_msgs_per_s_1024 >= redis_msgs_per_s_1024", vs1024 >= 1.0);
		}
		if (fsync_us > 0) {
			printf("FLASH p99 under load %.0f ms vs fdatasync p99 %.3f ms: %.1f x "
			       "(target <= %.0f x, i.e. <= %.2f ms)\n", fload.p99, fsync_us / 1e3,
			       fload.p99 / (fsync_us / 1e3), E2E_TARGET_FLASH_X_FSYNC,
			       E2E_TARGET_FLASH_X_FSYNC * fsync_us / 1e3);
			e2e_target("flash_p99_ms_load <= 20 x fdatasync_p99",
				   fload.p99 <= E2E_TARGET_FLASH_X_FSYNC * fsync_us / 1e3);
			if (fload.disk_p99_us > 0)
				printf("(beside it, not a target: the disk probe's fdatasync p99 "
				       "under the FLASH phase's load was %.3f ms, %.1f x the "
				       "floor; FLASH p99 is %.1f x it)\n", fload.disk_p99_us / 1e3,
				       fload.disk_p99_us / fsync_us,
				       fload.p99 / (fload.disk_p99_us / 1e3));
		}
	}
	printf("\n(FLASH idle p50/p99 %.0f/%.0f ms; node timestamps are whole ms)\n", fi.p50,
	       fi.p99);
	printf("total %.1f s\n", bu_now() - t0);
	e2e_cleanup();
	return 0;
}
