/*
 * bench/peers.c — the peers parley's end-to-end benchmark is compared with,
 * and the physical floor under all of them, measured on this machine now.
 *
 *   build/rel/bench/peers [--quick] [--dir DIR] [--n N] [--inflight W]
 *                         [--rounds R] [--only fdatasync|redis|mosquitto]
 *
 * What is measured, each figure printed as one `RESULT <name> <value>` line:
 *
 *  1. The fdatasync floor of the disk under DIR: 256 bytes appended to a
 *     file and fdatasync'ed, again and again.  No durable hotline on this
 *     disk can acknowledge one message alone faster than this; batching is
 *     the only way past it.  Overwriting the same 256 bytes in place (no
 *     size change, so no journal commit on ext4) is measured too: the
 *     bare cache flush of the device.
 *  2. Redis (Debian's redis-server, run here on a free loopback port) as a
 *     durable stream: `appendonly yes`, `appendfsync always`, so that no
 *     XADD is answered before its AOF write is fsync'ed (Redis groups the
 *     writes of one event-loop turn under one fsync).  A producer XADDs N
 *     messages with W in flight; a consumer in a consumer group reads them
 *     with XREADGROUP and XACKs each batch.  Messages/s from the first XADD
 *     to the reply to the last XACK.
 *  3. Mosquitto (Debian's broker, run here) with persistence on: a QoS 2
 *     subscriber with a persistent session (clean_session false) and a
 *     publisher with W QoS 2 messages in flight.  Messages/s from the first
 *     PUBLISH to the last message delivered to the subscriber (its QoS 2
 *     handshake done).  Mosquitto does NOT fsync a message before
 *     acknowledging it: its persistence is a snapshot of memory written
 *     every autosave_interval seconds.  Its figure is not a durable one;
 *     it shows what the QoS 2 handshake (four packets per message on each
 *     side, read a few bytes per syscall) costs a single-threaded broker.
 *
 * Each message carries its sequence number; the consumers check every
 * payload, that none is missing and none arrives twice, and Redis is asked
 * afterwards that nothing is left pending — a fast wrong answer cannot pass
 * for a fast answer.  Next to each rate, the CPU time per message of the
 * server process and of this process (the clients): on a shared 2-core
 * machine those move less than the rates.
 *
 * The servers never touch the default ports (6379, 1883) or any system
 * instance: each is started here with its own configuration on a port the
 * kernel hands out, its files in a fresh directory under DIR (default: the
 * current directory, so on the disk being measured), and it is stopped
 * (SIGTERM, then SIGKILL) and its directory removed at the end, also when a
 * step fails or on SIGINT/SIGTERM.  A server also dies with this program
 * (PR_SET_PDEATHSIG) if the program is killed outright.
 *
 * Limits: figures are for this machine and this disk only.  Client and
 * server share the 2 CPUs, as parley's node and its clients do in the
 * end-to-end benchmark.  Redis rewrites its AOF in the background when it
 * doubles (its default), which may fall inside a full run; that is part of
 * running Redis this way.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <mosquitto.h>

#include "benchutil.h"

#define PEERS_PATH_MAX 1024
#define PEERS_MAX_ROUNDS 9
#define PEERS_MAX_N 100000000ull
#define PEERS_MAX_INFLIGHT 65535     /* MQTT packet identifiers are 16 bits */
#define PEERS_STALL_SECS 30          /* no progress this long: the run failed */
#define PEERS_START_SECS 15          /* a server must answer within this */
#define PEERS_STOP_SECS 20           /* SIGTERM, then SIGKILL after this */
#define PEERS_LOG_TAIL 2048          /* bytes of a server's log shown on failure */
#define PEERS_SEQ_HEX 16             /* payload starts with the seq in hex */
#define PEERS_FSYNC_LEN 256

/* Debian's system instances listen here; this program must never. */
#define PEERS_REDIS_DEFAULT_PORT 6379
#define PEERS_MQTT_DEFAULT_PORT 1883

static const size_t peers_sizes[] = { 256, 1024 };
#define PEERS_NSIZES (sizeof peers_sizes / sizeof peers_sizes[0])

struct peers_opts {
	int quick;
	int rounds;             /* runs of each peer and size; the median is reported */
	const char *only;       /* NULL: all three */
	const char *parent;     /* where the scratch directory goes */
	uint64_t fsync_n;       /* write + fdatasync operations per variant */
	uint64_t redis_n;       /* messages per Redis run */
	uint64_t mqtt_n;        /* messages per Mosquitto run */
	unsigned inflight;      /* W */
};

/* ---- scratch directory, server process, cleanup ------------------------ */

/* One server runs at a time; the signal handler and atexit stop it. */
static char peers_dir[PEERS_PATH_MAX];
static volatile sig_atomic_t peers_have_dir;
static volatile pid_t peers_server = 0;
static char peers_server_log[PEERS_PATH_MAX + 64];

/* SIGTERM, wait up to PEERS_STOP_SECS for a clean exit (Redis flushes its
 * AOF, Mosquitto writes its snapshot), then SIGKILL.  Returns the wait
 * status, or -1 when there was nothing to stop. */
static int peers_server_stop(void)
{
	pid_t pid = peers_server;
	int status;

	if (pid <= 0)
		return -1;
	status = bu_stop(pid, PEERS_STOP_SECS);
	peers_server = 0;
	return status;
}

static void peers_cleanup(void)
{
	peers_server_stop();
	if (peers_have_dir) {
		bu_rmtree(peers_dir);
		peers_have_dir = 0;
	}
}

/* A failure while a server runs may be the server's: bu_die shows the end
 * of its log before the cleanup removes it. */
static void peers_explain(void)
{
	if (peers_server > 0)
		bu_dump_log(peers_server_log, PEERS_LOG_TAIL);
}

/* A fresh private directory under parent (default: the current directory,
 * hidden), on the filesystem being measured. */
static void peers_make_dir(const char *parent)
{
	bu_make_dir(peers_dir, sizeof peers_dir, parent != NULL ? parent : ".",
		    ".bench-peers-XXXXXX");
	peers_have_dir = 1;
	bu_catch_signals();
	signal(SIGPIPE, SIG_IGN);
}

