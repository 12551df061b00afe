/*
 * file.c — bounded whole-file reads and synced writes (see file.h).
 */
#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int file_read(const char *path, size_t max, int nofollow, char **bufp,
	      size_t *lenp, struct perr *e)
{
	int fd = strcmp(path, "-") == 0 ? 0 : open(path, O_RDONLY | O_CLOEXEC |
						  (nofollow ? O_NOFOLLOW : 0));
	size_t cap = 4096, len = 0;
	char *buf;

	*bufp = NULL;
	if (fd < 0)
		return perr_set(e, "%s: %s", path, strerror(errno));
	buf = malloc(cap);
	if (buf == NULL)
		goto oom;
	for (;;) {
		ssize_t r;
		if (len + 1 >= cap) {
			char *nb;
			if (cap > max + 1) {
				free(buf);
				if (fd != 0)
					close(fd);
				return perr_set(e, "%s: larger than the %zu-byte limit",
						strcmp(path, "-") == 0 ? "standard input" : path, max);
			}
			cap *= 2;
			nb = realloc(buf, cap);
			if (nb == NULL)
				goto oom;
			buf = nb;
		}
		r = read(fd, buf + len, cap - len - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			perr_set(e, "%s: %s", path, strerror(errno));
			free(buf);
			if (fd != 0)
				close(fd);
			return -1;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (fd != 0)
		close(fd);
	if (len > max) {
		free(buf);
		return perr_set(e, "%s: %zu bytes, larger than the %zu-byte limit",
				strcmp(path, "-") == 0 ? "standard input" : path, len, max);
	}
	buf[len] = '\0';
	*bufp = buf;
	*lenp = len;
	return 0;
oom:
	free(buf);
	if (fd > 0)
		close(fd);
	return perr_set(e, "out of memory");
}

int file_write(const char *path, const void *buf, size_t len, int mode,
	       int exclusive, struct perr *e)
{
	int flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW |
		    (exclusive ? O_EXCL : O_TRUNC);
	int fd = open(path, flags, mode);
	const char *p = buf;

	if (fd < 0)
		return perr_set(e, "%s: %s", path,
				errno == EEXIST ? "already exists; refusing to overwrite"
						: strerror(errno));
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			perr_set(e, "%s: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	if (fsync(fd) != 0 || close(fd) != 0)
		return perr_set(e, "%s: %s", path, strerror(errno));
	return 0;
}

int file_mkdirs_for(const char *path, struct perr *e)
{
	char tmp[4200];
	size_t i, n = strlen(path);

	if (n >= sizeof tmp)
		return perr_set(e, "%s: path too long", path);
	memcpy(tmp, path, n + 1);
	for (i = 1; i < n; i++) {
		if (tmp[i] != '/')
			continue;
		tmp[i] = '\0';
		if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
			return perr_set(e, "%s: %s", tmp, strerror(errno));
		tmp[i] = '/';
	}
	return 0;
}
