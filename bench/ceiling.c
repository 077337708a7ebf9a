/*
 * The ceiling of bench:stream: the same pwritev2(2) calls the stream's workload makes,
 * from a plain C loop with no event loop, no threadpool and no JavaScript. Writes
 * `bytes` bytes into `path` (created, truncated) in `chunk`-byte calls with `flags`,
 * from one buffer filled once, and prints one JSON line: bytes, ns (open to close),
 * calls, the p99.9 time of one call in microseconds, and errno (0 when every byte was
 * written).
 *
 *   ceiling PATH BYTES CHUNK FLAGS
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* p99.9 of the per-call times, in microseconds (0 without calls). */
static double p999_us(double *call_ns, long long calls) {
  if (calls == 0) return 0;
  qsort(call_ns, (size_t)calls, sizeof(double), by_value);
  long long rank = (long long)((double)calls * 0.999 + 0.999999) - 1;
  return call_ns[rank < calls ? rank : calls - 1] / 1e3;
}

static int report(long long bytes, double ns, long long calls, double *call_ns, int err) {
  printf("{\"bytes\":%lld,\"ns\":%.0f,\"calls\":%lld,\"callP999Us\":%.1f,\"errno\":%d}\n", bytes, ns, calls,
         p999_us(call_ns, calls), err);
  return err == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: %s PATH BYTES CHUNK FLAGS\n", argv[0]);
    return 2;
  }
  long long total = atoll(argv[2]);
  size_t chunk = (size_t)atoll(argv[3]);
  int flags = atoi(argv[4]);
  if (total < 0 || chunk == 0) return 2;
  char *buffer = malloc(chunk);
  /* One slot per call, plus room for short writes and EINTR retries. */
  long long slots = total / (long long)chunk + 1024;
  double *call_ns = malloc((size_t)slots * sizeof(double));
  if (!buffer || !call_ns) return report(0, 0, 0, call_ns, ENOMEM);
  memset(buffer, 0x5a, chunk);
  double start = now_ns();
  int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return report(0, 0, 0, call_ns, errno);
  long long written = 0, calls = 0;
  while (written < total) {
    size_t want = total - written < (long long)chunk ? (size_t)(total - written) : chunk;
    /* After a short write the loop goes on from the next byte, as the stream's does. */
    struct iovec iov = {buffer, want};
    double before = now_ns();
    ssize_t r = pwritev2(fd, &iov, 1, written, flags);
    int err = r < 0 ? errno : 0;
    if (calls < slots) call_ns[calls++] = now_ns() - before;
    if (r < 0 && err == EINTR) continue;
    if (r <= 0) {
      close(fd);
      return report(written, now_ns() - start, calls, call_ns, r < 0 ? err : EIO);
    }
    written += r;
  }
  if (close(fd) < 0) return report(written, now_ns() - start, calls, call_ns, errno);
  return report(written, now_ns() - start, calls, call_ns, 0);
}
