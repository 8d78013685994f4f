/*
 * MD5 (RFC 1321), for checking the Etag Swift returns against the bytes
 * that were sent. Not for anything that needs a secure hash.
 */
#ifndef ZPM_MD5_H
#define ZPM_MD5_H

#include <stddef.h>
#include <stdint.h>

#define ZPM_MD5_DIGEST_SIZE 16
#define ZPM_MD5_HEX_SIZE 33   /* 32 hex digits and the terminating NUL */

struct zpm_md5 {
  uint32_t state[4];
  uint64_t count;             /* bytes hashed so far */
  unsigned char block[64];    /* partial input block */
};

void zpm_md5_init(struct zpm_md5 *ctx);
void zpm_md5_update(struct zpm_md5 *ctx, const void *data, size_t len);
/* Finish and write the digest; ctx must be re-initialised to reuse it. */
void zpm_md5_final(struct zpm_md5 *ctx,
                   unsigned char digest[ZPM_MD5_DIGEST_SIZE]);
/* Lower-case hex of a digest, NUL-terminated. */
void zpm_md5_hex(const unsigned char digest[ZPM_MD5_DIGEST_SIZE],
                 char hex[ZPM_MD5_HEX_SIZE]);

#endif
