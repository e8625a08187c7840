/* The README's C example, completed into a program: write a log with the writer API, then
 * replay it exactly as the README shows. Built by tests/install.rs against an installed
 * prefix with `pkg-config --cflags --libs wal_recovery`. */
#include <stdio.h>
#include <string.h>
#include <wal_recovery.h>

static unsigned long long applied, sum;
static void apply(uint64_t id, const uint8_t *data, size_t len) {
    uint64_t v;
    if (len != sizeof v) { fprintf(stderr, "event %llu: length %zu\n", (unsigned long long)id, len); return; }
    memcpy(&v, data, sizeof v);
    if (v != id) fprintf(stderr, "event %llu: payload %llu\n", (unsigned long long)id, (unsigned long long)v);
    applied++;
    sum += v;
}

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    wal_writer *w;
    wal_writer_options wo; wal_writer_options_init(&wo);
    wo.segment_bytes = 64 * 1024;
    if (wal_writer_open(argv[1], &wo, &w) != WAL_OK) return 3;
    for (uint64_t i = 1; i <= 10000; i++) {
        uint64_t id;
        if (wal_writer_append(w, &i, sizeof i, &id) != WAL_OK || id != i) return 4;
    }
    if (wal_writer_close(w) != WAL_OK) return 5;

    /* --- as in the README --- */
    wal_recovery *h;
    wal_recovery_options o; wal_recovery_options_init_sized(&o, sizeof o);      /* o.start_event_id = 0: oldest */
    if (wal_recovery_open(argv[1], &o, &h) != WAL_OK) { return 6; }
    wal_event ev; wal_status s;
    wal_hot_window *win = wal_recovery_hot_window(h);   /* once: wal_recovery_next, inlined */
    while ((s = wal_recovery_next_hot(h, win, &ev)) == WAL_OK)
        apply(ev.event_id, ev.data, ev.len);      /* ev.data valid until the next call on h */
    if (s != WAL_END) { char msg[512]; wal_last_error_message(h, msg, sizeof msg); fprintf(stderr, "%s\n", msg); return 7; }
    wal_recovery_close(h);

    printf("applied %llu sum %llu abi %u version %s\n", applied, sum, wal_abi_version(), wal_version());
    return applied == 10000 && sum == 10000ULL * 10001ULL / 2 ? 0 : 8;
}
