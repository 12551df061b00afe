/*
 * benchutil.c — what the benchmark programs of bench/ share; see
 * benchutil.h for the contract.  Linux only: the machine facts and the CPU
 * time of other processes come from /proc and /sys.
 */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"

/* ---- fatal errors, cleanup --------------------------------------------- */

static const char *bu_name = "bench";
static void (*bu_cleanup_fn)(void);
static void (*bu_explain_fn)(void);

/* Each program names itself so that a message on a shared stderr (bench/node
 * runs bench/peers) says which program failed. */
void bu_set_name(const char *name)
{
	bu_name = name;
}

/* The cleanup is the program's: only it knows its children and files. */
void bu_set_cleanup(void (*cleanup)(void))
{
	bu_cleanup_fn = cleanup;
}

/* Separate from the cleanup: a failure is explained, an interrupt is not. */
void bu_set_explain(void (*explain)(void))
{
	bu_explain_fn = explain;
}

/* The one way out on an error: the message first (after what stdout holds,
 * so the output reads in order), then what explains it, then the cleanup,
 * so that no server, node or scratch directory outlives the program. */
void bu_die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "%s: ", bu_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (bu_explain_fn != NULL)
		bu_explain_fn();
	if (bu_cleanup_fn != NULL)
		bu_cleanup_fn();
	exit(1);
}

/* atexit wants a function of its own: the cleanup may be set later. */
static void bu_run_cleanup(void)
{
	if (bu_cleanup_fn != NULL)
		bu_cleanup_fn();
}

/* Cleans up, then dies of the signal with the default action, so that the
 * shell (and make) see what killed the program. */
static void bu_on_signal(int sig)
{
	bu_run_cleanup();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* An interrupted benchmark must not leave gigabytes of databases or
 * running servers behind. */
void bu_catch_signals(void)
{
	atexit(bu_run_cleanup);
	signal(SIGINT, bu_on_signal);
	signal(SIGTERM, bu_on_signal);
	signal(SIGHUP, bu_on_signal);
}

/* ---- files, directories ------------------------------------------------ */

/* Measurements belong on the disk being measured (build/ is the project's
 * disk, /tmp may be a tmpfs), in a directory of their own so that the
 * cleanup may remove all of it.  The path is absolute because servers and
 * nodes are given paths under it and may change directory. */
void bu_make_dir(char *out, size_t cap, const char *parent, const char *tmpl)
{
	char made[PATH_MAX], real[PATH_MAX];
	struct stat st;
	size_t n;

	assert(cap > BU_DIR_ROOM);
	if (parent == NULL)
		parent = stat("build", &st) == 0 && S_ISDIR(st.st_mode) ? "build" : ".";
	n = (size_t)snprintf(made, sizeof made, "%s/%s", parent, tmpl);
	if (n >= sizeof made || n >= cap - BU_DIR_ROOM)
		bu_die("%s: path too long", parent);
	if (mkdtemp(made) == NULL)
		bu_die("%s: cannot create a directory: %s", made, strerror(errno));
	if (realpath(made, real) == NULL) {
		int e = errno;
		rmdir(made);
		bu_die("%s: %s", made, strerror(e));
	}
	if (strlen(real) >= cap - BU_DIR_ROOM) {
		rmdir(made);
		bu_die("%s: path too long", real);
	}
	snprintf(out, cap, "%s", real);
}

/* Scratch directories hold databases, node directories and server files
 * several levels deep.  lstat, not stat: a link inside is removed, never
 * followed out of the directory. */
void bu_rmtree(const char *path)
{
	struct stat st;
	struct dirent *d;
	DIR *dir;

	if (lstat(path, &st) != 0)
		return;
	if (!S_ISDIR(st.st_mode)) {
		unlink(path);
		return;
	}
	if ((dir = opendir(path)) != NULL) {
		while ((d = readdir(dir)) != NULL) {
			char sub[PATH_MAX];
			if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
				continue;
			if ((size_t)snprintf(sub, sizeof sub, "%s/%s", path, d->d_name) < sizeof sub)
				bu_rmtree(sub);
		}
		closedir(dir);
	}
	rmdir(path);
}

/* A server or node that fails says why in its log, which the cleanup is
 * about to delete: its end goes to stderr first. */
void bu_dump_log(const char *path, size_t tail)
{
	char buf[4097];
	size_t n;
	long sz;
	FILE *f;

	if (tail > sizeof buf - 1)
		tail = sizeof buf - 1;
	if (path == NULL || (f = fopen(path, "r")) == NULL)
		return;
	fseek(f, 0, SEEK_END);
	sz = ftell(f);
	fseek(f, sz > (long)tail ? sz - (long)tail : 0, SEEK_SET);
	n = fread(buf, 1, tail, f);
	buf[n] = '\0';
	fclose(f);
	if (n > 0)
		fprintf(stderr, "--- end of %s ---\n%s%s--- end ---\n", path, buf,
			buf[n - 1] == '\n' ? "" : "\n");
}

/* ---- processes --------------------------------------------------------- */

/* A clean exit is part of what is measured (a node syncs, Redis flushes its
 * AOF, Mosquitto writes its snapshot); a hung one must not hang the bench. */
int bu_stop(pid_t pid, double limit)
{
	double t0 = bu_now();
	int status = -1;

	kill(pid, SIGTERM);
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid || (r < 0 && errno != EINTR))
			return status;
		if (bu_now() - t0 >= limit)
			break;
		bu_sleep(0.005);
	}
	kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return status;
}

