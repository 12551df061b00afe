/*
 * pace.c — see pace.h.
 */
#define _GNU_SOURCE /* sync_file_range */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "pace.h"

struct pace_file {
	sqlite3_file base;
	sqlite3_file *real;      /* the default VFS's file, right after this */
	int fd;                  /* pace_fd's, -1: not paced */
	sqlite3_int64 unsent;    /* bytes written since the last push or sync */
};

/* Descriptors for sync_file_range, one per database file, never closed
 * while the process runs: closing any descriptor of a file drops every
 * POSIX lock the process holds on it, SQLite's own included (its unix VFS
 * keeps its descriptors open for that reason).  While we hold one, the
 * file's inode cannot be freed, so its number names this file alone.  A
 * slot whose file was deleted since is taken over: nobody can open or
 * lock that file any more.  Tests open many databases in one process;
 * beyond PACE_FDS live ones a file is simply not paced. */
#define PACE_FDS 32

static struct {
	dev_t dev;
	ino_t ino;
	int fd;
} pace_fds[PACE_FDS];
static int pace_nfds;
static pthread_mutex_t pace_mu = PTHREAD_MUTEX_INITIALIZER;
static sqlite3_vfs *pace_root;
static sqlite3_vfs pace_vfs;
static struct pace_stats pace_st;         /* under pace_mu, but bytes: */
static atomic_uint_least64_t pace_bytes;

static int pace_fd(const char *path)
{
	struct stat st;
	int fd = -1, i, slot = -1;

	pthread_mutex_lock(&pace_mu);
	if (stat(path, &st) == 0)
		for (i = 0; i < pace_nfds; i++)
			if (pace_fds[i].dev == st.st_dev && pace_fds[i].ino == st.st_ino) {
				fd = pace_fds[i].fd;
				goto out;
			}
	for (i = 0; i < pace_nfds && slot < 0; i++) {
		struct stat old;
		if (fstat(pace_fds[i].fd, &old) == 0 && old.st_nlink == 0)
			slot = i;
	}
	if (slot < 0 && pace_nfds == PACE_FDS)
		goto out;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		goto out;
	if (fstat(fd, &st) != 0)
		memset(&st, 0, sizeof st); /* kept all the same, never matched */
	if (slot < 0)
		slot = pace_nfds++;
	else
		close(pace_fds[slot].fd); /* a deleted file's: see above */
	pace_fds[slot].dev = st.st_dev;
	pace_fds[slot].ino = st.st_ino;
	pace_fds[slot].fd = fd;
out:
	if (fd < 0)
		pace_st.unpaced++;
	pthread_mutex_unlock(&pace_mu);
	return fd;
}

/* Sends what was written to the disk and waits until it is there (in the
 * disk's hands, not yet synced).  The whole file: SQLite writes pages all
 * over it, and the kernel walks only the dirty ones. */
static void pace_push(struct pace_file *p)
{
	int rc = sync_file_range(p->fd, 0, 0, SYNC_FILE_RANGE_WAIT_BEFORE |
				 SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);

	pthread_mutex_lock(&pace_mu);
	pace_st.pushes++;
	if (rc != 0)
		pace_st.push_errors++;
	if ((uint64_t)p->unsent > pace_st.max_unsent)
		pace_st.max_unsent = (uint64_t)p->unsent;
	pthread_mutex_unlock(&pace_mu);
	p->unsent = 0;
}

/* ---- sqlite3_io_methods: forwarded, but for xWrite and xSync ---- */

#define PACE_REAL(f) (((struct pace_file *)(f))->real)

static int pace_close(sqlite3_file *f)
{
	return PACE_REAL(f)->pMethods->xClose(PACE_REAL(f));
}

static int pace_read(sqlite3_file *f, void *buf, int amt, sqlite3_int64 off)
{
	return PACE_REAL(f)->pMethods->xRead(PACE_REAL(f), buf, amt, off);
}

