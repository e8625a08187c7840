/*
 * Whether the two vCPUs this benchmark runs on share a last-level cache right now: core 1
 * reads 4 MiB chunks that core 0 has just read (the way the replay reads blocks the preloader
 * has just checked), then chunks no core has touched for 256 MiB (from memory). On a host
 * whose vCPUs share an L3 the first is several times faster; on vCPUs placed on two L3s
 * (two CCDs) it is *slower* than memory (the lines come from the other L3). The placement can
 * change between runs minutes apart, so bench/scripts/series.sh records it with its figures.
 *
 *   cc -O2 -pthread bench/c/cache_share.c -o cache_share && ./cache_share
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHUNK ((size_t)4 << 20)
#define CHUNKS 64

static uint8_t *buf;
static atomic_int ready = -1;
static volatile uint64_t sink;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* One load per cache line. */
static uint64_t touch(const uint8_t *p, size_t n) {
    uint64_t s = 0;
    for (size_t i = 0; i < n; i += 64) {
        s += *(const uint64_t *)(const void *)(p + i);
    }
    return s;
}

static int pin(int cpu) {
    cpu_set_t s;
    CPU_ZERO(&s);
    CPU_SET(cpu, &s);
    return pthread_setaffinity_np(pthread_self(), sizeof s, &s);
}

static void *first_reader(void *arg) {
    (void)arg;
    pin(0);
    for (int i = 0; i < CHUNKS; i++) {
        sink += touch(buf + (size_t)i * CHUNK, CHUNK);
        atomic_store(&ready, i);
        while (atomic_load(&ready) != -2 - i) {
        }
    }
    return NULL;
}

/* GB/s of core 1 reading the first half: after core 0 read each chunk (`after_other` 1), or
   from memory (0). */
static double second_read(int after_other) {
    pthread_t t;
    double busy = 0;
    size_t half = CHUNK * CHUNKS;
    sink += touch(buf + half, half); /* evicts the first half from every cache */
    atomic_store(&ready, -1);
    if (after_other && pthread_create(&t, NULL, first_reader, NULL) != 0) {
        return 0;
    }
    for (int i = 0; i < CHUNKS; i++) {
        double t0;
        if (after_other) {
            while (atomic_load(&ready) != i) {
            }
        }
        t0 = now();
        sink += touch(buf + (size_t)i * CHUNK, CHUNK);
        busy += now() - t0;
        if (after_other) {
            atomic_store(&ready, -2 - i);
        }
    }
    if (after_other) {
        pthread_join(t, NULL);
    }
    return (double)half / busy / 1e9;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(void) {
    double shared[3], memory[3];
    buf = aligned_alloc((size_t)2 << 20, CHUNK * CHUNKS * 2);
    if (buf == NULL || pin(1) != 0) {
        fprintf(stderr, "cache_share: needs 512 MiB and CPUs 0 and 1\n");
        return 1;
    }
    memset(buf, 1, CHUNK * CHUNKS * 2);
    for (int r = 0; r < 3; r++) {
        shared[r] = second_read(1);
        memory[r] = second_read(0);
    }
    qsort(shared, 3, sizeof shared[0], cmp);
    qsort(memory, 3, sizeof memory[0], cmp);
    printf("cpu1 reads what cpu0 just read: %.1f GB/s; from memory: %.1f GB/s (medians of 3): %s\n",
           shared[1], memory[1],
           shared[1] > 1.5 * memory[1] ? "one shared L3"
           : shared[1] < memory[1]     ? "separate L3s (lines cross between them)"
                                       : "unclear");
    return 0;
}
