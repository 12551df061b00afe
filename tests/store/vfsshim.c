/*
 * vfsshim.c — an SQLite VFS that watches writes and syncs (see vfsshim.h).
 *
 * A watched file's state is the pair (image, pending): image is the content
 * the disk is known to hold because it was synced, pending the writes and
 * truncations issued since, in order.  xSync folds pending into image.  A
 * power cut keeps image and any subset of pending; SQLite promises that
 * with synchronous=FULL every transaction that returned is in image.
 */
#include "vfsshim.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "storetest.h"

struct svfs_pending {
	struct svfs_pending *next;
	int truncate;
	sqlite3_int64 off;          /* truncate: the new size */
	size_t len;
	uint8_t *data;
};

struct svfs_shadow {
	char *path;                 /* NULL: nothing watched */
	int exists;
	uint8_t *img;               /* content as of the last sync */
	size_t len, cap;
	struct svfs_pending *head, **tail;
	struct svfs_stats st;
};

struct svfs_file {
	sqlite3_file base;
	sqlite3_file *real;         /* the unix VFS's file, right after this */
	int kind;                   /* enum svfs_kind, or -1: not watched */
};

static sqlite3_vfs *svfs_real;
static sqlite3_vfs svfs_vfs;
static struct svfs_shadow svfs_sh[SVFS_NKINDS];
static uint64_t svfs_opno;
static void (*svfs_hook)(void *, enum svfs_kind, enum svfs_op, uint64_t);
static void *svfs_hook_ctx;

/* ---- the model of the disk ---- */

static int svfs_buf_write(uint8_t **buf, size_t *len, size_t *cap,
			  sqlite3_int64 off, const uint8_t *data, size_t n)
{
	size_t end = (size_t)off + n;

	if (n == 0)
		return 0;
	if (end > *cap) {
		size_t c = *cap ? *cap : 65536;
		uint8_t *nb;
		while (c < end)
			c *= 2;
		nb = realloc(*buf, c);
		if (nb == NULL)
			return -1;
		*buf = nb;
		*cap = c;
	}
	if ((size_t)off > *len)
		memset(*buf + *len, 0, (size_t)off - *len);
	memcpy(*buf + off, data, n);
	if (end > *len)
		*len = end;
	return 0;
}

static int svfs_buf_apply(uint8_t **buf, size_t *len, size_t *cap,
			  const struct svfs_pending *p)
{
	if (!p->truncate)
		return svfs_buf_write(buf, len, cap, p->off, p->data, p->len);
	if ((size_t)p->off < *len) {
		*len = (size_t)p->off;
	} else if ((size_t)p->off > *len) {
		/* Extending truncation: zeros. */
		size_t grow = (size_t)p->off - *len;
		uint8_t *z = calloc(1, grow);
		int rc;
		if (z == NULL)
			return -1;
		rc = svfs_buf_write(buf, len, cap, (sqlite3_int64)*len, z, grow);
		free(z);
		return rc;
	}
	return 0;
}

static void svfs_drop_pending(struct svfs_shadow *sh)
{
	while (sh->head != NULL) {
		struct svfs_pending *p = sh->head;
		sh->head = p->next;
		free(p->data);
		free(p);
	}
	sh->tail = &sh->head;
}

static void svfs_forget(struct svfs_shadow *sh)
{
	svfs_drop_pending(sh);
	free(sh->path);
	free(sh->img);
	memset(sh, 0, sizeof *sh);
	sh->tail = &sh->head;
}

static int svfs_add_pending(struct svfs_shadow *sh, int truncate,
			    sqlite3_int64 off, const void *data, size_t len)
{
	struct svfs_pending *p = calloc(1, sizeof *p);

	if (p == NULL)
		return -1;
	p->truncate = truncate;
	p->off = off;
	p->len = len;
	if (len > 0) {
		p->data = malloc(len);
		if (p->data == NULL) {
			free(p);
			return -1;
		}
		memcpy(p->data, data, len);
	}
	*sh->tail = p;
	sh->tail = &p->next;
	return 0;
}

static int svfs_fold_pending(struct svfs_shadow *sh)
{
	const struct svfs_pending *p;

	for (p = sh->head; p != NULL; p = p->next)
		if (svfs_buf_apply(&sh->img, &sh->len, &sh->cap, p) != 0)
			return -1;
	svfs_drop_pending(sh);
	return 0;
}

/* Starts watching a file just opened: what it holds now is taken as
 * synced (it was there before this process touched it). */
