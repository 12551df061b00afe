/*
 * tls.c — TLS 1.3 with mutual authentication by pinned raw Ed25519 keys
 * (see tls.h and DESIGN, Identity and trust).
 */
#include "tls.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/* Key and certificate files are a few hundred bytes; anything much larger
 * is not one of ours. */
#define TLS_FILE_MAX (64 * 1024)
#define TLS_WHY_MAX 160

/*
 * The pins of one connection, stored as SSL ex_data.  The SSL owns them:
 * tls_pins_free runs from SSL_free, tls_pins_dup from SSL_dup.  The verify
 * callback records in why the reason it refused a peer, for tls_pin_error.
 */
struct tls_pins {
	int refused;
	char why[TLS_WHY_MAX];
	size_t n;
	uint8_t key[][32];
};

static CRYPTO_ONCE tls_once = CRYPTO_ONCE_STATIC_INIT;
static int tls_pins_idx = -1;

/* ---------------------------------------------------------------------- */
/* Errors                                                                  */

/*
 * Fills e with the formatted message followed by OpenSSL's reason for the
 * failure (the earliest error in the thread's queue), then empties the
 * queue so that the next caller does not inherit stale errors.  Returns -1.
 */
static int tls_err(struct perr *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int tls_err(struct perr *e, const char *fmt, ...)
{
	char what[PERR_MAX], why[256];
	unsigned long code = ERR_get_error();
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	ERR_clear_error();
	if (code == 0)
		return perr_set(e, "%s", what);
	ERR_error_string_n(code, why, sizeof why);
	return perr_set(e, "%s: %s", what, why);
}

/* Fills e with "<what> <path>: <strerror(err)>", empties the OpenSSL error
 * queue, and returns -1. */
static int tls_errno(struct perr *e, int err, const char *what,
		     const char *path)
{
	ERR_clear_error();
	return perr_set(e, "%s %s: %s", what, path, strerror(err));
}

/* ---------------------------------------------------------------------- */
/* Files                                                                   */

/*
 * Reads a whole key or certificate file (at most TLS_FILE_MAX bytes) into
 * an OPENSSL_malloc'd buffer, which the caller frees with
 * OPENSSL_clear_free(buf, *len) because it may hold a private key.
 * O_NOFOLLOW: a symlink planted in the node directory is refused, as
 * signify does.
 */
static int tls_read_file(const char *path, char **out, size_t *len,
			 struct perr *e)
{
	struct stat st;
	char *buf;
	size_t n = 0;
	ssize_t r;
	int fd;

	*out = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return tls_errno(e, errno, "cannot open", path);
	if (fstat(fd, &st) != 0) {
		int err = errno;
		close(fd);
		return tls_errno(e, err, "cannot stat", path);
	}
	if (!S_ISREG(st.st_mode) || st.st_size > TLS_FILE_MAX) {
		close(fd);
		ERR_clear_error();
		return perr_set(e, "%s: not a regular file of at most %d bytes",
				path, TLS_FILE_MAX);
	}
	buf = OPENSSL_malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		close(fd);
		return tls_err(e, "%s: out of memory", path);
	}
	while (n < (size_t)st.st_size) {
		r = read(fd, buf + n, (size_t)st.st_size - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			int err = r < 0 ? errno : EIO; /* shrank under us */
			OPENSSL_clear_free(buf, (size_t)st.st_size + 1);
			close(fd);
			return tls_errno(e, err, "cannot read", path);
		}
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

/* Creates path, which must not exist (not even as a symlink), with exactly
 * the given mode (fchmod: the umask does not weaken or widen it). */
static int tls_create(const char *path, mode_t mode, int *fd, struct perr *e)
{
	*fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		   mode);
	if (*fd < 0) {
		if (errno == EEXIST)
			return perr_set(e, "%s already exists; refusing to "
					"overwrite it", path);
		return tls_errno(e, errno, "cannot create", path);
	}
	if (fchmod(*fd, mode) != 0) {
		int err = errno;
		close(*fd);
		*fd = -1;
		unlink(path);
		return tls_errno(e, err, "cannot set the mode of", path);
	}
	return 0;
}

/* Writes all of a memory BIO to fd and syncs it. */
static int tls_write_bio(int fd, BIO *b, const char *path, struct perr *e)
{
	char *p;
	long n = BIO_get_mem_data(b, &p);
	ssize_t r;

	while (n > 0) {
		r = write(fd, p, (size_t)n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return tls_errno(e, errno, "cannot write", path);
		p += r;
		n -= r;
	}
	if (fsync(fd) != 0)
		return tls_errno(e, errno, "cannot sync", path);
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Keys and certificates                                                   */

/* The raw public key of an Ed25519 key; -1 (with a reason in why) if the
 * key is of another type. */
static int tls_raw_ed25519(const EVP_PKEY *pk, uint8_t pub[32], char *why,
			   size_t cap)
{
	size_t len = 32;

	if (pk == NULL) {
		snprintf(why, cap, "no usable public key");
		return -1;
	}
	if (!EVP_PKEY_is_a(pk, "ED25519")) {
		const char *t = EVP_PKEY_get0_type_name(pk);
		snprintf(why, cap, "key is %s, not Ed25519",
			 t != NULL ? t : "of an unknown type");
		return -1;
	}
	if (EVP_PKEY_get_raw_public_key(pk, pub, &len) != 1 || len != 32) {
		snprintf(why, cap, "cannot read the Ed25519 public key");
		return -1;
	}
	return 0;
}

/* Key files are never encrypted (the node starts unattended); without
 * this, OpenSSL would prompt on the terminal for a passphrase. */
static int tls_no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf, (void)size, (void)rwflag, (void)u;
	return -1;
}

/* Loads an Ed25519 private key from a PEM file. */
static EVP_PKEY *tls_load_key(const char *path, struct perr *e)
{
	EVP_PKEY *pk = NULL;
	char *buf, why[64];
	uint8_t pub[32];
	size_t len;
	BIO *b;

	if (tls_read_file(path, &buf, &len, e) != 0)
		return NULL;
	b = BIO_new_mem_buf(buf, (int)len);
	if (b != NULL)
		pk = PEM_read_bio_PrivateKey(b, NULL, tls_no_passphrase, NULL);
	BIO_free(b);
	OPENSSL_clear_free(buf, len + 1);
	if (pk == NULL) {
		tls_err(e, "%s: not a PEM private key", path);
		return NULL;
	}
	if (tls_raw_ed25519(pk, pub, why, sizeof why) != 0) {
		EVP_PKEY_free(pk);
		ERR_clear_error();
		perr_set(e, "%s: %s", path, why);
		return NULL;
	}
	return pk;
}

static X509 *tls_load_cert(const char *path, struct perr *e)
{
	X509 *x = NULL;
	size_t len;
	char *buf;
	BIO *b;

	if (tls_read_file(path, &buf, &len, e) != 0)
		return NULL;
	b = BIO_new_mem_buf(buf, (int)len);
	if (b != NULL)
		x = PEM_read_bio_X509(b, NULL, tls_no_passphrase, NULL);
	BIO_free(b);
	OPENSSL_clear_free(buf, len + 1);
	if (x == NULL)
		tls_err(e, "%s: not a PEM certificate", path);
	return x;
}

/* Node names become the certificate's CN: printable ASCII, no spaces. */
static int tls_name_valid(const char *name)
{
	size_t i, n = strlen(name);

	if (n == 0 || n > TLS_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (name[i] <= 0x20 || name[i] >= 0x7f)
			return 0;
	return 1;
}

static int tls_add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	if (ext == NULL)
		return 0;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok;
}

/*
 * The self-signed certificate of tls_keygen.  The CN is written as a
 * UTF8String directly (not through the MBSTRING path), because that path
 * enforces RFC 5280's 64-character ub-common-name and node names may be
 * up to 255; no parser we know of rejects a longer CN, and no trust rests
 * on it.
 */
static X509 *tls_make_cert(EVP_PKEY *pk, const char *name)
{
	uint8_t serial[16];
	X509_NAME *subj;
	BIGNUM *bn = NULL;
	X509 *x;
	int ok = 0;

	x = X509_new();
	if (x == NULL)
		return NULL;
	/* RFC 5280 4.1.2.2: positive, at most 20 octets.  16 random octets
	 * with the top bit cleared (positive) and the next one set (so the
	 * encoding is always 16 octets): 126 random bits. */
	if (RAND_bytes(serial, sizeof serial) != 1)
		goto out;
	serial[0] = (uint8_t)((serial[0] & 0x7f) | 0x40);
	bn = BN_bin2bn(serial, sizeof serial, NULL);
	subj = X509_get_subject_name(x);
	ok = X509_set_version(x, 2) == 1 && /* v3 */
	     bn != NULL &&
	     BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL &&
	     X509_gmtime_adj(X509_getm_notBefore(x), -86400L) != NULL &&
	     ASN1_TIME_set_string_X509(X509_getm_notAfter(x),
				       "99991231235959Z") == 1 &&
	     X509_NAME_add_entry_by_NID(subj, NID_commonName, V_ASN1_UTF8STRING,
					(const unsigned char *)name,
					(int)strlen(name), -1, 0) == 1 &&
	     X509_set_issuer_name(x, subj) == 1 &&
	     X509_set_pubkey(x, pk) == 1 &&
	     tls_add_ext(x, NID_basic_constraints, "critical,CA:FALSE") &&
	     tls_add_ext(x, NID_key_usage, "critical,digitalSignature") &&
	     tls_add_ext(x, NID_ext_key_usage, "serverAuth,clientAuth") &&
	     tls_add_ext(x, NID_subject_key_identifier, "hash") &&
	     X509_sign(x, pk, NULL) > 0; /* Ed25519: no separate digest */
out:
	BN_free(bn);
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

int tls_keygen(const char *keypath, const char *certpath, const char *name,
	       struct perr *e)
{
	EVP_PKEY *pk = NULL;
	X509 *x = NULL;
	BIO *kb = NULL, *cb = NULL;
	int kfd = -1, cfd = -1, rc = -1;

	if (!tls_name_valid(name))
		return perr_set(e, "invalid certificate name \"%.64s\": it must be "
				"1..%d printable ASCII characters without spaces",
				name, TLS_NAME_MAX);
	pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (pk == NULL) {
		tls_err(e, "cannot generate an Ed25519 key");
		goto out;
	}
	x = tls_make_cert(pk, name);
	if (x == NULL) {
		tls_err(e, "cannot make the certificate for %s", certpath);
		goto out;
	}
	/* The private key's PEM lives in secure memory, cleansed on free
	 * (and on every reallocation while it grows). */
	kb = BIO_new(BIO_s_secmem());
	cb = BIO_new(BIO_s_mem());
	if (kb == NULL || cb == NULL ||
	    PEM_write_bio_PKCS8PrivateKey(kb, pk, NULL, NULL, 0, NULL, NULL) != 1 ||
	    PEM_write_bio_X509(cb, x) != 1) {
		tls_err(e, "cannot encode the key for %s", keypath);
		goto out;
	}
	/* Both files are claimed before either is written, so that a
	 * refusal to overwrite one leaves no half-made pair behind. */
	if (tls_create(keypath, 0600, &kfd, e) != 0)
		goto out;
	if (tls_create(certpath, 0644, &cfd, e) != 0) {
		close(kfd);
		kfd = -1;
		unlink(keypath);
		goto out;
	}
	if (tls_write_bio(kfd, kb, keypath, e) != 0 ||
	    tls_write_bio(cfd, cb, certpath, e) != 0)
		goto unlink;
	if (close(kfd) != 0) {
		kfd = -1;
		tls_errno(e, errno, "cannot close", keypath);
		goto unlink;
	}
	kfd = -1;
	if (close(cfd) != 0) {
		cfd = -1;
		tls_errno(e, errno, "cannot close", certpath);
		goto unlink;
	}
	cfd = -1;
	rc = 0;
	goto out;
unlink:
	unlink(keypath);
	unlink(certpath);
out:
	if (kfd >= 0)
		close(kfd);
	if (cfd >= 0)
		close(cfd);
	BIO_free(kb);
	BIO_free(cb);
	X509_free(x);
	EVP_PKEY_free(pk); /* cleanses the private key */
	ERR_clear_error();
	return rc;
}

int tls_key_public(const char *keypath, uint8_t pub[32], struct perr *e)
{
	EVP_PKEY *pk = tls_load_key(keypath, e);
	char why[64];
	int rc = 0;

	if (pk == NULL)
		return -1;
	if (tls_raw_ed25519(pk, pub, why, sizeof why) != 0)
		rc = perr_set(e, "%s: %s", keypath, why);
	EVP_PKEY_free(pk);
	ERR_clear_error();
	return rc;
}

/* ---------------------------------------------------------------------- */
/* Pins                                                                    */

static void tls_pins_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad,
			  int idx, long argl, void *argp)
{
	struct tls_pins *p = ptr;

	(void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
	if (p != NULL)
		OPENSSL_free(p);
}

static size_t tls_pins_size(size_t n)
{
	return sizeof(struct tls_pins) + n * 32;
}

/* SSL_dup copies ex_data pointers; give the copy its own pins, or
 * SSL_free would free them twice. */
static int tls_pins_dup(CRYPTO_EX_DATA *to, const CRYPTO_EX_DATA *from,
			void **from_d, int idx, long argl, void *argp)
{
	struct tls_pins *p = *(struct tls_pins **)from_d, *q;

	(void)to, (void)from, (void)idx, (void)argl, (void)argp;
	if (p == NULL)
		return 1;
	q = OPENSSL_memdup(p, tls_pins_size(p->n));
	*(struct tls_pins **)from_d = q;
	return q != NULL;
}

static void tls_init(void)
{
	tls_pins_idx = SSL_get_ex_new_index(0, (void *)"parley pins", NULL,
					    tls_pins_dup, tls_pins_free);
}

static int tls_init_once(struct perr *e)
{
	if (!CRYPTO_THREAD_run_once(&tls_once, tls_init) || tls_pins_idx < 0)
		return tls_err(e, "cannot register the TLS pin storage");
	return 0;
}

static struct tls_pins *tls_pins_of(const SSL *ssl)
{
	if (tls_pins_idx < 0)
		return NULL;
	return SSL_get_ex_data(ssl, tls_pins_idx);
}

static int tls_pinned(const struct tls_pins *p, const uint8_t pub[32])
{
	size_t i;

	for (i = 0; i < p->n; i++)
		if (CRYPTO_memcmp(p->key[i], pub, 32) == 0)
			return 1;
	return 0;
}

static void tls_hex(char *out, const uint8_t *b, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
	out[2 * n] = '\0';
}

/*
 * Replaces OpenSSL's certificate chain verification (it is called instead
 * of X509_verify_cert, with SSL_VERIFY_PEER on both sides).  A self-signed
 * certificate has no chain worth building, so rather than filter the
 * errors that chain building would report, the decision is made here and
 * is exactly the pin check: the leaf (the certificate whose key signs the
 * peer's CertificateVerify) must hold an Ed25519 key equal to one of the
 * connection's pins.  On refusal X509_V_ERR_CERT_REJECTED makes OpenSSL
 * abort the handshake with a bad_certificate alert.
 */
static int tls_cert_verify(X509_STORE_CTX *xs, void *arg)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(
		xs, SSL_get_ex_data_X509_STORE_CTX_idx());
	X509 *leaf = X509_STORE_CTX_get0_cert(xs);
	struct tls_pins *p;
	char why[64], hex[65];
	uint8_t pub[32];

	(void)arg;
	p = ssl != NULL ? tls_pins_of(ssl) : NULL;
	if (p == NULL || leaf == NULL) {
		X509_STORE_CTX_set_error(xs, X509_V_ERR_CERT_REJECTED);
		return 0;
	}
	if (tls_raw_ed25519(X509_get0_pubkey(leaf), pub, why, sizeof why) != 0) {
		p->refused = 1;
		snprintf(p->why, sizeof p->why, "peer certificate %s", why);
		X509_STORE_CTX_set_error(xs, X509_V_ERR_CERT_REJECTED);
		return 0;
	}
	if (!tls_pinned(p, pub)) {
		tls_hex(hex, pub, 32);
		p->refused = 1;
		snprintf(p->why, sizeof p->why, "peer key %s is not pinned", hex);
		X509_STORE_CTX_set_error(xs, X509_V_ERR_CERT_REJECTED);
		return 0;
	}
	X509_STORE_CTX_set_error(xs, X509_V_OK);
	return 1;
}

int tls_set_pins(SSL *ssl, const uint8_t (*pins)[32], size_t npins,
		 struct perr *e)
{
	struct tls_pins *p, *old;

	assert(ssl != NULL);
	if (tls_init_once(e) != 0)
		return -1;
	if (npins > TLS_PINS_MAX)
		return perr_set(e, "too many TLS pins: %zu (at most %d)", npins,
				TLS_PINS_MAX);
	if (npins > 0 && pins == NULL)
		return perr_set(e, "TLS pins missing");
	if (!SSL_in_before(ssl))
		return perr_set(e, "TLS pins set after the handshake began");
	p = OPENSSL_zalloc(tls_pins_size(npins));
	if (p == NULL)
		return tls_err(e, "cannot store %zu TLS pins", npins);
	p->n = npins;
	if (npins > 0)
		memcpy(p->key, pins, npins * 32);
	old = tls_pins_of(ssl);
	if (!SSL_set_ex_data(ssl, tls_pins_idx, p)) {
		OPENSSL_free(p);
		return tls_err(e, "cannot attach TLS pins");
	}
	OPENSSL_free(old);
	return 0;
}

SSL *tls_ssl_new(SSL_CTX *ctx, const uint8_t (*pins)[32], size_t npins,
		 struct perr *e)
{
	SSL *ssl = SSL_new(ctx);

	if (ssl == NULL) {
		tls_err(e, "cannot create a TLS connection");
		return NULL;
	}
	if (tls_set_pins(ssl, pins, npins, e) != 0) {
		SSL_free(ssl);
		return NULL;
	}
	return ssl;
}

int tls_peer_key(SSL *ssl, uint8_t pub[32], struct perr *e)
{
	const struct tls_pins *p = tls_pins_of(ssl);
	X509 *peer;
	char why[64];
	long vr;

	assert(ssl != NULL && pub != NULL);
	if (p == NULL)
		return perr_set(e, "no TLS pins set on this connection");
	if (!SSL_is_init_finished(ssl))
		return perr_set(e, "TLS handshake not finished");
	vr = SSL_get_verify_result(ssl);
	if (vr != X509_V_OK)
		return perr_set(e, "peer certificate refused: %s",
				X509_verify_cert_error_string(vr));
	peer = SSL_get0_peer_certificate(ssl);
	if (peer == NULL)
		return perr_set(e, "peer presented no certificate");
	if (tls_raw_ed25519(X509_get0_pubkey(peer), pub, why, sizeof why) != 0) {
		ERR_clear_error();
		return perr_set(e, "peer certificate %s", why);
	}
	if (!tls_pinned(p, pub)) {
		char hex[65];
		tls_hex(hex, pub, 32);
		memset(pub, 0, 32);
		return perr_set(e, "peer key %s is not pinned", hex);
	}
	return 0;
}

int tls_pin_error(const SSL *ssl, struct perr *e)
{
	const struct tls_pins *p = tls_pins_of(ssl);

	if (p == NULL)
		return perr_set(e, "no TLS pins set on this connection");
	if (p->refused)
		return perr_set(e, "%s", p->why);
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Contexts                                                                */

SSL_CTX *tls_ctx_new(int is_server, const char *keypath, const char *certpath,
		     struct perr *e)
{
	SSL_CTX *ctx = NULL;
	EVP_PKEY *pk = NULL;
	X509 *x = NULL;
	uint8_t pub[32];
	char why[64];

	assert(keypath != NULL && certpath != NULL);
	if (tls_init_once(e) != 0)
		return NULL;
	pk = tls_load_key(keypath, e);
	if (pk == NULL)
		goto fail;
	x = tls_load_cert(certpath, e);
	if (x == NULL)
		goto fail;
	if (tls_raw_ed25519(X509_get0_pubkey(x), pub, why, sizeof why) != 0) {
		perr_set(e, "%s: certificate %s", certpath, why);
		goto fail;
	}
	if (EVP_PKEY_eq(X509_get0_pubkey(x), pk) != 1) {
		perr_set(e, "%s does not match the certificate %s", keypath,
			 certpath);
		goto fail;
	}
	ctx = SSL_CTX_new(is_server ? TLS_server_method() : TLS_client_method());
	if (ctx == NULL) {
		tls_err(e, "cannot create a TLS context");
		goto fail;
	}
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1) {
		tls_err(e, "cannot restrict TLS to version 1.3");
		goto fail;
	}
	if (SSL_CTX_use_certificate(ctx, x) != 1) {
		tls_err(e, "%s: cannot use the certificate", certpath);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey(ctx, pk) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		tls_err(e, "%s: cannot use the key", keypath);
		goto fail;
	}
	SSL_CTX_set_verify(ctx, is_server ? SSL_VERIFY_PEER |
			   SSL_VERIFY_FAIL_IF_NO_PEER_CERT : SSL_VERIFY_PEER,
			   NULL);
	SSL_CTX_set_cert_verify_callback(ctx, tls_cert_verify, NULL);
	/* No resumption: every connection proves the pinned key afresh.  In
	 * TLS 1.3 SSL_OP_NO_TICKET alone only switches to stateful tickets;
	 * num_tickets = 0 is what stops NewSessionTicket. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	if (SSL_CTX_set_num_tickets(ctx, 0) != 1) {
		tls_err(e, "cannot turn off session tickets");
		goto fail;
	}
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	X509_free(x);
	EVP_PKEY_free(pk);
	ERR_clear_error();
	return ctx;
fail:
	SSL_CTX_free(ctx);
	X509_free(x);
	EVP_PKEY_free(pk);
	ERR_clear_error();
	return NULL;
}
