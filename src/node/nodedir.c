/*
 * nodedir.c — creating and reading a node's directory (see nodedir.h).
 */
#include "nodedir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <dirent.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sqlite3.h>

#include "file.h"
#include "store.h"
#include "tls.h"

#define NODEDIR_CONF_MAX 16384

int nodedir_path(char *buf, size_t cap, const char *dir, const char *file,
		 struct perr *e)
{
	int w = snprintf(buf, cap, "%s/%s", dir, file);

	if (w < 0 || (size_t)w >= cap)
		return perr_set(e, "%s: path too long", dir);
	return 0;
}



/* DIR/file, created (never overwritten) with mode, synced. */
static int nodedir_write(const char *dir, const char *file, const char *text,
			 int mode, struct perr *e)
{
	char path[4096];

	if (nodedir_path(path, sizeof path, dir, file, e) != 0)
		return -1;
	return file_write(path, text, strlen(text), mode, 1, e);
}

/* DIR/file, at most NODEDIR_CONF_MAX bytes, not through a symbolic link. */
static int nodedir_read(const char *dir, const char *file, char **buf,
			size_t *len, struct perr *e)
{
	char path[4096];

	if (nodedir_path(path, sizeof path, dir, file, e) != 0)
		return -1;
	return file_read(path, NODEDIR_CONF_MAX, 1, buf, len, e);
}

static int nodedir_token(const char *dir, const char *file, struct perr *e)
{
	uint8_t raw[32];
	char hex[2 * sizeof raw + 2];
	size_t i;
	int rc;

	if (RAND_priv_bytes(raw, sizeof raw) != 1)
		return perr_set(e, "random number generator failed");
	for (i = 0; i < sizeof raw; i++)
		snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	strcat(hex, "\n");
	rc = nodedir_write(dir, file, hex, 0600, e);
	OPENSSL_cleanse(raw, sizeof raw);
	OPENSSL_cleanse(hex, sizeof hex);
	return rc;
}

static int nodedir_signer(const char *dir, const char *file, const char *name,
			  uint8_t alg, struct note_signer *out, struct perr *e)
{
	struct note_signer s;
	char text[NOTE_KEY_TEXT_MAX + 2];
	int rc;

	if (note_keygen(&s, name, alg, e) != 0)
		return -1;
	note_signer_format(&s, text, sizeof text - 1);
	strcat(text, "\n");
	rc = nodedir_write(dir, file, text, 0600, e);
	OPENSSL_cleanse(text, sizeof text);
	if (out != NULL && rc == 0)
		*out = s;
	note_signer_wipe(&s);
	return rc;
}

static int nodedir_load_signer(const char *dir, const char *file,
			       struct note_signer *s, struct perr *e)
{
	char *buf;
	size_t len;
	int rc;

	if (nodedir_read(dir, file, &buf, &len, e) != 0)
		return -1;
	rc = note_signer_parse(s, buf, len, e);
	OPENSSL_cleanse(buf, len);
	free(buf);
	if (rc != 0)
		return perr_wrap(e, "%s/%s", dir, file);
	return 0;
}

static int nodedir_conf_text(const struct node_conf *c, char *buf, size_t cap)
{
	size_t off = 0, i;
	int w;

#define NODEDIR_PUT(...)                                                   \
	do {                                                               \
		w = snprintf(buf + off, cap - off, __VA_ARGS__);           \
		if (w < 0 || (size_t)w >= cap - off)                       \
			return -1;                                         \
		off += (size_t)w;                                          \
	} while (0)
	NODEDIR_PUT("# parley node configuration (see parley help)\n");
	NODEDIR_PUT("name %s\n", c->name);
	for (i = 0; i < c->nlisten; i++)
		NODEDIR_PUT("listen %s\n", c->listen[i]);
	for (i = 0; i < c->nadvertise; i++)
		NODEDIR_PUT("advertise %s\n", c->advertise[i]);
	NODEDIR_PUT("api %s\n", c->api);
	NODEDIR_PUT("test-interval %u\n", c->test_interval);
	NODEDIR_PUT("receipt-deadlines %u %u %u %u\n", c->receipt_deadline[0],
		    c->receipt_deadline[1], c->receipt_deadline[2], c->receipt_deadline[3]);
	NODEDIR_PUT("ack-deadlines %u %u %u %u\n", c->ack_deadline[0],
		    c->ack_deadline[1], c->ack_deadline[2], c->ack_deadline[3]);
	NODEDIR_PUT("skew-tolerance %u\n", c->skew_tolerance);
	if (c->max_db_bytes)
		NODEDIR_PUT("max-db-bytes %llu\n", c->max_db_bytes);
#undef NODEDIR_PUT
	return 0;
}

