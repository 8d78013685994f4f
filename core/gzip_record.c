/* A zapp's record of its tar: MD5 and length (see zpm/gzip_record.h). */
#include "zpm/gzip_record.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zpm/util.h"

/* Everything but the data: header (FLG.FEXTRA, mtime 0, XFL 0, OS 255),
 * XLEN, the subfield's id and length, then the empty final block and
 * the zero CRC-32 and size follow the data. */
static const unsigned char head[16] = {
  0x1f, 0x8b, 0x08, 0x04, 0, 0, 0, 0, 0x00, 0xff,
  4 + ZPM_GZIP_RECORD_DATA, 0, 'Z', 'P', ZPM_GZIP_RECORD_DATA, 0
};
static const unsigned char tail[10] = { 0x03, 0x00, 0, 0, 0, 0, 0, 0, 0, 0 };
#define RECORD_VERSION 1

void zpm_gzip_record_encode(const struct zpm_gzip_record *rec,
                            unsigned char out[ZPM_GZIP_RECORD_SIZE])
{
  unsigned char *p = out;
  int i;

  memcpy(p, head, sizeof(head));
  p += sizeof(head);
  *p++ = RECORD_VERSION;
  memcpy(p, rec->md5, sizeof(rec->md5));
  p += sizeof(rec->md5);
  for (i = 0; i < 8; i++)
    *p++ = (unsigned char)((rec->length >> (8 * i)) & 0xff);
  memcpy(p, tail, sizeof(tail));
}

int zpm_gzip_record_read(int fd, const char *path,
                         struct zpm_gzip_record *rec, int *found,
                         struct zpm_error *err)
{
  unsigned char buf[ZPM_GZIP_RECORD_SIZE];
  const unsigned char *p = buf + sizeof(head);
  struct stat st;
  ssize_t n;
  int i;

  *found = 0;
  if (fstat(fd, &st) != 0)
    return zpm_error_errno(err, errno, "cannot stat %s", path);
  if (st.st_size < (off_t)sizeof(buf))
    return ZPM_OK;
  n = zpm_pread_full(fd, buf, sizeof(buf), st.st_size - (off_t)sizeof(buf));
  if (n < 0)
    return zpm_error_errno(err, errno, "cannot read %s", path);
  if ((size_t)n != sizeof(buf) || memcmp(buf, head, sizeof(head)) != 0
      || p[0] != RECORD_VERSION
      || memcmp(buf + sizeof(buf) - sizeof(tail), tail, sizeof(tail)) != 0)
    return ZPM_OK;
  memcpy(rec->md5, p + 1, sizeof(rec->md5));
  rec->length = 0;
  for (i = 7; i >= 0; i--)
    rec->length = (rec->length << 8) | p[1 + sizeof(rec->md5) + i];
  *found = 1;
  return ZPM_OK;
}
