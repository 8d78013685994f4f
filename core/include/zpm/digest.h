/*
 * MD5 (RFC 1321), for checking the Etag Swift returns against the bytes
 * that were sent. Not for anything that needs a secure hash. libcrypto's
 * (OpenSSL's EVP, assembly on common CPUs), which libcurl loads anyway.
 *
 * A zeroed struct zpm_md5 holds nothing; init or copy gives it libcrypto's
 * state, free releases it. After a failed init or copy, update does
 * nothing and final gives zeroes, so a caller that checks only at the
 * end still sees a digest that matches nothing.
 */
#ifndef ZPM_DIGEST_H
#define ZPM_DIGEST_H

#include <stddef.h>

#define ZPM_MD5_DIGEST_SIZE 16
#define ZPM_MD5_HEX_SIZE 33   /* 32 hex digits and the terminating NUL */

struct evp_md_ctx_st;

struct zpm_md5 {
  struct evp_md_ctx_st *ctx;  /* libcrypto's EVP_MD_CTX, or NULL */
};

/* Start a new MD5 (reusing the state md5 holds). ZPM_OK or ZPM_ENOMEM. */
int zpm_md5_init(struct zpm_md5 *md5);
/* Make md5 a copy of from, which must hold a state. ZPM_OK or
 * ZPM_ENOMEM. */
int zpm_md5_copy(struct zpm_md5 *md5, const struct zpm_md5 *from);
void zpm_md5_update(struct zpm_md5 *md5, const void *data, size_t len);
/* Finish and write the digest; init starts md5 again. */
void zpm_md5_final(struct zpm_md5 *md5,
                   unsigned char digest[ZPM_MD5_DIGEST_SIZE]);
/* Release the state; md5 is zeroed again. */
void zpm_md5_free(struct zpm_md5 *md5);
/* Lower-case hex of a digest, NUL-terminated. */
void zpm_md5_hex(const unsigned char digest[ZPM_MD5_DIGEST_SIZE],
                 char hex[ZPM_MD5_HEX_SIZE]);

#endif