static void peers_subdir(char *out, size_t cap, const char *name)
{
	if ((size_t)snprintf(out, cap, "%s/%s", peers_dir, name) >= cap)
		bu_die("%s/%s: path too long", peers_dir, name);
	if (mkdir(out, 0700) != 0)
		bu_die("%s: %s", out, strerror(errno));
}

/* A loopback port the kernel considers free now.  Another process could
 * take it before the server binds; the server then fails to start and says
 * so.  Never one of the default ports, where a system instance may run. */
static int peers_free_port(void)
{
	int tries;

	for (tries = 0; tries < 16; tries++) {
		int port = bu_free_port();
		if (port != PEERS_REDIS_DEFAULT_PORT && port != PEERS_MQTT_DEFAULT_PORT)
			return port;
	}
	bu_die("no free loopback port");
}

/* Starts argv[0] (from PATH) with stdout and stderr to log, stdin from
 * /dev/null.  The child is killed when this program dies, however it dies. */
static void peers_spawn(char *const argv[], const char *log)
{
	pid_t parent = getpid(), pid;

	snprintf(peers_server_log, sizeof peers_server_log, "%s", log);
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) < 0)
		bu_die("fork: %s", strerror(errno));
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent ||
		    fd < 0 || in < 0 || dup2(in, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(126);
		signal(SIGPIPE, SIG_DFL);
		execvp(argv[0], argv);
		dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	peers_server = pid;
}

/* Polls probe until it succeeds; dies if the server exits or stays silent. */
static void peers_wait_ready(const char *what, int (*probe)(int), int port)
{
	double t0 = bu_now();
	int status;

	for (;;) {
		pid_t r = waitpid(peers_server, &status, WNOHANG);
		if (r == peers_server) {
			peers_server = 0;
			bu_dump_log(peers_server_log, PEERS_LOG_TAIL);
			bu_die("%s exited at start (status %d)", what,
				  WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status));
		}
		if (probe(port) == 0)
			return;
		if (bu_now() - t0 > PEERS_START_SECS)
			bu_die("%s does not answer on 127.0.0.1:%d after %d s", what, port,
				  PEERS_START_SECS);
		bu_sleep(0.02);
	}
}

/* ---- small tools ------------------------------------------------------- */

/* Message seq of a run: its number in hex, then letters that depend on it,
 * so that a payload delivered for the wrong seq or cut short is seen. */
static void peers_payload(char *buf, size_t len, uint64_t seq)
{
	char hex[PEERS_SEQ_HEX + 1];
	size_t i;

	assert(len >= PEERS_SEQ_HEX);
	snprintf(hex, sizeof hex, "%016llx", (unsigned long long)seq);
	memcpy(buf, hex, PEERS_SEQ_HEX);
	for (i = PEERS_SEQ_HEX; i < len; i++)
		buf[i] = (char)('a' + (seq + i) % 26);
}

/* 0 if p (len bytes) is the payload of a seq below n, which is stored in
 * *seq; -1 otherwise. */
static int peers_payload_check(const void *p, size_t len, size_t want_len, uint64_t n,
			       uint64_t *seq)
{
	char hex[PEERS_SEQ_HEX + 1], expect[4096], *end;

	if (len != want_len || len > sizeof expect)
		return -1;
	memcpy(hex, p, PEERS_SEQ_HEX);
	hex[PEERS_SEQ_HEX] = '\0';
	*seq = strtoull(hex, &end, 16);
	if (*end != '\0' || *seq >= n)
		return -1;
	peers_payload(expect, len, *seq);
	return memcmp(expect, p, len) == 0 ? 0 : -1;
}

/* First line a command prints, e.g. its version. */
static void peers_first_line(const char *cmd, char *out, size_t cap)
{
	FILE *p = popen(cmd, "r");

	snprintf(out, cap, "unknown");
	if (p == NULL)
		return;
	if (fgets(out, (int)cap, p) == NULL)
		snprintf(out, cap, "unknown");
	out[strcspn(out, "\n")] = '\0';
	pclose(p);
}

/* ---- 1. fdatasync floor ------------------------------------------------ */

/* n times: pwrite 256 bytes (at the end of the file when append, else at
 * offset 0 of a preallocated block) and fdatasync; the latency of each
 * pair goes to lat[] (µs).  Returns the pairs per second. */
static double peers_fsync_run(const char *path, int append, uint64_t n, double *lat)
{
	char buf[PEERS_FSYNC_LEN], block[4096];
	uint64_t i;
	double t0 = 0;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0)
		bu_die("%s: %s", path, strerror(errno));
	memset(block, 0, sizeof block);
	if (!append && (write(fd, block, sizeof block) != (ssize_t)sizeof block || fsync(fd) != 0))
		bu_die("%s: %s", path, strerror(errno));
	/* A few unmeasured pairs: the first allocations and journal entries. */
	for (i = 0; i < 8 + n; i++) {
		double s = bu_now();
		off_t off = append ? (off_t)(i * PEERS_FSYNC_LEN) : 0;
		if (i == 8)
			t0 = s;
		peers_payload(buf, sizeof buf, i);
		if (pwrite(fd, buf, sizeof buf, off) != (ssize_t)sizeof buf || fdatasync(fd) != 0)
			bu_die("%s: write + fdatasync: %s", path, strerror(errno));
		if (i >= 8)
			lat[i - 8] = (bu_now() - s) * 1e6;
	}
	t0 = (double)n / (bu_now() - t0);
	close(fd);
	unlink(path);
	return t0;
}

