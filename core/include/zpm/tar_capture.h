/*
 * Tar capture: a push-style tar parser that follows the member headers of
 * a byte stream fed to it in pieces of any size, and keeps in memory the
 * data of the regular-file members whose names match a pattern.
 *
 * It reads ustar headers (name and prefix), pax extended headers ('x':
 * path= and size=; 'g' global ones are skipped), GNU long names ('L'),
 * and sizes in octal or base-256. Patterns match like Python's fnmatch:
 * fnmatch(3) with FNM_NOESCAPE only, so '*' matches '/' too.
 *
 * Memory is bounded: a member larger than max_member, or captured data
 * past max_total, fails the feed with ZPM_ELIMIT; a pax or GNU long-name
 * header larger than ZPM_TAR_CAPTURE_META_MAX likewise.
 *
 * Why not libarchive (linked anyway, for bundles): its reader pulls its
 * input through a callback, while a tap is pushed each block as the
 * read-ahead thread produces it, so it would take a second thread or a
 * pipe per upload; and it is no faster. Measured on a 150 MiB tar (a
 * zpm bundle of bench/lib/gen_project.py's tree) from memory: parsing
 * with this capture 0.3-0.8 ms, libarchive's tar reader skipping the
 * data 0.7-0.9 ms, both next to about 1 s of inflating it.
 */
#ifndef ZPM_TAR_CAPTURE_H
#define ZPM_TAR_CAPTURE_H

#include <stddef.h>

#include "zpm/error.h"
#include "zpm/source.h"

#define ZPM_TAR_CAPTURE_META_MAX (1024 * 1024)
/* The limits when the options give 0 (zpm.core.http exports them) */
#define ZPM_TAR_CAPTURE_MAX_MEMBER (16 * 1024 * 1024)
#define ZPM_TAR_CAPTURE_MAX_TOTAL (64 * 1024 * 1024)

struct zpm_tar_capture;

struct zpm_tar_capture_options {
  const char *const *patterns;  /* copied */
  size_t n_patterns;
  size_t max_member;            /* 0: ZPM_TAR_CAPTURE_MAX_MEMBER */
  size_t max_total;             /* 0: ZPM_TAR_CAPTURE_MAX_TOTAL */
};

struct zpm_tar_member {
  char *name;                   /* NUL-terminated */
  unsigned char *data;
  size_t len;
};

int zpm_tar_capture_new(struct zpm_tar_capture **out,
                        const struct zpm_tar_capture_options *options,
                        struct zpm_error *err);
/* NULL is fine. */
void zpm_tar_capture_free(struct zpm_tar_capture *tc);

/*
 * Feed the next len bytes of the archive. Returns a status; on failure
 * the detail is in zpm_tar_capture_error and every later feed fails the
 * same way until a reset.
 */
int zpm_tar_capture_feed(struct zpm_tar_capture *tc, const void *buf,
                         size_t len);
/*
 * The stream ended: fails (ZPM_EARCHIVE) when it stopped inside a header
 * or a member's data. After a successful finish the capture is complete.
 */
int zpm_tar_capture_finish(struct zpm_tar_capture *tc);
/* Forget everything captured and start over at the first byte. */
void zpm_tar_capture_reset(struct zpm_tar_capture *tc);

/* Whether finish succeeded since the last reset. */
int zpm_tar_capture_complete(const struct zpm_tar_capture *tc);
/* Captured members, in archive order; valid until a reset or free. */
size_t zpm_tar_capture_count(const struct zpm_tar_capture *tc);
const struct zpm_tar_member *
zpm_tar_capture_member(const struct zpm_tar_capture *tc, size_t i);
const struct zpm_error *
zpm_tar_capture_error(const struct zpm_tar_capture *tc);

/*
 * tc as a tap (zpm_source_add_tap): fed with the bytes of the source it
 * is added to (for a zapp, the gunzip source, so it sees the tar), reset
 * on a rewind, finished at the end; its failure (ZPM_ELIMIT,
 * ZPM_EARCHIVE) fails the read. The caller keeps tc (the tap does not
 * free it) and reads it once the source is at its end or freed.
 */
void zpm_tar_capture_tap(struct zpm_tar_capture *tc,
                         struct zpm_source_tap *tap);

#endif
