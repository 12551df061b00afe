/*
 * bench/log.c — throughput of the log store, each figure next to its limit.
 *
 *   build/rel/bench/log [--quick] [--dir DIR] [--proof-entries N]
 *
 * What is measured, in one run, each next to what the layer below can do:
 *
 *  1. Durable appends through store_append, one durable transaction per
 *     call, for 256 B and 1 KiB entries in batches of 1, 64 and 1024 —
 *     against the limit: plain SQLite inserts of the same rows (same keys,
 *     same table shape, same pragmas, one BEGIN IMMEDIATE ... COMMIT per
 *     batch, no hashing).  Parley and SQLite runs alternate, each on a
 *     fresh database, and the median of the rounds is reported, because
 *     the machine is shared and fsync times wander.  Next to the rates,
 *     two figures that hardly depend on the disk's mood: bytes handed to
 *     write(2) per entry and CPU time per entry, parley and SQLite.
 *  2. Inclusion proofs per second from a stored log of 10^7 entries (10^6
 *     with --quick), random indices against the current size.  The root the
 *     store reports is checked against a root computed here while the log
 *     was written, and a sample of the proofs is verified against it, so a
 *     fast wrong answer cannot pass for a fast answer.
 *  3. SHA-256 leaf hashes per second (merkle_leaf_hash), the hashing limit
 *     of an append.
 *
 * Every figure is printed as one `RESULT <name> <value>` line; the targets
 * of the issue are printed with PASS or MISS.  Databases live in a fresh
 * directory under build/ (the project's disk, not a tmpfs) and are deleted
 * at the end, also on SIGINT/SIGTERM.
 *
 * Limits: figures are for this machine and this disk only; the header
 * records both.  Batch-of-1 rates are mostly fsync latency; the bytes
 * written per entry show what a faster disk would expose.  CPU-bound
 * figures (proofs, hashes) also give a per-CPU-second rate, because other
 * processes on a 2-core machine can take half of it.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <sqlite3.h>

#include "merkle.h"
#include "store.h"

#include "benchutil.h"

#define BENCH_POOL 4096              /* distinct entries per size */
#define BENCH_ORIGIN "bench.parley.example/log"
/* The store's first log has id 1 and keys its entries 1 << 40 | index
 * (store.c); the SQLite limit uses the same keys so the rows are equal. */
#define BENCH_KEY(i) ((sqlite3_int64)(((uint64_t)1 << 40) | (i)))
#define BENCH_PROOF_ENTRY 32         /* bytes per entry of the proof log */
#define BENCH_PROOF_BATCH 4096
#define BENCH_SAMPLE_EVERY 61        /* keep every 61st proof for checking */
#define BENCH_SAMPLES 2048
#define BENCH_MAX_ROUNDS 16

/* Targets of the issue. */
#define BENCH_TARGET_RATIO 0.5
#define BENCH_TARGET_PROOFS 50000.0

struct bench_opts {
	int quick;
	int rounds;             /* alternations of parley and SQLite */
	double append_secs;     /* minimum time of one append run */
	uint64_t min_commits;   /* minimum transactions of one append run */
	double proof_secs;      /* one round of proofs */
	double hash_secs;       /* one round of leaf hashing */
	uint64_t proof_entries; /* size of the proof log */
};

/* ---- files, cleanup ---------------------------------------------------- */

enum { BENCH_DB_PARLEY, BENCH_DB_SQLITE, BENCH_DB_PROOF, BENCH_NDB };
static const char *const bench_db_names[BENCH_NDB] = { "parley.db", "sqlite.db", "proof.db" };
static const char *const bench_suffixes[3] = { "", "-wal", "-shm" };

/* Precomputed so that the signal handler only calls unlink and rmdir. */
#define BENCH_DIR_MAX 1024
static char bench_dir[BENCH_DIR_MAX];
static char bench_db[BENCH_NDB][BENCH_DIR_MAX + 16];
static char bench_files[BENCH_NDB * 3][BENCH_DIR_MAX + 32];
static volatile sig_atomic_t bench_have_dir;

