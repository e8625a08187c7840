/*
 * The inline per-event call, wal_recovery_next_hot, from C99: on a log whose payload lengths
 * come in runs (so the window has events) and change (so it must hand records back), every id
 * and payload is checked through whole replays, replays mixed with wal_recovery_next,
 * _next_batch, _resume and _report_json, with sampled events, and on FlashStrike's fixed-size
 * records. Also: the window is really used (events delivered without a call are counted), a
 * window of another handle and a window changed by the caller are refused, NULL arguments; and
 * follow mode, with a writer appending in rounds.
 *
 * Usage: hot_window <empty scratch directory> <FlashStrike samples directory>. Exit status 0
 * when every check passed. Built with -std=c99 -Wall -Wextra -Wpedantic -Werror by
 * tests/ffi_c.rs and, with ASan/UBSan and under valgrind, by scripts/sanitizers.sh.
 */
#define _POSIX_C_SOURCE 200809L

#include <stddef.h>
#include <stdint.h>

#include "common.h"

_Static_assert(sizeof(wal_hot_window) == 24 + 2 * sizeof(void *), "sizeof(wal_hot_window)");
_Static_assert(offsetof(wal_hot_window, next_id) == sizeof(void *), "next_id");
_Static_assert(offsetof(wal_hot_window, prefix) == 20 + 2 * sizeof(void *), "prefix");

#define COUNT 20000u
#define SEGMENT_BYTES (16u * 1024u)
#define BLOCK_BYTES 1024u

/* Payload length of event `id`: runs of 300 events of 16 bytes, 300 of 57, 300 of 0, then 300
   of varying lengths (every record another length). */
static size_t run_len(uint64_t id) {
    switch ((id / 300u) % 4u) {
    case 0: return 16;
    case 1: return 57;
    case 2: return 0;
    default: return (size_t)(id % 13u);
    }
}

static void run_payload(uint64_t id, unsigned char *buf) {
    size_t i;
    for (i = 0; i < run_len(id); i++) {
        buf[i] = (unsigned char)((id * 131u + i * 3u) & 0xffu);
    }
}

static int run_ok(const wal_event *ev, uint64_t want_id) {
    unsigned char want[64];
    if (ev->event_id != want_id || ev->len != run_len(want_id) || ev->data == NULL) {
        return 0;
    }
    run_payload(want_id, want);
    return ev->len == 0 || memcmp(want, ev->data, ev->len) == 0;
}

static void write_log(const char *dir) {
    wal_writer_options wo;
    wal_writer *w = NULL;
    unsigned char buf[64];
    uint64_t i;
    wal_writer_options_init(&wo);
    wo.segment_bytes = SEGMENT_BYTES;
    wo.block_bytes = BLOCK_BYTES;
    REQUIRE_STATUS(wal_writer_open(dir, &wo, &w), WAL_OK);
    for (i = 1; i <= COUNT; i++) {
        uint64_t id = 0;
        run_payload(i, buf);
        REQUIRE_STATUS(wal_writer_append(w, buf, run_len(i), &id), WAL_OK);
        REQUIRE(id == i);
    }
    REQUIRE_STATUS(wal_writer_close(w), WAL_OK);
}

static wal_recovery *open_log(const char *dir, uint32_t sample_every) {
    wal_recovery_options ro;
    wal_recovery *h = NULL;
    wal_recovery_options_init_sized(&ro, sizeof ro);
    if (sample_every != 0) {
        ro.next_event_sample_every = sample_every;
    }
    REQUIRE_STATUS(wal_recovery_open(dir, &ro, &h), WAL_OK);
    return h;
}

/* Replays to the end with wal_recovery_next_hot from `from`; returns the events delivered and
   adds those delivered from the window (without a call) to `*hot`. */
static uint64_t replay_hot(wal_recovery *h, wal_hot_window *w, uint64_t from, uint64_t *hot) {
    wal_event ev;
    wal_status s;
    uint64_t expect = from, n = 0;
    for (;;) {
        int in_window = w != NULL && w->next_id != w->end_id;
        s = wal_recovery_next_hot(h, w, &ev);
        if (s != WAL_OK) {
            break;
        }
        if (!run_ok(&ev, expect)) {
            fail_unexpected_event(&ev, expect);
            return n;
        }
        *hot += (uint64_t)in_window;
        expect++;
        n++;
    }
    CHECK_STATUS(s, WAL_END);
    CHECK(ev.event_id == 0 && ev.data == NULL && ev.len == 0);
    return n;
}

