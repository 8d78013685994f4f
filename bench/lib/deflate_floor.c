/*
 * deflate_floor: what compressing a tar costs at the cheapest libdeflate
 * level whose output is no larger than gzip -6's, with nothing else (no
 * reading, no tar, no MD5): the compression part of bench/bundle's floor.
 *
 *   deflate_floor TAR GZIP6_BYTES THREADS
 *
 * The tar is read into memory, then compressed once per level in 2 MiB
 * blocks (zpm's block size, one gzip member each) by THREADS threads
 * taking blocks in turn; level 0 stores the blocks (a CRC and a copy).
 * Levels 0-6 always, 7-9 only while no level has fitted. One line per
 * level, the MD5 of the tar (the record every zapp ends with, which
 * makes redeploys free, costs this much; libcrypto, one thread), then
 * the cheapest fitting level by CPU:
 *   level L bytes N cpu S wall S
 *   md5 cpu S
 *   bound L cpu S wall S          (or "bound none")
 * Build: cc -O2 -o deflate_floor deflate_floor.c -ldeflate -lcrypto
 *        -lpthread
 */
#define _POSIX_C_SOURCE 200809L

#include <libdeflate.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BLOCK (2u * 1024 * 1024)
#define MAX_THREADS 64

struct job {
  const unsigned char *in;
  size_t len;
  int level;
  size_t next;            /* next block's offset, under lock */
  size_t total;           /* output bytes, under lock */
  int failed;
  pthread_mutex_t lock;
};

static double clock_s(clockid_t id)
{
  struct timespec t;

  clock_gettime(id, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void *compress_blocks(void *arg)
{
  struct job *j = arg;
  struct libdeflate_compressor *c = NULL;
  unsigned char *out;
  size_t cap;

  if (j->level > 0)
    c = libdeflate_alloc_compressor(j->level);
  cap = c != NULL ? libdeflate_gzip_compress_bound(c, BLOCK) : BLOCK + 64;
  out = malloc(cap);
  if (out == NULL || (j->level > 0 && c == NULL)) {
    pthread_mutex_lock(&j->lock);
    j->failed = 1;
    pthread_mutex_unlock(&j->lock);
    free(out);
    return NULL;
  }
  for (;;) {
    size_t off;
    size_t n;
    size_t got;

    pthread_mutex_lock(&j->lock);
    off = j->next;
    j->next += BLOCK;
    pthread_mutex_unlock(&j->lock);
    if (off >= j->len)
      break;
    n = j->len - off < BLOCK ? j->len - off : BLOCK;
    if (c != NULL) {
      got = libdeflate_gzip_compress(c, j->in + off, n, out, cap);
    } else {
      /* stored: gzip header and trailer, 5 bytes per 64 KiB block */
      volatile unsigned crc = libdeflate_crc32(0, j->in + off, n);

      (void)crc;
      memcpy(out, j->in + off, n);
      got = 18 + n + 5 * ((n + 65534) / 65535);
    }
    pthread_mutex_lock(&j->lock);
    j->total += got;
    j->failed |= got == 0;
    pthread_mutex_unlock(&j->lock);
  }
  if (c != NULL)
    libdeflate_free_compressor(c);
  free(out);
  return NULL;
}

int main(int argc, char **argv)
{
  static pthread_t threads[MAX_THREADS];
  unsigned char *in = NULL;
  size_t len = 0;
  size_t cap = 0;
  unsigned long long limit;
  int nthreads;
  int best = -1;
  double best_cpu = 0;
  double best_wall = 0;
  FILE *f;
  int level;

  if (argc != 4) {
    fprintf(stderr, "usage: deflate_floor TAR GZIP6_BYTES THREADS\n");
    return 2;
  }
  limit = strtoull(argv[2], NULL, 10);
  nthreads = atoi(argv[3]);
  if (nthreads < 1 || nthreads > MAX_THREADS) {
    fprintf(stderr, "deflate_floor: THREADS must be 1..%d\n", MAX_THREADS);
    return 2;
  }
  f = fopen(argv[1], "rb");
  if (f == NULL) {
    perror(argv[1]);
    return 1;
  }
  for (;;) {
    size_t n;

    if (len == cap) {
      unsigned char *p;

      cap = cap ? cap * 2 : 64u << 20;
      p = realloc(in, cap);
      if (p == NULL) {
        fprintf(stderr, "deflate_floor: out of memory\n");
        return 1;
      }
      in = p;
    }
    n = fread(in + len, 1, cap - len, f);
    len += n;
    if (n == 0)
      break;
  }
  fclose(f);

  for (level = 0; level <= 9; level++) {
    struct job j;
    double cpu0, wall0, cpu, wall;
    int i;

    if (level > 6 && best >= 0)
      break;
    memset(&j, 0, sizeof(j));
    j.in = in;
    j.len = len;
    j.level = level;
    pthread_mutex_init(&j.lock, NULL);
    cpu0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    wall0 = clock_s(CLOCK_MONOTONIC);
    for (i = 0; i < nthreads; i++)
      pthread_create(&threads[i], NULL, compress_blocks, &j);
    for (i = 0; i < nthreads; i++)
      pthread_join(threads[i], NULL);
    cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
    wall = clock_s(CLOCK_MONOTONIC) - wall0;
    pthread_mutex_destroy(&j.lock);
    if (j.failed) {
      fprintf(stderr, "deflate_floor: level %d failed\n", level);
      return 1;
    }
    printf("level %d bytes %zu cpu %.3f wall %.3f\n", level, j.total, cpu,
           wall);
    if (j.total <= limit && (best < 0 || cpu < best_cpu)) {
      best = level;
      best_cpu = cpu;
      best_wall = wall;
    }
  }
  {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned dlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    double cpu0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);

    if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_md5(), NULL) != 1
        || EVP_DigestUpdate(ctx, in, len) != 1
        || EVP_DigestFinal_ex(ctx, digest, &dlen) != 1) {
      fprintf(stderr, "deflate_floor: md5 failed\n");
      return 1;
    }
    EVP_MD_CTX_free(ctx);
    printf("md5 cpu %.3f\n", clock_s(CLOCK_PROCESS_CPUTIME_ID) - cpu0);
  }
  if (best < 0)
    printf("bound none\n");
  else
    printf("bound %d cpu %.3f wall %.3f\n", best, best_cpu, best_wall);
  free(in);
  return 0;
}
