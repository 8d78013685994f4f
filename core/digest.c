/*
 * MD5 through libcrypto's EVP interface (see zpm/digest.h).
 */
#include "zpm/digest.h"

#include <string.h>

#include <openssl/evp.h>

#include "zpm/error.h"

int zpm_md5_init(struct zpm_md5 *md5)
{
  if (md5->ctx == NULL)
    md5->ctx = EVP_MD_CTX_new();
  if (md5->ctx != NULL &&
      EVP_DigestInit_ex(md5->ctx, EVP_md5(), NULL) == 1)
    return ZPM_OK;
  zpm_md5_free(md5);
  return ZPM_ENOMEM;
}

int zpm_md5_copy(struct zpm_md5 *md5, const struct zpm_md5 *from)
{
  if (md5->ctx == NULL)
    md5->ctx = EVP_MD_CTX_new();
  if (md5->ctx != NULL && from->ctx != NULL &&
      EVP_MD_CTX_copy_ex(md5->ctx, from->ctx) == 1)
    return ZPM_OK;
  zpm_md5_free(md5);
  return ZPM_ENOMEM;
}

void zpm_md5_update(struct zpm_md5 *md5, const void *data, size_t len)
{
  if (md5->ctx != NULL && len > 0)
    (void)EVP_DigestUpdate(md5->ctx, data, len);
}

void zpm_md5_final(struct zpm_md5 *md5,
                   unsigned char digest[ZPM_MD5_DIGEST_SIZE])
{
  unsigned int n = 0;

  if (md5->ctx == NULL ||
      EVP_DigestFinal_ex(md5->ctx, digest, &n) != 1 ||
      n != ZPM_MD5_DIGEST_SIZE)
    memset(digest, 0, ZPM_MD5_DIGEST_SIZE);
}

void zpm_md5_free(struct zpm_md5 *md5)
{
  EVP_MD_CTX_free(md5->ctx);
  md5->ctx = NULL;
}

void zpm_md5_hex(const unsigned char digest[ZPM_MD5_DIGEST_SIZE],
                 char hex[ZPM_MD5_HEX_SIZE])
{
  static const char digits[] = "0123456789abcdef";
  int i;

  for (i = 0; i < ZPM_MD5_DIGEST_SIZE; i++) {
    hex[2 * i] = digits[digest[i] >> 4];
    hex[2 * i + 1] = digits[digest[i] & 15];
  }
  hex[2 * ZPM_MD5_DIGEST_SIZE] = '\0';
}