static int report_says(wal_recovery *h, const char *needle) {
    char *buf;
    size_t needed = 0;
    int found;
    CHECK_STATUS(wal_recovery_report_json(h, NULL, 0, &needed), WAL_ERR_BUFFER_TOO_SMALL);
    buf = (char *)malloc(needed);
    REQUIRE(buf != NULL);
    REQUIRE_STATUS(wal_recovery_report_json(h, buf, needed, &needed), WAL_OK);
    found = strstr(buf, needle) != NULL;
    free(buf);
    return found;
}

static void test_whole_replays(const char *dir) {
    uint64_t hot = 0;
    wal_event ev;
    wal_recovery *h = open_log(dir, 0);
    wal_hot_window *w = wal_recovery_hot_window(h);
    REQUIRE(w != NULL);
    CHECK(wal_recovery_hot_window(h) == w);
    CHECK(replay_hot(h, w, 1, &hot) == COUNT);
    /* Three runs in four have one length: most events come from the window. */
    CHECK(hot > COUNT / 2);
    CHECK(hot < COUNT);
    CHECK_STATUS(wal_recovery_next_hot(h, w, &ev), WAL_END);
    CHECK(report_says(h, "\"events_delivered\":20000"));
    CHECK(report_says(h, "\"clean\":true"));
    /* From the middle of a run, again. */
    CHECK_STATUS(wal_recovery_resume(h, 1234), WAL_OK);
    hot = 0;
    CHECK(replay_hot(h, w, 1234, &hot) == COUNT - 1233);
    CHECK(hot > 0);
    /* A NULL window: a call per event, the same events. */
    CHECK_STATUS(wal_recovery_resume(h, 1), WAL_OK);
    hot = 0;
    CHECK(replay_hot(h, NULL, 1, &hot) == COUNT);
    CHECK(hot == 0);
    wal_recovery_close(h);

    /* A sampled event every 7: the window stops before each (the library times it). */
    h = open_log(dir, 7);
    w = wal_recovery_hot_window(h);
    hot = 0;
    CHECK(replay_hot(h, w, 1, &hot) == COUNT);
    CHECK(hot > COUNT / 4);
    {
        wal_telemetry t;
        memset(&t, 0, sizeof t);
        t.struct_size = (uint32_t)sizeof t;
        CHECK_STATUS(wal_telemetry_snapshot(h, &t), WAL_OK);
        CHECK(t.manager.events_delivered == COUNT);
        CHECK(t.manager.next_event.samples >= COUNT / 7 - 1);
    }
    wal_recovery_close(h);
}

/* Every kind of replay call, interleaved with the window: each sees exactly the events the
   others delivered. */
static void test_mixed_calls(const char *dir) {
    wal_recovery *h = open_log(dir, 0);
    wal_hot_window *w = wal_recovery_hot_window(h);
    wal_event ev, batch[5];
    uint64_t expect = 1, i = 0;
    int resumed = 0;
    wal_status s = WAL_OK;
    char want[64];
    while (s == WAL_OK && expect <= COUNT) {
        size_t n = 0, k;
        i++;
        if (i % 13u == 0) {
            s = wal_recovery_next_batch(h, batch, 5, &n);
            for (k = 0; s == WAL_OK && k < n; k++) {
                CHECK(run_ok(&batch[k], expect));
                expect++;
            }
            continue;
        }
        if (i % 7u == 0) {
            s = wal_recovery_next(h, &ev);
        } else {
            s = wal_recovery_next_hot(h, w, &ev);
        }
        if (s == WAL_OK) {
            if (!run_ok(&ev, expect)) {
                fprintf(stderr, "mixed: event %llu where %llu was expected\n",
                        (unsigned long long)ev.event_id, (unsigned long long)expect);
                g_failures++;
                break;
            }
            expect++;
        }
        if (i == 5000) {
            /* What was consumed from the window counts in the report. */
            snprintf(want, sizeof want, "\"events_delivered\":%llu",
                     (unsigned long long)(expect - 1));
            CHECK(report_says(h, want));
        }
        if (i >= 9000 && !resumed && w->next_id != w->end_id) {
            /* Back to an earlier id while the window holds events. */
            resumed = 1;
            CHECK_STATUS(wal_recovery_resume(h, 4321), WAL_OK);
            CHECK(w->next_id == w->end_id);
            expect = 4321;
        }
    }
    CHECK_STATUS(s, WAL_OK);
    CHECK(resumed);
    CHECK(expect == COUNT + 1);
    CHECK_STATUS(wal_recovery_next_hot(h, w, &ev), WAL_END);
    wal_recovery_close(h);
}