static void peers_fsync(const struct peers_opts *o)
{
	static const char *const names[2] = { "fdatasync", "fdatasync_overwrite" };
	double *lat = malloc(o->fsync_n * sizeof *lat);
	char path[PEERS_PATH_MAX + 32], name[64];
	int append;

	if (lat == NULL)
		bu_die("out of memory");
	printf("\n== fdatasync floor: write %d B + fdatasync, %llu times ==\n", PEERS_FSYNC_LEN,
	       (unsigned long long)o->fsync_n);
	for (append = 1; append >= 0; append--) {
		const char *nm = names[append ? 0 : 1];
		double rate, p50, p99;
		snprintf(path, sizeof path, "%s/fsync.dat", peers_dir);
		rate = peers_fsync_run(path, append, o->fsync_n, lat);
		qsort(lat, (size_t)o->fsync_n, sizeof *lat, bu_cmp_double);
		p50 = lat[(o->fsync_n - 1) / 2];
		p99 = lat[(o->fsync_n * 99 - 1) / 100];
		printf("%-10s p50 %7.0f us  p99 %7.0f us  max %7.0f us  %6.0f /s\n",
		       append ? "append" : "overwrite", p50, p99, lat[o->fsync_n - 1], rate);
		snprintf(name, sizeof name, "%s_p50_us", nm);
		bu_result(name, p50);
		snprintf(name, sizeof name, "%s_p99_us", nm);
		bu_result(name, p99);
		snprintf(name, sizeof name, "%s_per_s", nm);
		bu_result(name, rate);
	}
	printf("(append: the file grows, so ext4 also commits its journal, as a log "
	       "does; overwrite: the same block again, the bare flush.)\n");
	free(lat);
}

/* ---- 2. Redis streams, appendfsync always ------------------------------ */

/*
 * Producer and consumer are two threads with a blocking hiredis context
 * each.  hiredis 0.14's blocking API pipelines as well as its non-blocking
 * one when the window is kept by hand (redisAppendCommand, one write of all
 * new commands, then every reply already read), and two threads keep each
 * loop plain: the producer never waits for the consumer, the consumer's
 * XREADGROUP ... BLOCK never holds up the producer, as with two separate
 * client processes.  The threads share only the start time and a stop
 * flag; errors are written to their own struct and reported by main.
 */

#define PEERS_GROUP "bench"

struct peers_redis_run {
	redisContext *c;
	const char *key;
	uint64_t n;
	unsigned w;
	size_t len;
	atomic_int *stop;        /* set by either side when it fails */
	double t0, t1;           /* first XADD sent; last XACK answered */
	char err[256];
};

static void peers_redis_fail(struct peers_redis_run *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void peers_redis_fail(struct peers_redis_run *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->err, sizeof r->err, fmt, ap);
	va_end(ap);
	atomic_store(r->stop, 1);
}

static int peers_redis_flush(redisContext *c)
{
	int done = 0;

	while (!done)
		if (redisBufferWrite(c, &done) != REDIS_OK)
			return -1;
	return 0;
}

static void *peers_redis_producer(void *arg)
{
	struct peers_redis_run *r = arg;
	char *buf = malloc(r->len);
	uint64_t sent = 0, acked = 0;

	if (buf == NULL) {
		peers_redis_fail(r, "out of memory");
		return NULL;
	}
	r->t0 = bu_now();
	while (acked < r->n) {
		redisReply *rep;
		void *v;
		while (sent < r->n && sent - acked < r->w) {
			peers_payload(buf, r->len, sent);
			redisAppendCommand(r->c, "XADD %s * d %b", r->key, buf, r->len);
			sent++;
		}
		if (peers_redis_flush(r->c) != 0 || redisGetReply(r->c, &v) != REDIS_OK) {
			peers_redis_fail(r, "producer: %s", r->c->errstr);
			break;
		}
		/* The reply read blocking, then those that came with it. */
		do {
			rep = v;
			if (rep->type != REDIS_REPLY_STRING) {
				peers_redis_fail(r, "XADD: %s", rep->type == REDIS_REPLY_ERROR ?
						 rep->str : "unexpected reply");
				freeReplyObject(rep);
				goto out;
			}
			freeReplyObject(rep);
			acked++;
		} while (redisReaderGetReply(r->c->reader, &v) == REDIS_OK && v != NULL);
		if (atomic_load(r->stop))
			break;
	}
out:
	free(buf);
	return NULL;
}

/* Checks the entries of one XREADGROUP reply (in stream order, so seq
 * must follow *got) and appends their XACK; returns how many, or -1. */
static long peers_redis_take(struct peers_redis_run *r, redisReply *rep, uint64_t *got,
			     const char **argv, size_t *argvlen)
{
	redisReply *ents;
	size_t i;

	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 1 ||
	    rep->element[0]->type != REDIS_REPLY_ARRAY || rep->element[0]->elements != 2 ||
	    (ents = rep->element[0]->element[1])->type != REDIS_REPLY_ARRAY ||
	    ents->elements == 0 || ents->elements > r->w) {
		peers_redis_fail(r, "XREADGROUP: %s", rep->type == REDIS_REPLY_ERROR ?
				 rep->str : "unexpected reply");
		return -1;
	}
	argv[0] = "XACK";
	argv[1] = r->key;
	argv[2] = PEERS_GROUP;
	argvlen[0] = 4;
	argvlen[1] = strlen(r->key);
	argvlen[2] = strlen(PEERS_GROUP);
	for (i = 0; i < ents->elements; i++) {
		redisReply *e = ents->element[i], *f;
		uint64_t seq;
		if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
		    e->element[0]->type != REDIS_REPLY_STRING ||
		    (f = e->element[1])->type != REDIS_REPLY_ARRAY || f->elements != 2 ||
		    f->element[1]->type != REDIS_REPLY_STRING ||
		    peers_payload_check(f->element[1]->str, f->element[1]->len, r->len, r->n,
					&seq) != 0 || seq != *got) {
			peers_redis_fail(r, "entry %llu: wrong entry or payload",
					 (unsigned long long)*got);
			return -1;
		}
		argv[3 + i] = e->element[0]->str;
		argvlen[3 + i] = e->element[0]->len;
		(*got)++;
	}
	redisAppendCommandArgv(r->c, (int)(3 + ents->elements), argv, argvlen);
	return (long)ents->elements;
}

