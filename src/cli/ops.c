/*
 * ops.c — the operator's commands: serve, send, inbox, outbox, ack,
 * status (clients of the running node's HTTP API, with the token from
 * DIR), and audit and export (offline, on DIR's database).
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/rand.h>

#include "audit.h"
#include "cli.h"
#include "replay.h"
#include "treaty.h"
#include "node.h"
#include "nodedir.h"

#define OPS_MAX_REPLY (256u << 20)

/* ---- a minimal HTTP/1.1 client (one request per connection) ------------ */

static int ops_connect(const char *addr, struct perr *e)
{
	char host[CARD_ADDR_MAX + 1], *colon;
	struct addrinfo hints, *res, *ai;
	int fd = -1;

	snprintf(host, sizeof host, "%s", addr);
	colon = strrchr(host, ':');
	if (colon == NULL)
		return perr_set(e, "API address %s is not HOST:PORT", addr);
	*colon = '\0';
	if (host[0] == '[') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, colon + 1, &hints, &res) != 0)
		return perr_set(e, "cannot resolve the API address %s", addr);
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype, 0);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return perr_set(e, "cannot reach the node's API at %s (is `parley serve` "
				"running?): %s", addr, strerror(errno));
	return fd;
}

static int ops_write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Sends one request to the node in dir (taking the reference to body);
 * returns the HTTP status and the parsed JSON body in *out (NULL if the
 * body is not JSON). */
int cli_api_call(const char *dir, const char *method, const char *path,
		    json_t *body, json_t **out, struct perr *e)
{
	struct node_conf conf;
	char tpath[4200], *token, hdr[1024], *resp = NULL, *bodystart;
	size_t tlen, rlen = 0, cap = 0;
	char *b = NULL;
	int fd, status;

	*out = NULL;
	if (body) {
		b = json_dumps(body, JSON_COMPACT);
		json_decref(body);
		if (b == NULL)
			return perr_set(e, "out of memory");
	}
	if (nodedir_load_conf(dir, &conf, e) != 0 ||
	    nodedir_path(tpath, sizeof tpath, dir, "api.token", e) != 0 ||
	    file_read(tpath, 256, 1, &token, &tlen, e) != 0) {
		free(b);
		return -1;
	}
	while (tlen > 0 && (token[tlen - 1] == '\n' || token[tlen - 1] == '\r'))
		token[--tlen] = '\0';
	fd = ops_connect(conf.api, e);
	if (fd < 0) {
		free(token);
		free(b);
		return -1;
	}
	snprintf(hdr, sizeof hdr,
		 "%s %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
		 "Connection: close\r\nContent-Type: application/json\r\n"
		 "Content-Length: %zu\r\n\r\n",
		 method, path, conf.api, token, b ? strlen(b) : 0);
	free(token);
	if (ops_write_all(fd, hdr, strlen(hdr)) != 0 ||
	    (b && ops_write_all(fd, b, strlen(b)) != 0)) {
		free(b);
		close(fd);
		return perr_set(e, "the node closed the API connection");
	}
	free(b);
	for (;;) {
		ssize_t r;
		if (rlen + 65536 + 1 > cap) {
			char *nr;
			cap = cap ? cap * 2 : 131072;
			if (cap > OPS_MAX_REPLY || (nr = realloc(resp, cap)) == NULL) {
				free(resp);
				close(fd);
				return perr_set(e, "reply from the node too large");
			}
			resp = nr;
		}
		r = read(fd, resp + rlen, 65536);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		rlen += (size_t)r;
	}
	close(fd);
	if (resp == NULL || rlen < 12 || strncmp(resp, "HTTP/1.", 7) != 0) {
		free(resp);
		return perr_set(e, "no HTTP reply from the node's API (it may have stopped)");
	}
	resp[rlen] = '\0';
	status = atoi(resp + 9);
	bodystart = strstr(resp, "\r\n\r\n");
	if (bodystart) {
		bodystart += 4;
		*out = json_loadb(bodystart, rlen - (size_t)(bodystart - resp), 0, NULL);
	}
	free(resp);
	return status;
}