static int pace_write(sqlite3_file *f, const void *buf, int amt, sqlite3_int64 off)
{
	struct pace_file *p = (struct pace_file *)f;
	int rc = p->real->pMethods->xWrite(p->real, buf, amt, off);

	if (rc == SQLITE_OK && p->fd >= 0) {
		atomic_fetch_add(&pace_bytes, (uint64_t)amt);
		p->unsent += amt;
		if (p->unsent >= PACE_BYTES)
			pace_push(p);
	}
	return rc;
}

static int pace_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	return PACE_REAL(f)->pMethods->xTruncate(PACE_REAL(f), size);
}

static int pace_sync(sqlite3_file *f, int flags)
{
	struct pace_file *p = (struct pace_file *)f;
	int rc = p->real->pMethods->xSync(p->real, flags);

	if (rc == SQLITE_OK)
		p->unsent = 0;
	return rc;
}

static int pace_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
	return PACE_REAL(f)->pMethods->xFileSize(PACE_REAL(f), size);
}

static int pace_lock(sqlite3_file *f, int level)
{
	return PACE_REAL(f)->pMethods->xLock(PACE_REAL(f), level);
}

static int pace_unlock(sqlite3_file *f, int level)
{
	return PACE_REAL(f)->pMethods->xUnlock(PACE_REAL(f), level);
}

static int pace_check_lock(sqlite3_file *f, int *out)
{
	return PACE_REAL(f)->pMethods->xCheckReservedLock(PACE_REAL(f), out);
}

static int pace_file_control(sqlite3_file *f, int op, void *arg)
{
	return PACE_REAL(f)->pMethods->xFileControl(PACE_REAL(f), op, arg);
}

static int pace_sector_size(sqlite3_file *f)
{
	return PACE_REAL(f)->pMethods->xSectorSize(PACE_REAL(f));
}

static int pace_device_chars(sqlite3_file *f)
{
	return PACE_REAL(f)->pMethods->xDeviceCharacteristics(PACE_REAL(f));
}

static int pace_shm_map(sqlite3_file *f, int pg, int pgsz, int extend,
			void volatile **pp)
{
	return PACE_REAL(f)->pMethods->xShmMap(PACE_REAL(f), pg, pgsz, extend, pp);
}

static int pace_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
	return PACE_REAL(f)->pMethods->xShmLock(PACE_REAL(f), off, n, flags);
}

static void pace_shm_barrier(sqlite3_file *f)
{
	PACE_REAL(f)->pMethods->xShmBarrier(PACE_REAL(f));
}

static int pace_shm_unmap(sqlite3_file *f, int del)
{
	return PACE_REAL(f)->pMethods->xShmUnmap(PACE_REAL(f), del);
}

/* Version 2, without xFetch: a memory-mapped write would pass by
 * pace_write.  The checkpointer reads the WAL and writes the database;
 * it has no use for the map. */
static const sqlite3_io_methods pace_io = {
	2, pace_close, pace_read, pace_write, pace_truncate, pace_sync,
	pace_file_size, pace_lock, pace_unlock, pace_check_lock,
	pace_file_control, pace_sector_size, pace_device_chars,
	pace_shm_map, pace_shm_lock, pace_shm_barrier, pace_shm_unmap,
	NULL, NULL
};

/* ---- sqlite3_vfs: forwarded, but for xOpen ---- */

/* Only the main database file is paced: the checkpointer writes nothing
 * else, and the WAL's syncs are the node's own, made when it needs them. */
static int pace_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f,
		     int flags, int *outflags)
{
	struct pace_file *p = (struct pace_file *)f;
	int rc;

	(void)vfs;
	memset(p, 0, sizeof *p);
	p->real = (sqlite3_file *)(p + 1);
	p->fd = -1;
	rc = pace_root->xOpen(pace_root, name, p->real, flags, outflags);
	if (rc != SQLITE_OK) {
		p->base.pMethods = NULL;
		return rc;
	}
	if (name != NULL && (flags & SQLITE_OPEN_MAIN_DB))
		p->fd = pace_fd(name);
	p->base.pMethods = &pace_io;
	return SQLITE_OK;
}