static void bench_rm_db(int which)
{
	int i;

	for (i = 0; i < 3; i++)
		unlink(bench_files[which * 3 + i]);
}

static void bench_cleanup(void)
{
	int i;

	if (!bench_have_dir)
		return;
	for (i = 0; i < BENCH_NDB * 3; i++)
		unlink(bench_files[i]);
	rmdir(bench_dir);
	bench_have_dir = 0;
}

/* The scratch directory (under build/ unless --dir names the parent) and
 * the names of every file in it, so that the cleanup only unlinks. */
static void bench_make_dir(const char *parent)
{
	int i, j;

	bu_make_dir(bench_dir, sizeof bench_dir, parent, "bench-log.XXXXXX");
	for (i = 0; i < BENCH_NDB; i++) {
		snprintf(bench_db[i], sizeof bench_db[i], "%s/%s", bench_dir, bench_db_names[i]);
		for (j = 0; j < 3; j++)
			snprintf(bench_files[i * 3 + j], sizeof bench_files[0], "%s/%s%s",
				 bench_dir, bench_db_names[i], bench_suffixes[j]);
	}
	bench_have_dir = 1;
	bu_catch_signals();
}

/* ---- small tools ------------------------------------------------------- */

/* Bytes this process has handed to write(2) and friends so far (Linux
 * /proc/self/io "wchar"), or 0 when unknown.  Unlike a rate it does not
 * depend on how busy the shared disk is: it shows how much a design writes. */
static uint64_t bench_wchar(void)
{
	FILE *f = fopen("/proc/self/io", "r");
	char line[128];
	unsigned long long v = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "wchar: %llu", &v) == 1)
			break;
	fclose(f);
	return (uint64_t)v;
}

static const char *bench_size_name(size_t len)
{
	return len == 1024 ? "1KiB" : len == 256 ? "256B" : "?";
}

/* ---- header ------------------------------------------------------------ */

static void bench_header(const struct bench_opts *o)
{
	char cpu[256], fs[1024];

	bu_cpu_model(cpu, sizeof cpu);
	bu_filesystem(bench_dir, 1, fs, sizeof fs);
	printf("parley log store benchmark (%s run)\n", o->quick ? "quick" : "full");
	printf("machine:  %ld CPUs (nproc), %s\n", sysconf(_SC_NPROCESSORS_ONLN), cpu);
	printf("sqlite:   %s (journal_mode=WAL, synchronous=FULL)\n", sqlite3_libversion());
	printf("openssl:  %s\n", OpenSSL_version(OPENSSL_VERSION));
	printf("bench dir: %s (%s)\n", bench_dir, fs);
	if (strncmp(fs, "tmpfs", 5) == 0 || strncmp(fs, "ramfs", 5) == 0)
		printf("WARNING: the bench dir is in memory: fsync costs nothing, "
		       "durable-append figures mean nothing\n");
	printf("plan:     %d alternating rounds per configuration, >= %.2f s and >= %llu "
	       "commits per run; proof log of %llu entries\n", o->rounds, o->append_secs,
	       (unsigned long long)o->min_commits, (unsigned long long)o->proof_entries);
	fflush(stdout);
}

/* ---- entries ----------------------------------------------------------- */

struct bench_pool {
	uint8_t *buf;
	size_t len;
};

static void bench_pool_init(struct bench_pool *p, size_t len, uint64_t seed)
{
	size_t i;

	p->len = len;
	p->buf = malloc(BENCH_POOL * len);
	if (p->buf == NULL)
		bu_die("out of memory");
	for (i = 0; i + 8 <= BENCH_POOL * len; i += 8) {
		uint64_t r = bu_rand(&seed);
		memcpy(p->buf + i, &r, 8);
	}
}