static void *peers_redis_consumer(void *arg)
{
	struct peers_redis_run *r = arg;
	const char **argv = malloc((3 + (size_t)r->w) * sizeof *argv);
	size_t *argvlen = malloc((3 + (size_t)r->w) * sizeof *argvlen);
	uint64_t got = 0;
	double idle = 0;
	char count[16];

	if (argv == NULL || argvlen == NULL) {
		peers_redis_fail(r, "out of memory");
		goto out;
	}
	snprintf(count, sizeof count, "%u", r->w);
	redisAppendCommand(r->c, "XREADGROUP GROUP %s c COUNT %s BLOCK 1000 STREAMS %s >",
			   PEERS_GROUP, count, r->key);
	while (got < r->n) {
		redisReply *rep, *ack;
		void *v;
		long k;
		if (redisGetReply(r->c, &v) != REDIS_OK) {
			peers_redis_fail(r, "consumer: %s", r->c->errstr);
			break;
		}
		rep = v;
		if (rep->type == REDIS_REPLY_NIL) {     /* BLOCK timed out */
			freeReplyObject(rep);
			if (atomic_load(r->stop))
				break;
			if ((idle += 1) > PEERS_STALL_SECS) {
				peers_redis_fail(r, "consumer: nothing to read for %d s at %llu",
						 PEERS_STALL_SECS, (unsigned long long)got);
				break;
			}
			redisAppendCommand(r->c, "XREADGROUP GROUP %s c COUNT %s BLOCK 1000 "
					   "STREAMS %s >", PEERS_GROUP, count, r->key);
			continue;
		}
		idle = 0;
		k = peers_redis_take(r, rep, &got, argv, argvlen);
		/* The ids point into rep until XACK is formatted (it is now). */
		freeReplyObject(rep);
		if (k < 0)
			break;
		/* The next read goes out with this batch's XACK. */
		if (got < r->n)
			redisAppendCommand(r->c, "XREADGROUP GROUP %s c COUNT %s BLOCK 1000 "
					   "STREAMS %s >", PEERS_GROUP, count, r->key);
		if (redisGetReply(r->c, &v) != REDIS_OK) {
			peers_redis_fail(r, "consumer: %s", r->c->errstr);
			break;
		}
		ack = v;
		if (ack->type != REDIS_REPLY_INTEGER || ack->integer != k) {
			peers_redis_fail(r, "XACK of %ld: %s", k, ack->type == REDIS_REPLY_ERROR ?
					 ack->str : "unexpected reply");
			freeReplyObject(ack);
			break;
		}
		freeReplyObject(ack);
		if (atomic_load(r->stop))
			break;
	}
	r->t1 = bu_now();
out:
	free(argv);
	free(argvlen);
	return NULL;
}

static redisContext *peers_redis_connect(int port)
{
	struct timeval tv = { PEERS_STALL_SECS, 0 };
	redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);

	if (c == NULL)
		bu_die("redis: out of memory");
	if (c->err) {
		char msg[128];
		snprintf(msg, sizeof msg, "%s", c->errstr);
		redisFree(c);
		bu_die("redis 127.0.0.1:%d: %s", port, msg);
	}
	/* Reads and writes time out too: a stalled server fails the run. */
	redisSetTimeout(c, tv);
	return c;
}

/* One command on the control connection; dies unless the reply has the
 * type wanted.  The caller frees the reply. */
static redisReply *peers_redis_cmd(redisContext *c, int type, const char *fmt, ...)
{
	va_list ap;
	redisReply *rep;

	va_start(ap, fmt);
	rep = redisvCommand(c, fmt, ap);
	va_end(ap);
	if (rep == NULL)
		bu_die("redis %s: %s", fmt, c->errstr);
	if ((int)rep->type != type)
		bu_die("redis %s: %s", fmt, rep->type == REDIS_REPLY_ERROR ? rep->str :
			  "unexpected reply");
	return rep;
}

static int peers_redis_probe(int port)
{
	struct timeval tv = { 1, 0 };
	redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
	redisReply *rep;
	int ok;

	if (c == NULL || c->err) {
		redisFree(c);
		return -1;
	}
	rep = redisCommand(c, "PING");
	ok = rep != NULL && rep->type == REDIS_REPLY_STATUS && strcmp(rep->str, "PONG") == 0;
	freeReplyObject(rep);
	redisFree(c);
	return ok ? 0 : -1;
}

struct peers_rate {
	double rate;            /* messages/s */
	double server_us;       /* server CPU per message, µs (negative: unknown) */
	double client_us;       /* this process's CPU per message, µs */
};

/* One run: a fresh stream and group, producer and consumer threads, then
 * the server is asked that all N are there and none is pending. */
static struct peers_rate peers_redis_run(int port, redisContext *ctl, const char *key,
					 size_t len, const struct peers_opts *o)
{
	struct peers_redis_run prod, cons;
	struct peers_rate res;
	pthread_t tp, tc;
	atomic_int stop;
	redisReply *rep;
	double c0, s0;

	freeReplyObject(peers_redis_cmd(ctl, REDIS_REPLY_INTEGER, "DEL %s", key));
	freeReplyObject(peers_redis_cmd(ctl, REDIS_REPLY_STATUS, "XGROUP CREATE %s %s $ MKSTREAM",
					key, PEERS_GROUP));
	atomic_init(&stop, 0);
	memset(&prod, 0, sizeof prod);
	prod.key = key;
	prod.n = o->redis_n;
	prod.w = o->inflight;
	prod.len = len;
	prod.stop = &stop;
	cons = prod;
	prod.c = peers_redis_connect(port);
	cons.c = peers_redis_connect(port);
	c0 = bu_cpu();
	s0 = bu_proc_cpu(peers_server);
	if (pthread_create(&tc, NULL, peers_redis_consumer, &cons) != 0)
		bu_die("pthread_create failed");
	if (pthread_create(&tp, NULL, peers_redis_producer, &prod) != 0) {
		atomic_store(&stop, 1);
		pthread_join(tc, NULL);
		bu_die("pthread_create failed");
	}
	pthread_join(tp, NULL);
	pthread_join(tc, NULL);
	res.client_us = (bu_cpu() - c0) * 1e6 / (double)o->redis_n;
	res.server_us = s0 < 0 ? -1 : (bu_proc_cpu(peers_server) - s0) * 1e6 / (double)o->redis_n;
	redisFree(prod.c);
	redisFree(cons.c);
	if (prod.err[0] != '\0')
		bu_die("redis: %s", prod.err);
	if (cons.err[0] != '\0')
		bu_die("redis: %s", cons.err);
	res.rate = (double)o->redis_n / (cons.t1 - prod.t0);
	rep = peers_redis_cmd(ctl, REDIS_REPLY_INTEGER, "XLEN %s", key);
	if ((uint64_t)rep->integer != o->redis_n)
		bu_die("redis: XLEN %lld after %llu XADDs", rep->integer,
			  (unsigned long long)o->redis_n);
	freeReplyObject(rep);
	rep = peers_redis_cmd(ctl, REDIS_REPLY_ARRAY, "XPENDING %s %s", key, PEERS_GROUP);
	if (rep->elements < 1 || rep->element[0]->type != REDIS_REPLY_INTEGER ||
	    rep->element[0]->integer != 0)
		bu_die("redis: entries still pending after the last XACK");
	freeReplyObject(rep);
	freeReplyObject(peers_redis_cmd(ctl, REDIS_REPLY_INTEGER, "DEL %s", key));
	return res;
}