/* Runs a call; on an HTTP error prints the node's message. */
int cli_api_ok(const char *dir, const char *method, const char *path,
		       json_t *body, json_t **out)
{
	struct perr e;
	int st = cli_api_call(dir, method, path, body, out, &e);

	if (st < 0)
		return cli_fail("%s", e.msg);
	if (st != 200) {
		const char *m = *out ? json_string_value(json_object_get(*out, "error")) : NULL;
		cli_fail("node refused (HTTP %d): %s", st, m ? m : "no details");
		{
			/* a refused notification lists every problem */
			json_t *pr = *out ? json_object_get(*out, "problems") : NULL, *v;
			size_t i;
			json_array_foreach(pr, i, v)
				fprintf(stderr, "  %s\n", json_string_value(v));
		}
		json_decref(*out);
		*out = NULL;
		return CLI_EXIT_FAIL;
	}
	return 0;
}

/* ---- commands ------------------------------------------------------------ */

int cmd_serve(int argc, char **argv)
{
	struct perr e;

	if (argc != 2)
		return cli_usage("parley serve DIR");
	if (node_serve(argv[1], &e) != 0)
		return cli_fail("%s", e.msg);
	return 0;
}

char *cli_read_stream(FILE *f, size_t *len)
{
	size_t cap = 65536, n = 0;
	char *b = malloc(cap + 1);

	while (b) {
		size_t r = fread(b + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
		if (n == cap) {
			char *nb = cap > (64u << 20) ? NULL : realloc(b, cap * 2 + 1);
			if (nb == NULL) {
				free(b);
				return NULL;
			}
			b = nb;
			cap *= 2;
		}
	}
	if (b)
		b[n] = '\0';
	*len = n;
	return b;
}

int cli_print_entries(json_t *reply)
{
	json_t *arr = json_object_get(reply, "entries"), *v;
	size_t i;

	json_array_foreach(arr, i, v)
		printf("%s %lld%s\n", json_string_value(json_object_get(v, "origin")),
		       (long long)json_integer_value(json_object_get(v, "index")),
		       json_is_true(json_object_get(v, "duplicate")) ? " (already submitted)" : "");
	return 0;
}

int cmd_send(int argc, char **argv)
{
	static const char usage[] =
		"parley send DIR --to NAME [--precedence FLASH|IMMEDIATE|PRIORITY|ROUTINE] "
		"[--subject TEXT] [--id KEY] [--lines] [FILE|-]";
	const char *dir = NULL, *to = NULL, *prec = "ROUTINE", *subject = "", *id = NULL,
		   *file = NULL;
	int lines = 0, i, rc = 0;
	FILE *f = stdin;
	char *text;
	size_t len;
	json_t *msgs, *reply;

	for (i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(argv[i], "--to") == 0 && v)
			to = argv[++i];
		else if (strcmp(argv[i], "--precedence") == 0 && v)
			prec = argv[++i];
		else if (strcmp(argv[i], "--subject") == 0 && v)
			subject = argv[++i];
		else if (strcmp(argv[i], "--id") == 0 && v)
			id = argv[++i];
		else if (strcmp(argv[i], "--lines") == 0)
			lines = 1;
		else if (dir == NULL && argv[i][0] != '-')
			dir = argv[i];
		else if (file == NULL && (argv[i][0] != '-' || strcmp(argv[i], "-") == 0))
			file = argv[i];
		else
			return cli_usage(usage);
	}
	if (dir == NULL || to == NULL)
		return cli_usage(usage);
	if (strcmp(prec, "FLASH") && strcmp(prec, "IMMEDIATE") && strcmp(prec, "PRIORITY") &&
	    strcmp(prec, "ROUTINE"))
		return cli_fail("precedence \"%s\" is not FLASH, IMMEDIATE, PRIORITY or ROUTINE",
				prec);
	if (file && strcmp(file, "-") != 0 && (f = fopen(file, "rb")) == NULL)
		return cli_fail("%s: %s", file, strerror(errno));
	text = cli_read_stream(f, &len);
	if (f != stdin)
		fclose(f);
	if (text == NULL)
		return cli_fail("cannot read the message (at most 128 MiB)");
	if (strlen(text) != len) {
		free(text);
		return cli_fail("the message contains a NUL byte");
	}
	msgs = json_array();
	if (!lines) {
		json_t *m = json_pack("{s:s, s:s, s:s}", "precedence", prec, "subject", subject,
				      "text", text);
		if (m == NULL) {
			free(text);
			json_decref(msgs);
			return cli_fail("the message is not valid UTF-8");
		}
		if (id)
			json_object_set_new(m, "id", json_string(id));
		json_array_append_new(msgs, m);
	} else {
		/* Bulk traffic: one message per line, sent in requests of at most
		 * 10,000; with --id, line k gets the key "<KEY>-<k>". */
		char *save = NULL, *line;
		size_t k = 0;
		for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			json_t *m = json_pack("{s:s, s:s, s:s}", "precedence", prec, "subject",
					      subject, "text", line);
			if (m == NULL) {
				rc = cli_fail("line %zu is not valid UTF-8", k + 1);
				break;
			}
			if (id) {
				char key[160];
				snprintf(key, sizeof key, "%s-%zu", id, k);
				json_object_set_new(m, "id", json_string(key));
			}
			json_array_append_new(msgs, m);
			k++;
			if (json_array_size(msgs) == 10000) {
				rc = cli_api_ok(dir, "POST", "/api/send",
						 json_pack("{s:s, s:o}", "to", to, "messages", msgs),
						 &reply);
				msgs = json_array();
				if (rc != 0)
					break;
				cli_print_entries(reply);
				json_decref(reply);
			}
		}
	}
	free(text);
	if (rc == 0 && json_array_size(msgs) > 0) {
		json_t *req = json_pack("{s:s, s:O}", "to", to, "messages", msgs);
		rc = cli_api_ok(dir, "POST", "/api/send", req, &reply);
		if (rc == 0) {
			cli_print_entries(reply);
			json_decref(reply);
		}
	}
	json_decref(msgs);
	return rc;
}

