/*
 * test_tls.c — the node's TLS layer (src/node/tls.h): key files, and TLS
 * 1.3 with pinned Ed25519 keys over real loopback TCP, where every peer
 * that must be refused is refused inside the handshake, before any
 * application data reaches the other side.
 *
 * Each handshake test runs a server in a thread and a client on the test's
 * thread, over 127.0.0.1 on a port the kernel picks.  Sockets have 5 s send
 * and receive timeouts and accept waits at most 5 s, so no test can hang.
 * The server thread only records what happened (cmocka's asserts must run
 * on the test's thread); the test checks it after joining.
 *
 * Both ends finish the same way: SSL_free, shutdown(SHUT_WR), read raw
 * bytes until the peer's EOF, close.  Neither end closes with unread bytes
 * in its socket (which would send a TCP reset that could overtake an
 * alert), and the server counts the raw bytes that arrived but were never
 * released by TLS.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tls.h"

#define TIMEOUT_S 5
#define GREETING "hello from the server"
#define MESSAGE "launch notification 2024-117"

/* ---------------------------------------------------------------------- */
/* Fixture: three nodes' keys, and an EC P-256 certificate                 */

enum { ALICE, BOB, MALLORY, NNODES };
static const char *const node_names[NNODES] = { "alice", "bob", "mallory" };

static struct {
	char dir[64];
	char key[NNODES][128];
	char crt[NNODES][128];
	uint8_t pub[NNODES][32];
	EVP_PKEY *eckey;
	X509 *eccert;
	uint8_t ecx[32]; /* x coordinate of the EC point: 32 bytes like a pin */
} fx;

static void path_in_dir(char *buf, size_t cap, const char *file)
{
	int n = snprintf(buf, cap, "%s/%s", fx.dir, file);

	assert_true(n > 0 && (size_t)n < cap);
}

/* A self-signed certificate for any key type (sha256 unless Ed25519). */
static X509 *self_signed(EVP_PKEY *pk, const char *cn)
{
	X509 *x = X509_new();
	X509_NAME *n;

	assert_non_null(x);
	n = X509_get_subject_name(x);
	assert_int_equal(X509_set_version(x, 2), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 7), 1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), -86400L));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 86400L));
	assert_int_equal(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
			 (const unsigned char *)cn, -1, -1, 0), 1);
	assert_int_equal(X509_set_issuer_name(x, n), 1);
	assert_int_equal(X509_set_pubkey(x, pk), 1);
	assert_true(X509_sign(x, pk, EVP_PKEY_is_a(pk, "ED25519") ?
			      NULL : EVP_sha256()) > 0);
	return x;
}

static int group_setup(void **state)
{
	uint8_t point[65];
	struct perr e;
	size_t len = 0;
	char file[32];
	int i;

	(void)state;
	strcpy(fx.dir, "/tmp/parley-tls-XXXXXX");
	if (mkdtemp(fx.dir) == NULL)
		return -1;
	for (i = 0; i < NNODES; i++) {
		snprintf(file, sizeof file, "%s.key", node_names[i]);
		path_in_dir(fx.key[i], sizeof fx.key[i], file);
		snprintf(file, sizeof file, "%s.crt", node_names[i]);
		path_in_dir(fx.crt[i], sizeof fx.crt[i], file);
		if (tls_keygen(fx.key[i], fx.crt[i], node_names[i], &e) != 0 ||
		    tls_key_public(fx.key[i], fx.pub[i], &e) != 0) {
			fprintf(stderr, "fixture: %s\n", e.msg);
			return -1;
		}
	}
	fx.eckey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (fx.eckey == NULL ||
	    EVP_PKEY_get_octet_string_param(fx.eckey, OSSL_PKEY_PARAM_PUB_KEY,
					    point, sizeof point, &len) != 1 ||
	    len != 65 || point[0] != 0x04)
		return -1;
	memcpy(fx.ecx, point + 1, 32);
	fx.eccert = self_signed(fx.eckey, "ec");
	return 0;
}

static int group_teardown(void **state)
{
	struct dirent *d;
	char path[sizeof fx.dir + 1 + sizeof d->d_name];
	DIR *dir;

	(void)state;
	X509_free(fx.eccert);
	EVP_PKEY_free(fx.eckey);
	dir = opendir(fx.dir);
	if (dir != NULL) {
		while ((d = readdir(dir)) != NULL) {
			if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
				continue;
			snprintf(path, sizeof path, "%s/%s", fx.dir, d->d_name);
			unlink(path);
		}
		closedir(dir);
	}
	return rmdir(fx.dir) == 0 ? 0 : -1;
}

/* ---------------------------------------------------------------------- */
/* Helpers                                                                 */

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static X509 *read_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x;

	assert_non_null(f);
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(x);
	return x;
}

static void raw_pub(const EVP_PKEY *pk, uint8_t pub[32])
{
	size_t len = 32;

	assert_true(EVP_PKEY_is_a(pk, "ED25519"));
	assert_int_equal(EVP_PKEY_get_raw_public_key(pk, pub, &len), 1);
	assert_int_equal(len, 32);
}

