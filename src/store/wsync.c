/*
 * wsync.c — see wsync.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wsync.h"

struct wsync {
	char path[PATH_MAX];     /* the WAL file */
	int fd;                  /* the thread's */
	int fd_now;              /* wsync_now's (the caller's thread) */
	int notify_fd;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint64_t want, done;
	int stop;
	char err[PERR_MAX];      /* the first failed sync */
};

/* The WAL file is SQLite's: it can be truncated (same inode) but, while
 * the node's connections are open, not replaced.  Reopened if it ever is,
 * so that the sync always reaches the file SQLite writes. */
static int wsync_fd(struct wsync *w, int *fdp, char *err, size_t errlen)
{
	struct stat a, b;

	if (*fdp >= 0 && stat(w->path, &a) == 0 && fstat(*fdp, &b) == 0 &&
	    a.st_ino == b.st_ino && a.st_dev == b.st_dev)
		return *fdp;
	if (*fdp >= 0)
		close(*fdp);
	*fdp = open(w->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (*fdp < 0)
		snprintf(err, errlen, "%.300s: %s", w->path, strerror(errno));
	return *fdp;
}

static int wsync_once(struct wsync *w, int *fdp, char *err, size_t errlen)
{
	int fd = wsync_fd(w, fdp, err, errlen);

	if (fd < 0)
		return -1;
	if (fdatasync(fd) != 0) {
		snprintf(err, errlen, "fdatasync %.300s: %s", w->path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Non-blocking: when the pipe is full, the loop has news waiting anyway. */
static void wsync_notify(struct wsync *w)
{
	char b = 1;
	ssize_t r = write(w->notify_fd, &b, 1);

	(void)r;
}

static void *wsync_run(void *arg)
{
	struct wsync *w = arg;
	char err[PERR_MAX];

	pthread_mutex_lock(&w->mu);
	for (;;) {
		uint64_t target;
		int rc;
		while (w->want <= w->done && !w->stop)
			pthread_cond_wait(&w->cv, &w->mu);
		if (w->want <= w->done)
			break; /* stopping, nothing left */
		target = w->want;
		pthread_mutex_unlock(&w->mu);
		err[0] = '\0';
		rc = wsync_once(w, &w->fd, err, sizeof err);
		pthread_mutex_lock(&w->mu);
		if (rc != 0) {
			if (w->err[0] == '\0')
				snprintf(w->err, sizeof w->err, "%s", err);
			break; /* nothing later counts as synced */
		}
		if (target > w->done) /* wsync_now may have gone further */
			w->done = target;
		pthread_mutex_unlock(&w->mu);
		wsync_notify(w);
		pthread_mutex_lock(&w->mu);
	}
	pthread_mutex_unlock(&w->mu);
	wsync_notify(w); /* a failure, or the end */
	return NULL;
}

int wsync_start(struct wsync **out, const char *dbpath, int notify_fd,
		struct perr *e)
{
	struct wsync *w = calloc(1, sizeof *w);
	char dir[PATH_MAX], *slash;
	int dfd;

	*out = NULL;
	if (w == NULL)
		return perr_set(e, "out of memory");
	w->fd = -1;
	w->fd_now = -1;
	w->notify_fd = notify_fd;
	if ((size_t)snprintf(w->path, sizeof w->path, "%s-wal", dbpath) >= sizeof w->path) {
		free(w);
		return perr_set(e, "%s: path too long", dbpath);
	}
	if (wsync_once(w, &w->fd, w->err, sizeof w->err) != 0) {
		perr_set(e, "%s", w->err);
		free(w);
		return -1;
	}
	/* The WAL's name must survive a power loss too. */
	snprintf(dir, sizeof dir, "%s", dbpath);
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	else
		snprintf(dir, sizeof dir, ".");
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) != 0) {
		perr_set(e, "%s: %s", dir, strerror(errno));
		if (dfd >= 0)
			close(dfd);
		close(w->fd);
		free(w);
		return -1;
	}
	close(dfd);
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	if (pthread_create(&w->thread, NULL, wsync_run, w) != 0) {
		pthread_mutex_destroy(&w->mu);
		pthread_cond_destroy(&w->cv);
		close(w->fd);
		free(w);
		return perr_set(e, "cannot start the WAL sync thread");
	}
	*out = w;
	return 0;
}

void wsync_request(struct wsync *w, uint64_t gen)
{
	pthread_mutex_lock(&w->mu);
	if (gen > w->want) {
		w->want = gen;
		pthread_cond_signal(&w->cv);
	}
	pthread_mutex_unlock(&w->mu);
}

int wsync_now(struct wsync *w, uint64_t gen, struct perr *e)
{
	char err[PERR_MAX];
	int rc;

	err[0] = '\0';
	rc = wsync_once(w, &w->fd_now, err, sizeof err);
	pthread_mutex_lock(&w->mu);
	if (rc != 0 && w->err[0] == '\0')
		snprintf(w->err, sizeof w->err, "%s", err);
	if (w->err[0] != '\0')
		rc = perr_set(e, "%s", w->err);
	else if (gen > w->done)
		w->done = gen;
	pthread_mutex_unlock(&w->mu);
	return rc;
}

int wsync_done(struct wsync *w, uint64_t *done, struct perr *e)
{
	int rc = 0;

	pthread_mutex_lock(&w->mu);
	*done = w->done;
	if (w->err[0] != '\0')
		rc = perr_set(e, "%s", w->err);
	pthread_mutex_unlock(&w->mu);
	return rc;
}

void wsync_stop(struct wsync *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	if (w->fd >= 0)
		close(w->fd);
	if (w->fd_now >= 0)
		close(w->fd_now);
	free(w);
}