static int pace_delete(sqlite3_vfs *vfs, const char *name, int syncdir)
{
	(void)vfs;
	return pace_root->xDelete(pace_root, name, syncdir);
}

static int pace_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
	(void)vfs;
	return pace_root->xAccess(pace_root, name, flags, out);
}

static int pace_full_pathname(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
	(void)vfs;
	return pace_root->xFullPathname(pace_root, name, n, out);
}

static void *pace_dlopen(sqlite3_vfs *vfs, const char *name)
{
	(void)vfs;
	return pace_root->xDlOpen(pace_root, name);
}

static void pace_dlerror(sqlite3_vfs *vfs, int n, char *msg)
{
	(void)vfs;
	pace_root->xDlError(pace_root, n, msg);
}

static void (*pace_dlsym(sqlite3_vfs *vfs, void *h, const char *sym))(void)
{
	(void)vfs;
	return pace_root->xDlSym(pace_root, h, sym);
}

static void pace_dlclose(sqlite3_vfs *vfs, void *h)
{
	(void)vfs;
	pace_root->xDlClose(pace_root, h);
}

static int pace_randomness(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	return pace_root->xRandomness(pace_root, n, out);
}

static int pace_sleep(sqlite3_vfs *vfs, int us)
{
	(void)vfs;
	return pace_root->xSleep(pace_root, us);
}

static int pace_current_time(sqlite3_vfs *vfs, double *t)
{
	(void)vfs;
	return pace_root->xCurrentTime(pace_root, t);
}

static int pace_last_error(sqlite3_vfs *vfs, int n, char *msg)
{
	(void)vfs;
	return pace_root->xGetLastError(pace_root, n, msg);
}

static int pace_current_time64(sqlite3_vfs *vfs, sqlite3_int64 *t)
{
	(void)vfs;
	return pace_root->xCurrentTimeInt64(pace_root, t);
}

int pace_register(struct perr *e)
{
	int rc = SQLITE_OK;

	pthread_mutex_lock(&pace_mu);
	if (pace_root == NULL) {
		sqlite3_vfs *root = sqlite3_vfs_find(NULL);
		if (root == NULL || root->iVersion < 2) {
			pthread_mutex_unlock(&pace_mu);
			return perr_set(e, "no default SQLite VFS to pace");
		}
		memset(&pace_vfs, 0, sizeof pace_vfs);
		pace_vfs.iVersion = 2;
		pace_vfs.szOsFile = (int)sizeof(struct pace_file) + root->szOsFile;
		pace_vfs.mxPathname = root->mxPathname;
		pace_vfs.zName = PACE_VFS;
		pace_vfs.xOpen = pace_open;
		pace_vfs.xDelete = pace_delete;
		pace_vfs.xAccess = pace_access;
		pace_vfs.xFullPathname = pace_full_pathname;
		pace_vfs.xDlOpen = pace_dlopen;
		pace_vfs.xDlError = pace_dlerror;
		pace_vfs.xDlSym = pace_dlsym;
		pace_vfs.xDlClose = pace_dlclose;
		pace_vfs.xRandomness = pace_randomness;
		pace_vfs.xSleep = pace_sleep;
		pace_vfs.xCurrentTime = pace_current_time;
		pace_vfs.xGetLastError = pace_last_error;
		pace_vfs.xCurrentTimeInt64 = pace_current_time64;
		pace_root = root;
		rc = sqlite3_vfs_register(&pace_vfs, 0);
		if (rc != SQLITE_OK)
			pace_root = NULL;
	}
	pthread_mutex_unlock(&pace_mu);
	if (rc != SQLITE_OK)
		return perr_set(e, "cannot register the paced SQLite VFS: %s", sqlite3_errstr(rc));
	return 0;
}

void pace_stats(struct pace_stats *out)
{
	pthread_mutex_lock(&pace_mu);
	*out = pace_st;
	pthread_mutex_unlock(&pace_mu);
	out->bytes = atomic_load(&pace_bytes);
}