static void hex_of(char *out, const uint8_t *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

static mode_t mode_of(const char *path)
{
	struct stat st;

	assert_int_equal(lstat(path, &st), 0);
	return st.st_mode & 07777;
}

static int exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

#define assert_contains(hay, needle)                                        \
	do {                                                                \
		if (strstr((hay), (needle)) == NULL)                        \
			fail_msg("\"%s\" does not contain \"%s\"", (hay),   \
				 (needle));                                 \
	} while (0)

/* Every tls_ function must leave the thread's OpenSSL error queue empty. */
#define assert_queue_empty() assert_int_equal(ERR_peek_error(), 0)

static SSL_CTX *node_ctx(int is_server, int who)
{
	struct perr e;
	SSL_CTX *ctx = tls_ctx_new(is_server, fx.key[who], fx.crt[who], &e);

	if (ctx == NULL)
		fail_msg("tls_ctx_new(%s): %s", node_names[who], e.msg);
	return ctx;
}

/* A context that is not made by tls_ctx_new: a plain OpenSSL peer with
 * the given protocol range and (optionally) certificate, verifying
 * nothing.  It plays the misconfigured or foreign peer. */
static SSL_CTX *plain_ctx(int is_server, int minv, int maxv, X509 *cert,
			  EVP_PKEY *key)
{
	SSL_CTX *ctx = SSL_CTX_new(is_server ? TLS_server_method() :
				   TLS_client_method());

	assert_non_null(ctx);
	assert_int_equal(SSL_CTX_set_min_proto_version(ctx, minv), 1);
	assert_int_equal(SSL_CTX_set_max_proto_version(ctx, maxv), 1);
	if (cert != NULL) {
		assert_int_equal(SSL_CTX_use_certificate(ctx, cert), 1);
		assert_int_equal(SSL_CTX_use_PrivateKey(ctx, key), 1);
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	return ctx;
}

static X509 *node_cert(int who)
{
	return read_cert(fx.crt[who]);
}

static EVP_PKEY *node_key(int who)
{
	FILE *f = fopen(fx.key[who], "r");
	EVP_PKEY *pk;

	assert_non_null(f);
	pk = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(pk);
	return pk;
}

/* ---------------------------------------------------------------------- */
/* One end of a connection: what it is told to do, and what happened      */

#define MAXERR 8

struct errs {
	unsigned long code[MAXERR];
	size_t n;
};

enum pinning {
	PIN_LIST,  /* tls_ssl_new with pins[0..npins) */
	PIN_NEVER, /* plain SSL_new: tls_set_pins never called */
};

struct end {
	/* setup */
	SSL_CTX *ctx;
	enum pinning pinning;
	const uint8_t (*pins)[32];
	size_t npins;
	const uint8_t (*prepins)[32]; /* set first, then replaced by pins */
	size_t nprepins;
	int write_first; /* client: write before hearing from the server */

	/* outcome */
	int sock_ok;
	int hs; /* SSL_accept / SSL_connect */
	struct errs hs_err;
	int version;
	int pin_rc;
	struct perr pin_err;
	int peer_rc;
	struct perr peer_err;
	uint8_t peer[32];
	int late_pins_rc;
	int wrote;
	int nread;
	int read_ssl_err;
	struct errs read_err;
	char got[128];
	int resumable;
	long raw_after; /* raw bytes read from the socket after TLS let go */
};

static void take_errors(struct errs *r)
{
	unsigned long c;

	r->n = 0;
	while ((c = ERR_get_error()) != 0)
		if (r->n < MAXERR)
			r->code[r->n++] = c;
}

static int has_reason(const struct errs *r, int reason)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (ERR_GET_LIB(r->code[i]) == ERR_LIB_SSL &&
		    ERR_GET_REASON(r->code[i]) == reason)
			return 1;
	return 0;
}

static void assert_reason(const struct errs *r, int reason, const char *what)
{
	char buf[256], all[1024] = "";
	size_t i;

	if (has_reason(r, reason))
		return;
	for (i = 0; i < r->n; i++) {
		ERR_error_string_n(r->code[i], buf, sizeof buf);
		strncat(all, buf, sizeof all - strlen(all) - 3);
		strcat(all, "; ");
	}
	fail_msg("%s: expected SSL reason %d (%s), got: %s", what, reason,
		 ERR_reason_error_string(ERR_PACK(ERR_LIB_SSL, 0, reason)),
		 r->n ? all : "(no errors)");
}

static void set_timeouts(int fd)
{
	struct timeval tv = { TIMEOUT_S, 0 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/* Reads until EOF, an error or the receive timeout; returns the count. */
static long drain(int fd)
{
	char buf[4096];
	long total = 0;
	ssize_t n;

	while ((n = recv(fd, buf, sizeof buf, 0)) > 0)
		total += n;
	return total;
}

static void do_read(struct end *x, SSL *ssl)
{
	x->nread = SSL_read(ssl, x->got, (int)sizeof x->got - 1);
	if (x->nread > 0) {
		x->got[x->nread] = '\0';
	} else {
		x->got[0] = '\0';
		x->read_ssl_err = SSL_get_error(ssl, x->nread);
		take_errors(&x->read_err);
	}
}

/* The script of one end; fd is connected.  Records, never asserts. */
static void run_end(struct end *x, int fd, int server)
{
	struct perr e;
	SSL *ssl;

	ERR_clear_error();
	if (x->pinning == PIN_NEVER) {
		ssl = SSL_new(x->ctx);
	} else if (x->prepins != NULL) {
		ssl = tls_ssl_new(x->ctx, x->prepins, x->nprepins, &e);
		if (ssl != NULL && tls_set_pins(ssl, x->pins, x->npins, &e) != 0) {
			SSL_free(ssl);
			ssl = NULL;
		}
	} else {
		ssl = tls_ssl_new(x->ctx, x->pins, x->npins, &e);
	}
	if (ssl == NULL || SSL_set_fd(ssl, fd) != 1) {
		SSL_free(ssl);
		close(fd);
		return;
	}
	x->sock_ok = 1;
	x->hs = server ? SSL_accept(ssl) : SSL_connect(ssl);
	take_errors(&x->hs_err);
	x->pin_rc = tls_pin_error(ssl, &x->pin_err);
	if (x->hs == 1) {
		x->version = SSL_version(ssl);
		x->peer_rc = tls_peer_key(ssl, x->peer, &x->peer_err);
		x->late_pins_rc = tls_set_pins(ssl, x->pins, x->npins, NULL);
	}
	if (server) {
		if (x->hs == 1)
			x->wrote = SSL_write(ssl, GREETING, (int)strlen(GREETING));
		do_read(x, ssl);
	} else if (x->write_first || x->hs != 1) {
		x->wrote = SSL_write(ssl, MESSAGE, (int)strlen(MESSAGE));
		ERR_clear_error();
		do_read(x, ssl);
	} else {
		/* DESIGN: the client waits for the server's first frame. */
		do_read(x, ssl);
		if (x->nread > 0)
			x->wrote = SSL_write(ssl, MESSAGE, (int)strlen(MESSAGE));
	}
	if (!server) {
		SSL_SESSION *s = SSL_get1_session(ssl);
		x->resumable = s != NULL && SSL_SESSION_is_resumable(s);
		SSL_SESSION_free(s);
	}
	if (x->hs == 1 && x->nread > 0)
		SSL_shutdown(ssl); /* sends close_notify; no wait for the peer's */
	SSL_free(ssl);
	ERR_clear_error();
	shutdown(fd, SHUT_WR);
	x->raw_after = drain(fd);
	close(fd);
}

struct server_arg {
	struct end *end;
	int lfd;
};

static void *server_main(void *p)
{
	struct server_arg *a = p;
	struct pollfd pfd = { a->lfd, POLLIN, 0 };
	int fd;

	if (poll(&pfd, 1, TIMEOUT_S * 1000) != 1)
		return NULL;
	fd = accept(a->lfd, NULL, NULL);
	if (fd < 0)
		return NULL;
	set_timeouts(fd);
	run_end(a->end, fd, 1);
	return NULL;
}

/* Runs srv (in a thread) against cli (here) over a fresh loopback port. */
static void run_pair(struct end *srv, struct end *cli)
{
	struct sockaddr_in sa;
	socklen_t salen = sizeof sa;
	struct server_arg arg;
	pthread_t t;
	int lfd, fd;

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(lfd >= 0);
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = 0; /* the kernel picks a free port */
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &salen), 0);
	assert_int_equal(listen(lfd, 1), 0);
	arg.end = srv;
	arg.lfd = lfd;
	assert_int_equal(pthread_create(&t, NULL, server_main, &arg), 0);

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		set_timeouts(fd);
		if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
			run_end(cli, fd, 0);
		else
			close(fd);
	}
	/* Even if the client never connected, the server gives up after
	 * TIMEOUT_S, so the join is bounded. */
	assert_int_equal(pthread_join(t, NULL), 0);
	close(lfd);
	assert_true(cli->sock_ok);
	assert_true(srv->sock_ok);
}