static void peers_print_rate(const char *peer, size_t len, int round, struct peers_rate r)
{
	printf("%-9s %4zu B round %d: %9.0f msgs/s  %7.2f MB/s   CPU us/msg: server %6.2f"
	       "  clients %6.2f\n", peer, len, round + 1, r.rate, r.rate * (double)len / 1e6,
	       r.server_us, r.client_us);
}

/* Medians of the rounds, as RESULT lines prefix_<len>, and CPU figures. */
static void peers_report(const char *prefix, const char *cpu_prefix, size_t len,
			 const struct peers_rate *r, int rounds)
{
	double rate[PEERS_MAX_ROUNDS], scpu[PEERS_MAX_ROUNDS], ccpu[PEERS_MAX_ROUNDS];
	char name[96];
	int i;

	for (i = 0; i < rounds; i++) {
		rate[i] = r[i].rate;
		scpu[i] = r[i].server_us;
		ccpu[i] = r[i].client_us;
	}
	snprintf(name, sizeof name, "%s_%zu", prefix, len);
	bu_result(name, bu_median(rate, rounds));
	snprintf(name, sizeof name, "%s_server_cpu_us_per_msg_%zu", cpu_prefix, len);
	bu_result(name, bu_median(scpu, rounds));
	snprintf(name, sizeof name, "%s_client_cpu_us_per_msg_%zu", cpu_prefix, len);
	bu_result(name, bu_median(ccpu, rounds));
}

static void peers_redis(const struct peers_opts *o)
{
	char dir[PEERS_PATH_MAX + 16], log[PEERS_PATH_MAX + 32], portstr[16], version[128];
	struct peers_rate runs[PEERS_NSIZES][PEERS_MAX_ROUNDS];
	int port = peers_free_port(), r;
	size_t si;
	redisContext *ctl;
	redisReply *rep;
	char *argv[] = { "redis-server", "--port", portstr, "--bind", "127.0.0.1",
			 "--dir", dir, "--appendonly", "yes", "--appendfsync", "always",
			 "--save", "", "--daemonize", "no", NULL };

	peers_subdir(dir, sizeof dir, "redis");
	snprintf(log, sizeof log, "%s/server.log", dir);
	snprintf(portstr, sizeof portstr, "%d", port);
	peers_spawn(argv, log);
	peers_wait_ready("redis-server", peers_redis_probe, port);
	ctl = peers_redis_connect(port);
	rep = peers_redis_cmd(ctl, REDIS_REPLY_ARRAY, "CONFIG GET appendfsync");
	if (rep->elements != 2 || strcmp(rep->element[1]->str, "always") != 0)
		bu_die("redis: appendfsync is not \"always\"");
	freeReplyObject(rep);
	rep = peers_redis_cmd(ctl, REDIS_REPLY_STRING, "INFO server");
	{
		const char *v = strstr(rep->str, "redis_version:");
		snprintf(version, sizeof version, "%.*s", v ? (int)strcspn(v + 14, "\r\n") : 1,
			 v ? v + 14 : "?");
	}
	freeReplyObject(rep);
	printf("\n== Redis %s streams: XADD (%u in flight) -> XREADGROUP + XACK, "
	       "appendonly yes, appendfsync always, 127.0.0.1:%d ==\n", version, o->inflight,
	       port);
	printf("%llu messages per run, %d round(s), median reported\n",
	       (unsigned long long)o->redis_n, o->rounds);
	for (r = 0; r < o->rounds; r++)
		for (si = 0; si < PEERS_NSIZES; si++) {
			char key[32];
			snprintf(key, sizeof key, "bench:%zu", peers_sizes[si]);
			runs[si][r] = peers_redis_run(port, ctl, key, peers_sizes[si], o);
			peers_print_rate("redis", peers_sizes[si], r, runs[si][r]);
		}
	redisFree(ctl);
	for (si = 0; si < PEERS_NSIZES; si++)
		peers_report("redis_msgs_per_s", "redis", peers_sizes[si], runs[si], o->rounds);
	r = peers_server_stop();
	if (r != 0)
		printf("(redis-server exited with status %d)\n", r);
	bu_rmtree(dir);
}

/* ---- 3. Mosquitto, QoS 2 ----------------------------------------------- */

/*
 * Publisher and subscriber are two libmosquitto clients, each with its own
 * network thread (mosquitto_loop_start), as two client processes would be.
 * The publisher keeps W messages in flight by publishing the next message
 * from its on_publish callback (called when PUBCOMP completes a QoS 2
 * publish), so no thread hand-off is needed per message; main publishes
 * only the first window.  The subscriber counts deliveries: libmosquitto
 * calls on_message for a QoS 2 message when PUBREL arrives, that is with
 * the handshake done.  State shared with main is under mtx.
 */