/* "DIR [--json]" in either order; -1 for anything else. */
static int ops_dir_json(int argc, char **argv, const char **dir, int *json)
{
	int i;

	*dir = NULL;
	*json = 0;
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0 && !*json)
			*json = 1;
		else if (*dir == NULL && argv[i][0] != '-')
			*dir = argv[i];
		else
			return -1;
	}
	return *dir ? 0 : -1;
}

static void ops_print_json(json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (s)
		puts(s);
	free(s);
}

/*
 * A notification's subject ("new-start: status-change") as the kind's
 * label in the operator's language, with the codes of its flags; the
 * definitions are those the node holds (parley's and DIR/treaties/).
 */
static void ops_label_notifications(const char *dir, json_t *rows, enum treaty_lang lang)
{
	struct treaty_reg reg = { { 0 }, 0 };
	struct perr e;
	char path[4200];
	json_t *v, *f;
	size_t k, j;

	treaty_reg_load_dir(&reg, treaty_dir(), &e);
	snprintf(path, sizeof path, "%s/treaties", dir);
	treaty_reg_load_dir(&reg, path, &e);
	json_array_foreach(rows, k, v) {
		const char *subj = json_string_value(json_object_get(v, "subject"));
		const char *colon = subj ? strstr(subj, ": ") : NULL;
		const struct treaty_def *d;
		const struct treaty_kind *kd;
		char name[128], label[1024];
		size_t o;

		if (colon == NULL || (size_t)(colon - subj) >= sizeof name ||
		    strcmp(json_string_value(json_object_get(v, "type")) ?
			   json_string_value(json_object_get(v, "type")) : "", "notification") != 0)
			continue;
		memcpy(name, subj, (size_t)(colon - subj));
		name[colon - subj] = '\0';
		d = treaty_reg_by_name(&reg, name);
		kd = d ? treaty_kind_find(d, colon + 2) : NULL;
		o = (size_t)snprintf(label, sizeof label, "%s", kd ?
				     treaty_label(kd->label, lang, colon + 2) : colon + 2);
		json_array_foreach(json_object_get(v, "flags"), j, f)
			if (o < sizeof label - 40)
				o += (size_t)snprintf(label + o, sizeof label - o, " [%s]",
					json_string_value(json_object_get(f, "code")));
		json_object_set_new(v, "label", json_string(label));
	}
	treaty_reg_free(&reg);
}