static void end_init(struct end *x, SSL_CTX *ctx, const uint8_t (*pins)[32],
		     size_t npins)
{
	memset(x, 0, sizeof *x);
	x->ctx = ctx;
	x->pinning = PIN_LIST;
	x->pins = pins;
	x->npins = npins;
	x->pin_rc = 99;
	x->late_pins_rc = 99;
}

/* The end refused its peer during the handshake because of its pin
 * check, and said so through tls_pin_error. */
static void assert_refused_by_pin(const struct end *x, const char *why)
{
	assert_int_not_equal(x->hs, 1);
	assert_reason(&x->hs_err, SSL_R_CERTIFICATE_VERIFY_FAILED,
		      "the refusing end");
	assert_int_equal(x->pin_rc, -1);
	assert_contains(x->pin_err.msg, why);
}

/* The end received no application data: TLS gave it none. */
static void assert_got_nothing(const struct end *x)
{
	assert_true(x->nread <= 0);
	assert_string_equal(x->got, "");
	assert_null(strstr(x->got, MESSAGE));
}

/* A successful connection between alice (server) and bob (client). */
static void assert_talked(const struct end *srv, const struct end *cli)
{
	assert_int_equal(srv->hs, 1);
	assert_int_equal(cli->hs, 1);
	assert_int_equal(srv->version, TLS1_3_VERSION);
	assert_int_equal(cli->version, TLS1_3_VERSION);
	assert_int_equal(srv->pin_rc, 0);
	assert_int_equal(cli->pin_rc, 0);
	if (srv->peer_rc != 0)
		fail_msg("server tls_peer_key: %s", srv->peer_err.msg);
	if (cli->peer_rc != 0)
		fail_msg("client tls_peer_key: %s", cli->peer_err.msg);
	assert_memory_equal(srv->peer, fx.pub[BOB], 32);
	assert_memory_equal(cli->peer, fx.pub[ALICE], 32);
	assert_string_equal(cli->got, GREETING);
	assert_string_equal(srv->got, MESSAGE);
	/* Pins cannot change once the handshake has begun. */
	assert_int_equal(srv->late_pins_rc, -1);
	assert_int_equal(cli->late_pins_rc, -1);
}

