/*
 * Follow mode through the C API: a writer *process* (fork) appends events with the writer API,
 * flushing (wal_writer_sync) after batches of varying size and rolling small segments, while
 * this process follows the log with wal_recovery_next / wal_recovery_next_wait and checks every
 * id and payload. The follower opens before the log directory exists, so it starts on
 * WAL_AGAIN. Each idle strategy is used by one follower. Also: WAL_AGAIN from next_batch,
 * timeouts, and that a handle without follow mode still ends with WAL_END.
 *
 * Usage: follow <empty scratch directory>. Exit status 0 when every check passed.
 * Built with -std=c99 -Wall -Wextra -Wpedantic -Werror by tests/ffi_c.rs.
 */
#define _POSIX_C_SOURCE 200809L

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

#define COUNT 20000u
#define SEGMENT_BYTES (32u * 1024u)
#define BLOCK_BYTES 1024u
/* Generous: the machine may be busy with other builds. */
#define LIMIT_NS (120ull * 1000000000ull)

_Static_assert(WAL_AGAIN == 8, "WAL_AGAIN");
_Static_assert(WAL_FOLLOW_OFF == 0 && WAL_FOLLOW_BACKOFF == 1 && WAL_FOLLOW_SPIN == 2 &&
                   WAL_FOLLOW_YIELD == 3,
               "wal_follow values");

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* The writer process: COUNT events, synced after 1..=200 events (a fixed pseudo-random
   sequence), then closed. Exits 0 on success. */
static int writer_process(const char *dir) {
    wal_writer_options wo;
    wal_writer *w = NULL;
    unsigned char buf[128];
    uint64_t i, x = 0x9E3779B97F4A7C15ull, batch = 0;
    wal_writer_options_init(&wo);
    wo.segment_bytes = SEGMENT_BYTES;
    wo.block_bytes = BLOCK_BYTES;
    if (wal_writer_open(dir, &wo, &w) != WAL_OK) {
        return 10;
    }
    for (i = 1; i <= COUNT; i++) {
        uint64_t id = 0;
        fill_payload(i, buf);
        if (wal_writer_append(w, buf, payload_len(i), &id) != WAL_OK || id != i) {
            return 11;
        }
        if (batch == 0) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            batch = 1 + x % 200u;
        }
        if (--batch == 0 && wal_writer_sync(w) != WAL_OK) {
            return 12;
        }
    }
    return wal_writer_close(w) == WAL_OK ? 0 : 13;
}

/* Follows `dir` (not created yet) while a forked writer writes it. */
static void follow_live(const char *dir, uint32_t follow) {
    wal_recovery_options ro;
    wal_recovery *h = NULL;
    wal_event ev;
    uint64_t expect = 1, deadline;
    pid_t pid;
    int st = 0;
    wal_recovery_options_init_sized(&ro, sizeof ro);
    ro.follow = follow;
    REQUIRE_STATUS(wal_recovery_open(dir, &ro, &h), WAL_OK);
    /* Nothing yet: no directory. */
    CHECK_STATUS(wal_recovery_next(h, &ev), WAL_AGAIN);
    CHECK(ev.event_id == 0 && ev.data == NULL && ev.len == 0);
    CHECK_STATUS(wal_recovery_next_wait(h, &ev, 1000000u), WAL_AGAIN);
    fflush(NULL);
    pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        _exit(writer_process(dir));
    }
    deadline = now_ns() + LIMIT_NS;
    while (expect <= COUNT && now_ns() < deadline) {
        wal_status s = wal_recovery_next_wait(h, &ev, 50000000u);
        if (s == WAL_AGAIN) {
            continue;
        }
        if (s != WAL_OK) {
            fprintf(stderr, "follow %u: status %s at id %llu: %s\n", follow, wal_status_name(s),
                    (unsigned long long)expect, last_message());
            g_failures++;
            break;
        }
        if (ev.event_id != expect || !payload_ok(ev.event_id, ev.data, ev.len)) {
            fprintf(stderr, "follow %u: got id %llu (len %zu), expected %llu\n", follow,
                    (unsigned long long)ev.event_id, ev.len, (unsigned long long)expect);
            g_failures++;
            break;
        }
        expect++;
    }
    CHECK(expect == COUNT + 1);
    REQUIRE(waitpid(pid, &st, 0) == pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    /* The writer closed: follow mode has no end, it waits for more. */
    CHECK_STATUS(wal_recovery_next(h, &ev), WAL_AGAIN);
    {
        size_t n = 7;
        CHECK_STATUS(wal_recovery_next_batch(h, &ev, 1, &n), WAL_AGAIN);
        CHECK(n == 0);
    }
    {
        uint64_t t0 = now_ns();
        CHECK_STATUS(wal_recovery_next_wait(h, &ev, 20000000u), WAL_AGAIN);
        CHECK(now_ns() - t0 >= 20000000u);
    }
    wal_recovery_close(h);
}

/* The same log without follow mode: replayed to WAL_END, which next_wait returns too. */
static void replay_without_follow(const char *dir) {
    wal_recovery *h = NULL;
    wal_event ev;
    uint64_t n = 0;
    wal_status s;
    REQUIRE_STATUS(wal_recovery_open(dir, NULL, &h), WAL_OK);
    while ((s = wal_recovery_next_wait(h, &ev, 1000000u)) == WAL_OK) {
        n++;
        CHECK(ev.event_id == n && payload_ok(ev.event_id, ev.data, ev.len));
    }
    CHECK_STATUS(s, WAL_END);
    CHECK(n == COUNT);
    wal_recovery_close(h);
}

int main(int argc, char **argv) {
    static const uint32_t modes[] = {WAL_FOLLOW_SPIN, WAL_FOLLOW_YIELD, WAL_FOLLOW_BACKOFF};
    char dir[600];
    size_t k;
    if (argc != 2) {
        fprintf(stderr, "usage: %s <scratch directory>\n", argv[0]);
        return 2;
    }
    for (k = 0; k < sizeof modes / sizeof modes[0]; k++) {
        char name[32];
        snprintf(name, sizeof name, "log%u", modes[k]);
        join_path(dir, sizeof dir, argv[1], name);
        follow_live(dir, modes[k]);
    }
    replay_without_follow(dir);
    if (g_failures != 0) {
        fprintf(stderr, "follow: %d check(s) failed\n", g_failures);
        return 1;
    }
    printf("follow: all checks passed\n");
    return 0;
}