static int svfs_watch(struct svfs_shadow *sh, const char *path,
		      sqlite3_file *real)
{
	sqlite3_int64 size = 0, off;

	svfs_forget(sh);
	sh->path = strdup(path);
	if (sh->path == NULL)
		return SQLITE_NOMEM;
	sh->exists = 1;
	if (real->pMethods->xFileSize(real, &size) != SQLITE_OK)
		return SQLITE_IOERR;
	for (off = 0; off < size;) {
		uint8_t chunk[65536];
		int n = size - off > (sqlite3_int64)sizeof chunk ? (int)sizeof chunk
								: (int)(size - off);
		if (real->pMethods->xRead(real, chunk, n, off) != SQLITE_OK ||
		    svfs_buf_write(&sh->img, &sh->len, &sh->cap, off, chunk,
				   (size_t)n) != 0)
			return SQLITE_IOERR;
		off += n;
	}
	return SQLITE_OK;
}

static void svfs_before(int kind, enum svfs_op op)
{
	svfs_opno++;
	if (svfs_hook != NULL)
		svfs_hook(svfs_hook_ctx, (enum svfs_kind)kind, op, svfs_opno);
}

/* ---- sqlite3_io_methods ---- */

static int svfs_close(sqlite3_file *f)
{
	struct svfs_file *p = (struct svfs_file *)f;

	return p->real->pMethods->xClose(p->real);
}

static int svfs_read(sqlite3_file *f, void *buf, int amt, sqlite3_int64 off)
{
	struct svfs_file *p = (struct svfs_file *)f;

	if (p->kind >= 0)
		svfs_sh[p->kind].st.reads++;
	return p->real->pMethods->xRead(p->real, buf, amt, off);
}

static int svfs_write(sqlite3_file *f, const void *buf, int amt,
		      sqlite3_int64 off)
{
	struct svfs_file *p = (struct svfs_file *)f;
	int rc;

	if (p->kind >= 0)
		svfs_before(p->kind, SVFS_OP_WRITE);
	rc = p->real->pMethods->xWrite(p->real, buf, amt, off);
	if (p->kind >= 0) {
		struct svfs_shadow *sh = &svfs_sh[p->kind];
		sh->st.writes++;
		sh->st.bytes_written += (uint64_t)amt;
		sh->st.dirty = 1;
		/* Whether or not the write succeeded, some of it may be on
		 * the disk: it is pending either way. */
		if (svfs_add_pending(sh, 0, off, buf, (size_t)amt) != 0)
			return SQLITE_NOMEM;
	}
	return rc;
}

static int svfs_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	struct svfs_file *p = (struct svfs_file *)f;

	if (p->kind >= 0) {
		struct svfs_shadow *sh = &svfs_sh[p->kind];
		svfs_before(p->kind, SVFS_OP_TRUNCATE);
		sh->st.truncates++;
		sh->st.dirty = 1;
		if (svfs_add_pending(sh, 1, size, NULL, 0) != 0)
			return SQLITE_NOMEM;
	}
	return p->real->pMethods->xTruncate(p->real, size);
}

static int svfs_sync(sqlite3_file *f, int flags)
{
	struct svfs_file *p = (struct svfs_file *)f;
	int rc;

	if (p->kind >= 0)
		svfs_before(p->kind, SVFS_OP_SYNC);
	rc = p->real->pMethods->xSync(p->real, flags);
	if (p->kind >= 0 && rc == SQLITE_OK) {
		struct svfs_shadow *sh = &svfs_sh[p->kind];
		sh->st.syncs++;
		sh->st.dirty = 0;
		if (svfs_fold_pending(sh) != 0)
			return SQLITE_NOMEM;
	}
	return rc;
}

static int svfs_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
	struct svfs_file *p = (struct svfs_file *)f;

	return p->real->pMethods->xFileSize(p->real, size);
}

static int svfs_lock(sqlite3_file *f, int level)
{
	struct svfs_file *p = (struct svfs_file *)f;

	return p->real->pMethods->xLock(p->real, level);
}

static int svfs_unlock(sqlite3_file *f, int level)
{
	struct svfs_file *p = (struct svfs_file *)f;

	return p->real->pMethods->xUnlock(p->real, level);
}

static int svfs_check_lock(sqlite3_file *f, int *out)
{
	struct svfs_file *p = (struct svfs_file *)f;

	return p->real->pMethods->xCheckReservedLock(p->real, out);
}

static int svfs_file_control(sqlite3_file *f, int op, void *arg)
{
	struct svfs_file *p = (struct svfs_file *)f;

	return p->real->pMethods->xFileControl(p->real, op, arg);
}

static int svfs_sector_size(sqlite3_file *f)
{
	struct svfs_file *p = (struct svfs_file *)f;

	return p->real->pMethods->xSectorSize(p->real);
}

