/*
 * bench/replay.c — a party's declarations replayed from its log, next to
 * the rate at which the same bytes are only read and parsed.
 *
 *   build/rel/bench/replay [--quick] [--entries N] [--rounds R] [--dir DIR]
 *                          [--parley PATH] [--no-receipts] [--keep]
 *
 * The setup, outside every clock: `parley init` makes a node directory for
 * nrrc.us.example; its log nrrc.us.example/to/nrrc.ru.example gets
 * 1,000,000 notifications (100,000 with --quick) under
 * treaties/new-start.json, appended in transactions of 10,000: first the
 * baseline data exchange of treaties/samples/us-2020-09-01.json in parts
 * (each envelope at most 65,535 bytes, totals declared in part 1), then
 * ROUTINE traffic, one notification every 30 s of the sender's clock:
 * status changes of ICBMs and SLBMs between deployed and non_deployed
 * (40%), movements of missiles and heavy bombers to another base (30%),
 * changes of the reentry vehicles on an SLBM, 1..5 (30%).  A model of the
 * inventory picks each one so that it is legal and keeps every total within
 * its limit, so that the replay applies them all and raises no flag but the
 * baseline; the model's final inventory (its totals and the SHA-256 of its
 * canonical JSON) is what every replay must end with — a fast wrong answer
 * cannot pass for a fast answer.
 *
 * What is measured, alternately (limit, replay, limit, replay, ...), each
 * run in a fresh process (this program exec'd as a child) so that its peak
 * memory is its own; the medians are reported:
 *
 *  1. replay: replay_run(DIR, "nrrc.us.example", ...) as `parley treaty
 *     replay` calls it: open the store, load the definitions, read the log,
 *     parse every envelope strictly (env_parse), apply every notification
 *     (treaty_apply), build the report.  Notifications per second, CPU
 *     time, and the child's peak RSS (VmHWM of a fresh process: the
 *     database's memory map is in it) next to its sampled peak anonymous
 *     memory (what the replay itself allocates).
 *  2. the limit: the same entries of the same database read with
 *     store_entries and each parsed by the JSON reader env_parse uses (its
 *     fast path, jansson for the rest) and freed, nothing else, on one
 *     core.  The replay parses on both cores, so the fair comparison is
 *     per CPU second: the ratio target is judged on it.
 *  3. with receipts (unless --no-receipts): the other side's log
 *     nrrc.ru.example/to/nrrc.us.example gets one receipt per 256
 *     notifications, 7 s after the last one it covers, so that every
 *     deadline is judged (and met); replay and limit alternate again.
 *  4. where the time goes (after step 2): one child reads the log alone,
 *     reads and parses it, does replay_entry's work (env_parse,
 *     treaty_apply, env_free) without and with a clock around each piece
 *     (treaty_validate timed apart, apply per kind), and calls replay_run,
 *     all in one process and one minute; printed as INFO lines.
 *
 * Every figure is one `RESULT <name> <value>` line; the targets of the
 * issue are printed with PASS or MISS.  The node directory lives in a fresh
 * directory under build/ (the project's disk) and is removed at the end,
 * also on SIGINT/SIGTERM, unless --keep.  A warm-up read before the rounds
 * puts the database in the page cache: the figures are CPU figures.
 *
 * Limits: the traffic is synthetic (a real party sends a few thousand
 * notifications a year); its mix decides the per-kind costs, so the mix is
 * printed.  Rates on a shared 2-core machine move with the load; the
 * per-CPU-second rates and the ratio move less.  The instrumented pass
 * reads the clock five times per entry (the cost of one read is printed).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "envelope.h"
#include "jsonfast.h"
#include "replay.h"
#include "store.h"
#include "treaty.h"

#include "benchutil.h"

#define RB_PARTY "nrrc.us.example"
#define RB_PEER "nrrc.ru.example"
#define RB_ORIGIN RB_PARTY "/to/" RB_PEER
#define RB_BACK RB_PEER "/to/" RB_PARTY
#define RB_TREATY "new-start"
#define RB_SAMPLE "samples/us-2020-09-01.json"
#define RB_EXCHANGE "US-2020-09-01"
#define RB_AS_OF "2020-09-01"
#define RB_START "2020-09-01T12:00:00Z"   /* time of entry 0 */
#define RB_STEP 30                        /* seconds between entries */
#define RB_PART_BUDGET 60000              /* item bytes per exchange part */
#define RB_MAX_PARTS 1000                 /* new-start.json: parts 1..1000 */
#define RB_APPEND 1000                    /* entries per store_append */
#define RB_TXN 10000                      /* entries per transaction */
#define RB_RCPT_EVERY 256                 /* notifications per receipt */
#define RB_RCPT_DELAY 7                   /* receipt after the last covered */
#define RB_MAX_ROUNDS 15
#define RB_SAMPLE_MS 25                   /* memory sampler period */
#define RB_PATH_MAX 2048

/* Targets of the issue. */
#define RB_TARGET_RATE 100000.0
#define RB_TARGET_RATIO 0.5

/* ---- small tools ------------------------------------------------------- */

static char rb_dir[RB_PATH_MAX], rb_node[RB_PATH_MAX + 8];
static char rb_self[PATH_MAX];
static volatile sig_atomic_t rb_have_dir, rb_keep;
static volatile pid_t rb_child_pid;

static void rb_cleanup(void)
{
	if (rb_child_pid > 0) {
		kill(rb_child_pid, SIGTERM);
		waitpid(rb_child_pid, NULL, 0);
		rb_child_pid = 0;
	}
	if (rb_have_dir && !rb_keep)
		bu_rmtree(rb_dir);
	rb_have_dir = 0;
}

static void rb_hex(char out[65], const uint8_t in[32])
{
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", in[i]);
}

