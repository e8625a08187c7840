/*
 * The C caller's replay loop with the header's inline per-event call, wal_recovery_next_hot,
 * for wal-bench's "wal_recovery (C ABI, inline next_hot)" row. Compiled by bench/build.rs
 * (-O2) against include/wal_recovery.h and linked statically with the library, as a C engine
 * links libwal_recovery.a. Does per event what every other row does: count it and add the
 * first 8 bytes of its payload (u64, little-endian on this machine).
 */
#include <string.h>

#include "wal_recovery.h"

/* Returned for a payload shorter than 8 bytes (the harness's events are longer). */
#define WAL_BENCH_SHORT_PAYLOAD 0xffffffffu

/* Replays `h` to its end; returns the status that ended it (WAL_END on success) or
   WAL_BENCH_SHORT_PAYLOAD. */
uint32_t wal_bench_replay_hot(wal_recovery *h, uint64_t *count, uint64_t *sum) {
    wal_hot_window *w = wal_recovery_hot_window(h);
    wal_event ev;
    wal_status s;
    uint64_t n = 0, acc = 0;
    while ((s = wal_recovery_next_hot(h, w, &ev)) == WAL_OK) {
        uint64_t first;
        if (ev.len < 8) {
            *count = n;
            *sum = acc;
            return WAL_BENCH_SHORT_PAYLOAD;
        }
        memcpy(&first, ev.data, 8);
        acc += first;
        n++;
    }
    *count = n;
    *sum = acc;
    return (uint32_t)s;
}