static int svfs_device_chars(sqlite3_file *f)
{
	struct svfs_file *p = (struct svfs_file *)f;

	return p->real->pMethods->xDeviceCharacteristics(p->real);
}

static int svfs_shm_map(sqlite3_file *f, int pg, int pgsz, int extend,
			void volatile **pp)
{
	struct svfs_file *p = (struct svfs_file *)f;

	return p->real->pMethods->xShmMap(p->real, pg, pgsz, extend, pp);
}

static int svfs_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
	struct svfs_file *p = (struct svfs_file *)f;

	return p->real->pMethods->xShmLock(p->real, off, n, flags);
}

static void svfs_shm_barrier(sqlite3_file *f)
{
	struct svfs_file *p = (struct svfs_file *)f;

	p->real->pMethods->xShmBarrier(p->real);
}

static int svfs_shm_unmap(sqlite3_file *f, int del)
{
	struct svfs_file *p = (struct svfs_file *)f;

	return p->real->pMethods->xShmUnmap(p->real, del);
}

/* Version 2: no xFetch, so every page SQLite reads goes through xRead
 * (counted) and none is written behind the shim's back. */
static const sqlite3_io_methods svfs_io = {
	2, svfs_close, svfs_read, svfs_write, svfs_truncate, svfs_sync,
	svfs_file_size, svfs_lock, svfs_unlock, svfs_check_lock,
	svfs_file_control, svfs_sector_size, svfs_device_chars,
	svfs_shm_map, svfs_shm_lock, svfs_shm_barrier, svfs_shm_unmap,
	NULL, NULL
};

/* ---- sqlite3_vfs ---- */

static int svfs_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f,
		     int flags, int *outflags)
{
	struct svfs_file *p = (struct svfs_file *)f;
	int rc, kind = -1;

	(void)vfs;
	memset(p, 0, sizeof *p);
	p->real = (sqlite3_file *)(p + 1);
	rc = svfs_real->xOpen(svfs_real, name, p->real, flags, outflags);
	if (rc != SQLITE_OK) {
		p->base.pMethods = NULL;
		return rc;
	}
	p->base.pMethods = &svfs_io;
	if (name != NULL && (flags & SQLITE_OPEN_MAIN_DB))
		kind = SVFS_DB;
	else if (name != NULL && (flags & SQLITE_OPEN_WAL))
		kind = SVFS_WAL;
	p->kind = kind;
	if (kind >= 0) {
		struct svfs_shadow *sh = &svfs_sh[kind];
		/* A different database: forget the old one's WAL too. */
		if (kind == SVFS_DB && (sh->path == NULL || strcmp(sh->path, name) != 0))
			svfs_forget(&svfs_sh[SVFS_WAL]);
		if (sh->path == NULL || strcmp(sh->path, name) != 0 || !sh->exists) {
			struct svfs_stats keep = sh->st;
			rc = svfs_watch(sh, name, p->real);
			sh->st = keep;
			if (rc != SQLITE_OK) {
				p->real->pMethods->xClose(p->real);
				p->base.pMethods = NULL;
				return rc;
			}
		}
	}
	return SQLITE_OK;
}

static int svfs_delete(sqlite3_vfs *vfs, const char *name, int syncdir)
{
	int k;

	(void)vfs;
	for (k = 0; k < SVFS_NKINDS; k++) {
		struct svfs_shadow *sh = &svfs_sh[k];
		if (sh->path != NULL && strcmp(sh->path, name) == 0) {
			/* Unlinking is taken as durable at once: a file that
			 * SQLite deletes holds nothing it still needs. */
			svfs_drop_pending(sh);
			sh->exists = 0;
			sh->len = 0;
		}
	}
	return svfs_real->xDelete(svfs_real, name, syncdir);
}

static int svfs_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
	(void)vfs;
	return svfs_real->xAccess(svfs_real, name, flags, out);
}

static int svfs_full_pathname(sqlite3_vfs *vfs, const char *name, int n,
			      char *out)
{
	(void)vfs;
	return svfs_real->xFullPathname(svfs_real, name, n, out);
}

static void *svfs_dlopen(sqlite3_vfs *vfs, const char *name)
{
	(void)vfs;
	return svfs_real->xDlOpen(svfs_real, name);
}

static void svfs_dlerror(sqlite3_vfs *vfs, int n, char *msg)
{
	(void)vfs;
	svfs_real->xDlError(svfs_real, n, msg);
}

static void (*svfs_dlsym(sqlite3_vfs *vfs, void *h, const char *sym))(void)
{
	(void)vfs;
	return svfs_real->xDlSym(svfs_real, h, sym);
}

