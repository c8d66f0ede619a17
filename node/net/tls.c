/*
 * tls: OpenSSL over memory BIOs. See tls.h.
 *
 * Plaintext written before the handshake completes (an IMAPS greeting is
 * written as soon as the connection is accepted) is held in `early` and
 * encrypted when the handshake finishes. The error queue is per thread and
 * cleared before every SSL_* call so a stale error is never blamed on the
 * wrong connection. While a connection idles its memory BIOs are freed
 * (made again on the next use) and OpenSSL releases its record buffers
 * (SSL_MODE_RELEASE_BUFFERS).
 */
#include "node/net/tls.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node/lib/nbuf.h"
#include "node/lib/util.h"

#define TLS_EARLY_MAX (1024 * 1024)
#define TLS_ERR_MAX   160

struct tls_ctx {
	SSL_CTX *ssl;
};

struct tls_conn {
	SSL *ssl;
	BIO *rbio; /* ciphertext from the peer; owned by ssl; NULL while idle */
	BIO *wbio; /* ciphertext to the peer; owned by ssl; NULL while idle */
	struct nbuf early;
	char *err; /* after a failure (heap): an idle connection carries no text */
	unsigned established : 1;
	unsigned failed : 1;
};

static char tls_errbuf[4700];

static const char *
tls_error_text(const char *what, const char *file)
{
	unsigned long e = ERR_get_error();
	char ossl[256] = "unknown error";
	if (e != 0)
		ERR_error_string_n(e, ossl, sizeof(ossl));
	ERR_clear_error();
	snprintf(tls_errbuf, sizeof(tls_errbuf), "%s%s%s: %s", what, file ? " " : "",
	         file ? file : "", ossl);
	return tls_errbuf;
}

