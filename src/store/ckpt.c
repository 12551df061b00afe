/*
 * ckpt.c — see ckpt.h.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "ckpt.h"
#include "pace.h"

/* PASSIVE rounds run back to back while the lag still shrinks, at most
 * this many, before a hold is tried; and at most this many held ones. */
#define CKPT_CATCHUP_TRIES 4
#define CKPT_HOLD_TRIES 3
/* A writer that does not take up a hold within this is idle. */
#define CKPT_ACK_MS 5

struct ckpt {
	sqlite3 *db;             /* the checkpointer's own connection */
	sqlite3 *wdb;            /* the writer's: its WAL hook */
	struct ckpt_conf conf;
	int notify_fd;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop;
	int acked;               /* the writer holds (ckpt_hold) */
	atomic_int hold;
	struct ckpt_stats st;    /* under mu */
};

static uint64_t ckpt_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* The writer's thread, after each of its commits: the WAL's length in
 * frames.  A length below the last one is a restart. */
static int ckpt_wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct ckpt *c = arg;

	(void)db;
	(void)name;
	pthread_mutex_lock(&c->mu);
	if (frames < c->st.frames) {
		c->st.restarts++;
		c->st.written += (uint64_t)frames;
	} else {
		c->st.written += (uint64_t)(frames - c->st.frames);
	}
	c->st.frames = frames;
	c->st.commits++;
	pthread_mutex_unlock(&c->mu);
	return SQLITE_OK;
}

/* One PASSIVE checkpoint: copies what no reader needs, waits for nobody.
 * *lag: frames left uncopied; -1 if the checkpoint failed. */
static void ckpt_passive(struct ckpt *c, int *lag)
{
	int log = 0, done = 0;

	if (sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE,
				      &log, &done) != SQLITE_OK || log < 0 || done < 0)
		*lag = -1;
	else
		*lag = log - done;
}

/* Non-blocking: when the pipe is full, the writer has news waiting anyway. */
static void ckpt_notify(struct ckpt *c)
{
	char b = 1;
	ssize_t r = write(c->notify_fd, &b, 1);

	(void)r;
}

/* Holds the writer's bulk work for a last PASSIVE checkpoint, so that its
 * next transaction, which begins with every frame copied, restarts the
 * WAL.  It waits first for the writer to say it holds (ckpt_hold): a
 * transaction under way when the hold began would otherwise commit while
 * the checkpoint copies, and no restart would follow.  A writer with
 * nothing to do never says; after CKPT_ACK_MS it is taken as idle. */
static void ckpt_hold_round(struct ckpt *c)
{
	struct timespec ts;
	uint64_t t0 = ckpt_now_us(), held;
	int lag = 1, i;

	pthread_mutex_lock(&c->mu);
	c->acked = 0;
	atomic_store(&c->hold, 1);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += CKPT_ACK_MS * 1000000L;
	ts.tv_sec += ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	while (!c->acked && !c->stop &&
	       pthread_cond_timedwait(&c->cv, &c->mu, &ts) == 0)
		;
	pthread_mutex_unlock(&c->mu);
	for (i = 0; i < CKPT_HOLD_TRIES && lag > 0; i++)
		ckpt_passive(c, &lag);
	atomic_store(&c->hold, 0);
	ckpt_notify(c);
	held = ckpt_now_us() - t0;
	pthread_mutex_lock(&c->mu);
	c->st.holds++;
	c->st.hold_us += held;
	if (held > c->st.max_hold_us)
		c->st.max_hold_us = held;
	pthread_mutex_unlock(&c->mu);
}

/* A round: copy back what the writer committed since the last one (small
 * copies, often, rather than one large one that the WAL's own syncs would
 * queue behind at the disk).  Once the WAL is restart_frames long, catch
 * up with the writer and end with a hold.  Not when the writer committed
 * nothing since the last round: it is idle, and its next transaction
 * restarts the WAL anyway. */
static void ckpt_round(struct ckpt *c, int frames, uint64_t commits, uint64_t *seen)
{
	int lag, prev = -1, i;

	ckpt_passive(c, &lag);
	if (frames < c->conf.restart_frames || commits == *seen) {
		*seen = commits;
		return;
	}
	*seen = commits;
	for (i = 1; i < CKPT_CATCHUP_TRIES && lag > c->conf.hold_lag &&
	     (prev < 0 || lag < prev); i++) {
		prev = lag;
		ckpt_passive(c, &lag);
	}
	if (lag >= 0 && lag <= c->conf.hold_lag)
		ckpt_hold_round(c);
}

static void *ckpt_run(void *arg)
{
	struct ckpt *c = arg;
	uint64_t seen = 0;

	pthread_mutex_lock(&c->mu);
	while (!c->stop) {
		struct timespec ts;
		int frames;
		uint64_t commits;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += (long)c->conf.interval_ms * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&c->cv, &c->mu, &ts);
		if (c->stop)
			break;
		frames = c->st.frames;
		commits = c->st.commits;
		if (frames < c->conf.min_frames)
			continue;
		c->st.rounds++;
		pthread_mutex_unlock(&c->mu);
		ckpt_round(c, frames, commits, &seen);
		pthread_mutex_lock(&c->mu);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

int ckpt_start(struct ckpt **out, const char *path, sqlite3 *wdb,
	       const struct ckpt_conf *conf, int notify_fd, struct perr *e)
{
	struct ckpt *c = calloc(1, sizeof *c);

	*out = NULL;
	if (c == NULL)
		return perr_set(e, "out of memory");
	c->conf = *conf;
	c->wdb = wdb;
	c->notify_fd = notify_fd;
	atomic_init(&c->hold, 0);
	if (pace_register(e) != 0) {
		free(c);
		return -1;
	}
	if (sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
			    PACE_VFS) != SQLITE_OK) {
		perr_set(e, "%s: %s", path, sqlite3_errmsg(c->db));
		sqlite3_close(c->db);
		free(c);
		return -1;
	}
	/* The checkpoint syncs the database file as the writer would. */
	sqlite3_exec(c->db, "PRAGMA synchronous=FULL", NULL, NULL, NULL);
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	/* Replaces SQLite's own automatic checkpoints on wdb (they are a WAL
	 * hook too): from here on, checkpoints are this thread's alone. */
	sqlite3_wal_hook(wdb, ckpt_wal_hook, c);
	if (pthread_create(&c->thread, NULL, ckpt_run, c) != 0) {
		sqlite3_wal_hook(wdb, NULL, NULL);
		pthread_mutex_destroy(&c->mu);
		pthread_cond_destroy(&c->cv);
		sqlite3_close(c->db);
		free(c);
		return perr_set(e, "cannot start the checkpoint thread");
	}
	*out = c;
	return 0;
}

int ckpt_hold(struct ckpt *c)
{
	if (c == NULL || !atomic_load(&c->hold))
		return 0;
	pthread_mutex_lock(&c->mu);
	if (!c->acked) {
		c->acked = 1;
		pthread_cond_signal(&c->cv);
	}
	pthread_mutex_unlock(&c->mu);
	return 1;
}

int ckpt_holding(struct ckpt *c)
{
	return c != NULL && atomic_load(&c->hold);
}

void ckpt_stats(struct ckpt *c, struct ckpt_stats *out)
{
	pthread_mutex_lock(&c->mu);
	*out = c->st;
	pthread_mutex_unlock(&c->mu);
}

void ckpt_stop(struct ckpt *c)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&c->mu);
	c->stop = 1;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
	pthread_join(c->thread, NULL);
	sqlite3_wal_hook(c->wdb, NULL, NULL);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
	sqlite3_close(c->db);
	free(c);
}
