/*
 * A minimal test harness for the C core: CHECK records a failure and goes
 * on, so one run reports every broken case; main returns the count.
 */
#ifndef ZPM_CHECK_H
#define ZPM_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failures;
static int check_count;

#define CHECK(cond) \
  do { \
    check_count++; \
    if (!(cond)) { \
      check_failures++; \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, \
              #cond); \
    } \
  } while (0)

#define CHECK_STR(got, want) \
  do { \
    const char *check_g_ = (got); \
    const char *check_w_ = (want); \
    check_count++; \
    if (check_g_ == NULL || strcmp(check_g_, check_w_) != 0) { \
      check_failures++; \
      fprintf(stderr, "%s:%d: got \"%s\", want \"%s\"\n", __FILE__, \
              __LINE__, check_g_ ? check_g_ : "(null)", check_w_); \
    } \
  } while (0)

#define CHECK_DONE() \
  (printf("%d checks, %d failed\n", check_count, check_failures), \
   check_failures != 0)

#endif