static void svfs_dlclose(sqlite3_vfs *vfs, void *h)
{
	(void)vfs;
	svfs_real->xDlClose(svfs_real, h);
}

static int svfs_randomness(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	return svfs_real->xRandomness(svfs_real, n, out);
}

static int svfs_sleep(sqlite3_vfs *vfs, int us)
{
	(void)vfs;
	return svfs_real->xSleep(svfs_real, us);
}

static int svfs_current_time(sqlite3_vfs *vfs, double *t)
{
	(void)vfs;
	return svfs_real->xCurrentTime(svfs_real, t);
}

static int svfs_last_error(sqlite3_vfs *vfs, int n, char *msg)
{
	(void)vfs;
	return svfs_real->xGetLastError(svfs_real, n, msg);
}

static int svfs_current_time64(sqlite3_vfs *vfs, sqlite3_int64 *t)
{
	(void)vfs;
	return svfs_real->xCurrentTimeInt64(svfs_real, t);
}

int svfs_register(void)
{
	if (svfs_real != NULL)
		return SQLITE_OK;
	svfs_real = sqlite3_vfs_find("unix");
	if (svfs_real == NULL)
		return SQLITE_ERROR;
	memset(&svfs_vfs, 0, sizeof svfs_vfs);
	svfs_vfs.iVersion = 2;
	svfs_vfs.szOsFile = (int)sizeof(struct svfs_file) + svfs_real->szOsFile;
	svfs_vfs.mxPathname = svfs_real->mxPathname;
	svfs_vfs.zName = SVFS_NAME;
	svfs_vfs.xOpen = svfs_open;
	svfs_vfs.xDelete = svfs_delete;
	svfs_vfs.xAccess = svfs_access;
	svfs_vfs.xFullPathname = svfs_full_pathname;
	svfs_vfs.xDlOpen = svfs_dlopen;
	svfs_vfs.xDlError = svfs_dlerror;
	svfs_vfs.xDlSym = svfs_dlsym;
	svfs_vfs.xDlClose = svfs_dlclose;
	svfs_vfs.xRandomness = svfs_randomness;
	svfs_vfs.xSleep = svfs_sleep;
	svfs_vfs.xCurrentTime = svfs_current_time;
	svfs_vfs.xGetLastError = svfs_last_error;
	svfs_vfs.xCurrentTimeInt64 = svfs_current_time64;
	svfs_reset();
	return sqlite3_vfs_register(&svfs_vfs, 0);
}

void svfs_reset(void)
{
	int k;

	for (k = 0; k < SVFS_NKINDS; k++)
		svfs_forget(&svfs_sh[k]);
	svfs_opno = 0;
	svfs_hook = NULL;
	svfs_hook_ctx = NULL;
}

struct svfs_stats svfs_stats(enum svfs_kind kind)
{
	return svfs_sh[kind].st;
}

uint64_t svfs_ops(void)
{
	return svfs_opno;
}

void svfs_set_hook(void (*fn)(void *ctx, enum svfs_kind kind,
			      enum svfs_op op, uint64_t opno),
		   void *ctx)
{
	svfs_hook = fn;
	svfs_hook_ctx = ctx;
}

static int svfs_write_file(const char *path, const uint8_t *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	size_t off = 0;

	if (fd < 0)
		return -1;
	while (off < len) {
		ssize_t w = write(fd, buf + off, len - off);
		if (w <= 0) {
			close(fd);
			return -1;
		}
		off += (size_t)w;
	}
	return close(fd);
}

int svfs_write_image(const char *dir, enum svfs_keep keep, uint64_t *rng)
{
	int k;

	for (k = 0; k < SVFS_NKINDS; k++) {
		const struct svfs_shadow *sh = &svfs_sh[k];
		const struct svfs_pending *p;
		const char *base;
		uint8_t *buf = NULL;
		size_t len = 0, cap = 0;
		char *out;
		int rc;

		if (sh->path == NULL || !sh->exists)
			continue;
		base = strrchr(sh->path, '/');
		base = base ? base + 1 : sh->path;
		if (sh->len > 0 && svfs_buf_write(&buf, &len, &cap, 0, sh->img, sh->len) != 0)
			return -1;
		for (p = sh->head; keep != SVFS_KEEP_SYNCED && p != NULL; p = p->next)
			if ((keep == SVFS_KEEP_ALL || (stt_rand(rng) & 1)) &&
			    svfs_buf_apply(&buf, &len, &cap, p) != 0) {
				free(buf);
				return -1;
			}
		out = stt_join(dir, base);
		rc = svfs_write_file(out, buf, len);
		free(out);
		free(buf);
		if (rc != 0)
			return -1;
	}
	return 0;
}