/* ---------------------------------------------------------------------- */
/* Key files                                                               */

/* tls_keygen writes a PKCS#8 Ed25519 key (0600) and a self-signed X.509 v3
 * certificate (0644) for the same key; tls_key_public reads that key. */
static void test_keygen_files(void **state)
{
	char kp[128], cp[128], kp2[128], cp2[128];
	uint8_t pub[32], certpub[32], pub2[32];
	ASN1_INTEGER *ser;
	BIGNUM *bn, *bn2;
	struct perr e;
	int days, secs;
	struct tm tm;
	size_t len;
	char *pem;
	X509 *x, *x2;
	char cn[64];
	mode_t old_umask;
	int rc;

	(void)state;
	path_in_dir(kp, sizeof kp, "kg.key");
	path_in_dir(cp, sizeof cp, "kg.crt");
	/* The modes are exact whatever the umask. */
	old_umask = umask(077);
	rc = tls_keygen(kp, cp, "node-a.example", &e);
	umask(old_umask);
	if (rc != 0)
		fail_msg("tls_keygen: %s", e.msg);
	assert_queue_empty();
	assert_int_equal(mode_of(kp), 0600);
	assert_int_equal(mode_of(cp), 0644);

	pem = read_all(kp, &len);
	assert_true(strncmp(pem, "-----BEGIN PRIVATE KEY-----\n", 28) == 0);
	free(pem);

	x = read_cert(cp);
	assert_int_equal(X509_get_version(x), 2); /* v3 */
	assert_int_equal(X509_get_signature_nid(x), NID_ED25519);
	assert_int_equal(X509_verify(x, X509_get0_pubkey(x)), 1);
	assert_int_equal(X509_NAME_cmp(X509_get_subject_name(x),
				       X509_get_issuer_name(x)), 0);
	assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(x),
					      NID_commonName, cn, sizeof cn) > 0);
	assert_string_equal(cn, "node-a.example");
	ser = X509_get_serialNumber(x);
	bn = ASN1_INTEGER_to_BN(ser, NULL);
	assert_non_null(bn);
	assert_false(BN_is_negative(bn));
	assert_int_equal(BN_num_bytes(bn), 16);
	/* notBefore: a day ago; notAfter: 9999-12-31 23:59:59. */
	assert_int_equal(ASN1_TIME_diff(&days, &secs, NULL,
					X509_get0_notBefore(x)), 1);
	assert_true(days * 86400L + secs <= -86400L + 1);
	assert_true(days * 86400L + secs >= -86400L - 120);
	assert_int_equal(ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm), 1);
	assert_int_equal(tm.tm_year + 1900, 9999);
	assert_int_equal(tm.tm_mon, 11);
	assert_int_equal(tm.tm_mday, 31);
	assert_int_equal(X509_get_extension_flags(x) & EXFLAG_CA, 0);
	assert_int_equal(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE);

	/* The key file's public key is the certificate's. */
	if (tls_key_public(kp, pub, &e) != 0)
		fail_msg("tls_key_public: %s", e.msg);
	assert_queue_empty();
	raw_pub(X509_get0_pubkey(x), certpub);
	assert_memory_equal(pub, certpub, 32);

	/* A second node gets another key and another serial. */
	path_in_dir(kp2, sizeof kp2, "kg2.key");
	path_in_dir(cp2, sizeof cp2, "kg2.crt");
	assert_int_equal(tls_keygen(kp2, cp2, "node-b", &e), 0);
	assert_int_equal(tls_key_public(kp2, pub2, &e), 0);
	assert_memory_not_equal(pub, pub2, 32);
	x2 = read_cert(cp2);
	bn2 = ASN1_INTEGER_to_BN(X509_get_serialNumber(x2), NULL);
	assert_int_not_equal(BN_cmp(bn, bn2), 0);
	BN_free(bn);
	BN_free(bn2);
	X509_free(x);
	X509_free(x2);

	/* A node name longer than X.509's 64-character CN bound still works
	 * (node names go up to 255). */
	{
		char name[TLS_NAME_MAX + 1];
		memset(name, 'n', TLS_NAME_MAX);
		name[TLS_NAME_MAX] = '\0';
		path_in_dir(kp2, sizeof kp2, "long.key");
		path_in_dir(cp2, sizeof cp2, "long.crt");
		if (tls_keygen(kp2, cp2, name, &e) != 0)
			fail_msg("tls_keygen(255-byte name): %s", e.msg);
		x = read_cert(cp2);
		assert_int_equal(X509_get_signature_nid(x), NID_ED25519);
		X509_free(x);
	}
}

