/* The C per-event replay loop of the overhead benchmark (cpp_tests/bench.cpp): the README's C
 * loop, one wal_recovery_next_hot per event (the header's inline call, as the C++ wrapper uses),
 * doing the same work per event as the C++ loop. Compiled as C, in its own translation unit,
 * with the same optimisation flags. */
#include "wal_recovery.h"

#include <stdio.h>

/* Replays `h` to the end; returns the checksum of the events and stores their count. Returns 0
 * with *events = 0 after printing the error when the replay does not end cleanly. */
uint64_t bench_c_loop(wal_recovery *h, uint64_t *events) {
    wal_event ev;
    wal_status s;
    uint64_t sum = 0, n = 0;
    wal_hot_window *win = wal_recovery_hot_window(h);
    while ((s = wal_recovery_next_hot(h, win, &ev)) == WAL_OK) {
        sum += ev.event_id ^ (uint64_t)ev.len ^ (uint64_t)ev.data[ev.len - 1];
        n++;
    }
    if (s != WAL_END) {
        char msg[512];
        wal_last_error_message(h, msg, sizeof msg);
        fprintf(stderr, "bench: C loop: %s: %s\n", wal_status_name(s), msg);
        *events = 0;
        return 0;
    }
    *events = n;
    return sum;
}