static int ops_box(int argc, char **argv, int inbox)
{
	const char *dir;
	int json, rc, i, n = 0, lang_set = 0;
	enum treaty_lang lang = TREATY_EN;
	json_t *reply, *v;
	size_t k;
	char *args[8];

	/* --lang en|ru renders notifications in the operator's language */
	for (i = 0; i < argc && n < 8; i++) {
		if (strcmp(argv[i], "--lang") == 0 && i + 1 < argc) {
			if (treaty_lang_parse(argv[++i], &lang) != 0)
				return cli_fail("--lang must be en or ru, not \"%s\"", argv[i]);
			lang_set = 1;
		} else {
			args[n++] = argv[i];
		}
	}
	if (i < argc || ops_dir_json(n, args, &dir, &json) != 0)
		return cli_usage(inbox ? "parley inbox DIR [--json] [--lang en|ru]" :
				 "parley outbox DIR [--json] [--lang en|ru]");
	/* Page by page: a large box never holds the node's loop for long. */
	reply = json_array();
	{
		char path[700];
		json_t *page, *next;
		snprintf(path, sizeof path, "%s?limit=2000", inbox ? "/api/inbox" : "/api/outbox");
		for (;;) {
			rc = cli_api_ok(dir, "GET", path, NULL, &page);
			if (rc != 0) {
				json_decref(reply);
				return rc;
			}
			json_array_extend(reply, json_object_get(page, "rows"));
			next = json_object_get(page, "next");
			if (!json_is_object(next)) {
				json_decref(page);
				break;
			}
			snprintf(path, sizeof path, "%s?limit=2000&peer=%s&after=%lld",
				 inbox ? "/api/inbox" : "/api/outbox",
				 json_string_value(json_object_get(next, "peer")),
				 (long long)json_integer_value(json_object_get(next, "after")));
			json_decref(page);
		}
	}
	if (lang_set || !json)
		ops_label_notifications(dir, reply, lang);
	if (json) {
		ops_print_json(reply);
	} else {
		printf("%-34s %7s %-9s %-12s %-20s %-9s %s\n", "ORIGIN", "INDEX", "PREC",
		       "TYPE", "TIME", "OVERDUE", inbox ? "STATE / SUBJECT" : "STATE / SUBJECT");
		json_array_foreach(reply, k, v)
			printf("%-34s %7lld %-9s %-12s %-20s %-9s %s %s\n",
			       json_string_value(json_object_get(v, "origin")),
			       (long long)json_integer_value(json_object_get(v, "index")),
			       json_string_value(json_object_get(v, "precedence")),
			       json_string_value(json_object_get(v, "type")),
			       json_string_value(json_object_get(v, "time")),
			       json_is_true(json_object_get(v, "overdue")) ? "OVERDUE" : "-",
			       json_string_value(json_object_get(v, "state")),
			       json_string_value(json_object_get(v, "label")) ?
			       json_string_value(json_object_get(v, "label")) :
			       json_string_value(json_object_get(v, "subject"))
				       ? json_string_value(json_object_get(v, "subject")) : "");
	}
	json_decref(reply);
	return 0;
}

int cmd_inbox(int argc, char **argv)
{
	return ops_box(argc, argv, 1);
}

int cmd_outbox(int argc, char **argv)
{
	return ops_box(argc, argv, 0);
}

int cmd_ack(int argc, char **argv)
{
	uint64_t idx;
	json_t *reply, *a;
	int rc;

	if (argc != 4 || cli_parse_u64(argv[3], &idx) != 0)
		return cli_usage("parley ack DIR ORIGIN INDEX");
	rc = cli_api_ok(argv[1], "POST", "/api/ack",
			 json_pack("{s:s, s:I}", "origin", argv[2], "index", (json_int_t)idx),
			 &reply);
	if (rc != 0)
		return rc;
	a = json_object_get(reply, "ack");
	if (a == NULL)
		a = json_array_get(json_object_get(reply, "entries"), 0);
	printf("acknowledged %s %llu: ack entry %s %lld\n", argv[2], (unsigned long long)idx,
	       json_string_value(json_object_get(a, "origin")),
	       (long long)json_integer_value(json_object_get(a, "index")));
	json_decref(reply);
	return 0;
}