struct peers_mqtt {
	pthread_mutex_t mtx;
	pthread_cond_t cond;
	const char *topic;
	uint64_t n;
	size_t len;
	/* subscriber */
	int subscribed;
	uint64_t got;
	uint8_t *seen;          /* one bit per seq: exactly once */
	double t1;
	/* publisher */
	int connected;
	atomic_uint_fast64_t next;      /* next seq to publish */
	uint64_t completed;
	int done;               /* main is disconnecting: a disconnect is fine */
	char err[256];
};

static void peers_mqtt_fail(struct peers_mqtt *m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void peers_mqtt_fail(struct peers_mqtt *m, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&m->mtx);
	if (m->err[0] == '\0') {
		va_start(ap, fmt);
		vsnprintf(m->err, sizeof m->err, fmt, ap);
		va_end(ap);
	}
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->mtx);
}

static void peers_mqtt_publish_next(struct mosquitto *mq, struct peers_mqtt *m)
{
	char buf[1024];
	uint64_t seq = atomic_fetch_add(&m->next, 1);
	int rc;

	if (seq >= m->n)
		return;
	peers_payload(buf, m->len, seq);
	rc = mosquitto_publish(mq, NULL, m->topic, (int)m->len, buf, 2, false);
	if (rc != MOSQ_ERR_SUCCESS)
		peers_mqtt_fail(m, "publish %llu: %s", (unsigned long long)seq,
				mosquitto_strerror(rc));
}

static void peers_mqtt_on_connect(struct mosquitto *mq, void *obj, int rc)
{
	struct peers_mqtt *m = obj;

	(void)mq;
	if (rc != 0) {
		peers_mqtt_fail(m, "CONNACK: %s", mosquitto_connack_string(rc));
		return;
	}
	pthread_mutex_lock(&m->mtx);
	m->connected++;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->mtx);
}

static void peers_mqtt_on_disconnect(struct mosquitto *mq, void *obj, int rc)
{
	struct peers_mqtt *m = obj;
	int done;

	(void)mq;
	pthread_mutex_lock(&m->mtx);
	done = m->done;
	pthread_mutex_unlock(&m->mtx);
	if (!done)
		peers_mqtt_fail(m, "disconnected: %s", mosquitto_strerror(rc));
}

static void peers_mqtt_on_subscribe(struct mosquitto *mq, void *obj, int mid, int nqos,
				    const int *granted)
{
	struct peers_mqtt *m = obj;

	(void)mq;
	(void)mid;
	if (nqos != 1 || granted[0] != 2) {
		peers_mqtt_fail(m, "SUBACK: QoS 2 not granted");
		return;
	}
	pthread_mutex_lock(&m->mtx);
	m->subscribed = 1;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->mtx);
}

static void peers_mqtt_on_message(struct mosquitto *mq, void *obj,
				  const struct mosquitto_message *msg)
{
	struct peers_mqtt *m = obj;
	uint64_t seq;

	(void)mq;
	if (msg->qos != 2 || strcmp(msg->topic, m->topic) != 0 ||
	    peers_payload_check(msg->payload, (size_t)msg->payloadlen, m->len, m->n, &seq) != 0) {
		peers_mqtt_fail(m, "message %llu: wrong topic, QoS or payload",
				(unsigned long long)m->got);
		return;
	}
	pthread_mutex_lock(&m->mtx);
	if (m->seen[seq / 8] & (1u << (seq % 8))) {
		pthread_mutex_unlock(&m->mtx);
		peers_mqtt_fail(m, "message %llu delivered twice", (unsigned long long)seq);
		return;
	}
	m->seen[seq / 8] |= (uint8_t)(1u << (seq % 8));
	if (++m->got == m->n) {
		m->t1 = bu_now();
		pthread_cond_broadcast(&m->cond);
	}
	pthread_mutex_unlock(&m->mtx);
}

static void peers_mqtt_on_publish(struct mosquitto *mq, void *obj, int mid)
{
	struct peers_mqtt *m = obj;

	(void)mid;
	pthread_mutex_lock(&m->mtx);
	m->completed++;
	pthread_mutex_unlock(&m->mtx);
	peers_mqtt_publish_next(mq, m);
}

static struct mosquitto *peers_mqtt_client(const char *id, bool clean, struct peers_mqtt *m,
					   int port)
{
	struct mosquitto *mq = mosquitto_new(id, clean, m);
	int rc;

	if (mq == NULL)
		bu_die("mosquitto_new: %s", strerror(errno));
	mosquitto_int_option(mq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
	/* Nagle would hold back the small PUBREC/PUBREL/PUBCOMP packets. */
	mosquitto_int_option(mq, MOSQ_OPT_TCP_NODELAY, 1);
	mosquitto_connect_callback_set(mq, peers_mqtt_on_connect);
	mosquitto_disconnect_callback_set(mq, peers_mqtt_on_disconnect);
	if ((rc = mosquitto_connect(mq, "127.0.0.1", port, 60)) != MOSQ_ERR_SUCCESS)
		bu_die("mosquitto 127.0.0.1:%d: %s", port, mosquitto_strerror(rc));
	return mq;
}

/* Waits until *flag reaches want or the run fails; dies after secs. */
static void peers_mqtt_wait(struct peers_mqtt *m, const int *flag, int want, double secs,
			    const char *what)
{
	struct timespec ts;
	int ok;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)secs;
	pthread_mutex_lock(&m->mtx);
	while (*flag < want && m->err[0] == '\0')
		if (pthread_cond_timedwait(&m->cond, &m->mtx, &ts) == ETIMEDOUT)
			break;
	ok = *flag >= want && m->err[0] == '\0';
	pthread_mutex_unlock(&m->mtx);
	if (!ok)
		bu_die("mosquitto: %s", m->err[0] ? m->err : what);
}

static void peers_mqtt_stop(struct mosquitto *mq)
{
	mosquitto_disconnect(mq);
	mosquitto_loop_stop(mq, false);
	mosquitto_destroy(mq);
}