static int nodedir_conf_check(const struct node_conf *c, struct perr *e)
{
	size_t i;

	if (!card_name_valid(c->name))
		return perr_set(e, "node name \"%.64s\" must be 1-255 letters, digits, "
				"'.', '-' or '_'", c->name);
	if (c->nlisten == 0 || c->nlisten > NODE_MAX_PATHS)
		return perr_set(e, "a node needs 1 to %d --listen addresses", NODE_MAX_PATHS);
	for (i = 0; i < c->nlisten; i++)
		if (!card_addr_valid(c->listen[i]))
			return perr_set(e, "listen address \"%.64s\" is not HOST:PORT", c->listen[i]);
	for (i = 0; i < c->nadvertise; i++)
		if (!card_addr_valid(c->advertise[i]))
			return perr_set(e, "advertised address \"%.64s\" is not HOST:PORT",
					c->advertise[i]);
	if (!card_addr_valid(c->api))
		return perr_set(e, "API address \"%.64s\" is not HOST:PORT", c->api);
	if (c->test_interval == 0)
		return perr_set(e, "test-interval must be at least 1 second");
	return 0;
}

int nodedir_init(const char *dir, const struct node_conf *conf, struct perr *e)
{
	char path[4096], text[NODEDIR_CONF_MAX];
	struct store *s = NULL;
	DIR *d;

	if (nodedir_conf_check(conf, e) != 0)
		return -1;
	if (mkdir(dir, 0700) != 0) {
		struct dirent *de;
		int empty = 1;
		if (errno != EEXIST)
			return perr_set(e, "%s: %s", dir, strerror(errno));
		d = opendir(dir);
		if (d == NULL)
			return perr_set(e, "%s: %s", dir, strerror(errno));
		while ((de = readdir(d)) != NULL)
			if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
				empty = 0;
		closedir(d);
		if (!empty)
			return perr_set(e, "%s: exists and is not empty; refusing to "
					"overwrite a node", dir);
		if (chmod(dir, 0700) != 0)
			return perr_set(e, "%s: %s", dir, strerror(errno));
	}
	if (nodedir_conf_text(conf, text, sizeof text) != 0)
		return perr_set(e, "configuration too long");
	if (nodedir_signer(dir, "log.key", conf->name, NOTE_ALG_ED25519, NULL, e) ||
	    nodedir_signer(dir, "cosign.key", conf->name, NOTE_ALG_COSIG, NULL, e))
		return -1;
	if (nodedir_path(path, sizeof path, dir, "tls.key", e) != 0)
		return -1;
	{
		char crt[4096];
		if (nodedir_path(crt, sizeof crt, dir, "tls.crt", e) != 0 ||
		    tls_keygen(path, crt, conf->name, e) != 0)
			return -1;
	}
	if (nodedir_token(dir, "api.token", e) || nodedir_token(dir, "auditor.token", e))
		return -1;
	if (nodedir_path(path, sizeof path, dir, "node.db", e) != 0 ||
	    store_open(&s, path, 1, NULL, e) != 0)
		return -1;
	if (store_meta_set(s, "node-name", conf->name, strlen(conf->name), e) != 0 ||
	    sqlite3_exec(store_sqlite(s),
			 "CREATE TABLE peers(name TEXT PRIMARY KEY, card BLOB NOT NULL,"
			 " addrs TEXT NOT NULL)", NULL, NULL, NULL) != SQLITE_OK) {
		if (e && e->msg[0] == '\0')
			perr_set(e, "cannot create the node's tables");
		store_close(s);
		return perr_set(e, "cannot create the node's tables");
	}
	store_close(s);
	/* The configuration last: a directory with node.conf is complete. */
	return nodedir_write(dir, "node.conf", text, 0644, e);
}

void nodedir_conf_defaults(struct node_conf *c)
{
	/* Receipts are automatic: seconds for FLASH, an hour for ROUTINE.
	 * Acknowledgments are human: minutes for FLASH, a day for ROUTINE. */
	static const unsigned rd[4] = { 30, 120, 600, 3600 };
	static const unsigned ad[4] = { 300, 1800, 3 * 3600, 24 * 3600 };

	memset(c, 0, sizeof *c);
	c->test_interval = 3600;
	memcpy(c->receipt_deadline, rd, sizeof rd);
	memcpy(c->ack_deadline, ad, sizeof ad);
	c->skew_tolerance = 30;
}