int cmd_status(int argc, char **argv)
{
	const char *dir;
	int json, rc;
	json_t *s, *v, *w;
	size_t k, j;

	if (ops_dir_json(argc, argv, &dir, &json) != 0)
		return cli_usage("parley status DIR [--json]");
	rc = cli_api_ok(dir, "GET", "/api/status", NULL, &s);
	if (rc != 0)
		return rc;
	if (json) {
		ops_print_json(s);
		json_decref(s);
		return 0;
	}
	printf("node %s at %s, storage %s\n", json_string_value(json_object_get(s, "node")),
	       json_string_value(json_object_get(s, "time")),
	       json_string_value(json_object_get(s, "storage")));
	json_array_foreach(json_object_get(s, "peers"), k, v) {
		json_t *skew = json_object_get(v, "clock_skew_ms"), *bl = json_object_get(v, "backlog");
		printf("peer %s (%s)", json_string_value(json_object_get(v, "name")),
		       json_string_value(json_object_get(v, "fingerprint")));
		if (json_is_integer(skew))
			printf(", clock skew %lld ms", (long long)json_integer_value(skew));
		printf("\n  awaiting receipt: %lld\n",
		       (long long)json_integer_value(json_object_get(v, "unreceipted")));
		printf("  their log to us: %lld signed, %lld held in order, %lld out of order, "
		       "%lld missing\n",
		       (long long)json_integer_value(json_object_get(v, "peer_log_size")),
		       (long long)json_integer_value(json_object_get(v, "received")),
		       (long long)json_integer_value(json_object_get(v, "held_out_of_order")),
		       (long long)json_integer_value(json_object_get(v, "missing")));
		printf("  backlog: FLASH %lld, IMMEDIATE %lld, PRIORITY %lld, ROUTINE %lld\n",
		       (long long)json_integer_value(json_object_get(bl, "FLASH")),
		       (long long)json_integer_value(json_object_get(bl, "IMMEDIATE")),
		       (long long)json_integer_value(json_object_get(bl, "PRIORITY")),
		       (long long)json_integer_value(json_object_get(bl, "ROUTINE")));
		json_array_foreach(json_object_get(v, "paths"), j, w) {
			printf("  path -> %-22s %-4s", json_string_value(json_object_get(w, "addr")),
			       json_string_value(json_object_get(w, "state")));
			if (json_object_get(w, "rtt_ms"))
				printf(" rtt %lld ms",
				       (long long)json_integer_value(json_object_get(w, "rtt_ms")));
			if (json_object_get(w, "last_heartbeat"))
				printf(", last heartbeat %s",
				       json_string_value(json_object_get(w, "last_heartbeat")));
			printf("%s\n", json_is_true(json_object_get(w, "active")) ? " (active)" : "");
		}
		json_array_foreach(json_object_get(v, "incoming"), j, w)
			printf("  path <- %-22s %s\n", json_string_value(json_object_get(w, "addr")),
			       json_string_value(json_object_get(w, "state")));
		/* what the peer has declared, per treaty with limits */
		json_array_foreach(json_object_get(v, "treaties"), j, w) {
			const char *ln;
			json_t *l;
			printf("  declared under %s: %lld items;",
			       json_string_value(json_object_get(w, "treaty")),
			       (long long)json_integer_value(json_object_get(w, "items")));
			json_object_foreach(json_object_get(w, "limits"), ln, l)
				printf(" %s %lld/%lld", ln,
				       (long long)json_integer_value(json_object_get(l, "total")),
				       (long long)json_integer_value(json_object_get(l, "max")));
			printf("\n");
		}
	}
	json_array_foreach(json_object_get(s, "logs"), k, v) {
		printf("log %s: %lld entries", json_string_value(json_object_get(v, "origin")),
		       (long long)json_integer_value(json_object_get(v, "size")));
		if (json_object_get(v, "cosigned_size"))
			printf(", cosigned at %lld",
			       (long long)json_integer_value(json_object_get(v, "cosigned_size")));
		printf("\n");
	}
	w = json_object_get(s, "alarms");
	printf("alarms: %zu\n", json_array_size(w));
	json_array_foreach(w, k, v)
		printf("  %s %s %s: %s\n", json_string_value(json_object_get(v, "time")),
		       json_string_value(json_object_get(v, "kind")),
		       json_string_value(json_object_get(v, "peer")),
		       json_string_value(json_object_get(v, "detail")));
	json_decref(s);
	return 0;
}

int cmd_audit(int argc, char **argv)
{
	struct perr e;

	if (argc != 2)
		return cli_usage("parley audit DIR");
	if (node_audit(argv[1], stdout, &e) != 0) {
		fflush(stdout);
		return cli_fail("audit FAILED: %s", e.msg);
	}
	printf("audit passed\n");
	return 0;
}

int cmd_export(int argc, char **argv)
{
	struct perr e;

	if (argc != 3)
		return cli_usage("parley export DIR OUTDIR");
	if (node_export(argv[1], argv[2], stdout, &e) != 0)
		return cli_fail("%s", e.msg);
	return 0;
}