static struct peers_rate peers_mqtt_run(int port, size_t len, int round,
					const struct peers_opts *o)
{
	struct peers_mqtt m;
	struct peers_rate res;
	struct mosquitto *sub, *pub;
	pthread_condattr_t ca;
	char topic[64], id[64];
	uint64_t i, last = 0;
	double t0, c0, s0, progress;
	int rc;

	memset(&m, 0, sizeof m);
	pthread_mutex_init(&m.mtx, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&m.cond, &ca);
	pthread_condattr_destroy(&ca);
	snprintf(topic, sizeof topic, "parley/bench/%zu/%d", len, round);
	m.topic = topic;
	m.n = o->mqtt_n;
	m.len = len;
	atomic_init(&m.next, 0);
	if ((m.seen = calloc((size_t)(m.n + 7) / 8, 1)) == NULL)
		bu_die("out of memory");

	/* The subscriber first, with a persistent session, subscribed before
	 * the first message is published. */
	snprintf(id, sizeof id, "parley-bench-sub-%zu-%d", len, round);
	sub = peers_mqtt_client(id, false, &m, port);
	mosquitto_subscribe_callback_set(sub, peers_mqtt_on_subscribe);
	mosquitto_message_callback_set(sub, peers_mqtt_on_message);
	if ((rc = mosquitto_loop_start(sub)) != MOSQ_ERR_SUCCESS)
		bu_die("mosquitto_loop_start: %s", mosquitto_strerror(rc));
	peers_mqtt_wait(&m, &m.connected, 1, PEERS_START_SECS, "subscriber: no CONNACK");
	if ((rc = mosquitto_subscribe(sub, NULL, topic, 2)) != MOSQ_ERR_SUCCESS)
		bu_die("mosquitto_subscribe: %s", mosquitto_strerror(rc));
	peers_mqtt_wait(&m, &m.subscribed, 1, PEERS_START_SECS, "no SUBACK");

	snprintf(id, sizeof id, "parley-bench-pub-%zu-%d", len, round);
	pub = peers_mqtt_client(id, true, &m, port);
	/* Deprecated in favour of MOSQ_OPT_SEND_MAXIMUM, which the header
	 * documents for MQTT 5 only; this one is for every version. */
	mosquitto_max_inflight_messages_set(pub, o->inflight);
	mosquitto_publish_callback_set(pub, peers_mqtt_on_publish);
	if ((rc = mosquitto_loop_start(pub)) != MOSQ_ERR_SUCCESS)
		bu_die("mosquitto_loop_start: %s", mosquitto_strerror(rc));
	peers_mqtt_wait(&m, &m.connected, 2, PEERS_START_SECS, "publisher: no CONNACK");

	c0 = bu_cpu();
	s0 = bu_proc_cpu(peers_server);
	t0 = bu_now();
	for (i = 0; i < o->inflight && i < m.n; i++)
		peers_mqtt_publish_next(pub, &m);
	/* Wait for the last delivery; fail if nothing moves for a while. */
	progress = bu_now();
	pthread_mutex_lock(&m.mtx);
	while (m.got < m.n && m.err[0] == '\0') {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&m.cond, &m.mtx, &ts);
		if (m.got != last) {
			last = m.got;
			progress = bu_now();
		} else if (bu_now() - progress > PEERS_STALL_SECS) {
			snprintf(m.err, sizeof m.err, "no delivery for %d s: %llu of %llu "
				 "received, %llu publishes completed", PEERS_STALL_SECS,
				 (unsigned long long)m.got, (unsigned long long)m.n,
				 (unsigned long long)m.completed);
		}
	}
	m.done = 1;
	pthread_mutex_unlock(&m.mtx);
	res.client_us = (bu_cpu() - c0) * 1e6 / (double)m.n;
	res.server_us = s0 < 0 ? -1 : (bu_proc_cpu(peers_server) - s0) * 1e6 / (double)m.n;
	if (m.err[0] != '\0')
		bu_die("mosquitto: %s", m.err);
	res.rate = (double)m.n / (m.t1 - t0);
	peers_mqtt_stop(pub);
	peers_mqtt_stop(sub);
	for (i = 0; i < m.n; i++)
		if (!(m.seen[i / 8] & (1u << (i % 8))))
			bu_die("mosquitto: message %llu never arrived", (unsigned long long)i);
	free(m.seen);
	pthread_cond_destroy(&m.cond);
	pthread_mutex_destroy(&m.mtx);
	return res;
}

static int peers_mqtt_probe(int port)
{
	struct sockaddr_in a;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), rc;

	if (fd < 0)
		return -1;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)port);
	rc = connect(fd, (struct sockaddr *)&a, sizeof a);
	close(fd);
	return rc == 0 ? 0 : -1;
}

#define PEERS_MQTT_AUTOSAVE 1   /* seconds between snapshots of the broker */