static const void *bench_pool_entry(const struct bench_pool *p, uint64_t i)
{
	return p->buf + (i % BENCH_POOL) * p->len;
}

/* ---- 1. durable appends ------------------------------------------------ */

/* One backend of the append loop: appends n entries as one durable
 * transaction. */
typedef void (*bench_append_fn)(void *ctx, const void *const *ents,
				const size_t *lens, size_t n);

struct bench_parley {
	struct store *s;
	struct store_log *l;
};

static void bench_parley_append(void *ctx, const void *const *ents,
				const size_t *lens, size_t n)
{
	struct bench_parley *b = ctx;
	struct perr e;

	if (store_append(b->l, ents, lens, n, NULL, &e) != 0)
		bu_die("store_append: %s", e.msg);
}

static void bench_parley_open(struct bench_parley *b, const char *path)
{
	struct perr e;

	if (store_open(&b->s, path, 1, NULL, &e) != 0 ||
	    store_log_create(b->s, BENCH_ORIGIN, &e) != 0 ||
	    store_log_open(b->s, BENCH_ORIGIN, &b->l, &e) != 0)
		bu_die("%s: %s", path, e.msg);
}

/* The limit: what SQLite itself does with the same rows, nothing else. */
struct bench_sqlite {
	sqlite3 *db;
	sqlite3_stmt *begin, *ins, *commit;
	uint64_t next;
};

static void bench_sqlite_step(struct bench_sqlite *b, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		bu_die("sqlite: %s", sqlite3_errmsg(b->db));
}

static void bench_sqlite_append(void *ctx, const void *const *ents,
				const size_t *lens, size_t n)
{
	struct bench_sqlite *b = ctx;
	size_t i;

	bench_sqlite_step(b, b->begin);
	for (i = 0; i < n; i++) {
		sqlite3_bind_int64(b->ins, 1, BENCH_KEY(b->next + i));
		sqlite3_bind_blob(b->ins, 2, ents[i], (int)lens[i], SQLITE_STATIC);
		bench_sqlite_step(b, b->ins);
	}
	bench_sqlite_step(b, b->commit);
	b->next += n;
}

