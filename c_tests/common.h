/*
 * Helpers shared by the C test programs: checks that report the library's own message, the
 * deterministic payload every test log uses, and small file utilities.
 */
#ifndef WAL_C_TESTS_COMMON_H
#define WAL_C_TESTS_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wal_recovery.h"

static int g_failures = 0;

static inline const char *last_message(void) {
    static char msg[1024];
    wal_last_error_message(NULL, msg, sizeof msg);
    return msg;
}

/* Records a failure and goes on. */
#define CHECK(cond)                                                                      \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);     \
            g_failures++;                                                                \
        }                                                                                \
    } while (0)

/* Checks that `expr` returns `want`; prints the status names and the last message if not. */
#define CHECK_STATUS(expr, want)                                                         \
    do {                                                                                 \
        wal_status got_ = (expr);                                                        \
        if (got_ != (wal_status)(want)) {                                                \
            fprintf(stderr, "%s:%d: %s returned %s (%u), expected %s: %s\n", __FILE__,   \
                    __LINE__, #expr, wal_status_name(got_), (unsigned)got_,              \
                    wal_status_name((wal_status)(want)), last_message());                \
            g_failures++;                                                                \
        }                                                                                \
    } while (0)

/* As CHECK_STATUS, but stops the program: later steps depend on it. */
#define REQUIRE_STATUS(expr, want)                                                       \
    do {                                                                                 \
        int before_ = g_failures;                                                        \
        CHECK_STATUS(expr, want);                                                        \
        if (g_failures != before_) {                                                     \
            exit(1);                                                                     \
        }                                                                                \
    } while (0)

#define REQUIRE(cond)                                                                    \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond);   \
            exit(1);                                                                     \
        }                                                                                \
    } while (0)

/* Counts a failure: event `ev` arrived where id `expect` was due, or its payload was wrong. */
static inline void fail_unexpected_event(const wal_event *ev, uint64_t expect) {
    fprintf(stderr, "event %llu (len %lu) where %llu was expected, or bad payload\n",
            (unsigned long long)ev->event_id, (unsigned long)ev->len, (unsigned long long)expect);
    g_failures++;
}

/* Payload of event `id`: 0..96 bytes, content derived from the id. */
static inline size_t payload_len(uint64_t id) { return (size_t)(id % 97u); }

static inline void fill_payload(uint64_t id, unsigned char *buf) {
    size_t i, n = payload_len(id);
    for (i = 0; i < n; i++) {
        buf[i] = (unsigned char)((id * 31u + i * 7u) & 0xffu);
    }
}

/* True when `data[0..len)` is the payload of event `id`. */
static inline int payload_ok(uint64_t id, const uint8_t *data, size_t len) {
    unsigned char want[128];
    if (len != payload_len(id)) {
        return 0;
    }
    if (len == 0) {
        return 1;
    }
    fill_payload(id, want);
    return data != NULL && memcmp(want, data, len) == 0;
}

/* Joins `dir` and `name` into `out` (size `cap`). */
static inline void join_path(char *out, size_t cap, const char *dir, const char *name) {
    int n = snprintf(out, cap, "%s/%s", dir, name);
    REQUIRE(n > 0 && (size_t)n < cap);
}

/* Path of segment `seq` (canonical 20-digit name) in `dir`. */
static inline void segment_path(char *out, size_t cap, const char *dir, unsigned seq) {
    char name[64];
    snprintf(name, sizeof name, "%020u.wal", seq);
    join_path(out, cap, dir, name);
}

/* XORs one byte of `path` at `offset` with 0xff. */
static inline void flip_byte(const char *path, long offset) {
    FILE *f = fopen(path, "r+b");
    int c;
    REQUIRE(f != NULL);
    REQUIRE(fseek(f, offset, SEEK_SET) == 0);
    c = fgetc(f);
    REQUIRE(c != EOF);
    REQUIRE(fseek(f, offset, SEEK_SET) == 0);
    REQUIRE(fputc(c ^ 0xff, f) != EOF);
    REQUIRE(fclose(f) == 0);
}

#endif /* WAL_C_TESTS_COMMON_H */