int nodedir_load_conf(const char *dir, struct node_conf *c, struct perr *e)
{
	char *buf, *line, *save = NULL;
	size_t len;
	int lineno = 0, rc = 0;

	nodedir_conf_defaults(c);
	if (nodedir_read(dir, "node.conf", &buf, &len, e) != 0)
		return perr_wrap(e, "not a parley node directory");
	for (line = strtok_r(buf, "\n", &save); line != NULL && rc == 0;
	     line = strtok_r(NULL, "\n", &save)) {
		char *sp = strchr(line, ' ');
		lineno++;
		if (line[0] == '#')
			continue;
		if (sp == NULL) {
			rc = perr_set(e, "%s/node.conf: line \"%.40s\" has no value", dir, line);
			break;
		}
		*sp++ = '\0';
		if (strlen(sp) > CARD_ADDR_MAX) {
			rc = perr_set(e, "%s/node.conf: value of %s too long", dir, line);
		} else if (strcmp(line, "name") == 0) {
			if (strlen(sp) >= sizeof c->name)
				rc = perr_set(e, "%s/node.conf: name too long", dir);
			else
				memcpy(c->name, sp, strlen(sp) + 1);
		} else if (strcmp(line, "listen") == 0 && c->nlisten < NODE_MAX_PATHS) {
			strcpy(c->listen[c->nlisten++], sp);
		} else if (strcmp(line, "advertise") == 0 && c->nadvertise < NODE_MAX_PATHS) {
			strcpy(c->advertise[c->nadvertise++], sp);
		} else if (strcmp(line, "api") == 0) {
			strcpy(c->api, sp);
		} else if (strcmp(line, "test-interval") == 0) {
			char *end;
			unsigned long v = strtoul(sp, &end, 10);
			if (*end != '\0' || v == 0 || v > 86400 * 366)
				rc = perr_set(e, "%s/node.conf: test-interval \"%.20s\" is not a "
					      "number of seconds", dir, sp);
			c->test_interval = (unsigned)v;
		} else if (strcmp(line, "receipt-deadlines") == 0 ||
			   strcmp(line, "ack-deadlines") == 0) {
			unsigned *d = line[0] == 'r' ? c->receipt_deadline : c->ack_deadline;
			char *p = sp, *end;
			int k;
			for (k = 0; k < 4 && rc == 0; k++) {
				unsigned long v = strtoul(p, &end, 10);
				if (end == p || v == 0 || v > 86400 * 366 ||
				    (k < 3 && *end != ' ') || (k == 3 && *end != '\0'))
					rc = perr_set(e, "%s/node.conf: %s needs four numbers of "
						      "seconds (FLASH IMMEDIATE PRIORITY ROUTINE)",
						      dir, line);
				d[k] = (unsigned)v;
				p = end + 1;
			}
		} else if (strcmp(line, "skew-tolerance") == 0) {
			char *end;
			unsigned long v = strtoul(sp, &end, 10);
			if (*end != '\0' || end == sp || v > 86400)
				rc = perr_set(e, "%s/node.conf: skew-tolerance \"%.20s\" is not a "
					      "number of seconds", dir, sp);
			c->skew_tolerance = (unsigned)v;
		} else if (strcmp(line, "max-db-bytes") == 0) {
			char *end;
			unsigned long long v = strtoull(sp, &end, 10);
			if (*end != '\0' || end == sp || v < 65536)
				rc = perr_set(e, "%s/node.conf: max-db-bytes \"%.20s\" is not a "
					      "byte count of at least 65536", dir, sp);
			c->max_db_bytes = v;
		} else {
			rc = perr_set(e, "%s/node.conf: unknown setting \"%.40s\"", dir, line);
		}
	}
	free(buf);
	if (rc == 0 && nodedir_conf_check(c, e) != 0)
		return perr_wrap(e, "%s/node.conf", dir);
	return rc;
}

int nodedir_card(const char *dir, struct card *c, char **note, size_t *len,
		 struct perr *e)
{
	struct node_conf conf;
	struct note_signer logkey, cos;
	char path[4096];
	size_t i;
	int rc;