/* Existing files, symlinks and bad names are refused; nothing is
 * overwritten and no half-made pair is left behind. */
static void test_keygen_refuses(void **state)
{
	char kp[128], cp[128], kp2[128], target[128];
	char *before, *after;
	size_t blen, alen;
	struct perr e;

	(void)state;
	path_in_dir(kp, sizeof kp, "rf.key");
	path_in_dir(cp, sizeof cp, "rf.crt");
	assert_int_equal(tls_keygen(kp, cp, "rf", &e), 0);
	before = read_all(kp, &blen);

	/* Both exist. */
	assert_int_equal(tls_keygen(kp, cp, "rf", &e), -1);
	assert_contains(e.msg, kp);
	assert_contains(e.msg, "already exists");
	assert_queue_empty();
	after = read_all(kp, &alen);
	assert_int_equal(alen, blen);
	assert_memory_equal(after, before, blen);
	free(after);
	free(before);

	/* Only the certificate exists: the new key file is not left behind. */
	path_in_dir(kp2, sizeof kp2, "rf2.key");
	assert_int_equal(tls_keygen(kp2, cp, "rf", &e), -1);
	assert_contains(e.msg, cp);
	assert_false(exists(kp2));

	/* A dangling symlink is not followed. */
	path_in_dir(target, sizeof target, "rf-target");
	assert_int_equal(symlink(target, kp2), 0);
	path_in_dir(cp, sizeof cp, "rf2.crt");
	assert_int_equal(tls_keygen(kp2, cp, "rf", &e), -1);
	assert_contains(e.msg, kp2);
	assert_false(exists(target));
	assert_false(exists(cp));
	assert_int_equal(unlink(kp2), 0);

	/* Names: empty, with a space, with a control character, too long. */
	{
		char longname[TLS_NAME_MAX + 2];
		memset(longname, 'a', sizeof longname - 1);
		longname[sizeof longname - 1] = '\0';
		assert_int_equal(tls_keygen(kp2, cp, "", &e), -1);
		assert_contains(e.msg, "invalid certificate name");
		assert_int_equal(tls_keygen(kp2, cp, "two words", &e), -1);
		assert_int_equal(tls_keygen(kp2, cp, "tab\there", &e), -1);
		assert_int_equal(tls_keygen(kp2, cp, longname, &e), -1);
		assert_false(exists(kp2));
		assert_false(exists(cp));
	}
}

/* Unreadable, foreign and mismatched key files are refused with a message
 * that names the file and gives OpenSSL's reason. */
static void test_key_errors(void **state)
{
	char missing[128], ecpath[128];
	uint8_t pub[32];
	struct perr e;
	FILE *f;

	(void)state;
	path_in_dir(missing, sizeof missing, "missing.key");
	assert_int_equal(tls_key_public(missing, pub, &e), -1);
	assert_contains(e.msg, missing);
	assert_contains(e.msg, "No such file");

	/* A certificate is not a key. */
	assert_int_equal(tls_key_public(fx.crt[ALICE], pub, &e), -1);
	assert_contains(e.msg, fx.crt[ALICE]);
	assert_contains(e.msg, "not a PEM private key: error:");
	assert_queue_empty();

	/* An EC key is not an Ed25519 key. */
	path_in_dir(ecpath, sizeof ecpath, "ec.key");
	f = fopen(ecpath, "w");
	assert_non_null(f);
	assert_int_equal(PEM_write_PrivateKey(f, fx.eckey, NULL, NULL, 0, NULL,
					      NULL), 1);
	fclose(f);
	assert_int_equal(tls_key_public(ecpath, pub, &e), -1);
	assert_contains(e.msg, ecpath);
	assert_contains(e.msg, "not Ed25519");
	assert_null(tls_ctx_new(1, ecpath, fx.crt[ALICE], &e));
	assert_contains(e.msg, "not Ed25519");

	/* Contexts: the key must match the certificate; files must exist. */
	assert_null(tls_ctx_new(1, fx.key[ALICE], fx.crt[BOB], &e));
	assert_contains(e.msg, fx.key[ALICE]);
	assert_contains(e.msg, "does not match");
	assert_null(tls_ctx_new(0, fx.key[ALICE], missing, &e));
	assert_contains(e.msg, missing);
	assert_null(tls_ctx_new(0, fx.key[ALICE], fx.key[ALICE], &e));
	assert_contains(e.msg, "not a PEM certificate");
	assert_queue_empty();

	/* Bounds on pins. */
	{
		SSL_CTX *ctx = node_ctx(0, BOB);
		SSL *ssl = SSL_new(ctx);
		assert_non_null(ssl);
		assert_int_equal(tls_set_pins(ssl, NULL, TLS_PINS_MAX + 1, &e), -1);
		assert_contains(e.msg, "too many");
		assert_int_equal(tls_set_pins(ssl, NULL, 1, &e), -1);
		assert_int_equal(tls_set_pins(ssl, NULL, 0, &e), 0);
		assert_int_equal(tls_set_pins(ssl, fx.pub, NNODES, &e), 0);
		/* Before any handshake: no peer, nothing refused yet. */
		assert_int_equal(tls_peer_key(ssl, pub, &e), -1);
		assert_contains(e.msg, "not finished");
		assert_int_equal(tls_pin_error(ssl, &e), 0);
		SSL_free(ssl); /* frees the pins (ASan checks for leaks) */
		SSL_CTX_free(ctx);
	}
}