static SSL_CTX *
tls_ctx_base(const SSL_METHOD *method)
{
	SSL_CTX *ssl = SSL_CTX_new(method);
	if (ssl == NULL)
		return NULL;
	SSL_CTX_set_min_proto_version(ssl, TLS1_2_VERSION);
	SSL_CTX_set_options(ssl, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
	                                 SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(ssl, SSL_MODE_RELEASE_BUFFERS);
	return ssl;
}

static int
tls_ctx_load(SSL_CTX *ssl, const char *cert, const char *key, const char **error_r)
{
	if (cert == NULL)
		return 0;
	ERR_clear_error();
	if (SSL_CTX_use_certificate_chain_file(ssl, cert) != 1) {
		*error_r = tls_error_text("cannot load certificate", cert);
		return -1;
	}
	if (SSL_CTX_use_PrivateKey_file(ssl, key, SSL_FILETYPE_PEM) != 1) {
		*error_r = tls_error_text("cannot load private key", key);
		return -1;
	}
	if (SSL_CTX_check_private_key(ssl) != 1) {
		*error_r = tls_error_text("private key does not match certificate", key);
		return -1;
	}
	return 0;
}

int
tls_ctx_create_server(const char *cert, const char *key, const char *client_ca,
                      struct tls_ctx **ctx_r, const char **error_r)
{
	SSL_CTX *ssl = tls_ctx_base(TLS_server_method());
	if (ssl == NULL) {
		*error_r = tls_error_text("cannot create TLS context", NULL);
		return -1;
	}
	if (tls_ctx_load(ssl, cert, key, error_r) != 0)
		goto err_after_ssl;
	if (client_ca != NULL) {
		if (SSL_CTX_load_verify_locations(ssl, client_ca, NULL) != 1) {
			*error_r = tls_error_text("cannot load CA", client_ca);
			goto err_after_ssl;
		}
		SSL_CTX_set_verify(ssl, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	}
	/* Sessions are not resumed across connections: no cache to grow. */
	SSL_CTX_set_session_cache_mode(ssl, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ssl, 0);
	struct tls_ctx *ctx = xmalloc(sizeof(*ctx));
	ctx->ssl = ssl;
	*ctx_r = ctx;
	return 0;
err_after_ssl:
	SSL_CTX_free(ssl);
	return -1;
}

int
tls_ctx_create_client(const char *cert, const char *key, const char *ca, struct tls_ctx **ctx_r,
                      const char **error_r)
{
	SSL_CTX *ssl = tls_ctx_base(TLS_client_method());
	if (ssl == NULL) {
		*error_r = tls_error_text("cannot create TLS context", NULL);
		return -1;
	}
	if (tls_ctx_load(ssl, cert, key, error_r) != 0)
		goto err_after_ssl;
	if (ca != NULL) {
		if (SSL_CTX_load_verify_locations(ssl, ca, NULL) != 1) {
			*error_r = tls_error_text("cannot load CA", ca);
			goto err_after_ssl;
		}
		SSL_CTX_set_verify(ssl, SSL_VERIFY_PEER, NULL);
	}
	struct tls_ctx *ctx = xmalloc(sizeof(*ctx));
	ctx->ssl = ssl;
	*ctx_r = ctx;
	return 0;
err_after_ssl:
	SSL_CTX_free(ssl);
	return -1;
}

void
tls_ctx_free(struct tls_ctx **ctx)
{
	if (*ctx == NULL)
		return;
	SSL_CTX_free((*ctx)->ssl);
	free(*ctx);
	*ctx = NULL;
}

static void
tls_conn_new_bios(struct tls_conn *t)
{
	t->rbio = BIO_new(BIO_s_mem());
	t->wbio = BIO_new(BIO_s_mem());
	if (t->rbio == NULL || t->wbio == NULL)
		panic("tls: cannot allocate memory BIOs");
	BIO_set_mem_eof_return(t->rbio, -1);
	BIO_set_mem_eof_return(t->wbio, -1);
	SSL_set_bio(t->ssl, t->rbio, t->wbio);
}

/* The BIOs are dropped while the connection idles: back before use. */
static void
tls_conn_bios(struct tls_conn *t)
{
	if (t->rbio == NULL)
		tls_conn_new_bios(t);
}

struct tls_conn *
tls_conn_new(struct tls_ctx *ctx, int server)
{
	struct tls_conn *t = xcalloc(1, sizeof(*t));
	ERR_clear_error();
	t->ssl = SSL_new(ctx->ssl);
	if (t->ssl == NULL)
		panic("tls: SSL_new failed");
	tls_conn_new_bios(t);
	if (server)
		SSL_set_accept_state(t->ssl);
	else
		SSL_set_connect_state(t->ssl);
	nbuf_init(&t->early, TLS_EARLY_MAX);
	return t;
}

void
tls_conn_free(struct tls_conn **t)
{
	if (*t == NULL)
		return;
	SSL_free((*t)->ssl);
	nbuf_deinit(&(*t)->early);
	free((*t)->err);
	free(*t);
	*t = NULL;
}

int
tls_conn_feed(struct tls_conn *t, const void *p, size_t n)
{
	tls_conn_bios(t);
	return BIO_write(t->rbio, p, (int)n) == (int)n ? 0 : -1;
}

size_t
tls_conn_fed_pending(const struct tls_conn *t)
{
	return t->rbio ? BIO_ctrl_pending(t->rbio) : 0;
}

size_t
tls_conn_in_pending(const struct tls_conn *t)
{
	return tls_conn_fed_pending(t) + (size_t)(t->established ? SSL_pending(t->ssl) : 0);
}

static int
tls_conn_fail(struct tls_conn *t, int sslerr)
{
	unsigned long e = ERR_get_error();
	if (t->err == NULL)
		t->err = xmalloc(TLS_ERR_MAX);
	if (e != 0)
		ERR_error_string_n(e, t->err, TLS_ERR_MAX);
	else
		snprintf(t->err, TLS_ERR_MAX, "TLS error %d", sslerr);
	ERR_clear_error();
	t->failed = 1;
	return TLS_ERROR;
}

static int
tls_conn_flush_early(struct tls_conn *t)
{
	if (nbuf_avail(&t->early) == 0)
		return 0;
	int rc = tls_conn_write(t, nbuf_head(&t->early), nbuf_avail(&t->early));
	nbuf_deinit(&t->early);
	return rc;
}

int
tls_conn_read(struct tls_conn *t, void *buf, size_t n)
{
	if (t->failed)
		return TLS_ERROR;
	tls_conn_bios(t);
	ERR_clear_error();
	if (!t->established) {
		int rc = SSL_do_handshake(t->ssl);
		if (rc != 1) {
			int e = SSL_get_error(t->ssl, rc);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
				return 0;
			return tls_conn_fail(t, e);
		}
		t->established = 1;
		if (tls_conn_flush_early(t) != 0)
			return TLS_ERROR;
	}
	if (n == 0)
		return 0;
	int rc = SSL_read(t->ssl, buf, (int)MIN(n, (size_t)INT32_MAX));
	if (rc > 0)
		return rc;
	int e = SSL_get_error(t->ssl, rc);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return 0;
	if (e == SSL_ERROR_ZERO_RETURN)
		return TLS_EOF;
	return tls_conn_fail(t, e);
}

int
tls_conn_write(struct tls_conn *t, const void *p, size_t n)
{
	if (t->failed)
		return TLS_ERROR;
	if (!t->established)
		return nbuf_append(&t->early, p, n) == 0 ? 0 : TLS_ERROR;
	tls_conn_bios(t);
	ERR_clear_error();
	const char *c = p;
	while (n > 0) {
		int chunk = (int)MIN(n, (size_t)1 << 30);
		int rc = SSL_write(t->ssl, c, chunk);
		if (rc <= 0)
			return tls_conn_fail(t, SSL_get_error(t->ssl, rc));
		c += rc;
		n -= (size_t)rc;
	}
	return 0;
}

void
tls_conn_shutdown(struct tls_conn *t)
{
	if (!t->established || t->failed)
		return;
	tls_conn_bios(t);
	ERR_clear_error();
	SSL_shutdown(t->ssl);
	ERR_clear_error();
}

size_t
tls_conn_out_pending(const struct tls_conn *t)
{
	return t->wbio ? BIO_ctrl_pending(t->wbio) : 0;
}

size_t
tls_conn_take_out(struct tls_conn *t, void *buf, size_t n)
{
	int rc = t->wbio ? BIO_read(t->wbio, buf, (int)MIN(n, (size_t)INT32_MAX)) : 0;
	return rc > 0 ? (size_t)rc : 0;
}

int
tls_conn_established(const struct tls_conn *t)
{
	return t->established;
}

const char *
tls_conn_error(const struct tls_conn *t)
{
	return t->err && t->err[0] ? t->err : "TLS error";
}

const char *
tls_conn_peer_cn(struct tls_conn *t)
{
	if (!t->established || SSL_get_verify_result(t->ssl) != X509_V_OK)
		return NULL;
	X509 *peer = SSL_get1_peer_certificate(t->ssl);
	if (peer == NULL)
		return NULL;
	/* Static: callers use the name at once, on the loop thread. */
	static char cn[80];
	int n = X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn,
	                                  sizeof(cn));
	X509_free(peer);
	return n > 0 ? cn : NULL;
}

const char *
tls_conn_describe(const struct tls_conn *t)
{
	/* Static: for a log line written at once, on the loop thread. */
	static char desc[80];
	snprintf(desc, sizeof(desc), "%s/%s", SSL_get_version(t->ssl), SSL_get_cipher_name(t->ssl));
	return desc;
}

void
tls_conn_idle(struct tls_conn *t)
{
	if (!t->established || t->rbio == NULL || BIO_ctrl_pending(t->rbio) ||
	    BIO_ctrl_pending(t->wbio) || SSL_pending(t->ssl))
		return;
	/* SSL_set_bio frees the pair; tls_conn_bios makes a new one on use. */
	SSL_set_bio(t->ssl, NULL, NULL);
	t->rbio = t->wbio = NULL;
}

/* --- certificate creation ------------------------------------------- */

static int
tls_write_pem(const char *path, int mode, X509 *cert, EVP_PKEY *key, const char **error_r)
{
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0) {
		snprintf(tls_errbuf, sizeof(tls_errbuf), "cannot create %s: %s", tmp,
		         strerror(errno));
		*error_r = tls_errbuf;
		return -1;
	}
	FILE *f = fdopen(fd, "w");
	int ok = f != NULL && (cert ? PEM_write_X509(f, cert)
	                            : PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL));
	if (f != NULL) {
		ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
		ok = (fclose(f) == 0) && ok;
	} else {
		close(fd);
	}
	if (!ok || rename(tmp, path) != 0) {
		unlink(tmp);
		snprintf(tls_errbuf, sizeof(tls_errbuf), "cannot write %s", path);
		*error_r = tls_errbuf;
		return -1;
	}
	return 0;
}