/* Servers' CPU time shows what a rate costs, which a shared 2-core machine
 * hides in the rate itself. */
double bu_proc_cpu(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	size_t n;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* Fields after the command name, which is in parentheses and may
	 * contain spaces: state is field 3, utime 14, stime 15. */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

double bu_proc_write_bytes(pid_t pid)
{
	char path[64], line[128];
	unsigned long long v;
	double r = -1;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/io", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "write_bytes: %llu", &v) == 1)
			r = (double)v;
	fclose(f);
	return r;
}

/* Fixed ports collide with a system instance or a second bench run; the
 * kernel's choice of a free one is the best guess available.  The kernel
 * may hand out a port again as soon as it is closed here, so the ports
 * this process was given lately are remembered and never given twice: a
 * node's API once got the port of its own peer listener. */
#define BU_PORTS_KEPT 256

int bu_free_port(void)
{
	static int given[BU_PORTS_KEPT];
	static size_t ngiven;
	int tries;

	for (tries = 0; tries < 64; tries++) {
		struct sockaddr_in a;
		socklen_t len = sizeof a;
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port, seen = 0;
		size_t i;

		if (fd < 0)
			bu_die("socket: %s", strerror(errno));
		memset(&a, 0, sizeof a);
		a.sin_family = AF_INET;
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
		    getsockname(fd, (struct sockaddr *)&a, &len) != 0)
			bu_die("bind 127.0.0.1:0: %s", strerror(errno));
		port = ntohs(a.sin_port);
		close(fd);
		for (i = 0; i < ngiven && i < BU_PORTS_KEPT; i++)
			seen |= given[i] == port;
		if (!seen) {
			given[ngiven++ % BU_PORTS_KEPT] = port;
			return port;
		}
	}
	bu_die("no loopback port not given before");
}

/* ---- clocks ------------------------------------------------------------ */