static void fill_window(wal_recovery *h, wal_hot_window *w) {
    wal_event ev;
    int i;
    /* Ids 1..300 are 16 bytes long: after two events the window holds the rest of a block. */
    for (i = 0; i < 2; i++) {
        REQUIRE_STATUS(wal_recovery_next_hot(h, w, &ev), WAL_OK);
    }
    REQUIRE(w->end_id - w->next_id >= 2);
}

static void test_misuse(const char *dir) {
    wal_recovery *h = open_log(dir, 0), *h2 = open_log(dir, 0);
    wal_hot_window *w = wal_recovery_hot_window(h), *w2 = wal_recovery_hot_window(h2);
    wal_hot_window saved;
    wal_event ev;
    char msg[512];
    CHECK(w2 != w);

    /* Another handle's window. */
    CHECK_STATUS(wal_recovery_next_refill(h, w2, &ev), WAL_ERR_INVALID_ARGUMENT);
    CHECK(ev.event_id == 0 && ev.data == NULL && ev.len == 0);
    CHECK(wal_last_error_message(h, msg, sizeof msg) > 0 && strstr(msg, "not this handle"));
    CHECK_STATUS(wal_recovery_next_hot(h, w2, &ev), WAL_ERR_INVALID_ARGUMENT);
    /* Neither handle moved. */
    CHECK_STATUS(wal_recovery_next_hot(h, w, &ev), WAL_OK);
    CHECK(run_ok(&ev, 1));
    CHECK_STATUS(wal_recovery_next_hot(h2, w2, &ev), WAL_OK);
    CHECK(run_ok(&ev, 1));

    /* A window moved out of step (the position without the id): refused by every replay call
       from then on, and nothing delivered twice or skipped. */
    fill_window(h, w);
    saved = *w;
    w->pos += 1;
    CHECK_STATUS(wal_recovery_next(h, &ev), WAL_ERR_INVALID_ARGUMENT);
    CHECK(ev.event_id == 0 && ev.data == NULL);
    CHECK(wal_last_error_message(h, msg, sizeof msg) > 0 && strstr(msg, "hot window"));
    CHECK_STATUS(wal_recovery_resume(h, 1), WAL_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(wal_recovery_next_hot(h, w, &ev), WAL_ERR_INVALID_ARGUMENT);
    /* Put back as it was, the window is in step again. */
    *w = saved;
    CHECK_STATUS(wal_recovery_next(h, &ev), WAL_OK);
    CHECK(run_ok(&ev, 4));
    /* An id past the window's end, and one before its start. */
    fill_window(h, w);
    w->next_id = w->end_id + 1;
    CHECK_STATUS(wal_recovery_next_hot(h, w, &ev), WAL_ERR_INVALID_ARGUMENT);
    wal_recovery_close(h);
    wal_recovery_close(h2);

    /* NULL arguments. */
    CHECK(wal_recovery_hot_window(NULL) == NULL);
    CHECK_STATUS(wal_recovery_next_refill(NULL, NULL, &ev), WAL_ERR_NULL_ARGUMENT);
    CHECK_STATUS(wal_recovery_next_hot(NULL, NULL, &ev), WAL_ERR_NULL_ARGUMENT);
    h = open_log(dir, 0);
    w = wal_recovery_hot_window(h);
    CHECK_STATUS(wal_recovery_next_refill(h, w, NULL), WAL_ERR_NULL_ARGUMENT);
    CHECK_STATUS(wal_recovery_next_refill(h, NULL, &ev), WAL_OK);
    CHECK(run_ok(&ev, 1));
    wal_recovery_close(h);
}

/* FlashStrike's 64-byte records (no length field): the window delivers them, byte for byte as
   wal_recovery_next does, to the same end. */
static void test_flashstrike(const char *samples) {
    static const char *const dirs[] = {"clean", "crash", "restart"};
    size_t d;
    for (d = 0; d < sizeof dirs / sizeof dirs[0]; d++) {
        char dir[1024];
        wal_recovery *a = NULL, *b = NULL;
        wal_hot_window *w;
        wal_event x, y;
        wal_status sa, sb;
        uint64_t n = 0, hot = 0;
        join_path(dir, sizeof dir, samples, dirs[d]);
        REQUIRE_STATUS(wal_recovery_open(dir, NULL, &a), WAL_OK);
        REQUIRE_STATUS(wal_recovery_open(dir, NULL, &b), WAL_OK);
        w = wal_recovery_hot_window(a);
        for (;;) {
            int in_window = w->next_id != w->end_id;
            sa = wal_recovery_next_hot(a, w, &x);
            sb = wal_recovery_next(b, &y);
            if (sa != WAL_OK || sb != WAL_OK) {
                break;
            }
            if (x.event_id != y.event_id || x.len != 64 || y.len != 64 ||
                memcmp(x.data, y.data, 64) != 0) {
                fprintf(stderr, "%s: event %llu differs\n", dirs[d],
                        (unsigned long long)y.event_id);
                g_failures++;
                break;
            }
            hot += (uint64_t)in_window;
            n++;
        }
        CHECK_STATUS(sa, sb);
        CHECK(n >= 16384);
        CHECK(hot > n / 2);
        wal_recovery_close(a);
        wal_recovery_close(b);
    }
}

/* Follow mode: a writer in this process appends and syncs in rounds; the follower opens after
   ten rounds and reads with wal_recovery_next_hot to WAL_AGAIN after each later round. The
   catch-up (sealed segments, mapped) delivers most events from the window; at the live tail
   the library reads each block with read(2) and delivers every event itself (no window). After
   the writer closes, every event has come, in order. */
static void test_follow(const char *dir) {
    wal_writer_options wo;
    wal_recovery_options ro;
    wal_writer *wr = NULL;
    wal_recovery *h = NULL;
    wal_hot_window *w = NULL;
    wal_event ev;
    wal_status s;
    unsigned char buf[64];
    uint64_t id = 0, expect = 1, hot = 0, caught_up = 0, round;
    wal_recovery_options_init_sized(&ro, sizeof ro);
    ro.follow = WAL_FOLLOW_SPIN;
    wal_writer_options_init(&wo);
    wo.segment_bytes = SEGMENT_BYTES;
    wo.block_bytes = BLOCK_BYTES;
    REQUIRE_STATUS(wal_writer_open(dir, &wo, &wr), WAL_OK);
    for (round = 0; round <= 20; round++) {
        uint64_t k;
        if (round == 20) {
            REQUIRE_STATUS(wal_writer_close(wr), WAL_OK);
        } else {
            for (k = 0; k < 997; k++) {
                uint64_t got = 0;
                run_payload(id + 1, buf);
                REQUIRE_STATUS(wal_writer_append(wr, buf, run_len(id + 1), &got), WAL_OK);
                REQUIRE(got == ++id);
            }
            REQUIRE_STATUS(wal_writer_sync(wr), WAL_OK);
        }
        if (round < 10) {
            continue;
        }
        if (h == NULL) {
            REQUIRE_STATUS(wal_recovery_open(dir, &ro, &h), WAL_OK);
            w = wal_recovery_hot_window(h);
        }
        for (;;) {
            int in_window = w->next_id < w->end_id;
            s = wal_recovery_next_hot(h, w, &ev);
            if (s != WAL_OK) {
                break;
            }
            if (!run_ok(&ev, expect)) {
                fprintf(stderr, "follow: event %llu where %llu was expected\n",
                        (unsigned long long)ev.event_id, (unsigned long long)expect);
                g_failures++;
                break;
            }
            hot += (uint64_t)in_window;
            expect++;
        }
        CHECK_STATUS(s, WAL_AGAIN);
        if (round == 10) {
            caught_up = expect - 1;
        }
    }
    CHECK(expect == id + 1);
    /* Most of the catch-up came from the window. */
    CHECK(caught_up > 9000 && hot > caught_up / 2);
    wal_recovery_close(h);
}

int main(int argc, char **argv) {
    char dir[1024];
    if (argc != 3) {
        fprintf(stderr, "usage: %s <empty scratch directory> <FlashStrike samples>\n", argv[0]);
        return 2;
    }
    join_path(dir, sizeof dir, argv[1], "runs");
    write_log(dir);
    test_whole_replays(dir);
    test_mixed_calls(dir);
    test_misuse(dir);
    test_flashstrike(argv[2]);
    join_path(dir, sizeof dir, argv[1], "follow");
    test_follow(dir);
    if (g_failures != 0) {
        fprintf(stderr, "%d check(s) failed\n", g_failures);
        return 1;
    }
    printf("all checks passed\n");
    return 0;
}