static void bench_sqlite_open(struct bench_sqlite *b, const char *path)
{
	memset(b, 0, sizeof *b);
	if (sqlite3_open_v2(path, &b->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
			    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK ||
	    sqlite3_exec(b->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
			 "CREATE TABLE entries(k INTEGER PRIMARY KEY, data BLOB NOT NULL);",
			 NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(b->db, "BEGIN IMMEDIATE", -1, &b->begin, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(b->db, "INSERT INTO entries(k, data) VALUES(?, ?)", -1,
			       &b->ins, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(b->db, "COMMIT", -1, &b->commit, NULL) != SQLITE_OK)
		bu_die("%s: %s", path, b->db ? sqlite3_errmsg(b->db) : "cannot open");
}

static void bench_sqlite_close(struct bench_sqlite *b)
{
	sqlite3_finalize(b->begin);
	sqlite3_finalize(b->ins);
	sqlite3_finalize(b->commit);
	sqlite3_close(b->db);
}

struct bench_run {
	double rate;            /* entries/s */
	double written;         /* bytes written per entry, 0 if unknown */
	double cpu_us;          /* CPU time of this process per entry, µs */
};

/* Appends batches of pool entries until both the minimum time and the
 * minimum number of transactions are reached.  Setup and close are outside
 * the clock. */
static struct bench_run bench_append_loop(bench_append_fn fn, void *ctx,
					  const struct bench_pool *p, size_t batch,
					  const struct bench_opts *o)
{
	const void **ents = malloc(batch * sizeof *ents);
	size_t *lens = malloc(batch * sizeof *lens);
	uint64_t done = 0, commits = 0, w0;
	struct bench_run run;
	double t0, c0, t;
	size_t i;

	if (ents == NULL || lens == NULL)
		bu_die("out of memory");
	for (i = 0; i < batch; i++)
		lens[i] = p->len;
	w0 = bench_wchar();
	c0 = bu_cpu();
	t0 = bu_now();
	do {
		for (i = 0; i < batch; i++)
			ents[i] = bench_pool_entry(p, done + i);
		fn(ctx, (const void *const *)ents, lens, batch);
		done += batch;
		commits++;
		t = bu_now() - t0;
	} while (t < o->append_secs || commits < o->min_commits);
	run.rate = (double)done / t;
	run.cpu_us = (bu_cpu() - c0) * 1e6 / (double)done;
	run.written = w0 ? (double)(bench_wchar() - w0) / (double)done : 0;
	free(ents);
	free(lens);
	return run;
}

static struct bench_run bench_append_parley(const struct bench_pool *p, size_t batch,
					    const struct bench_opts *o)
{
	struct bench_parley b;
	struct bench_run r;

	bench_rm_db(BENCH_DB_PARLEY);
	bench_parley_open(&b, bench_db[BENCH_DB_PARLEY]);
	r = bench_append_loop(bench_parley_append, &b, p, batch, o);
	store_close(b.s);
	bench_rm_db(BENCH_DB_PARLEY);
	return r;
}

static struct bench_run bench_append_sqlite(const struct bench_pool *p, size_t batch,
					    const struct bench_opts *o)
{
	struct bench_sqlite b;
	struct bench_run r;

	bench_rm_db(BENCH_DB_SQLITE);
	bench_sqlite_open(&b, bench_db[BENCH_DB_SQLITE]);
	r = bench_append_loop(bench_sqlite_append, &b, p, batch, o);
	bench_sqlite_close(&b);
	bench_rm_db(BENCH_DB_SQLITE);
	return r;
}

static void bench_appends(const struct bench_opts *o)
{
	static const size_t sizes[] = { 256, 1024 }, batches[] = { 1, 64, 1024 };
	size_t si, bi;
	double target_ratio = 0;

	printf("\n== durable appends: store_append vs plain SQLite inserts "
	       "(entries/s, median of %d alternating rounds) ==\n", o->rounds);
	printf("%-5s %6s %9s %9s %6s %13s %12s   rounds (parley/sqlite entries/s)\n",
	       "entry", "batch", "parley/s", "sqlite/s", "ratio", "written B/ent", "CPU us/ent");
	for (si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
		struct bench_pool p;
		bench_pool_init(&p, sizes[si], 0x5EED0000u + sizes[si]);
		for (bi = 0; bi < sizeof batches / sizeof batches[0]; bi++) {
			double pr[BENCH_MAX_ROUNDS], sr[BENCH_MAX_ROUNDS];
			double pw[BENCH_MAX_ROUNDS], sw[BENCH_MAX_ROUNDS];
			double pc[BENCH_MAX_ROUNDS], sc[BENCH_MAX_ROUNDS];
			double pm, sm, ratio;
			const char *sz = bench_size_name(sizes[si]);
			char name[64];
			int r;
			/* Alternate which goes first, so that a slow spell of the
			 * shared disk does not always fall on the same side. */
			for (r = 0; r < o->rounds; r++) {
				struct bench_run rp, rs;
				if (r % 2 == 0) {
					rp = bench_append_parley(&p, batches[bi], o);
					rs = bench_append_sqlite(&p, batches[bi], o);
				} else {
					rs = bench_append_sqlite(&p, batches[bi], o);
					rp = bench_append_parley(&p, batches[bi], o);
				}
				pr[r] = rp.rate, pw[r] = rp.written, pc[r] = rp.cpu_us;
				sr[r] = rs.rate, sw[r] = rs.written, sc[r] = rs.cpu_us;
			}
			pm = bu_median(pr, o->rounds);
			sm = bu_median(sr, o->rounds);
			ratio = pm / sm;
			printf("%-5s %6zu %9.0f %9.0f %6.3f %6.0f/%-6.0f %5.1f/%-6.1f ", sz,
			       batches[bi], pm, sm, ratio, bu_median(pw, o->rounds),
			       bu_median(sw, o->rounds), bu_median(pc, o->rounds),
			       bu_median(sc, o->rounds));
			for (r = 0; r < o->rounds; r++)
				printf(" %.0f/%.0f", pr[r], sr[r]);
			printf("\n");
			snprintf(name, sizeof name, "append_%s_b%zu_per_s", sz, batches[bi]);
			bu_result(name, pm);
			snprintf(name, sizeof name, "sqlite_%s_b%zu_per_s", sz, batches[bi]);
			bu_result(name, sm);
			snprintf(name, sizeof name, "append_ratio_%s_b%zu", sz, batches[bi]);
			bu_result(name, ratio);
			if (sizes[si] == 1024 && batches[bi] == 1024)
				target_ratio = ratio;
		}
		free(p.buf);
	}
	printf("(parley/sqlite medians.  written B/ent: bytes passed to write(2) per "
	       "entry, WAL and checkpoints included;\n CPU us/ent: this process's CPU "
	       "time per entry.  Both hardly depend on how busy the shared disk is.)\n");
	bu_result("append_ratio_to_sqlite", target_ratio);
	printf("TARGET append >= %.1f x SQLite (1 KiB x 1024): %.3f %s\n",
	       BENCH_TARGET_RATIO, target_ratio,
	       target_ratio >= BENCH_TARGET_RATIO ? "PASS" : "MISS");
}

/* ---- 2. inclusion proofs ----------------------------------------------- */

/* Entry i of the proof log: its index and a fixed tag, so that any entry
 * can be rebuilt here to check a proof without asking the store. */
static void bench_proof_entry(uint8_t out[BENCH_PROOF_ENTRY], uint64_t i)
{
	static const char tag[BENCH_PROOF_ENTRY - 8] = "parley bench proof log";

	memcpy(out, &i, 8);
	memcpy(out + 8, tag, sizeof tag);
}

/* RFC 6962 MTH computed as the leaves stream by: stack[j] holds a complete
 * subtree, sizes strictly decreasing (as merkle_root_of does in memory). */
struct bench_mth {
	merkle_hash h[64];
	uint8_t level[64];
	size_t top;
};

static void bench_mth_push(struct bench_mth *m, const merkle_hash leaf)
{
	memcpy(m->h[m->top], leaf, MERKLE_HASH);
	m->level[m->top++] = 0;
	while (m->top >= 2 && m->level[m->top - 1] == m->level[m->top - 2]) {
		merkle_node_hash(m->h[m->top - 2], m->h[m->top - 2], m->h[m->top - 1]);
		m->level[m->top - 2]++;
		m->top--;
	}
}

static void bench_mth_root(const struct bench_mth *m, merkle_hash out)
{
	size_t t = m->top;

	if (t == 0) {
		merkle_empty_root(out);
		return;
	}
	memcpy(out, m->h[t - 1], MERKLE_HASH);
	while (t-- > 1)
		merkle_node_hash(out, m->h[t - 1], out);
}

/* Writes the proof log in batches of BENCH_PROOF_BATCH and checks the root
 * the store computes against the streamed one. */
static void bench_proof_build(struct bench_parley *b, uint64_t n, merkle_hash root)
{
	static uint8_t buf[BENCH_PROOF_BATCH][BENCH_PROOF_ENTRY];
	static const void *ents[BENCH_PROOF_BATCH];
	static size_t lens[BENCH_PROOF_BATCH];
	struct bench_mth *m = calloc(1, sizeof *m);
	merkle_hash want;
	struct perr e;
	uint64_t i = 0, hashing_done = 0;
	double t0, t, th = 0;
	size_t j;

	if (m == NULL)
		bu_die("out of memory");
	bench_parley_open(b, bench_db[BENCH_DB_PROOF]);
	t0 = bu_now();
	while (i < n) {
		size_t k = n - i < BENCH_PROOF_BATCH ? (size_t)(n - i) : BENCH_PROOF_BATCH;
		for (j = 0; j < k; j++) {
			bench_proof_entry(buf[j], i + j);
			ents[j] = buf[j];
			lens[j] = BENCH_PROOF_ENTRY;
		}
		bench_parley_append(b, ents, lens, k);
		/* The reference root is work of the benchmark, not of the
		 * store: keep it off the build clock. */
		{
			double h0 = bu_now();
			for (j = 0; j < k; j++) {
				merkle_hash leaf;
				merkle_leaf_hash(leaf, buf[j], BENCH_PROOF_ENTRY);
				bench_mth_push(m, leaf);
			}
			th += bu_now() - h0;
			hashing_done += k;
		}
		i += k;
	}
	t = bu_now() - t0 - th;
	if (store_log_size(b->l) != n)
		bu_die("proof log has %llu entries, wrote %llu",
			  (unsigned long long)store_log_size(b->l), (unsigned long long)n);
	bench_mth_root(m, want);
	if (store_root(b->l, n, root, &e) != 0)
		bu_die("store_root: %s", e.msg);
	if (memcmp(root, want, MERKLE_HASH) != 0)
		bu_die("store_root at %llu differs from the root of the entries written",
			  (unsigned long long)n);
	printf("built %llu x %d B entries in batches of %d in %.1f s (%.0f entries/s); "
	       "store_root matches the reference root\n", (unsigned long long)n,
	       BENCH_PROOF_ENTRY, BENCH_PROOF_BATCH, t, (double)n / t);
	bu_result("proof_log_build_per_s", (double)n / t);
	free(m);
}

struct bench_sample {
	uint64_t idx;
	size_t len;
	merkle_hash proof[MERKLE_MAX_PROOF];
};

/* Checks the kept proofs against root with entries rebuilt here, and that
 * one altered proof is refused (the check is not a rubber stamp). */
static void bench_proof_check(struct bench_parley *b, const struct bench_sample *smp,
			      size_t n, uint64_t size, const merkle_hash root)
{
	uint8_t ent[BENCH_PROOF_ENTRY];
	merkle_hash leaf, bad[MERKLE_MAX_PROOF];
	struct perr e;
	size_t i;

	if (n == 0)
		bu_die("no proof was sampled");
	for (i = 0; i < n; i++) {
		uint8_t *stored;
		size_t len;
		bench_proof_entry(ent, smp[i].idx);
		merkle_leaf_hash(leaf, ent, sizeof ent);
		if (merkle_verify_inclusion(leaf, MERKLE_HASH, smp[i].idx, size,
					    smp[i].proof, smp[i].len, root, MERKLE_HASH, &e) != 0)
			bu_die("proof for entry %llu does not verify: %s",
				  (unsigned long long)smp[i].idx, e.msg);
		if (i % 16 == 0) {
			if (store_entry(b->l, smp[i].idx, &stored, &len, &e) != 0)
				bu_die("store_entry: %s", e.msg);
			if (len != sizeof ent || memcmp(stored, ent, len) != 0)
				bu_die("entry %llu reads back wrong",
					  (unsigned long long)smp[i].idx);
			free(stored);
		}
	}
	bench_proof_entry(ent, smp[0].idx);
	merkle_leaf_hash(leaf, ent, sizeof ent);
	memcpy(bad, smp[0].proof, smp[0].len * MERKLE_HASH);
	bad[smp[0].len / 2][7] ^= 0x10;
	if (merkle_verify_inclusion(leaf, MERKLE_HASH, smp[0].idx, size, bad,
				    smp[0].len, root, MERKLE_HASH, &e) == 0)
		bu_die("an altered proof verifies: the check proves nothing");
	printf("verified %zu sampled proofs against store_root (and refused an altered one)\n", n);
}

/* Proves random indices against the current size for at least secs;
 * returns proofs/s and adds the proofs/CPU-second to *cpu_rate.  Every
 * BENCH_SAMPLE_EVERY-th proof is kept for bench_proof_check. */
static double bench_proof_round(struct bench_parley *b, double secs, uint64_t *seed,
				struct bench_sample *smp, size_t *nsmp,
				uint64_t *count, double *cpu_rate)
{
	merkle_hash proof[MERKLE_MAX_PROOF];
	uint64_t size = store_log_size(b->l), n = 0;
	double t0 = bu_now(), c0 = bu_cpu(), t;
	struct perr e;
	size_t len;

	do {
		uint64_t idx = bu_rand(seed) % size;
		if (store_prove_inclusion(b->l, idx, size, proof, &len, &e) != 0)
			bu_die("store_prove_inclusion(%llu, %llu): %s",
				  (unsigned long long)idx, (unsigned long long)size, e.msg);
		if (smp != NULL && (*count + n) % BENCH_SAMPLE_EVERY == 0 &&
		    *nsmp < BENCH_SAMPLES) {
			smp[*nsmp].idx = idx;
			smp[*nsmp].len = len;
			memcpy(smp[*nsmp].proof, proof, len * MERKLE_HASH);
			(*nsmp)++;
		}
		n++;
		t = bu_now() - t0;
	} while (t < secs);
	*count += n;
	*cpu_rate = (double)n / (bu_cpu() - c0);
	return (double)n / t;
}

static void bench_proofs(const struct bench_opts *o)
{
	struct bench_parley b;
	struct bench_sample *smp = malloc(BENCH_SAMPLES * sizeof *smp);
	double rate[BENCH_MAX_ROUNDS], crate[BENCH_MAX_ROUNDS], warm, wcpu, pm, cm;
	merkle_hash root;
	uint64_t size, seed = 0xC0FFEE, total = 0;
	size_t nsmp = 0;
	int r;

	if (smp == NULL)
		bu_die("out of memory");
	printf("\n== inclusion proofs: store_prove_inclusion, random index, current size ==\n");
	bench_rm_db(BENCH_DB_PROOF);
	bench_proof_build(&b, o->proof_entries, root);
	size = store_log_size(b.l);
	/* Warm the tile cache and SQLite's pages; report it, do not count it. */
	warm = bench_proof_round(&b, o->proof_secs / 2, &seed, NULL, &nsmp, &total, &wcpu);
	total = 0;
	for (r = 0; r < o->rounds; r++)
		rate[r] = bench_proof_round(&b, o->proof_secs, &seed, smp, &nsmp, &total,
					    &crate[r]);
	pm = bu_median(rate, o->rounds);
	cm = bu_median(crate, o->rounds);
	printf("warm-up %.0f proofs/s; %llu proofs measured, rounds (proofs/s, per CPU-s):",
	       warm, (unsigned long long)total);
	for (r = 0; r < o->rounds; r++)
		printf(" %.0f/%.0f", rate[r], crate[r]);
	printf("\n");
	bench_proof_check(&b, smp, nsmp, size, root);
	bu_result("proof_log_entries", (double)size);
	bu_result("proofs_per_s", pm);
	bu_result("proofs_per_cpu_s", cm);
	printf("TARGET >= %.0f proofs/s at %llu entries: %.0f %s (this process got "
	       "%.0f%% of a CPU)\n", BENCH_TARGET_PROOFS, (unsigned long long)size, pm,
	       pm >= BENCH_TARGET_PROOFS ? "PASS" : "MISS", 100 * pm / cm);
	store_close(b.s);
	bench_rm_db(BENCH_DB_PROOF);
	free(smp);
}

/* ---- 3. leaf hashing --------------------------------------------------- */

static void bench_hashing(const struct bench_opts *o)
{
	static const size_t sizes[] = { 256, 1024 };
	size_t si;

	printf("\n== SHA-256 leaf hashes: merkle_leaf_hash (median of %d rounds) ==\n",
	       o->rounds);
	for (si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
		struct bench_pool p;
		double rate[BENCH_MAX_ROUNDS], crate[BENCH_MAX_ROUNDS], m, cm;
		uint8_t sink = 0;
		char name[64];
		int r;

		bench_pool_init(&p, sizes[si], 0xA5A5u + sizes[si]);
		for (r = 0; r < o->rounds; r++) {
			uint64_t n = 0;
			double t0 = bu_now(), c0 = bu_cpu(), t;
			do {
				int k;
				for (k = 0; k < 256; k++, n++) {
					merkle_hash h;
					merkle_leaf_hash(h, bench_pool_entry(&p, n), p.len);
					sink ^= h[0];
				}
				t = bu_now() - t0;
			} while (t < o->hash_secs);
			rate[r] = (double)n / t;
			crate[r] = (double)n / (bu_cpu() - c0);
		}
		m = bu_median(rate, o->rounds);
		cm = bu_median(crate, o->rounds);
		printf("%-5s %10.0f hashes/s %8.1f MB/s   per CPU-s: %10.0f %8.1f MB/s "
		       "(sink %02x)\n", bench_size_name(sizes[si]), m,
		       m * (double)sizes[si] / 1e6, cm, cm * (double)sizes[si] / 1e6, sink);
		snprintf(name, sizeof name, "leaf_hash_%s_per_s", bench_size_name(sizes[si]));
		bu_result(name, m);
		snprintf(name, sizeof name, "leaf_hash_%s_MB_per_s", bench_size_name(sizes[si]));
		bu_result(name, m * (double)sizes[si] / 1e6);
		free(p.buf);
	}
}

/* ---- main -------------------------------------------------------------- */

static void bench_usage(void)
{
	fprintf(stderr, "usage: log [--quick] [--dir DIR] [--proof-entries N]\n"
		"  --quick            short run (< 30 s), proof log of 10^6 entries\n"
		"  --dir DIR          put the scratch databases under DIR (default build/)\n"
		"  --proof-entries N  size of the proof log (default 10^7, 10^6 with --quick)\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct bench_opts o = {
		.quick = 0, .rounds = 5, .append_secs = 2.0, .min_commits = 200,
		.proof_secs = 3.0, .hash_secs = 1.0, .proof_entries = 10000000,
	};
	const char *parent = NULL;
	uint64_t proof_entries = 0;
	double t0 = bu_now();
	int i;

	bu_set_name("bench");
	bu_set_cleanup(bench_cleanup);
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0) {
			o.quick = 1;
		} else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
			parent = argv[++i];
		} else if (strcmp(argv[i], "--proof-entries") == 0 && i + 1 < argc) {
			char *end;
			errno = 0;
			proof_entries = strtoull(argv[++i], &end, 10);
			if (errno != 0 || *end != '\0' || proof_entries == 0 ||
			    proof_entries > STORE_MAX_LOG_SIZE)
				bu_die("--proof-entries: want 1..2^40, got \"%s\"", argv[i]);
		} else {
			bench_usage();
		}
	}
	if (o.quick) {
		o.rounds = 3;
		o.append_secs = 0.3;
		o.min_commits = 30;
		o.proof_secs = 0.5;
		o.hash_secs = 0.2;
		o.proof_entries = 1000000;
	}
	if (proof_entries != 0)
		o.proof_entries = proof_entries;
	setvbuf(stdout, NULL, _IOLBF, 0);
	bench_make_dir(parent);
	bench_header(&o);
	bench_hashing(&o);
	bench_appends(&o);
	bench_proofs(&o);
	printf("\ntotal %.1f s\n", bu_now() - t0);
	bench_cleanup();
	return 0;
}