static X509 *
tls_cert_new(EVP_PKEY *key, const char *cn, long days, X509 *issuer, EVP_PKEY *issuer_key,
             int is_ca)
{
	X509 *x = X509_new();
	if (x == NULL)
		return NULL;
	unsigned char serial[16];
	if (RAND_bytes(serial, sizeof(serial)) != 1)
		goto err;
	serial[0] &= 0x7f;
	BIGNUM *bn = BN_bin2bn(serial, sizeof(serial), NULL);
	ASN1_INTEGER *sn = bn ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
	BN_free(bn);
	if (sn == NULL)
		goto err;
	X509_set_serialNumber(x, sn);
	ASN1_INTEGER_free(sn);
	X509_set_version(x, 2);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), days * 86400L);
	X509_set_pubkey(x, key);
	X509_NAME *name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"mailnode", -1,
	                           -1, 0);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);

	X509V3_CTX v3;
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, issuer ? issuer : x, x, NULL, NULL, 0);
	char san[300];
	snprintf(san, sizeof(san), "DNS:%s,DNS:localhost,IP:127.0.0.1,IP:::1", cn);
	const char *exts[][2] = {
	        {"basicConstraints", is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE"},
	        {"keyUsage", is_ca ? "critical,keyCertSign,cRLSign"
	                           : "critical,digitalSignature,keyEncipherment"},
	        {"extendedKeyUsage", is_ca ? NULL : "serverAuth,clientAuth"},
	        {"subjectAltName", is_ca ? NULL : san},
	};
	for (size_t i = 0; i < ARRAY_SIZE(exts); i++) {
		if (exts[i][1] == NULL)
			continue;
		X509_EXTENSION *ext = X509V3_EXT_conf(NULL, &v3, exts[i][0], exts[i][1]);
		if (ext == NULL)
			goto err;
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	}
	if (X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) == 0)
		goto err;
	return x;