/* ---------------------------------------------------------------------- */
/* Handshakes                                                              */

/* Each side pins the other: TLS 1.3, each knows who the other is, and a
 * message goes each way. */
static void test_handshake_pinned(void **state)
{
	SSL_CTX *sctx = node_ctx(1, ALICE), *cctx = node_ctx(0, BOB);
	struct end srv, cli;

	(void)state;
	end_init(&srv, sctx, &fx.pub[BOB], 1);
	end_init(&cli, cctx, &fx.pub[ALICE], 1);
	run_pair(&srv, &cli);
	assert_talked(&srv, &cli);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
}

/* A server pins every peer it knows and learns which one connected; a
 * second tls_set_pins replaces the first. */
static void test_server_many_pins(void **state)
{
	SSL_CTX *sctx = node_ctx(1, ALICE), *cctx = node_ctx(0, BOB);
	uint8_t all[4][32];
	struct end srv, cli;

	(void)state;
	memcpy(all[0], fx.pub[MALLORY], 32);
	memcpy(all[1], fx.ecx, 32);
	memcpy(all[2], fx.pub[BOB], 32);
	memcpy(all[3], fx.pub[ALICE], 32);
	end_init(&srv, sctx, all, 4);
	end_init(&cli, cctx, &fx.pub[ALICE], 1);
	cli.prepins = &fx.pub[MALLORY]; /* replaced before the handshake */
	cli.nprepins = 1;
	run_pair(&srv, &cli);
	assert_talked(&srv, &cli);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
}

/*
 * The server does not pin the client's key.  TLS 1.3 lets the client's
 * SSL_connect succeed before the server has judged its certificate, and
 * this client (unlike parley's framing layer) writes at once.  Its bytes
 * reach the server's socket, but the server's handshake has already
 * failed: TLS never releases them, SSL_read errors, and the client's own
 * first read gets the bad_certificate alert.
 */
static void test_server_refuses_unpinned_client(void **state)
{
	SSL_CTX *sctx = node_ctx(1, ALICE), *cctx = node_ctx(0, BOB);
	struct end srv, cli;
	char hex[65];

	(void)state;
	end_init(&srv, sctx, &fx.pub[MALLORY], 1);
	end_init(&cli, cctx, &fx.pub[ALICE], 1);
	cli.write_first = 1;
	run_pair(&srv, &cli);

	hex_of(hex, fx.pub[BOB], 32);
	assert_refused_by_pin(&srv, hex);
	assert_contains(srv.pin_err.msg, "is not pinned");
	assert_got_nothing(&srv);
	/* The client's record did arrive; TLS discarded it. */
	assert_true(srv.raw_after > (long)strlen(MESSAGE));

	assert_int_equal(cli.hs, 1); /* the TLS 1.3 ordering of DESIGN */
	assert_int_equal(cli.wrote, (int)strlen(MESSAGE));
	assert_got_nothing(&cli);
	assert_int_equal(cli.read_ssl_err, SSL_ERROR_SSL);
	assert_reason(&cli.read_err, SSL_R_SSLV3_ALERT_BAD_CERTIFICATE,
		      "client read");
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
}

/* The client pins another key than the server's: the client aborts its
 * own handshake and the server gets nothing. */
static void test_client_refuses_unpinned_server(void **state)
{
	SSL_CTX *sctx = node_ctx(1, ALICE), *cctx = node_ctx(0, BOB);
	struct end srv, cli;
	char hex[65];

	(void)state;
	end_init(&srv, sctx, &fx.pub[BOB], 1);
	end_init(&cli, cctx, &fx.pub[MALLORY], 1);
	run_pair(&srv, &cli);

	hex_of(hex, fx.pub[ALICE], 32);
	assert_refused_by_pin(&cli, hex);
	assert_true(cli.wrote <= 0);
	assert_got_nothing(&cli);

	assert_int_not_equal(srv.hs, 1);
	assert_reason(&srv.hs_err, SSL_R_SSLV3_ALERT_BAD_CERTIFICATE,
		      "server handshake");
	assert_int_equal(srv.pin_rc, 0); /* the server's pins were fine */
	assert_got_nothing(&srv);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
}

static int accept_any(X509_STORE_CTX *xs, void *arg)
{
	(void)xs, (void)arg;
	return 1;
}

/* tls_peer_key checks the pins again after the handshake (DESIGN), so a
 * connection made from a context that skipped the pin check (a plain
 * OpenSSL context whose verification accepts anything) still does not
 * pass for the peer. */