/* kB figures of /proc/self/status ("VmHWM", "RssAnon", ...), -1 if absent. */
static long rb_status_kb(const char *field)
{
	FILE *f = fopen("/proc/self/status", "r");
	size_t n = strlen(field);
	char line[256];
	long v = -1;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL)
		if (strncmp(line, field, n) == 0 && line[n] == ':') {
			v = strtol(line + n + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/* ---- children ---------------------------------------------------------- */

/*
 * Each measurement runs in a fresh process — this program exec'd with
 * "--child MODE DIR [ARG]" — which prints "key value" lines on a pipe.
 * exec gives the child a new address space, so its VmHWM is the peak of
 * the work it does, not of what the parent had built.
 */
#define RB_KV_MAX 96

struct rb_kv {
	int n;
	char key[RB_KV_MAX][48];
	char val[RB_KV_MAX][160];
	long maxrss_kb;                  /* wait4's view, for comparison */
};

static const char *rb_kv_str(const struct rb_kv *kv, const char *key)
{
	for (int i = 0; i < kv->n; i++)
		if (strcmp(kv->key[i], key) == 0)
			return kv->val[i];
	bu_die("a child said nothing about \"%s\"", key);
}

static double rb_kv_num(const struct rb_kv *kv, const char *key)
{
	return strtod(rb_kv_str(kv, key), NULL);
}

static void rb_child(const char *mode, const char *arg, struct rb_kv *kv)
{
	char *argv[] = { rb_self, "--child", (char *)mode, rb_node, (char *)arg, NULL };
	char *buf = NULL, *line, *save = NULL;
	size_t len = 0, cap = 0;
	struct rusage ru;
	int fd[2], status;
	pid_t pid;

	if (pipe(fd) != 0)
		bu_die("pipe: %s", strerror(errno));
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) < 0)
		bu_die("fork: %s", strerror(errno));
	if (pid == 0) {
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		if (dup2(fd[1], 1) < 0)
			_exit(126);
		close(fd[0]);
		close(fd[1]);
		execv(rb_self, argv);
		dprintf(2, "exec %s: %s\n", rb_self, strerror(errno));
		_exit(127);
	}
	rb_child_pid = pid;
	close(fd[1]);
	for (;;) {
		ssize_t r;
		if (cap - len < 4096) {
			cap = cap ? 2 * cap : 16384;
			if ((buf = realloc(buf, cap)) == NULL)
				bu_die("out of memory");
		}
		r = read(fd[0], buf + len, cap - len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	close(fd[0]);
	buf[len] = '\0';
	while (wait4(pid, &status, 0, &ru) < 0)
		if (errno != EINTR)
			bu_die("wait4: %s", strerror(errno));
	rb_child_pid = 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		bu_die("the %s child failed (%s %d)", mode,
		       WIFEXITED(status) ? "exit status" : "signal",
		       WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	kv->n = 0;
	kv->maxrss_kb = ru.ru_maxrss;
	for (line = strtok_r(buf, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		if (kv->n == RB_KV_MAX)
			bu_die("the %s child said too much", mode);
		if (sscanf(line, "%47s %159[^\n]", kv->key[kv->n], kv->val[kv->n]) == 2)
			kv->n++;
	}
	free(buf);
}

/* What a child reports: one "key value" line. */
static void rb_out(const char *key, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void rb_out(const char *key, const char *fmt, ...)
{
	va_list ap;

	printf("%s ", key);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* Samples the anonymous and file-backed resident memory while a child
 * works: VmHWM is one number, and the database's memory map (store.c sets
 * mmap_size) puts the pages read in it. */
struct rb_sampler {
	pthread_t th;
	atomic_int stop;
	long anon_kb, file_kb;
};

static void rb_sample_once(struct rb_sampler *s)
{
	long a = rb_status_kb("RssAnon"), f = rb_status_kb("RssFile");

	if (a > s->anon_kb)
		s->anon_kb = a;
	if (f > s->file_kb)
		s->file_kb = f;
}

static void *rb_sampler_main(void *p)
{
	struct rb_sampler *s = p;
	struct timespec ts = { 0, RB_SAMPLE_MS * 1000000L };

	while (!atomic_load(&s->stop)) {
		rb_sample_once(s);
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static void rb_sampler_start(struct rb_sampler *s)
{
	s->anon_kb = s->file_kb = 0;
	atomic_init(&s->stop, 0);
	if (pthread_create(&s->th, NULL, rb_sampler_main, s) != 0)
		bu_die("pthread_create failed");
}

static void rb_sampler_stop(struct rb_sampler *s)
{
	atomic_store(&s->stop, 1);
	pthread_join(s->th, NULL);
	rb_sample_once(s);
}

static void rb_out_memory(const struct rb_sampler *s)
{
	rb_out("hwm_kb", "%ld", rb_status_kb("VmHWM"));
	rb_out("anon_kb", "%ld", s->anon_kb);
	rb_out("file_kb", "%ld", s->file_kb);
}

/* ---- the traffic: a model of the inventory that picks legal notices ---- */

enum { RB_K_STATUS, RB_K_MOVEMENT, RB_K_RV, RB_K_EXCHANGE, RB_NKINDS };
static const char *const rb_kinds[RB_NKINDS] = {
	"status-change", "movement", "rv-change", "data-exchange",
};

static const char *const rb_icbm_bases[] = {
	"F.E. Warren AFB", "Malmstrom AFB", "Minot AFB", "Vandenberg AFB", "Hill AFB",
};
static const char *const rb_slbm_bases[] = {
	"Naval Base Kitsap-Bangor", "Naval Submarine Base Kings Bay",
	"Strategic Weapons Facility Pacific, Bangor",
	"Strategic Weapons Facility Atlantic, Kings Bay",
};
static const char *const rb_bomber_bases[] = {
	"Barksdale AFB", "Minot AFB", "Whiteman AFB", "Tinker AFB", "Davis-Monthan AFB",
	"Edwards AFB",
};

struct rb_gen {
	const struct treaty_def *d;
	json_t *items;              /* the model: records as the replay must end */
	size_t n;
	int *cat, *st, *wh;         /* per item */
	uint32_t *dep, *nondep;     /* missiles by status, swap-removed */
	uint32_t *pos;              /* an item's place in dep or nondep */
	uint32_t *slbm, *movable;
	size_t ndep, nnondep, nslbm, nmovable;
	int c_icbm, c_slbm, c_bomber, s_dep, s_nondep;
	size_t l_deployed, l_warheads;
	int64_t deployed, warheads, target;
	uint64_t rng;
	uint64_t kinds[RB_NKINDS];
};

static size_t rb_limit_index(const struct treaty_def *d, const char *name)
{
	for (size_t l = 0; l < d->nlimits; l++)
		if (strcmp(d->limits[l].name, name) == 0)
			return l;
	bu_die("%s has no limit \"%s\"", d->name, name);
}

static void rb_gen_init(struct rb_gen *g, const struct treaty_def *d, const json_t *items)
{
	int64_t *tot = calloc(d->nlimits + 1, sizeof *tot);
	size_t i;
	json_t *rec;

	memset(g, 0, sizeof *g);
	g->d = d;
	g->items = json_deep_copy(items);
	g->n = json_array_size(items);
	g->cat = calloc(g->n, sizeof *g->cat);
	g->st = calloc(g->n, sizeof *g->st);
	g->wh = calloc(g->n, sizeof *g->wh);
	g->dep = calloc(g->n, sizeof *g->dep);
	g->nondep = calloc(g->n, sizeof *g->nondep);
	g->pos = calloc(g->n, sizeof *g->pos);
	g->slbm = calloc(g->n, sizeof *g->slbm);
	g->movable = calloc(g->n, sizeof *g->movable);
	if (tot == NULL || g->items == NULL || g->cat == NULL || g->st == NULL ||
	    g->wh == NULL || g->dep == NULL || g->nondep == NULL || g->pos == NULL ||
	    g->slbm == NULL || g->movable == NULL)
		bu_die("out of memory");
	g->c_icbm = treaty_cat_find(d, "icbm");
	g->c_slbm = treaty_cat_find(d, "slbm");
	g->c_bomber = treaty_cat_find(d, "heavy_bomber");
	g->s_dep = treaty_status_find(d, "deployed");
	g->s_nondep = treaty_status_find(d, "non_deployed");
	if (g->c_icbm < 0 || g->c_slbm < 0 || g->c_bomber < 0 || g->s_dep < 0 || g->s_nondep < 0)
		bu_die("%s lacks a category or status this traffic uses", d->name);
	g->l_deployed = rb_limit_index(d, "deployed");
	g->l_warheads = rb_limit_index(d, "deployed_warheads");
	json_array_foreach(g->items, i, rec) {
		int c = treaty_cat_find(d, json_string_value(json_object_get(rec, "category")));
		int s = treaty_status_find(d, json_string_value(json_object_get(rec, "status")));
		int active = s == g->s_dep || s == g->s_nondep;
		g->cat[i] = c;
		g->st[i] = s;
		g->wh[i] = (int)json_integer_value(json_object_get(rec, "warheads"));
		if ((c == g->c_icbm || c == g->c_slbm) && active) {
			if (s == g->s_dep) {
				g->pos[i] = (uint32_t)g->ndep;
				g->dep[g->ndep++] = (uint32_t)i;
			} else {
				g->pos[i] = (uint32_t)g->nnondep;
				g->nondep[g->nnondep++] = (uint32_t)i;
			}
		}
		if (c == g->c_slbm && active)
			g->slbm[g->nslbm++] = (uint32_t)i;
		if ((c == g->c_icbm || c == g->c_slbm || c == g->c_bomber) && active)
			g->movable[g->nmovable++] = (uint32_t)i;
	}
	if (g->ndep == 0 || g->nnondep == 0 || g->nslbm == 0 || g->nmovable == 0)
		bu_die("the sample inventory has no missiles to move between statuses");
	treaty_totals_of(d, g->items, tot);
	g->deployed = tot[g->l_deployed];
	g->warheads = tot[g->l_warheads];
	/* The declared number of deployed launchers and missiles stays where
	 * the baseline put it, give or take ten: a missile leaves for
	 * maintenance, another comes back. */
	g->target = g->deployed;
	free(tot);
}

static void rb_gen_free(struct rb_gen *g)
{
	json_decref(g->items);
	free(g->cat);
	free(g->st);
	free(g->wh);
	free(g->dep);
	free(g->nondep);
	free(g->pos);
	free(g->slbm);
	free(g->movable);
}

/* Moves missile m from one status list to the other. */
static void rb_gen_relist(struct rb_gen *g, uint32_t m, int to_dep)
{
	uint32_t *from = to_dep ? g->nondep : g->dep, *to = to_dep ? g->dep : g->nondep;
	size_t *nfrom = to_dep ? &g->nnondep : &g->ndep, *nto = to_dep ? &g->ndep : &g->nnondep;
	uint32_t last = from[--*nfrom];

	if (from[g->pos[m]] != m)
		bu_die("model: item %u is not where its list says", m);
	from[g->pos[m]] = last;
	g->pos[last] = g->pos[m];
	g->pos[m] = (uint32_t)*nto;
	to[(*nto)++] = m;
}

static const char *rb_id(const struct rb_gen *g, uint32_t m)
{
	return json_string_value(json_object_get(json_array_get(g->items, m), "id"));
}

static json_t *rb_gen_status(struct rb_gen *g, const char *date)
{
	const struct treaty_limit *lw = &g->d->limits[g->l_warheads];
	int deploy = g->deployed >= g->target ? 0 : g->deployed < g->target - 10 ? 1 :
		(int)(bu_rand(&g->rng) & 1);
	uint32_t m = UINT32_MAX;
	const char *status;

	if (deploy && g->nnondep > 0 && g->deployed < g->d->limits[g->l_deployed].max)
		for (int tries = 0; tries < 16 && m == UINT32_MAX; tries++) {
			uint32_t c = g->nondep[bu_rand(&g->rng) % g->nnondep];
			if (g->warheads + g->wh[c] <= lw->max)
				m = c;
		}
	if (m == UINT32_MAX) {
		deploy = 0;
		m = g->dep[bu_rand(&g->rng) % g->ndep];
	}
	rb_gen_relist(g, m, deploy);
	g->st[m] = deploy ? g->s_dep : g->s_nondep;
	g->deployed += deploy ? 1 : -1;
	g->warheads += deploy ? g->wh[m] : -g->wh[m];
	status = g->d->statuses[g->st[m]].name;
	json_object_set_new(json_array_get(g->items, m), "status", json_string(status));
	return json_pack("{s:s, s:s, s:s}", "item_id", rb_id(g, m), "new_status", status,
			 "event_date", date);
}

static json_t *rb_gen_movement(struct rb_gen *g, const char *date)
{
	uint32_t m = g->movable[bu_rand(&g->rng) % g->nmovable];
	json_t *rec = json_array_get(g->items, m);
	const char *cur = json_string_value(json_object_get(rec, "base"));
	const char *const *bases = g->cat[m] == g->c_icbm ? rb_icbm_bases :
		g->cat[m] == g->c_slbm ? rb_slbm_bases : rb_bomber_bases;
	size_t nb = g->cat[m] == g->c_icbm ? sizeof rb_icbm_bases / sizeof *rb_icbm_bases :
		g->cat[m] == g->c_slbm ? sizeof rb_slbm_bases / sizeof *rb_slbm_bases :
		sizeof rb_bomber_bases / sizeof *rb_bomber_bases;
	size_t b = (size_t)(bu_rand(&g->rng) % nb);

	if (cur != NULL && strcmp(bases[b], cur) == 0)
		b = (b + 1) % nb;
	json_object_set_new(rec, "base", json_string(bases[b]));
	return json_pack("{s:s, s:s, s:s}", "item_id", rb_id(g, m), "new_base", bases[b],
			 "event_date", date);
}

static json_t *rb_gen_rv(struct rb_gen *g, const char *date)
{
	uint32_t m = g->slbm[bu_rand(&g->rng) % g->nslbm];
	int old = g->wh[m], w = 1 + (int)(bu_rand(&g->rng) % 5);

	if (w == old)
		w = old % 5 + 1;
	if (g->st[m] == g->s_dep && g->warheads + w - old > g->d->limits[g->l_warheads].max)
		w = old > 1 ? old - 1 : 1;
	if (g->st[m] == g->s_dep)
		g->warheads += w - old;
	g->wh[m] = w;
	json_object_set_new(json_array_get(g->items, m), "warheads", json_integer(w));
	return json_pack("{s:s, s:i, s:s}", "item_id", rb_id(g, m), "warheads", w,
			 "event_date", date);
}

/* The fields of the next notification, sent at `when`, about an event the
 * day before (deadlines are five days). */
static json_t *rb_gen_next(struct rb_gen *g, int64_t when, int *kind)
{
	char date[ENV_TIME_LEN + 1];
	uint64_t r = bu_rand(&g->rng) % 100;
	json_t *f;

	if (env_time_format(when - 86400, date) != 0)
		bu_die("time %lld out of range", (long long)when);
	date[10] = '\0';
	*kind = r < 40 ? RB_K_STATUS : r < 70 ? RB_K_MOVEMENT : RB_K_RV;
	f = *kind == RB_K_STATUS ? rb_gen_status(g, date) :
		*kind == RB_K_MOVEMENT ? rb_gen_movement(g, date) : rb_gen_rv(g, date);
	if (f == NULL)
		bu_die("out of memory");
	g->kinds[*kind]++;
	return f;
}

/* ---- child: setup ------------------------------------------------------ */

static int64_t rb_time0(void)
{
	int64_t t;

	if (env_time_parse(RB_START, &t) != 0)
		bu_die("bad start time");
	return t;
}

/* Encodes one envelope; fields are borrowed. */
static char *rb_encode(const struct envelope *env, size_t *len)
{
	struct perr e;
	char *out;

	if (env_encode(env, &out, len, &e) != 0)
		bu_die("env_encode: %s", e.msg);
	return out;
}

static char *rb_notification(const struct treaty_def *d, uint64_t idx, const char *kind,
			     json_t *fields, size_t *len)
{
	struct envelope env;
	char *out;

	memset(&env, 0, sizeof env);
	env.type = ENV_NOTIFICATION;
	snprintf(env.from, sizeof env.from, "%s", RB_PARTY);
	snprintf(env.to, sizeof env.to, "%s", RB_PEER);
	env.time = rb_time0() + (int64_t)idx * RB_STEP;
	env.prec = ENV_ROUTINE;
	snprintf(env.id, sizeof env.id, "us-ntf-%08llu", (unsigned long long)idx);
	snprintf(env.treaty_name, sizeof env.treaty_name, "%s", d->name);
	memcpy(env.treaty_sha256, d->sha256, 32);
	snprintf(env.kind, sizeof env.kind, "%s", kind);
	env.fields = fields;
	out = rb_encode(&env, len);
	json_decref(fields);
	return out;
}

/* Entries waiting to be appended: store_append of RB_APPEND at a time,
 * RB_TXN per transaction. */
struct rb_batch {
	struct store *s;
	struct store_log *l;
	char *ents[RB_APPEND];
	size_t lens[RB_APPEND];
	size_t n, in_txn;
	uint64_t total, bytes;
};

static void rb_batch_flush(struct rb_batch *b, int end)
{
	struct perr e;

	if (b->n > 0) {
		if (b->in_txn == 0 && store_begin(b->s, &e) != 0)
			bu_die("store_begin: %s", e.msg);
		if (store_append(b->l, (const void *const *)b->ents, b->lens, b->n, NULL, &e) != 0)
			bu_die("store_append: %s", e.msg);
		for (size_t i = 0; i < b->n; i++) {
			b->bytes += b->lens[i];
			free(b->ents[i]);
		}
		b->in_txn += b->n;
		b->total += b->n;
		b->n = 0;
	}
	if (b->in_txn > 0 && (end || b->in_txn >= RB_TXN)) {
		if (store_commit(b->s, &e) != 0)
			bu_die("store_commit: %s", e.msg);
		b->in_txn = 0;
	}
}

static void rb_batch_add(struct rb_batch *b, char *ent, size_t len)
{
	b->ents[b->n] = ent;
	b->lens[b->n++] = len;
	if (b->n == RB_APPEND)
		rb_batch_flush(b, 0);
}

static void rb_open_log(const char *dir, struct store **s, const char *origin,
			struct store_log **l, int create)
{
	char path[RB_PATH_MAX + 16];
	struct perr e;

	snprintf(path, sizeof path, "%s/node.db", dir);
	if (*s == NULL && store_open(s, path, 0, NULL, &e) != 0)
		bu_die("%s", e.msg);
	if (store_log_open(*s, origin, l, &e) == 0)
		return;
	if (!create || store_log_create(*s, origin, &e) != 0 ||
	    store_log_open(*s, origin, l, &e) != 0)
		bu_die("%s: %s", origin, e.msg);
}

static struct treaty_def *rb_load_def(void)
{
	char path[RB_PATH_MAX];
	struct treaty_def *d;
	struct perr e;

	snprintf(path, sizeof path, "%s/%s.json", treaty_dir(), RB_TREATY);
	if (treaty_def_load(&d, path, &e) != 0)
		bu_die("%s", e.msg);
	return d;
}

/* The baseline data exchange: the sample's items in parts that each fit
 * in one entry, the declared totals in part 1. */
static void rb_setup_exchange(struct rb_batch *b, const struct treaty_def *d,
			      const json_t *items)
{
	size_t n = json_array_size(items), start[RB_MAX_PARTS + 1], parts = 0, acc = 0, i;
	int64_t *tot = calloc(d->nlimits + 1, sizeof *tot);
	json_t *totals = json_object();

	if (tot == NULL || totals == NULL)
		bu_die("out of memory");
	start[parts++] = 0;
	for (i = 0; i < n; i++) {
		char *s = json_dumps(json_array_get(items, i), JSON_COMPACT);
		size_t sz = s ? strlen(s) + 1 : 0;
		free(s);
		if (sz == 0)
			bu_die("out of memory");
		if (acc > 0 && acc + sz > RB_PART_BUDGET) {
			if (parts == RB_MAX_PARTS)
				bu_die("the sample needs more than %d parts", RB_MAX_PARTS);
			start[parts++] = i;
			acc = 0;
		}
		acc += sz;
	}
	start[parts] = n;
	treaty_totals_of(d, items, tot);
	for (size_t l = 0; l < d->nlimits; l++)
		json_object_set_new(totals, d->limits[l].name, json_integer((json_int_t)tot[l]));
	for (size_t p = 0; p < parts; p++) {
		json_t *arr = json_array(), *f;
		size_t len;
		char *ent;
		for (i = start[p]; i < start[p + 1]; i++)
			json_array_append(arr, json_array_get(items, i));
		f = json_pack("{s:s, s:s, s:I, s:I, s:I, s:o}", "exchange", RB_EXCHANGE,
			      "as_of", RB_AS_OF, "part", (json_int_t)(p + 1),
			      "parts", (json_int_t)parts, "item_count", (json_int_t)n,
			      "items", arr);
		if (f == NULL)
			bu_die("out of memory");
		if (p == 0)
			json_object_set(f, "totals", totals);
		ent = rb_notification(d, b->total + b->n, rb_kinds[RB_K_EXCHANGE], f, &len);
		rb_batch_add(b, ent, len);
	}
	json_decref(totals);
	free(tot);
	rb_out("exchange_parts", "%zu", parts);
}

static int rb_child_setup(const char *dir, const char *arg)
{
	uint64_t n = strtoull(arg, NULL, 10), parts;
	struct rb_batch *b = calloc(1, sizeof *b);
	struct treaty_def *d = rb_load_def();
	struct treaty_engine *eng;
	char path[RB_PATH_MAX];
	json_error_t jerr;
	json_t *sample;
	struct rb_gen g;
	uint8_t dig[32];
	char hex[65];
	int64_t *tot;
	struct perr e;
	double t0 = bu_now();

	if (b == NULL)
		bu_die("out of memory");
	snprintf(path, sizeof path, "%s/%s", treaty_dir(), RB_SAMPLE);
	if ((sample = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr)) == NULL)
		bu_die("%s:%d: %s", path, jerr.line, jerr.text);
	rb_open_log(dir, &b->s, RB_ORIGIN, &b->l, 1);
	if (store_log_size(b->l) != 0)
		bu_die("%s already has entries", RB_ORIGIN);
	rb_setup_exchange(b, d, json_object_get(sample, "items"));
	parts = b->total + b->n;
	if (n <= parts)
		bu_die("--entries %llu leaves no room after the %llu exchange parts",
			     (unsigned long long)n, (unsigned long long)parts);
	rb_gen_init(&g, d, json_object_get(sample, "items"));
	g.rng = 0x4E455753ull;   /* "NEWS" */
	while (b->total + b->n < n) {
		uint64_t idx = b->total + b->n;
		int kind;
		size_t len;
		json_t *f = rb_gen_next(&g, rb_time0() + (int64_t)idx * RB_STEP, &kind);
		char *ent = rb_notification(d, idx, rb_kinds[kind], f, &len);
		rb_batch_add(b, ent, len);
	}
	rb_batch_flush(b, 1);
	if (store_log_size(b->l) != n)
		bu_die("the log has %llu entries, %llu were appended",
			     (unsigned long long)store_log_size(b->l), (unsigned long long)n);
	/* The model's own counters against its records: an invariant of the
	 * generator, checked before anything is compared with a replay. */
	tot = calloc(d->nlimits + 1, sizeof *tot);
	if (tot == NULL)
		bu_die("out of memory");
	treaty_totals_of(d, g.items, tot);
	if (tot[g.l_deployed] != g.deployed || tot[g.l_warheads] != g.warheads)
		bu_die("model: counters %lld/%lld, records %lld/%lld", (long long)g.deployed,
			     (long long)g.warheads, (long long)tot[g.l_deployed],
			     (long long)tot[g.l_warheads]);
	for (size_t l = 0; l < d->nlimits; l++) {
		char key[64];
		if (tot[l] > d->limits[l].max)
			bu_die("model: %s %lld over %lld", d->limits[l].name,
				     (long long)tot[l], (long long)d->limits[l].max);
		snprintf(key, sizeof key, "total_%s", d->limits[l].name);
		rb_out(key, "%lld", (long long)tot[l]);
	}
	if ((eng = treaty_engine_new(d)) == NULL || treaty_engine_load(eng, g.items, &e) != 0)
		bu_die("model inventory: %s", eng ? e.msg : "out of memory");
	treaty_inventory_digest(eng, dig);
	rb_hex(hex, dig);
	rb_out("secs", "%.6f", bu_now() - t0);
	rb_out("entries", "%llu", (unsigned long long)n);
	rb_out("bytes", "%llu", (unsigned long long)b->bytes);
	rb_out("items", "%zu", treaty_item_count(eng));
	rb_out("digest", "%s", hex);
	for (int k = 0; k < RB_K_EXCHANGE; k++)
		rb_out(rb_kinds[k], "%llu", (unsigned long long)g.kinds[k]);
	rb_out("sha256", "%s", d->sha_hex);
	treaty_engine_free(eng);
	store_close(b->s);
	rb_gen_free(&g);
	json_decref(sample);
	treaty_def_free(d);
	free(tot);
	free(b);
	return 0;
}

/* The other side's receipts: one per RB_RCPT_EVERY notifications, and one
 * for the rest, each RB_RCPT_DELAY s after the last entry it covers. */
static int rb_child_receipts(const char *dir)
{
	struct rb_batch *b = calloc(1, sizeof *b);
	struct store_log *pl;
	uint64_t n, below;
	double t0 = bu_now();

	if (b == NULL)
		bu_die("out of memory");
	rb_open_log(dir, &b->s, RB_ORIGIN, &pl, 0);
	rb_open_log(dir, &b->s, RB_BACK, &b->l, 1);
	if (store_log_size(b->l) != 0)
		bu_die("%s already has entries", RB_BACK);
	n = store_log_size(pl);
	for (below = RB_RCPT_EVERY; below - RB_RCPT_EVERY < n; below += RB_RCPT_EVERY) {
		struct envelope env;
		uint64_t k = below < n ? below : n;
		size_t len;
		char *ent;

		memset(&env, 0, sizeof env);
		env.type = ENV_RECEIPT;
		snprintf(env.from, sizeof env.from, "%s", RB_PEER);
		snprintf(env.to, sizeof env.to, "%s", RB_PARTY);
		env.time = rb_time0() + (int64_t)(k - 1) * RB_STEP + RB_RCPT_DELAY;
		env.prec = ENV_ROUTINE;
		snprintf(env.id, sizeof env.id, "ru-rcpt-%08llu", (unsigned long long)k);
		snprintf(env.of, sizeof env.of, "%s", RB_ORIGIN);
		env.below = k;
		ent = rb_encode(&env, &len);
		rb_batch_add(b, ent, len);
	}
	rb_batch_flush(b, 1);
	rb_out("receipts", "%llu", (unsigned long long)store_log_size(b->l));
	rb_out("secs", "%.6f", bu_now() - t0);
	store_close(b->s);
	free(b);
	return 0;
}

/* ---- child: the limit -------------------------------------------------- */

struct rb_parse {
	uint64_t n, bad, bytes;
};

static int rb_parse_entry(void *ctx, uint64_t idx, const uint8_t *data, size_t len)
{
	struct rb_parse *p = ctx;
	json_error_t jerr;
	/* the JSON reader env_parse uses: its fast path, else jansson */
	json_t *root = jfast_parse((const char *)data, len, ENV_MAX_DEPTH);

	if (root == NULL)
		root = json_loadb((const char *)data, len,
				  JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	(void)idx;
	if (root == NULL)
		p->bad++;
	json_decref(root);
	p->n++;
	p->bytes += len;
	return 0;
}

/* Reads the party's log as replay_run does (open the store, every entry
 * with store_entries) and parses each entry, nothing else. */
static int rb_child_limit(const char *dir)
{
	struct rb_parse p = { 0, 0, 0 };
	struct rb_sampler sm;
	struct store *s = NULL;
	struct store_log *l;
	struct perr e;
	double t0, c0, t, c;

	rb_sampler_start(&sm);
	c0 = bu_cpu();
	t0 = bu_now();
	rb_open_log(dir, &s, RB_ORIGIN, &l, 0);
	if (store_entries(l, 0, store_log_size(l), rb_parse_entry, &p, &e) != 0)
		bu_die("store_entries: %s", e.msg);
	store_close(s);
	t = bu_now() - t0;
	c = bu_cpu() - c0;
	rb_sampler_stop(&sm);
	if (p.bad != 0)
		bu_die("%llu entries are not JSON", (unsigned long long)p.bad);
	rb_out("secs", "%.6f", t);
	rb_out("cpu", "%.6f", c);
	rb_out("entries", "%llu", (unsigned long long)p.n);
	rb_out("bytes", "%llu", (unsigned long long)p.bytes);
	rb_out_memory(&sm);
	return 0;
}

/* ---- child: the replay ------------------------------------------------- */

static int rb_child_replay(const char *dir)
{
	struct rb_sampler sm;
	struct perr e;
	json_t *out, *tr = NULL, *v, *f;
	double t0, c0, t, c;
	size_t i, nother = 0, nbase = 0;
	const char *first = "";

	rb_sampler_start(&sm);
	c0 = bu_cpu();
	t0 = bu_now();
	if (replay_run(dir, RB_PARTY, NULL, NULL, &out, &e) != 0)
		bu_die("replay_run: %s", e.msg);
	t = bu_now() - t0;
	c = bu_cpu() - c0;
	rb_sampler_stop(&sm);
	rb_out("secs", "%.6f", t);
	rb_out("cpu", "%.6f", c);
	rb_out_memory(&sm);
	rb_out("notifications", "%lld",
	       (long long)json_integer_value(json_object_get(out, "notifications")));
	rb_out("log_size", "%lld", (long long)json_integer_value(
		       json_object_get(json_object_get(out, "log"), "size")));
	rb_out("receipts", "%lld", (long long)json_integer_value(
		       json_object_get(json_object_get(out, "receipts"), "size")));
	rb_out("top_flags", "%zu", json_array_size(json_object_get(out, "flags")));
	json_array_foreach(json_object_get(out, "treaties"), i, v)
		if (strcmp(json_string_value(json_object_get(v, "name")), RB_TREATY) == 0)
			tr = v;
	if (tr == NULL) {
		rb_out("treaty", "absent");
		json_decref(out);
		return 0;
	}
	rb_out("treaty", "%s", json_string_value(json_object_get(tr, "sha256")));
	rb_out("treaty_notifications", "%lld",
	       (long long)json_integer_value(json_object_get(tr, "notifications")));
	rb_out("applied", "%lld", (long long)json_integer_value(json_object_get(tr, "applied")));
	rb_out("items", "%lld", (long long)json_integer_value(json_object_get(tr, "items")));
	rb_out("digest", "%s", json_string_value(json_object_get(tr, "inventory_sha256")));
	json_array_foreach(json_object_get(tr, "limits"), i, v) {
		char key[96];
		snprintf(key, sizeof key, "total_%s", json_string_value(json_object_get(v, "name")));
		rb_out(key, "%lld", (long long)json_integer_value(json_object_get(v, "total")));
	}
	json_array_foreach(json_object_get(tr, "flags"), i, f) {
		const char *code = json_string_value(json_object_get(f, "code"));
		if (code != NULL && strcmp(code, "baseline") == 0) {
			nbase++;
		} else if (nother++ == 0) {
			first = json_string_value(json_object_get(f, "detail"));
			rb_out("first_flag", "%lld %s: %.120s",
			       (long long)json_integer_value(json_object_get(f, "index")),
			       code ? code : "?", first ? first : "");
		}
	}
	rb_out("baseline_flags", "%zu", nbase);
	rb_out("other_flags", "%zu", nother);
	json_decref(out);
	return 0;
}

/* ---- child: the pieces ------------------------------------------------- */

struct rb_pieces {
	const struct treaty_def *d;
	struct treaty_engine *g;
	int timed;
	uint64_t n, bytes, notes, other;
	double parse, validate, apply, free_;
	double k_apply[RB_NKINDS + 1], k_parse[RB_NKINDS + 1];
	uint64_t k_n[RB_NKINDS + 1], k_bytes[RB_NKINDS + 1];
};

static int rb_read_entry(void *ctx, uint64_t idx, const uint8_t *data, size_t len)
{
	struct rb_pieces *p = ctx;

	(void)idx;
	(void)data;
	p->n++;
	p->bytes += len;
	return 0;
}

static int rb_kind_index(const char *kind)
{
	for (int k = 0; k < RB_NKINDS; k++)
		if (strcmp(rb_kinds[k], kind) == 0)
			return k;
	return RB_NKINDS;
}

/* What replay_entry does for a notification under a held definition,
 * with each step timed when p->timed. */
static int rb_piece_entry(void *ctx, uint64_t idx, const uint8_t *data, size_t len)
{
	struct rb_pieces *p = ctx;
	struct envelope env;
	struct treaty_msgs m = { 0 };
	double t0 = 0, t1 = 0, t2 = 0, t3 = 0, t4 = 0;
	int k;

	if (p->timed)
		t0 = bu_now();
	if (env_parse(&env, data, len, NULL) != 0 || env.type != ENV_NOTIFICATION ||
	    strcmp(env.treaty_name, p->d->name) != 0 ||
	    memcmp(env.treaty_sha256, p->d->sha256, 32) != 0) {
		p->other++;
		env_free(&env);
		return 0;
	}
	p->notes++;
	k = rb_kind_index(env.kind);
	if (p->timed) {
		const struct treaty_kind *tk;
		t1 = bu_now();
		/* measured apart: treaty_apply validates again */
		if ((tk = treaty_kind_find(p->d, env.kind)) != NULL)
			treaty_validate(p->d, tk, env.fields, &m);
		treaty_msgs_free(&m);
		t2 = bu_now();
	}
	treaty_apply(p->g, idx, env.kind, env.fields, -1);
	if (p->timed)
		t3 = bu_now();
	env_free(&env);
	if (p->timed) {
		t4 = bu_now();
		p->parse += t1 - t0;
		p->validate += t2 - t1;
		p->apply += t3 - t2;
		p->free_ += t4 - t3;
		p->k_parse[k] += t1 - t0;
		p->k_apply[k] += t3 - t2;
	}
	p->k_n[k]++;
	p->k_bytes[k] += len;
	return 0;
}

static double rb_pieces_pass(struct store_log *l, struct rb_pieces *p, int timed)
{
	struct perr e;
	double t0;

	memset(&p->n, 0, sizeof *p - offsetof(struct rb_pieces, n));
	p->timed = timed;
	if ((p->g = treaty_engine_new(p->d)) == NULL)
		bu_die("out of memory");
	t0 = bu_now();
	if (store_entries(l, 0, store_log_size(l), rb_piece_entry, p, &e) != 0)
		bu_die("store_entries: %s", e.msg);
	treaty_finish(p->g);
	return bu_now() - t0;
}

static int rb_child_pieces(const char *dir)
{
	struct rb_pieces *p = calloc(1, sizeof *p);
	struct rb_parse jp = { 0, 0, 0 };
	struct treaty_def *d = rb_load_def();
	struct store *s = NULL;
	struct store_log *l;
	struct perr e;
	uint8_t dig[32];
	char hex[65];
	double t0, c0, t_read, t_json, t_plain, t_timed, t_clock, c_read, c_json, c_plain, c_replay;
	json_t *out;
	size_t nflags;
	int i;

	if (p == NULL)
		bu_die("out of memory");
	p->d = d;
	rb_open_log(dir, &s, RB_ORIGIN, &l, 0);
	/* the store alone */
	c0 = bu_cpu();
	t0 = bu_now();
	if (store_entries(l, 0, store_log_size(l), rb_read_entry, p, &e) != 0)
		bu_die("store_entries: %s", e.msg);
	t_read = bu_now() - t0;
	c_read = bu_cpu() - c0;
	rb_out("entries", "%llu", (unsigned long long)p->n);
	/* the store and the JSON parser */
	c0 = bu_cpu();
	t0 = bu_now();
	if (store_entries(l, 0, store_log_size(l), rb_parse_entry, &jp, &e) != 0)
		bu_die("store_entries: %s", e.msg);
	t_json = bu_now() - t0;
	c_json = bu_cpu() - c0;
	/* the replay's work without clocks, then with them */
	c0 = bu_cpu();
	t_plain = rb_pieces_pass(l, p, 0);
	c_plain = bu_cpu() - c0;
	treaty_engine_free(p->g);
	/* replay_run itself, in the same process and minute */
	c0 = bu_cpu();
	if (replay_run(dir, RB_PARTY, NULL, NULL, &out, &e) != 0)
		bu_die("replay_run: %s", e.msg);
	c_replay = bu_cpu() - c0;
	json_decref(out);
	t_timed = rb_pieces_pass(l, p, 1);
	treaty_inventory_digest(p->g, dig);
	rb_hex(hex, dig);
	treaty_flags(p->g, &nflags);
	rb_out("digest", "%s", hex);
	rb_out("applied", "%zu", treaty_applied(p->g));
	rb_out("flags", "%zu", nflags);
	rb_out("notifications", "%llu", (unsigned long long)p->notes);
	rb_out("other", "%llu", (unsigned long long)p->other);
	treaty_engine_free(p->g);
	/* the cost of one clock read */
	t0 = bu_now();
	for (i = 0; i < 1000000; i++)
		t_clock = bu_now();
	t_clock = (t_clock - t0) / 1e6;
	rb_out("t_read", "%.6f", t_read);
	rb_out("t_json", "%.6f", t_json);
	rb_out("t_plain", "%.6f", t_plain);
	rb_out("t_timed", "%.6f", t_timed);
	rb_out("c_read", "%.6f", c_read);
	rb_out("c_json", "%.6f", c_json);
	rb_out("c_plain", "%.6f", c_plain);
	rb_out("c_replay", "%.6f", c_replay);
	rb_out("t_parse", "%.6f", p->parse);
	rb_out("t_validate", "%.6f", p->validate);
	rb_out("t_apply", "%.6f", p->apply);
	rb_out("t_free", "%.6f", p->free_);
	rb_out("t_clock_ns", "%.1f", t_clock * 1e9);
	for (i = 0; i <= RB_NKINDS; i++) {
		char key[64];
		const char *name = i < RB_NKINDS ? rb_kinds[i] : "other-kind";
		snprintf(key, sizeof key, "n_%s", name);
		rb_out(key, "%llu", (unsigned long long)p->k_n[i]);
		snprintf(key, sizeof key, "bytes_%s", name);
		rb_out(key, "%llu", (unsigned long long)p->k_bytes[i]);
		snprintf(key, sizeof key, "parse_%s", name);
		rb_out(key, "%.6f", p->k_parse[i]);
		snprintf(key, sizeof key, "apply_%s", name);
		rb_out(key, "%.6f", p->k_apply[i]);
	}
	store_close(s);
	treaty_def_free(d);
	free(p);
	return 0;
}

static int rb_child_main(int argc, char **argv)
{
	const char *mode, *dir;

	/* The parent owns the directory and cleans up: a child only says
	 * that it was the one that failed. */
	bu_set_name("bench replay (child)");
	if (argc < 4)
		bu_die("usage: --child MODE DIR [ARG]");
	mode = argv[2];
	dir = argv[3];
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	if (strcmp(mode, "setup") == 0 && argc == 5)
		return rb_child_setup(dir, argv[4]);
	if (strcmp(mode, "receipts") == 0)
		return rb_child_receipts(dir);
	if (strcmp(mode, "limit") == 0)
		return rb_child_limit(dir);
	if (strcmp(mode, "replay") == 0)
		return rb_child_replay(dir);
	if (strcmp(mode, "pieces") == 0)
		return rb_child_pieces(dir);
	bu_die("unknown child mode \"%s\"", mode);
}

/* ---- parent ------------------------------------------------------------ */

struct rb_opts {
	int quick, rounds, receipts;
	uint64_t entries;
	const char *parent, *parley;
};

static long rb_mem_total_mb(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[256];
	long kb = -1;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "MemTotal: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb < 0 ? -1 : kb / 1024;
}

/* A fresh private directory under build/ when there is one (the project's
 * disk), else under the current directory, unless --dir names the parent. */
static void rb_make_dir(const char *parent)
{
	bu_make_dir(rb_dir, sizeof rb_dir, parent, "bench-replay.XXXXXX");
	snprintf(rb_node, sizeof rb_node, "%s/node", rb_dir);
	rb_have_dir = 1;
	bu_catch_signals();
}

/* parley next to this program (build/rel/bench/replay -> build/rel/parley),
 * else bin/parley. */
static void rb_find_parley(char *out, size_t cap, const char *given)
{
	char *slash;

	if (given != NULL) {
		snprintf(out, cap, "%s", given);
	} else {
		snprintf(out, cap, "%s", rb_self);
		slash = strrchr(out, '/');
		if (slash != NULL && (size_t)(slash - out) + 12 < cap)
			strcpy(slash, "/../parley");
		if (slash == NULL || access(out, X_OK) != 0)
			snprintf(out, cap, "bin/parley");
	}
	if (access(out, X_OK) != 0)
		bu_die("%s: not an executable (build it: make build/rel/parley, or "
		       "give --parley PATH)", out);
}

static void rb_parley_init(const char *parley)
{
	char *argv[] = { (char *)parley, "init", rb_node, "--name", RB_PARTY, "--listen",
			 "127.0.0.1:1", "--api", "127.0.0.1:2", NULL };
	int status, null;
	pid_t pid;

	fflush(stdout);
	if ((pid = fork()) < 0)
		bu_die("fork: %s", strerror(errno));
	if (pid == 0) {
		if ((null = open("/dev/null", O_WRONLY)) < 0 || dup2(null, 1) < 0)
			_exit(126);
		execv(parley, argv);
		dprintf(2, "exec %s: %s\n", parley, strerror(errno));
		_exit(127);
	}
	rb_child_pid = pid;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			bu_die("waitpid: %s", strerror(errno));
	rb_child_pid = 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		bu_die("%s init %s failed", parley, rb_node);
}

/* What the setup child said the replay must end with. */
struct rb_expect {
	struct rb_kv kv;
	uint64_t entries, bytes;
};

/* Every replay must apply every notification, flag nothing but the
 * baseline, and end at the model's inventory. */
static void rb_check_replay(const struct rb_kv *r, const struct rb_expect *x,
			    uint64_t receipts)
{
	const char *keys[] = { "digest", "items" };
	uint64_t n = x->entries;

	if ((uint64_t)rb_kv_num(r, "notifications") != n ||
	    (uint64_t)rb_kv_num(r, "log_size") != n)
		bu_die("ERROR: the replay read %.0f notifications of a log of %.0f, %llu logged",
		       rb_kv_num(r, "notifications"), rb_kv_num(r, "log_size"),
		       (unsigned long long)n);
	if ((uint64_t)rb_kv_num(r, "receipts") != receipts)
		bu_die("ERROR: the replay read %.0f receipts, %llu logged",
		       rb_kv_num(r, "receipts"), (unsigned long long)receipts);
	if (strcmp(rb_kv_str(r, "treaty"), rb_kv_str(&x->kv, "sha256")) != 0)
		bu_die("ERROR: the replay used %s, not %s", rb_kv_str(r, "treaty"),
		       rb_kv_str(&x->kv, "sha256"));
	if ((uint64_t)rb_kv_num(r, "treaty_notifications") != n ||
	    (uint64_t)rb_kv_num(r, "applied") != n)
		bu_die("ERROR: %.0f of %llu notifications applied",
		       rb_kv_num(r, "applied"), (unsigned long long)n);
	if (rb_kv_num(r, "top_flags") != 0 || rb_kv_num(r, "baseline_flags") != 1 ||
	    rb_kv_num(r, "other_flags") != 0) {
		int i;
		for (i = 0; i < r->n && strcmp(r->key[i], "first_flag") != 0; i++)
			;
		bu_die("ERROR: flags: %.0f top-level, %.0f baseline, %.0f others (want 0, 1, 0)%s%s",
		       rb_kv_num(r, "top_flags"), rb_kv_num(r, "baseline_flags"),
		       rb_kv_num(r, "other_flags"), i < r->n ? "; first: " : "",
		       i < r->n ? r->val[i] : "");
	}
	for (size_t k = 0; k < sizeof keys / sizeof *keys; k++)
		if (strcmp(rb_kv_str(r, keys[k]), rb_kv_str(&x->kv, keys[k])) != 0)
			bu_die("ERROR: replay %s %s, the model's %s", keys[k],
			       rb_kv_str(r, keys[k]), rb_kv_str(&x->kv, keys[k]));
	for (int i = 0; i < x->kv.n; i++)
		if (strncmp(x->kv.key[i], "total_", 6) == 0 &&
		    strcmp(rb_kv_str(r, x->kv.key[i]), x->kv.val[i]) != 0)
			bu_die("ERROR: replay %s %s, the model's %s", x->kv.key[i],
			       rb_kv_str(r, x->kv.key[i]), x->kv.val[i]);
}

struct rb_round {
	double rate, cpu_rate, hwm_mb, anon_mb, file_mb;
};

static struct rb_round rb_measure(const char *mode, const struct rb_expect *x,
				  uint64_t receipts, struct rb_kv *kv)
{
	struct rb_round r;
	double n;

	rb_child(mode, NULL, kv);
	n = strcmp(mode, "limit") == 0 ? rb_kv_num(kv, "entries") : rb_kv_num(kv, "notifications");
	if (strcmp(mode, "replay") == 0)
		rb_check_replay(kv, x, receipts);
	else if ((uint64_t)n != x->entries)
		bu_die("ERROR: the limit read %.0f entries, %llu logged", n,
		       (unsigned long long)x->entries);
	r.rate = n / rb_kv_num(kv, "secs");
	r.cpu_rate = n / rb_kv_num(kv, "cpu");
	r.hwm_mb = rb_kv_num(kv, "hwm_kb") / 1024;
	r.anon_mb = rb_kv_num(kv, "anon_kb") / 1024;
	r.file_mb = rb_kv_num(kv, "file_kb") / 1024;
	return r;
}

struct rb_phase {
	double rate, cpu_rate, limit, limit_cpu, ratio;
	double hwm_mb, anon_mb, file_mb, limit_hwm_mb, limit_anon_mb;
	long maxrss_kb;
};

/* Rounds of (limit, replay); medians of each figure. */
static struct rb_phase rb_rounds(const char *title, const struct rb_opts *o,
				 const struct rb_expect *x, uint64_t receipts)
{
	double lr[RB_MAX_ROUNDS], lc[RB_MAX_ROUNDS], rr[RB_MAX_ROUNDS], rc[RB_MAX_ROUNDS];
	double rh[RB_MAX_ROUNDS], ra[RB_MAX_ROUNDS], rf[RB_MAX_ROUNDS];
	double lh[RB_MAX_ROUNDS], la[RB_MAX_ROUNDS];
	struct rb_phase ph;
	struct rb_kv *kv = malloc(sizeof *kv);
	int i;

	if (kv == NULL)
		bu_die("out of memory");
	ph.maxrss_kb = 0;
	printf("\n== %s: %d rounds (limit, replay), medians ==\n", title, o->rounds);
	printf("%5s %12s %12s %7s %14s %14s\n", "round", "limit /s", "replay /s", "ratio",
	       "replay RSS MB", "limit RSS MB");
	for (i = 0; i < o->rounds; i++) {
		struct rb_round l = rb_measure("limit", x, receipts, kv), r;
		lr[i] = l.rate, lc[i] = l.cpu_rate, lh[i] = l.hwm_mb, la[i] = l.anon_mb;
		r = rb_measure("replay", x, receipts, kv);
		if (kv->maxrss_kb > ph.maxrss_kb)
			ph.maxrss_kb = kv->maxrss_kb;
		rr[i] = r.rate, rc[i] = r.cpu_rate, rh[i] = r.hwm_mb, ra[i] = r.anon_mb;
		rf[i] = r.file_mb;
		printf("%5d %12.0f %12.0f %7.3f %7.0f (anon %3.0f) %6.0f (anon %3.0f)\n", i + 1,
		       l.rate, r.rate, r.rate / l.rate, r.hwm_mb, r.anon_mb, l.hwm_mb, l.anon_mb);
	}
	ph.limit = bu_median(lr, o->rounds);
	ph.limit_cpu = bu_median(lc, o->rounds);
	ph.rate = bu_median(rr, o->rounds);
	ph.cpu_rate = bu_median(rc, o->rounds);
	ph.ratio = ph.rate / ph.limit;
	ph.hwm_mb = bu_median(rh, o->rounds);
	ph.anon_mb = bu_median(ra, o->rounds);
	ph.file_mb = bu_median(rf, o->rounds);
	ph.limit_hwm_mb = bu_median(lh, o->rounds);
	ph.limit_anon_mb = bu_median(la, o->rounds);
	printf("median: limit %.0f/s (%.0f per CPU-s), replay %.0f/s (%.0f per CPU-s), "
	       "ratio %.3f\n", ph.limit, ph.limit_cpu, ph.rate, ph.cpu_rate, ph.ratio);
	printf("every replay applied all %llu notifications, flagged only the baseline and "
	       "ended at the model's inventory (totals and SHA-256)\n",
	       (unsigned long long)x->entries);
	free(kv);
	return ph;
}

static void rb_info(const char *what, double us, double whole_us)
{
	printf("INFO %-52s %7.2f us %5.1f%%\n", what, us, 100 * us / whole_us);
}

/*
 * Where the time goes, from one child that does the replay's work piece by
 * piece and then calls replay_run itself, so that every figure is from the
 * same process and the same minute (this machine's speed drifts by a third
 * over minutes).  Whole passes are compared in CPU time; within the timed
 * pass, each piece is timed per call with the monotonic clock and shown
 * against that pass.
 */
static void rb_pieces(const struct rb_expect *x)
{
	struct rb_kv *kv = malloc(sizeof *kv);
	double n, r_us, read, json, plain, t, pa, ap, va, fr;

	if (kv == NULL)
		bu_die("out of memory");
	rb_child("pieces", NULL, kv);
	n = rb_kv_num(kv, "entries");
	if ((uint64_t)n != x->entries || (uint64_t)rb_kv_num(kv, "applied") != x->entries ||
	    strcmp(rb_kv_str(kv, "digest"), rb_kv_str(&x->kv, "digest")) != 0 ||
	    rb_kv_num(kv, "flags") != 1)
		bu_die("ERROR: the instrumented pass applied %.0f of %.0f with %.0f flags, "
		       "digest %s", rb_kv_num(kv, "applied"), n, rb_kv_num(kv, "flags"),
		       rb_kv_str(kv, "digest"));
	r_us = rb_kv_num(kv, "c_replay") * 1e6 / n;
	read = rb_kv_num(kv, "c_read") * 1e6 / n;
	json = rb_kv_num(kv, "c_json") * 1e6 / n;
	plain = rb_kv_num(kv, "c_plain") * 1e6 / n;
	printf("\n== where the time goes: one child, pass by pass, CPU us per notification, "
	       "%% of its replay_run's %.2f us ==\n", r_us);
	rb_info("store_entries alone (read, no parse)", read, r_us);
	rb_info("JSON parse + free (limit pass - read pass)", json - read, r_us);
	rb_info("= the limit: read + parse", json, r_us);
	rb_info("replay_entry's work: read, env_parse, apply, free", plain, r_us);
	rb_info("replay_run beyond it (definitions, store, report)", r_us - plain, r_us);
	t = rb_kv_num(kv, "t_timed") * 1e6 / n;
	pa = rb_kv_num(kv, "t_parse") * 1e6 / n;
	ap = rb_kv_num(kv, "t_apply") * 1e6 / n;
	va = rb_kv_num(kv, "t_validate") * 1e6 / n;
	fr = rb_kv_num(kv, "t_free") * 1e6 / n;
	printf("timed pass: %.2f us per notification (%.2f us more than untimed; one clock "
	       "read %.0f ns), %% of it:\n", t, t - rb_kv_num(kv, "t_plain") * 1e6 / n,
	       rb_kv_num(kv, "t_clock_ns"));
	rb_info("env_parse", pa, t);
	rb_info("  JSON parse + free (from the passes above)", json - read, t);
	rb_info("  envelope checks (the rest)", pa - (json - read), t);
	rb_info("treaty_apply", ap, t);
	rb_info("  treaty_validate alone (timed apart; apply repeats it)", va, t);
	rb_info("env_free (the fields' tree)", fr, t);
	rb_info("store read, loop, clocks, extra validate", t - pa - ap - fr, t);
	printf("INFO per kind: %-15s %9s %8s %10s %10s\n", "kind", "count", "bytes",
	       "parse us", "apply us");
	for (int k = 0; k <= RB_NKINDS; k++) {
		const char *name = k < RB_NKINDS ? rb_kinds[k] : "other-kind";
		char key[64];
		double c, b;
		snprintf(key, sizeof key, "n_%s", name);
		if ((c = rb_kv_num(kv, key)) == 0)
			continue;
		snprintf(key, sizeof key, "bytes_%s", name);
		b = rb_kv_num(kv, key);
		snprintf(key, sizeof key, "parse_%s", name);
		pa = rb_kv_num(kv, key);
		snprintf(key, sizeof key, "apply_%s", name);
		ap = rb_kv_num(kv, key);
		printf("INFO per kind: %-15s %9.0f %8.0f %10.2f %10.2f\n", name, c, b / c,
		       pa * 1e6 / c, ap * 1e6 / c);
	}
	free(kv);
}

static void rb_usage(void)
{
	fprintf(stderr, "usage: replay [--quick] [--entries N] [--rounds R] [--dir DIR] "
		"[--parley PATH] [--no-receipts] [--keep]\n"
		"  --quick        100,000 notifications instead of 1,000,000\n"
		"  --entries N    notifications in the log (baseline parts included)\n"
		"  --rounds R     alternating rounds of limit and replay (default 3)\n"
		"  --dir DIR      put the node directory under DIR (default build/)\n"
		"  --parley PATH  the parley binary for `parley init`\n"
		"  --no-receipts  skip the run with the other side's receipts\n"
		"  --keep         keep the node directory\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct rb_opts o = { .quick = 0, .rounds = 3, .receipts = 1, .entries = 0 };
	struct rb_expect *x;
	struct rb_phase p1, p2 = { 0 };
	char cpu[256], parley[PATH_MAX + 16];
	uint64_t receipts = 0;
	double t0 = bu_now(), ts;
	struct rb_kv *kv;
	ssize_t sl;
	int i;

	if ((sl = readlink("/proc/self/exe", rb_self, sizeof rb_self - 1)) > 0)
		rb_self[sl] = '\0';
	else
		snprintf(rb_self, sizeof rb_self, "%s", argv[0]);
	if (argc >= 2 && strcmp(argv[1], "--child") == 0)
		return rb_child_main(argc, argv);
	bu_set_name("bench replay");
	bu_set_cleanup(rb_cleanup);
	if ((x = calloc(1, sizeof *x)) == NULL || (kv = malloc(sizeof *kv)) == NULL)
		bu_die("out of memory");
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0) {
			o.quick = 1;
		} else if (strcmp(argv[i], "--entries") == 0 && i + 1 < argc) {
			char *end;
			errno = 0;
			o.entries = strtoull(argv[++i], &end, 10);
			if (errno != 0 || *end != '\0' || o.entries < 100 ||
			    o.entries > STORE_MAX_LOG_SIZE)
				bu_die("--entries: want 100..2^40, got \"%s\"", argv[i]);
		} else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
			o.rounds = atoi(argv[++i]);
			if (o.rounds < 1 || o.rounds > RB_MAX_ROUNDS)
				bu_die("--rounds: want 1..%d", RB_MAX_ROUNDS);
		} else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
			o.parent = argv[++i];
		} else if (strcmp(argv[i], "--parley") == 0 && i + 1 < argc) {
			o.parley = argv[++i];
		} else if (strcmp(argv[i], "--no-receipts") == 0) {
			o.receipts = 0;
		} else if (strcmp(argv[i], "--keep") == 0) {
			rb_keep = 1;
		} else {
			rb_usage();
		}
	}
	if (o.entries == 0)
		o.entries = o.quick ? 100000 : 1000000;
	setvbuf(stdout, NULL, _IOLBF, 0);
	rb_find_parley(parley, sizeof parley, o.parley);
	rb_make_dir(o.parent);
	bu_cpu_model(cpu, sizeof cpu);
	printf("parley replay benchmark (%s run)\n", o.quick ? "quick" : "full");
	printf("machine:  %ld CPUs (nproc), %s, %ld MiB\n", sysconf(_SC_NPROCESSORS_ONLN),
	       cpu, rb_mem_total_mb());
	printf("jansson:  %s; sqlite: %s\n", JANSSON_VERSION, sqlite3_libversion());
	printf("node dir: %s (parley: %s)\n", rb_node, parley);
	printf("plan:     %llu notifications of %s under %s/%s.json, %d rounds\n",
	       (unsigned long long)o.entries, RB_ORIGIN, treaty_dir(), RB_TREATY, o.rounds);

	/* setup, off every clock */
	rb_parley_init(parley);
	{
		char arg[32];
		snprintf(arg, sizeof arg, "%llu", (unsigned long long)o.entries);
		rb_child("setup", arg, &x->kv);
	}
	x->entries = (uint64_t)rb_kv_num(&x->kv, "entries");
	x->bytes = (uint64_t)rb_kv_num(&x->kv, "bytes");
	printf("setup:    %llu entries, %.1f MB of envelopes (%.0f B each), written in %.1f s; "
	       "baseline exchange of %.0f items in %.0f parts, then %.0f status-change, "
	       "%.0f movement, %.0f rv-change\n", (unsigned long long)x->entries,
	       (double)x->bytes / 1e6, (double)x->bytes / (double)x->entries,
	       rb_kv_num(&x->kv, "secs"), rb_kv_num(&x->kv, "items"),
	       rb_kv_num(&x->kv, "exchange_parts"), rb_kv_num(&x->kv, "status-change"),
	       rb_kv_num(&x->kv, "movement"), rb_kv_num(&x->kv, "rv-change"));
	printf("model:    inventory SHA-256 %s, totals", rb_kv_str(&x->kv, "digest"));
	for (i = 0; i < x->kv.n; i++)
		if (strncmp(x->kv.key[i], "total_", 6) == 0)
			printf(" %s %s", x->kv.key[i] + 6, x->kv.val[i]);
	printf("\n");
	{
		char db[RB_PATH_MAX + 32];
		struct stat st;
		snprintf(db, sizeof db, "%s/node.db", rb_node);
		if (stat(db, &st) == 0)
			printf("database: %.1f MB (node.db)\n", (double)st.st_size / 1e6);
	}
	/* warm-up: the database into the page cache */
	ts = bu_now();
	rb_child("limit", NULL, kv);
	printf("warm-up:  read and parsed once in %.2f s (not counted)\n", bu_now() - ts);

	p1 = rb_rounds("replay against read + parse", &o, x, 0);
	rb_pieces(x);
	if (o.receipts) {
		rb_child("receipts", NULL, kv);
		receipts = (uint64_t)rb_kv_num(kv, "receipts");
		printf("\nreceipts: %llu in %s (one per %d notifications, %d s after the "
		       "last one covered): every deadline is judged\n",
		       (unsigned long long)receipts, RB_BACK, RB_RCPT_EVERY, RB_RCPT_DELAY);
		p2 = rb_rounds("replay with receipts against read + parse", &o, x, receipts);
	}

	printf("\n== results ==\n");
	bu_result("replay_notifications", (double)x->entries);
	bu_result("replay_per_s", p1.rate);
	bu_result("replay_per_cpu_s", p1.cpu_rate);
	bu_result("read_parse_per_s", p1.limit);
	bu_result("read_parse_per_cpu_s", p1.limit_cpu);
	bu_result("replay_ratio_to_limit", p1.ratio);
	bu_result("replay_cpu_ratio_to_limit", p1.cpu_rate / p1.limit_cpu);
	bu_result("replay_peak_rss_mb", p1.hwm_mb);
	bu_result("replay_peak_anon_mb", p1.anon_mb);
	bu_result("read_parse_peak_rss_mb", p1.limit_hwm_mb);
	if (o.receipts) {
		bu_result("replay_receipts_per_s", p2.rate);
		bu_result("replay_receipts_ratio_to_limit", p2.ratio);
		bu_result("replay_receipts_peak_rss_mb", p2.hwm_mb);
	}
	printf("(peak RSS: VmHWM of the replaying process, %.0f MB of it the database's "
	       "memory map at most (sampled), %.0f MB anonymous; wait4 ru_maxrss %.0f MB)\n",
	       p1.file_mb, p1.anon_mb, (double)p1.maxrss_kb / 1024);
	printf("TARGET replay >= %.0f notifications/s: %.0f %s\n", RB_TARGET_RATE, p1.rate,
	       p1.rate >= RB_TARGET_RATE ? "PASS" : "MISS");
	printf("TARGET replay >= %.1f x read+parse limit (per CPU second): %.3f %s\n",
	       RB_TARGET_RATIO, p1.cpu_rate / p1.limit_cpu,
	       p1.cpu_rate / p1.limit_cpu >= RB_TARGET_RATIO ? "PASS" : "MISS");
	printf("\ntotal %.1f s\n", bu_now() - t0);
	free(kv);
	free(x);
	rb_cleanup();
	return 0;
}