err:
	X509_free(x);
	return NULL;
}

static int
tls_issue(const char *cert_path, const char *key_path, const char *cn, long days, X509 *issuer,
          EVP_PKEY *issuer_key, int is_ca, const char **error_r)
{
	ERR_clear_error();
	EVP_PKEY *key = EVP_EC_gen("P-256");
	if (key == NULL) {
		*error_r = tls_error_text("cannot generate key", NULL);
		return -1;
	}
	X509 *x = tls_cert_new(key, cn, days, issuer, issuer_key, is_ca);
	int rc = -1;
	if (x == NULL) {
		*error_r = tls_error_text("cannot create certificate", NULL);
		goto out;
	}
	if (tls_write_pem(key_path, 0600, NULL, key, error_r) == 0 &&
	    tls_write_pem(cert_path, 0644, x, NULL, error_r) == 0)
		rc = 0;
out:
	X509_free(x);
	EVP_PKEY_free(key);
	return rc;
}

int
tls_selfsigned_create(const char *cert_path, const char *key_path, const char *cn,
                      const char **error_r)
{
	return tls_issue(cert_path, key_path, cn, 3650, NULL, NULL, 0, error_r);
}

int
tls_ca_create(const char *cert_path, const char *key_path, const char *cn, const char **error_r)
{
	return tls_issue(cert_path, key_path, cn, 3650 * 3, NULL, NULL, 1, error_r);
}

int
tls_cert_issue(const char *ca_cert, const char *ca_key, const char *cn, const char *cert_path,
               const char *key_path, const char **error_r)
{
	FILE *f = fopen(ca_cert, "r");
	X509 *ca = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	f = fopen(ca_key, "r");
	EVP_PKEY *cakey = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	int rc = -1;
	if (ca == NULL || cakey == NULL) {
		*error_r = tls_error_text("cannot read cluster CA", ca ? ca_key : ca_cert);
		goto out;
	}
	rc = tls_issue(cert_path, key_path, cn, 3650, ca, cakey, 0, error_r);
out:
	X509_free(ca);
	EVP_PKEY_free(cakey);
	return rc;
}