static void test_peer_key_rechecks(void **state)
{
	SSL_CTX *sctx = node_ctx(1, ALICE);
	X509 *bcert = node_cert(BOB);
	EVP_PKEY *bkey = node_key(BOB);
	SSL_CTX *lax = plain_ctx(0, TLS1_3_VERSION, TLS1_3_VERSION, bcert, bkey);
	struct end srv, cli;
	char hex[65];

	(void)state;
	SSL_CTX_set_verify(lax, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_cert_verify_callback(lax, accept_any, NULL);
	end_init(&srv, sctx, &fx.pub[BOB], 1);
	end_init(&cli, lax, &fx.pub[MALLORY], 1);
	run_pair(&srv, &cli);
	assert_int_equal(cli.hs, 1);
	assert_int_equal(cli.peer_rc, -1);
	hex_of(hex, fx.pub[ALICE], 32);
	assert_contains(cli.peer_err.msg, hex);
	assert_contains(cli.peer_err.msg, "is not pinned");
	assert_int_equal(srv.peer_rc, 0); /* alice did check bob */
	X509_free(bcert);
	EVP_PKEY_free(bkey);
	SSL_CTX_free(lax);
	SSL_CTX_free(sctx);
}

/* A connection whose pins were never set refuses everyone (fail closed),
 * and so does an empty pin list. */
static void test_no_pins_refuse_all(void **state)
{
	SSL_CTX *sctx = node_ctx(1, ALICE), *cctx = node_ctx(0, BOB);
	struct end srv, cli;

	(void)state;
	end_init(&srv, sctx, NULL, 0);
	srv.pinning = PIN_NEVER;
	end_init(&cli, cctx, &fx.pub[ALICE], 1);
	run_pair(&srv, &cli);
	assert_refused_by_pin(&srv, "no TLS pins");
	assert_got_nothing(&srv);
	assert_got_nothing(&cli);

	end_init(&srv, sctx, NULL, 0);
	end_init(&cli, cctx, &fx.pub[ALICE], 1);
	run_pair(&srv, &cli);
	assert_refused_by_pin(&srv, "is not pinned");
	assert_got_nothing(&srv);
	assert_got_nothing(&cli);

	/* Client side: no pins, no connection. */
	end_init(&srv, sctx, &fx.pub[BOB], 1);
	end_init(&cli, cctx, NULL, 0);
	cli.pinning = PIN_NEVER;
	run_pair(&srv, &cli);
	assert_refused_by_pin(&cli, "no TLS pins");
	assert_got_nothing(&srv);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
}

/* TLS 1.2 is refused in both directions. */
static void test_tls12_refused(void **state)
{
	SSL_CTX *sctx = node_ctx(1, ALICE), *cctx = node_ctx(0, BOB);
	X509 *acert = node_cert(ALICE);
	EVP_PKEY *akey = node_key(ALICE);
	SSL_CTX *old;
	struct end srv, cli;

	(void)state;
	/* A client that speaks only TLS 1.2, with bob's key and pins. */
	old = node_ctx(0, BOB);
	assert_int_equal(SSL_CTX_set_min_proto_version(old, TLS1_2_VERSION), 1);
	assert_int_equal(SSL_CTX_set_max_proto_version(old, TLS1_2_VERSION), 1);
	end_init(&srv, sctx, &fx.pub[BOB], 1);
	end_init(&cli, old, &fx.pub[ALICE], 1);
	run_pair(&srv, &cli);
	assert_int_not_equal(srv.hs, 1);
	assert_reason(&srv.hs_err, SSL_R_UNSUPPORTED_PROTOCOL, "server");
	assert_int_equal(srv.pin_rc, 0);
	assert_int_not_equal(cli.hs, 1);
	assert_reason(&cli.hs_err, SSL_R_TLSV1_ALERT_PROTOCOL_VERSION, "client");
	assert_got_nothing(&srv);
	assert_got_nothing(&cli);
	SSL_CTX_free(old);

	/* A server that speaks only TLS 1.2, with alice's certificate. */
	old = plain_ctx(1, TLS1_2_VERSION, TLS1_2_VERSION, acert, akey);
	end_init(&srv, old, NULL, 0);
	srv.pinning = PIN_NEVER;
	end_init(&cli, cctx, &fx.pub[ALICE], 1);
	run_pair(&srv, &cli);
	assert_int_not_equal(cli.hs, 1);
	assert_reason(&cli.hs_err, SSL_R_TLSV1_ALERT_PROTOCOL_VERSION, "client");
	assert_int_equal(cli.pin_rc, 0);
	assert_int_not_equal(srv.hs, 1);
	assert_got_nothing(&srv);
	assert_got_nothing(&cli);
	SSL_CTX_free(old);

	X509_free(acert);
	EVP_PKEY_free(akey);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
}

/* A client that presents no certificate is refused. */
static void test_client_without_cert_refused(void **state)
{
	SSL_CTX *sctx = node_ctx(1, ALICE);
	SSL_CTX *anon = plain_ctx(0, TLS1_3_VERSION, TLS1_3_VERSION, NULL, NULL);
	struct end srv, cli;

	(void)state;
	end_init(&srv, sctx, &fx.pub[BOB], 1);
	end_init(&cli, anon, NULL, 0);
	cli.pinning = PIN_NEVER;
	cli.write_first = 1;
	run_pair(&srv, &cli);
	assert_int_not_equal(srv.hs, 1);
	assert_reason(&srv.hs_err, SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE,
		      "server");
	assert_got_nothing(&srv);
	assert_int_equal(cli.hs, 1); /* TLS 1.3: it learns only on reading */
	assert_got_nothing(&cli);
	assert_reason(&cli.read_err, SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED,
		      "client read");
	SSL_CTX_free(sctx);
	SSL_CTX_free(anon);
}

/* A certificate whose key is not Ed25519 (here EC P-256) is refused on
 * either side, even when 32 bytes of its key (the point's x coordinate)
 * are among the pins. */
static void test_non_ed25519_refused(void **state)
{
	SSL_CTX *sctx = node_ctx(1, ALICE), *cctx = node_ctx(0, BOB);
	SSL_CTX *ec;
	uint8_t pins[2][32];
	struct end srv, cli;

	(void)state;
	/* An EC client against alice. */
	memcpy(pins[0], fx.pub[BOB], 32);
	memcpy(pins[1], fx.ecx, 32);
	ec = plain_ctx(0, TLS1_3_VERSION, TLS1_3_VERSION, fx.eccert, fx.eckey);
	end_init(&srv, sctx, pins, 2);
	end_init(&cli, ec, NULL, 0);
	cli.pinning = PIN_NEVER;
	cli.write_first = 1;
	run_pair(&srv, &cli);
	assert_refused_by_pin(&srv, "peer certificate key is EC, not Ed25519");
	assert_got_nothing(&srv);
	assert_got_nothing(&cli);
	assert_reason(&cli.read_err, SSL_R_SSLV3_ALERT_BAD_CERTIFICATE,
		      "client read");
	SSL_CTX_free(ec);

	/* Bob dialling an EC server. */
	memcpy(pins[0], fx.pub[ALICE], 32);
	ec = plain_ctx(1, TLS1_3_VERSION, TLS1_3_VERSION, fx.eccert, fx.eckey);
	end_init(&srv, ec, NULL, 0);
	srv.pinning = PIN_NEVER;
	end_init(&cli, cctx, pins, 2);
	run_pair(&srv, &cli);
	assert_refused_by_pin(&cli, "peer certificate key is EC, not Ed25519");
	assert_got_nothing(&srv);
	assert_got_nothing(&cli);
	assert_reason(&srv.hs_err, SSL_R_SSLV3_ALERT_BAD_CERTIFICATE, "server");
	SSL_CTX_free(ec);

	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
}

/* No session tickets: after a full exchange (which is when TLS 1.3
 * tickets would have arrived) the client holds no resumable session.  The
 * control shows the check can fail: with tickets turned back on, it does
 * hold one. */
static void test_no_session_tickets(void **state)
{
	SSL_CTX *sctx = node_ctx(1, ALICE), *cctx = node_ctx(0, BOB);
	struct end srv, cli;

	(void)state;
	assert_int_equal(SSL_CTX_get_num_tickets(sctx), 0);
	assert_true(SSL_CTX_get_options(sctx) & SSL_OP_NO_TICKET);
	assert_int_equal(SSL_CTX_get_session_cache_mode(sctx), SSL_SESS_CACHE_OFF);
	assert_int_equal(SSL_CTX_get_session_cache_mode(cctx), SSL_SESS_CACHE_OFF);
	end_init(&srv, sctx, &fx.pub[BOB], 1);
	end_init(&cli, cctx, &fx.pub[ALICE], 1);
	run_pair(&srv, &cli);
	assert_talked(&srv, &cli);
	assert_false(cli.resumable);
	SSL_CTX_free(sctx);

	/* Control. */
	sctx = node_ctx(1, ALICE);
	SSL_CTX_clear_options(sctx, SSL_OP_NO_TICKET);
	assert_int_equal(SSL_CTX_set_num_tickets(sctx, 2), 1);
	end_init(&srv, sctx, &fx.pub[BOB], 1);
	end_init(&cli, cctx, &fx.pub[ALICE], 1);
	run_pair(&srv, &cli);
	assert_talked(&srv, &cli);
	assert_true(cli.resumable);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keygen_files),
		cmocka_unit_test(test_keygen_refuses),
		cmocka_unit_test(test_key_errors),
		cmocka_unit_test(test_handshake_pinned),
		cmocka_unit_test(test_server_many_pins),
		cmocka_unit_test(test_server_refuses_unpinned_client),
		cmocka_unit_test(test_client_refuses_unpinned_server),
		cmocka_unit_test(test_peer_key_rechecks),
		cmocka_unit_test(test_no_pins_refuse_all),
		cmocka_unit_test(test_tls12_refused),
		cmocka_unit_test(test_client_without_cert_refused),
		cmocka_unit_test(test_non_ed25519_refused),
		cmocka_unit_test(test_no_session_tickets),
	};

	/* OpenSSL writes to sockets with write(2); a peer that has gone must
	 * give EPIPE, not kill the test. */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