static void peers_mosquitto(const struct peers_opts *o)
{
	char dir[PEERS_PATH_MAX + 16], conf[PEERS_PATH_MAX + 32], log[PEERS_PATH_MAX + 32];
	char version[128];
	struct peers_rate runs[PEERS_NSIZES][PEERS_MAX_ROUNDS];
	int port = peers_free_port(), r, fd;
	size_t si;
	FILE *f;
	char *argv[] = { "mosquitto", "-c", conf, NULL };

	peers_subdir(dir, sizeof dir, "mosquitto");
	snprintf(conf, sizeof conf, "%s/mosquitto.conf", dir);
	snprintf(log, sizeof log, "%s/broker.log", dir);
	if ((fd = open(conf, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0 ||
	    (f = fdopen(fd, "w")) == NULL)
		bu_die("%s: %s", conf, strerror(errno));
	fprintf(f, "# generated by bench/peers\n"
		"listener %d 127.0.0.1\n"
		"allow_anonymous true\n"
		"persistence true\n"
		"persistence_location %s/\n"
		"persistence_file mosquitto.db\n"
		/* The most often Mosquitto saves on a clock; it never saves
		 * per message (autosave_on_changes counts changes instead). */
		"autosave_interval %d\n"
		"autosave_on_changes false\n"
		/* W toward the subscriber too (the default is 20). */
		"max_inflight_messages %u\n"
		/* Default 1000 would drop QoS 2 messages the subscriber has
		 * not taken yet; a run must deliver all of them. */
		"max_queued_messages 0\n"
		"set_tcp_nodelay true\n"
		"log_dest stderr\n"
		"%s",
		port, dir, PEERS_MQTT_AUTOSAVE, o->inflight,
		/* As root the broker would switch to the mosquitto user, who
		 * cannot write to this directory. */
		geteuid() == 0 ? "user root\n" : "");
	if (fclose(f) != 0)
		bu_die("%s: %s", conf, strerror(errno));
	peers_first_line("mosquitto -h 2>&1", version, sizeof version);
	peers_spawn(argv, log);
	peers_wait_ready("mosquitto", peers_mqtt_probe, port);
	printf("\n== Mosquitto QoS 2: publisher (%u in flight) -> subscriber "
	       "(clean_session false), 127.0.0.1:%d ==\n", o->inflight, port);
	printf("%s, libmosquitto %d.%d.%d; persistence true, autosave_interval %d s\n", version,
	       LIBMOSQUITTO_MAJOR, LIBMOSQUITTO_MINOR, LIBMOSQUITTO_REVISION,
	       PEERS_MQTT_AUTOSAVE);
	printf("%llu messages per run, %d round(s), median reported\n",
	       (unsigned long long)o->mqtt_n, o->rounds);
	for (r = 0; r < o->rounds; r++)
		for (si = 0; si < PEERS_NSIZES; si++) {
			runs[si][r] = peers_mqtt_run(port, peers_sizes[si], r, o);
			peers_print_rate("mosquitto", peers_sizes[si], r, runs[si][r]);
		}
	for (si = 0; si < PEERS_NSIZES; si++)
		peers_report("mosquitto_qos2_msgs_per_s", "mosquitto", peers_sizes[si], runs[si],
			     o->rounds);
	printf("NOTE Mosquitto does not fsync a message before acknowledging it: its "
	       "persistence is a snapshot\n     of memory every %d s (autosave_interval), so "
	       "an acknowledged message can be lost on power\n     failure.  Not a durable "
	       "figure: its rate is bound by the broker's CPU (QoS 2 handshakes),\n     "
	       "not by the disk.\n", PEERS_MQTT_AUTOSAVE);
	r = peers_server_stop();
	if (r != 0)
		printf("(mosquitto exited with status %d)\n", r);
	bu_rmtree(dir);
}

/* ---- main -------------------------------------------------------------- */

static void peers_usage(void)
{
	fprintf(stderr, "usage: peers [--quick] [--dir DIR] [--n N] [--inflight W] [--rounds R]\n"
		"             [--only fdatasync|redis|mosquitto]\n"
		"  --quick       short run (< 30 s): fewer messages, one round\n"
		"  --dir DIR     scratch files and servers' data under DIR (default: .)\n"
		"  --n N         messages per Redis and Mosquitto run (default 100000 and\n"
		"                50000; 20000 and 10000 with --quick)\n"
		"  --inflight W  messages in flight, 1..%d (default 1024)\n"
		"  --rounds R    runs of each peer and size, 1..%d; medians reported\n"
		"  --only X      only one of fdatasync, redis, mosquitto\n",
		PEERS_MAX_INFLIGHT, PEERS_MAX_ROUNDS);
	exit(2);
}

static uint64_t peers_arg_u64(const char *opt, const char *s, uint64_t max)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || s[0] == '-' || v == 0 || v > max)
		bu_die("%s: want 1..%llu, got \"%s\"", opt, (unsigned long long)max, s);
	return v;
}

int main(int argc, char **argv)
{
	struct peers_opts o = {
		.quick = 0, .rounds = 3, .only = NULL, .parent = NULL,
		.fsync_n = 2000, .redis_n = 100000, .mqtt_n = 50000, .inflight = 1024,
	};
	uint64_t n = 0;
	int rounds = 0, ncpu, i;
	double t0 = bu_now();
	char cpu[256], fs[PATH_MAX + 512];

	bu_set_name("peers");
	bu_set_cleanup(peers_cleanup);
	bu_set_explain(peers_explain);
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0)
			o.quick = 1;
		else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
			o.parent = argv[++i];
		else if (strcmp(argv[i], "--n") == 0 && i + 1 < argc)
			n = peers_arg_u64("--n", argv[++i], PEERS_MAX_N);
		else if (strcmp(argv[i], "--inflight") == 0 && i + 1 < argc)
			o.inflight = (unsigned)peers_arg_u64("--inflight", argv[++i],
							     PEERS_MAX_INFLIGHT);
		else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
			rounds = (int)peers_arg_u64("--rounds", argv[++i], PEERS_MAX_ROUNDS);
		else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc &&
			 (strcmp(argv[i + 1], "fdatasync") == 0 || strcmp(argv[i + 1], "redis") == 0 ||
			  strcmp(argv[i + 1], "mosquitto") == 0))
			o.only = argv[++i];
		else
			peers_usage();
	}
	if (o.quick) {
		o.rounds = 1;
		o.fsync_n = 300;
		o.redis_n = 20000;
		o.mqtt_n = 10000;
	}
	if (n != 0)
		o.redis_n = o.mqtt_n = n;
	if (rounds != 0)
		o.rounds = rounds;
	setvbuf(stdout, NULL, _IOLBF, 0);
	peers_make_dir(o.parent);

	ncpu = bu_cpu_model(cpu, sizeof cpu);
	snprintf(cpu + strlen(cpu), sizeof cpu - strlen(cpu), ", %d CPUs", ncpu);
	bu_filesystem(peers_dir, 0, fs, sizeof fs);
	printf("bench/peers%s: the peers and the disk's floor, this machine, this run\n",
	       o.quick ? " --quick" : "");
	printf("CPU: %s\ndisk: %s\nscratch: %s\n", cpu, fs, peers_dir);

	if (o.only == NULL || strcmp(o.only, "fdatasync") == 0)
		peers_fsync(&o);
	if (o.only == NULL || strcmp(o.only, "redis") == 0)
		peers_redis(&o);
	if (o.only == NULL || strcmp(o.only, "mosquitto") == 0) {
		mosquitto_lib_init();
		peers_mosquitto(&o);
		mosquitto_lib_cleanup();
	}
	printf("\ntotal %.1f s\n", bu_now() - t0);
	peers_cleanup();
	return 0;
}