/* Monotonic: the wall clock may be stepped during a run. */
double bu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Per-CPU-second rates hardly depend on what else the machine runs. */
double bu_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Polling loops sleep between tries; a signal must not cut the pause. */
void bu_sleep(double secs)
{
	struct timespec ts;

	if (secs <= 0)
		return;
	ts.tv_sec = (time_t)secs;
	ts.tv_nsec = (long)((secs - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* ---- numbers ----------------------------------------------------------- */

/* splitmix64 (Steele, Lea, Flood): fast, and a fixed seed makes every run
 * use the same entries, indices and traffic, so runs compare. */
uint64_t bu_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* Comparing, not subtracting: a difference of doubles does not fit an int. */
int bu_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The median of the rounds is reported because the machine is shared and a
 * single round may meet another process's burst. */
double bu_median(const double *v, int n)
{
	double s[BU_MEDIAN_MAX];

	assert(n >= 1 && n <= BU_MEDIAN_MAX);
	memcpy(s, v, (size_t)n * sizeof *v);
	qsort(s, (size_t)n, sizeof *s, bu_cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* One line per figure, the same in every bench, so that scripts and
 * BENCHMARKS.md take them with one pattern. */
void bu_result(const char *name, double v)
{
	if (v >= 100)
		printf("RESULT %s %.0f\n", name, v);
	else
		printf("RESULT %s %.3f\n", name, v);
}

/* ---- the machine ------------------------------------------------------- */

/* Figures are for this machine only: the header says which it was. */
int bu_cpu_model(char *out, size_t cap)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[512];
	int ncpu = 0, found = 0;

	snprintf(out, cap, "unknown");
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof line, f) != NULL) {
		char *c = strchr(line, ':');
		if (strncmp(line, "processor", 9) == 0)
			ncpu++;
		if (!found && strncmp(line, "model name", 10) == 0 && c != NULL) {
			c += 1 + strspn(c + 1, " \t");
			c[strcspn(c, "\n")] = '\0';
			snprintf(out, cap, "%s", c);
			found = 1;
		}
	}
	fclose(f);
	return ncpu;
}

/* Whether the disk claims to spin, which bounds every fsync figure; sysfs
 * has it for the whole device or, for a partition, one level up. */
static void bu_rotational(const char *source, char *out, size_t cap)
{
	const char *dev = strrchr(source, '/');
	char p[300];
	FILE *r;
	int rot;

	if (dev == NULL)
		return;
	snprintf(p, sizeof p, "/sys/class/block/%s/queue/rotational", dev + 1);
	if ((r = fopen(p, "r")) == NULL) {
		snprintf(p, sizeof p, "/sys/class/block/%s/../queue/rotational", dev + 1);
		r = fopen(p, "r");
	}
	if (r == NULL)
		return;
	if (fscanf(r, "%d", &rot) == 1) {
		size_t l = strlen(out);
		snprintf(out + l, cap - l, ", sysfs: %s", rot ? "rotational" : "non-rotational");
	}
	fclose(r);
}

/* Durable-write figures mean nothing without the filesystem under them (a
 * tmpfs syncs for free); the header names it. */
void bu_filesystem(const char *dir, int rotational, char *out, size_t cap)
{
	char real[PATH_MAX], line[2048], source[256] = "";
	size_t best = 0;
	FILE *f;

	snprintf(out, cap, "unknown");
	if (realpath(dir, real) == NULL || (f = fopen("/proc/self/mountinfo", "r")) == NULL)
		return;
	while (fgets(line, sizeof line, f) != NULL) {
		char mp[PATH_MAX], fstype[64], src[256];
		char *dash = strstr(line, " - ");
		size_t n;
		if (dash == NULL || sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1 ||
		    sscanf(dash + 3, "%63s %255s", fstype, src) != 2)
			continue;
		n = strlen(mp);
		if (strncmp(real, mp, n) != 0 ||
		    (n > 1 && real[n] != '/' && real[n] != '\0') || n < best)
			continue;
		best = n;
		snprintf(source, sizeof source, "%s", src);
		snprintf(out, cap, "%s on %s, mounted at %s", fstype, src, mp);
	}
	fclose(f);
	if (rotational && source[0] != '\0')
		bu_rotational(source, out, cap);
}