	memset(c, 0, sizeof *c);
	if (nodedir_load_conf(dir, &conf, e) != 0)
		return -1;
	if (nodedir_load_signer(dir, "log.key", &logkey, e) != 0)
		return -1;
	if (nodedir_load_signer(dir, "cosign.key", &cos, e) != 0) {
		note_signer_wipe(&logkey);
		return -1;
	}
	snprintf(c->name, sizeof c->name, "%s", conf.name);
	memcpy(c->log_pub, logkey.pub, 32);
	memcpy(c->cosign_pub, cos.pub, 32);
	note_signer_wipe(&cos);
	if (nodedir_path(path, sizeof path, dir, "tls.key", e) != 0 ||
	    tls_key_public(path, c->tls_pub, e) != 0) {
		note_signer_wipe(&logkey);
		return -1;
	}
	if (conf.nadvertise > 0) {
		for (i = 0; i < conf.nadvertise; i++)
			strcpy(c->addrs[i], conf.advertise[i]);
		c->naddrs = conf.nadvertise;
	} else {
		for (i = 0; i < conf.nlisten; i++)
			strcpy(c->addrs[i], conf.listen[i]);
		c->naddrs = conf.nlisten;
	}
	card_fingerprint(c);
	rc = card_sign(c, &logkey, note, len, e);
	note_signer_wipe(&logkey);
	return rc;
}

int nodedir_peer_add(const char *dir, const char *cardnote, size_t len,
		     char addrs[][CARD_ADDR_MAX + 1], size_t naddrs,
		     struct card *c, struct perr *e)
{
	struct node_conf conf;
	struct store *s = NULL;
	sqlite3_stmt *st = NULL;
	char path[4096], alist[CARD_MAX_ADDRS * (CARD_ADDR_MAX + 1) + 1];
	size_t i;
	int rc = -1, step;

	if (nodedir_load_conf(dir, &conf, e) != 0)
		return -1;
	if (card_open(c, cardnote, len, e) != 0)
		return -1;
	if (strcmp(c->name, conf.name) == 0)
		return perr_set(e, "this is the node's own card");
	if (naddrs > CARD_MAX_ADDRS)
		return perr_set(e, "at most %d addresses", CARD_MAX_ADDRS);
	for (i = 0; i < naddrs; i++) {
		if (!card_addr_valid(addrs[i]))
			return perr_set(e, "address \"%.64s\" is not HOST:PORT", addrs[i]);
		strcpy(c->addrs[i], addrs[i]);
	}
	if (naddrs > 0)
		c->naddrs = naddrs;
	alist[0] = '\0';
	for (i = 0; i < c->naddrs; i++) {
		strcat(alist, c->addrs[i]);
		strcat(alist, "\n");
	}
	if (nodedir_path(path, sizeof path, dir, "node.db", e) != 0 ||
	    store_open(&s, path, 0, NULL, e) != 0)
		return -1;
	if (sqlite3_prepare_v2(store_sqlite(s), "SELECT card FROM peers WHERE name = ?", -1,
			       &st, NULL) != SQLITE_OK) {
		perr_set(e, "database: %s", sqlite3_errmsg(store_sqlite(s)));
		goto out;
	}
	sqlite3_bind_text(st, 1, c->name, -1, SQLITE_STATIC);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		struct card old;
		const char *oc = (const char *)sqlite3_column_blob(st, 0);
		size_t ol = (size_t)sqlite3_column_bytes(st, 0);
		if (card_open(&old, oc, ol, e) != 0 || strcmp(old.fingerprint, c->fingerprint) != 0) {
			perr_set(e, "peer %s is already pinned with other keys (fingerprint "
				 "%s); refusing to replace them", c->name, old.fingerprint);
			goto out;
		}
	}
	sqlite3_finalize(st);
	st = NULL;
	if (sqlite3_prepare_v2(store_sqlite(s),
			       "INSERT OR REPLACE INTO peers(name, card, addrs) VALUES(?, ?, ?)",
			       -1, &st, NULL) != SQLITE_OK) {
		perr_set(e, "database: %s", sqlite3_errmsg(store_sqlite(s)));
		goto out;
	}
	sqlite3_bind_text(st, 1, c->name, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, cardnote, (int)len, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, alist, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		perr_set(e, "database: %s", sqlite3_errmsg(store_sqlite(s)));
		goto out;
	}
	rc = 0;
out:
	sqlite3_finalize(st);
	store_close(s);
	return rc;
}
