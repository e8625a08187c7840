/*
 * End-to-end test of the C API from C99: writes logs with the writer API, replays them event by
 * event and in batches checking every id and payload, resumes, reads the report, telemetry,
 * corrupts and damages logs and checks statuses and messages, and calls every function with
 * NULL for each pointer argument.
 *
 * Usage: harness <empty scratch directory>. Exit status 0 when every check passed.
 * Built with -std=c99 -Wall -Wextra -Wpedantic -Werror by tests/ffi_c.rs and, with ASan/UBSan
 * and under valgrind, by scripts/sanitizers.sh.
 */
#define _POSIX_C_SOURCE 200809L

#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"

/* ABI layout, as the Rust side asserts it too (src/ffi). */
_Static_assert(sizeof(wal_status) == 4, "wal_status is 32 bits");
_Static_assert(sizeof(wal_mode) == 4, "wal_mode is 32 bits");
_Static_assert(offsetof(wal_event, event_id) == 0, "wal_event.event_id");
_Static_assert(offsetof(wal_event, data) == 8, "wal_event.data");
_Static_assert(offsetof(wal_event, len) == 8 + sizeof(void *), "wal_event.len");
_Static_assert(sizeof(wal_event) == 8 + 2 * sizeof(void *), "sizeof(wal_event)");
_Static_assert(sizeof(wal_recovery_options) == 40, "sizeof(wal_recovery_options)");
_Static_assert(offsetof(wal_recovery_options, format) == 32, "format");
_Static_assert(sizeof(wal_request_event) == 48, "sizeof(wal_request_event)");
_Static_assert(offsetof(wal_recovery_options, struct_size) == 0, "struct_size first");
_Static_assert(offsetof(wal_recovery_options, mode) == 4, "mode");
_Static_assert(offsetof(wal_recovery_options, start_event_id) == 8, "start_event_id");
_Static_assert(offsetof(wal_recovery_options, preload_depth) == 16, "preload_depth");
_Static_assert(offsetof(wal_recovery_options, finished_capacity) == 20, "finished_capacity");
_Static_assert(offsetof(wal_recovery_options, fallback_after_us) == 24, "fallback_after_us");
_Static_assert(offsetof(wal_recovery_options, next_event_sample_every) == 28, "sample");
_Static_assert(sizeof(wal_writer_options) == 24, "sizeof(wal_writer_options)");
_Static_assert(offsetof(wal_writer_options, struct_size) == 0, "struct_size first");
_Static_assert(offsetof(wal_writer_options, block_bytes) == 4, "block_bytes");
_Static_assert(offsetof(wal_writer_options, segment_bytes) == 8, "segment_bytes");
_Static_assert(offsetof(wal_writer_options, first_event_id) == 16, "first_event_id");
_Static_assert(sizeof(wal_op_stats) == 56, "wal_op_stats");
_Static_assert(sizeof(wal_histogram) == 80, "wal_histogram");
_Static_assert(sizeof(wal_telemetry) == 968, "sizeof(wal_telemetry)");
_Static_assert(offsetof(wal_telemetry, struct_size) == 0, "struct_size first");
_Static_assert(offsetof(wal_telemetry, segment_reader) == 8, "segment_reader");
_Static_assert(offsetof(wal_telemetry, segment_preloader) == 352, "segment_preloader");
_Static_assert(offsetof(wal_telemetry, manager) == 504, "manager");
_Static_assert(offsetof(wal_manager_telemetry, next_event_histogram) == 224, "histogram");
_Static_assert(offsetof(wal_manager_telemetry, events_delivered) == 400, "events_delivered");
_Static_assert(offsetof(wal_histogram, p9999) == 72, "p9999");
_Static_assert(WAL_OK == 0 && WAL_END == 1 && WAL_ERR_NULL_ARGUMENT == 2, "fixed numbers");
_Static_assert(WAL_RECOVERY_VERSION_NUMBER ==
                   ((WAL_RECOVERY_VERSION_MAJOR << 16) | (WAL_RECOVERY_VERSION_MINOR << 8) |
                    WAL_RECOVERY_VERSION_PATCH),
               "packed version");

#define FIRST_ID 1000u
#define COUNT 5000u
#define SEGMENT_BYTES (16u * 1024u)
#define BLOCK_BYTES 1024u

static char g_root[512];

static void scratch(char *out, size_t cap, const char *name) { join_path(out, cap, g_root, name); }

/* Events after the COUNT written by write_log are the empty ones test_writer_errors appends. */
static int event_ok(const wal_event *ev) {
    if (ev->event_id >= FIRST_ID + COUNT) {
        return ev->len == 0 && ev->data != NULL;
    }
    return payload_ok(ev->event_id, ev->data, ev->len);
}

static int contains(const char *haystack, const char *needle) {
    return strstr(haystack, needle) != NULL;
}

/* Writes COUNT events with ids FIRST_ID.. into `dir` (a new log). */
static void write_log(const char *dir) {
    wal_writer_options wo;
    wal_writer *w = NULL;
    unsigned char buf[128];
    uint64_t i;
    wal_writer_options_init(&wo);
    CHECK(wo.struct_size == sizeof wo);
    CHECK(wo.first_event_id == 1);
    wo.segment_bytes = SEGMENT_BYTES;
    wo.block_bytes = BLOCK_BYTES;
    wo.first_event_id = FIRST_ID;
    REQUIRE_STATUS(wal_writer_open(dir, &wo, &w), WAL_OK);
    REQUIRE(w != NULL);
    for (i = FIRST_ID; i < FIRST_ID + COUNT; i++) {
        uint64_t id = 0;
        fill_payload(i, buf);
        REQUIRE_STATUS(wal_writer_append(w, buf, payload_len(i), &id), WAL_OK);
        REQUIRE(id == i);
        if (i % 1000u == 0) {
            CHECK_STATUS(wal_writer_sync(w), WAL_OK);
        }
    }
    CHECK_STATUS(wal_writer_close(w), WAL_OK);
}

static void test_versions_and_statuses(void) {
    char want[64];
    unsigned code;
    CHECK(wal_abi_version() == WAL_RECOVERY_ABI_VERSION);
    snprintf(want, sizeof want, "%d.%d.%d", WAL_RECOVERY_VERSION_MAJOR,
             WAL_RECOVERY_VERSION_MINOR, WAL_RECOVERY_VERSION_PATCH);
    CHECK(strcmp(wal_version(), want) == 0);
    CHECK(strcmp(wal_version(), WAL_RECOVERY_VERSION_STRING) == 0);
    CHECK(strcmp(wal_status_name(WAL_ERR_GAP), "WAL_ERR_GAP") == 0);
    CHECK(strcmp(wal_status_name(WAL_ERR_LOCKED), "WAL_ERR_LOCKED") == 0);
    CHECK(strcmp(wal_status_str(WAL_OK), "success") == 0);
    CHECK(strcmp(wal_status_str(9999u), "unknown status") == 0);
    CHECK(strcmp(wal_status_name(9999u), "WAL_UNKNOWN_STATUS") == 0);
    for (code = 0; code < 1000; code++) {
        const char *s = wal_status_str(code);
        const char *n = wal_status_name(code);
        REQUIRE(s != NULL && n != NULL);
        CHECK(strlen(s) > 0 && strlen(n) > 0);
        /* Named statuses have a description of their own. */
        CHECK((strcmp(n, "WAL_UNKNOWN_STATUS") == 0) == (strcmp(s, "unknown status") == 0));
    }
    CHECK(contains(wal_status_str(WAL_ERR_CORRUPT_PAYLOAD_CHECKSUM), "checksum"));
}

static void test_writer_errors(const char *dir) {
    wal_writer *w = NULL, *w2 = (wal_writer *)&w2;
    wal_writer_options wo;
    unsigned char *big;
    uint64_t id = 0;
    char msg[512], file[600], below[700];
    size_t n;

    /* Another writer holds the directory. */
    REQUIRE_STATUS(wal_writer_open(dir, NULL, &w), WAL_OK);
    CHECK_STATUS(wal_writer_open(dir, NULL, &w2), WAL_ERR_LOCKED);
    CHECK(w2 == NULL);
    CHECK(contains(last_message(), dir));

    /* An event larger than the format allows: refused, the writer stays usable. */
    big = (unsigned char *)calloc(16u * 1024u * 1024u + 1u, 1);
    REQUIRE(big != NULL);
    CHECK_STATUS(wal_writer_append(w, big, 16u * 1024u * 1024u + 1u, &id), WAL_ERR_PAYLOAD_TOO_LARGE);
    free(big);
    n = wal_writer_last_error_message(w, msg, sizeof msg);
    CHECK(n > 0 && contains(msg, "exceeds the maximum"));
    /* Empty payloads, with and without a data pointer and an id pointer. */
    CHECK_STATUS(wal_writer_append(w, NULL, 0, &id), WAL_OK);
    CHECK(id == FIRST_ID + COUNT);
    CHECK_STATUS(wal_writer_append(w, "", 0, NULL), WAL_OK);
    CHECK_STATUS(wal_writer_sync(w), WAL_OK);
    CHECK_STATUS(wal_writer_close(w), WAL_OK);

    /* Options: too small a struct_size, or bytes this library does not know. */
    wal_writer_options_init(&wo);
    wo.struct_size = 8;
    CHECK_STATUS(wal_writer_open(dir, &wo, &w), WAL_ERR_INVALID_ARGUMENT);
    CHECK(contains(last_message(), "struct_size"));
    wal_writer_options_init(&wo);
    wo.first_event_id = 0;
    CHECK_STATUS(wal_writer_open(dir, &wo, &w), WAL_ERR_INVALID_ARGUMENT);
    CHECK(contains(last_message(), "first_event_id"));
    CHECK_STATUS(wal_writer_open("", NULL, &w), WAL_ERR_INVALID_ARGUMENT);

    /* An I/O error carries its errno: a directory below a regular file (ENOTDIR). */
    scratch(file, sizeof file, "plain-file");
    {
        FILE *f = fopen(file, "w");
        REQUIRE(f != NULL);
        fclose(f);
    }
    join_path(below, sizeof below, file, "log");
    CHECK_STATUS(wal_writer_open(below, NULL, &w), WAL_ERR_IO);
    CHECK(w == NULL);
    CHECK(contains(last_message(), "os error 20"));
    CHECK(contains(last_message(), "plain-file"));
    /* And the same file is not a log directory for replay. */
    {
        wal_recovery *h = NULL;
        CHECK_STATUS(wal_recovery_open(file, NULL, &h), WAL_ERR_NOT_A_DIRECTORY);
        CHECK(h == NULL);
    }
}

/* Replays `dir` from `from` to the end one event at a time; returns the number delivered. */
static uint64_t replay_next(wal_recovery *h, uint64_t from, wal_status want_end) {
    wal_event ev;
    uint64_t expect = from, n = 0;
    wal_status s;
    while ((s = wal_recovery_next(h, &ev)) == WAL_OK) {
        if (ev.event_id != expect || !event_ok(&ev)) {
            fail_unexpected_event(&ev, expect);
            return n;
        }
        expect++;
        n++;
    }
    CHECK_STATUS(s, want_end);
    CHECK(ev.event_id == 0 && ev.data == NULL && ev.len == 0);
    return n;
}

/* Replays in batches of `cap`; checks every event of each batch after the call returns. */
static uint64_t replay_batches(wal_recovery *h, uint64_t from, size_t cap) {
    wal_event *evs = (wal_event *)calloc(cap, sizeof *evs);
    uint64_t expect = from, total = 0;
    size_t n = 0, i;
    wal_status s;
    REQUIRE(evs != NULL);
    while ((s = wal_recovery_next_batch(h, evs, cap, &n)) == WAL_OK) {
        CHECK(n >= 1 && n <= cap);
        for (i = 0; i < n; i++) {
            if (evs[i].event_id != expect || !event_ok(&evs[i])) {
                fprintf(stderr, "batch event %llu: expected %llu or bad payload\n",
                        (unsigned long long)evs[i].event_id, (unsigned long long)expect);
                g_failures++;
                free(evs);
                return total;
            }
            expect++;
        }
        total += n;
    }
    CHECK_STATUS(s, WAL_END);
    CHECK(n == 0);
    free(evs);
    return total;
}

static char *report(wal_recovery *h) {
    size_t needed = 0, again = 0;
    char small[4] = "xyz";
    char *buf;
    CHECK_STATUS(wal_recovery_report_json(h, NULL, 0, &needed), WAL_ERR_BUFFER_TOO_SMALL);
    CHECK(needed > 2);
    CHECK_STATUS(wal_recovery_report_json(h, small, sizeof small, &again), WAL_ERR_BUFFER_TOO_SMALL);
    CHECK(small[0] == '\0' && again == needed);
    buf = (char *)malloc(needed);
    REQUIRE(buf != NULL);
    REQUIRE_STATUS(wal_recovery_report_json(h, buf, needed, &again), WAL_OK);
    CHECK(again == needed && strlen(buf) + 1 == needed);
    CHECK(buf[0] == '{' && buf[needed - 2] == '}');
    return buf;
}

static void test_replay(const char *dir) {
    wal_recovery *h = NULL;
    wal_recovery_options ro;
    wal_event ev;
    char *json;
    char msg[512];

    /* Defaults (NULL options): everything, in order. */
    REQUIRE_STATUS(wal_recovery_open(dir, NULL, &h), WAL_OK);
    /* Two empty events were appended by test_writer_errors after the COUNT events. */
    CHECK(replay_next(h, FIRST_ID, WAL_END) == COUNT + 2);
    /* The end is sticky. */
    CHECK_STATUS(wal_recovery_next(h, &ev), WAL_END);
    json = report(h);
    CHECK(contains(json, "\"events_delivered\":5002"));
    CHECK(contains(json, "\"complete\":true"));
    CHECK(contains(json, "\"clean\":true"));
    free(json);

    /* Resume backward, then batches of various sizes. */
    CHECK_STATUS(wal_recovery_resume(h, FIRST_ID + 1234), WAL_OK);
    CHECK(replay_batches(h, FIRST_ID + 1234, 1024) == COUNT + 2 - 1234);
    CHECK_STATUS(wal_recovery_resume(h, 0), WAL_OK);
    CHECK(replay_batches(h, FIRST_ID, 1) == COUNT + 2);
    CHECK_STATUS(wal_recovery_resume(h, FIRST_ID + 4999), WAL_OK);
    CHECK(replay_batches(h, FIRST_ID + 4999, 7) == 3);
    /* Resume to the end position, then past it and before the start. */
    CHECK_STATUS(wal_recovery_resume(h, FIRST_ID + COUNT + 2), WAL_OK);
    CHECK_STATUS(wal_recovery_next(h, &ev), WAL_END);
    CHECK_STATUS(wal_recovery_resume(h, FIRST_ID + COUNT + 10), WAL_ERR_EVENT_BEYOND_END);
    CHECK(wal_last_error_message(h, msg, sizeof msg) > 0 && contains(msg, "beyond the end"));
    /* A failed resume is reported again by next until a resume succeeds. */
    CHECK_STATUS(wal_recovery_next(h, &ev), WAL_ERR_EVENT_BEYOND_END);
    CHECK_STATUS(wal_recovery_resume(h, 5), WAL_ERR_EVENT_TOO_OLD);
    CHECK(wal_last_error_message(h, msg, sizeof msg) > 0 && contains(msg, "older than"));
    CHECK_STATUS(wal_recovery_resume(h, FIRST_ID + 10), WAL_OK);
    CHECK(replay_next(h, FIRST_ID + 10, WAL_END) == COUNT + 2 - 10);
    /* cap 0 is invalid. */
    {
        size_t n = 99;
        CHECK_STATUS(wal_recovery_next_batch(h, &ev, 0, &n), WAL_ERR_INVALID_ARGUMENT);
        CHECK(n == 0);
    }
    wal_recovery_close(h);

    /* Options: start id, every field, struct_size rules. */
    wal_recovery_options_init_sized(&ro, sizeof ro);
    CHECK(ro.struct_size == sizeof ro);
    CHECK(sizeof ro == 40 && ro.format == WAL_FORMAT_AUTO && ro.follow == WAL_FOLLOW_OFF);
    /* The first version's initialiser writes the 32 bytes every version has, never more:
       callers compiled against the 32-byte struct stay safe. */
    {
        union {
            wal_recovery_options o;
            unsigned char raw[48];
        } u;
        size_t k;
        memset(&u, 0xAB, sizeof u);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
        wal_recovery_options_init(&u.o);
#pragma GCC diagnostic pop
        CHECK(u.o.struct_size == 32 && u.o.mode == WAL_MODE_STRICT && u.o.preload_depth >= 1);
        for (k = 32; k < sizeof u.raw; k++) CHECK(u.raw[k] == 0xAB);
        REQUIRE_STATUS(wal_recovery_open(dir, &u.o, &h), WAL_OK);
        wal_recovery_close(h);
    }
    CHECK_STATUS(wal_recovery_options_init_sized(&ro, 16), WAL_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(wal_recovery_options_init_sized(&ro, 8192), WAL_ERR_INVALID_ARGUMENT);
    wal_recovery_options_init_sized(&ro, sizeof ro);
    ro.follow = 4; /* was `reserved` (0 only); 1..3 are wal_follow values */
    CHECK_STATUS(wal_recovery_open(dir, &ro, &h), WAL_ERR_INVALID_ARGUMENT);
    CHECK(h == NULL && contains(last_message(), "follow 4"));
    wal_recovery_options_init_sized(&ro, sizeof ro);
    ro.format = 7;
    CHECK_STATUS(wal_recovery_open(dir, &ro, &h), WAL_ERR_INVALID_ARGUMENT);
    CHECK(h == NULL && contains(last_message(), "format 7"));
    ro.format = WAL_FORMAT_FLASHSTRIKE_V1; /* a wal_recovery log read as FlashStrike: not readable */
    CHECK_STATUS(wal_recovery_open(dir, &ro, &h), WAL_ERR_SEGMENT_UNUSABLE);
    CHECK(h == NULL && contains(last_message(), "format is set to flashstrike-v1"));
    ro.format = WAL_FORMAT_NATIVE;
    REQUIRE_STATUS(wal_recovery_open(dir, &ro, &h), WAL_OK);
    CHECK(wal_recovery_next(h, &ev) == WAL_OK && ev.event_id == FIRST_ID);
    wal_recovery_close(h);
    wal_recovery_options_init_sized(&ro, sizeof ro);
    CHECK(ro.mode == WAL_MODE_STRICT && ro.start_event_id == 0 && ro.preload_depth >= 1);
    CHECK(ro.next_event_sample_every >= 1 && ro.finished_capacity >= 1);
    ro.start_event_id = FIRST_ID + 4000;
    ro.preload_depth = 1;
    ro.next_event_sample_every = 1;
    REQUIRE_STATUS(wal_recovery_open(dir, &ro, &h), WAL_OK);
    CHECK(replay_next(h, FIRST_ID + 4000, WAL_END) == COUNT + 2 - 4000);
    wal_recovery_close(h);

    ro.mode = 42;
    CHECK_STATUS(wal_recovery_open(dir, &ro, &h), WAL_ERR_INVALID_ARGUMENT);
    CHECK(h == NULL && contains(last_message(), "mode 42"));
    wal_recovery_options_init_sized(&ro, sizeof ro);
    ro.preload_depth = 0;
    CHECK_STATUS(wal_recovery_open(dir, &ro, &h), WAL_ERR_INVALID_ARGUMENT);
    CHECK(contains(last_message(), "preload_depth"));
    wal_recovery_options_init_sized(&ro, sizeof ro);
    ro.struct_size = 4;
    CHECK_STATUS(wal_recovery_open(dir, &ro, &h), WAL_ERR_INVALID_ARGUMENT);
    CHECK(contains(last_message(), "struct_size"));
    /* A newer caller's larger struct: accepted while the unknown tail is zero. */
    {
        struct {
            wal_recovery_options v1;
            uint64_t newer_field;
        } bigger;
        memset(&bigger, 0, sizeof bigger);
        wal_recovery_options_init_sized(&bigger.v1, sizeof bigger.v1);
        bigger.v1.struct_size = (uint32_t)sizeof bigger;
        REQUIRE_STATUS(wal_recovery_open(dir, &bigger.v1, &h), WAL_OK);
        wal_recovery_close(h);
        bigger.newer_field = 1;
        CHECK_STATUS(wal_recovery_open(dir, &bigger.v1, &h), WAL_ERR_INVALID_ARGUMENT);
        CHECK(h == NULL && contains(last_message(), "beyond"));
    }
    /* Start ids the log does not have. */
    wal_recovery_options_init_sized(&ro, sizeof ro);
    ro.start_event_id = 3;
    CHECK_STATUS(wal_recovery_open(dir, &ro, &h), WAL_ERR_EVENT_TOO_OLD);
    ro.start_event_id = FIRST_ID + COUNT + 100;
    CHECK_STATUS(wal_recovery_open(dir, &ro, &h), WAL_ERR_EVENT_BEYOND_END);
    CHECK(contains(last_message(), "beyond the end"));
}

/* Renders dump or Prometheus text with the size-query protocol; caller frees. */
static char *render(wal_recovery *h, int prometheus, const char *arg) {
    size_t needed = 0, again = 0;
    char *buf;
    wal_status s = prometheus ? wal_telemetry_prometheus(h, arg, NULL, 0, &needed)
                              : wal_telemetry_dump(h, arg, NULL, 0, &needed);
    CHECK_STATUS(s, WAL_ERR_BUFFER_TOO_SMALL);
    /* Some headroom: the text may grow between the two calls while a replay runs. */
    needed += 4096;
    buf = (char *)malloc(needed);
    REQUIRE(buf != NULL);
    s = prometheus ? wal_telemetry_prometheus(h, arg, buf, needed, &again)
                   : wal_telemetry_dump(h, arg, buf, needed, &again);
    REQUIRE_STATUS(s, WAL_OK);
    CHECK(again <= needed && strlen(buf) + 1 == again);
    return buf;
}

struct monitor {
    wal_recovery *h;
    pthread_mutex_t lock;
    int stop;
    unsigned rounds;
    int failed;
};

/* Another thread taking snapshots, dumps and Prometheus text while the replay runs. */
static void *monitor_thread(void *arg) {
    struct monitor *m = (struct monitor *)arg;
    uint64_t last = 0;
    for (;;) {
        wal_telemetry t;
        char *text;
        int stop;
        pthread_mutex_lock(&m->lock);
        stop = m->stop;
        pthread_mutex_unlock(&m->lock);
        if (stop) {
            break;
        }
        memset(&t, 0, sizeof t);
        t.struct_size = (uint32_t)sizeof t;
        if (wal_telemetry_snapshot(m->h, &t) != WAL_OK || t.manager.events_delivered < last) {
            m->failed = 1;
        }
        last = t.manager.events_delivered;
        text = render(m->h, m->rounds % 2 == 0, m->rounds % 2 == 0 ? "mon" : "monitor");
        free(text);
        pthread_mutex_lock(&m->lock);
        m->rounds++;
        pthread_mutex_unlock(&m->lock);
    }
    return NULL;
}

static void test_telemetry(const char *dir) {
    wal_recovery *h = NULL;
    wal_recovery_options ro;
    wal_telemetry t;
    struct monitor m;
    pthread_t thread;
    char *text;
    size_t needed = 0;
    struct {
        wal_telemetry t;
        unsigned char newer[16];
    } bigger;

    wal_recovery_options_init_sized(&ro, sizeof ro);
    ro.next_event_sample_every = 1;
    REQUIRE_STATUS(wal_recovery_open(dir, &ro, &h), WAL_OK);

    /* Replay on this thread while another thread reads the telemetry. */
    m.h = h;
    m.stop = 0;
    m.rounds = 0;
    m.failed = 0;
    REQUIRE(pthread_mutex_init(&m.lock, NULL) == 0);
    REQUIRE(pthread_create(&thread, NULL, monitor_thread, &m) == 0);
    /* The replay starts once the monitor has read the telemetry once: on a loaded machine the
       monitor might otherwise first run after the replay is over. */
    for (;;) {
        unsigned rounds;
        pthread_mutex_lock(&m.lock);
        rounds = m.rounds;
        pthread_mutex_unlock(&m.lock);
        if (rounds > 0) {
            break;
        }
        sched_yield();
    }
    CHECK(replay_next(h, FIRST_ID, WAL_END) == COUNT + 2);
    CHECK_STATUS(wal_recovery_resume(h, FIRST_ID), WAL_OK);
    CHECK(replay_batches(h, FIRST_ID, 100) == COUNT + 2);
    pthread_mutex_lock(&m.lock);
    m.stop = 1;
    pthread_mutex_unlock(&m.lock);
    REQUIRE(pthread_join(thread, NULL) == 0);
    pthread_mutex_destroy(&m.lock);
    CHECK(!m.failed);

    memset(&t, 0xff, sizeof t);
    t.struct_size = (uint32_t)sizeof t;
    CHECK_STATUS(wal_telemetry_snapshot(h, &t), WAL_OK);
    CHECK(t.struct_size == sizeof t && t.reserved == 0);
    CHECK(t.manager.events_delivered == 2 * (COUNT + 2));
    CHECK(t.manager.segments_total >= 10);
    CHECK(t.manager.segments_remaining == 0);
    CHECK(t.manager.next_event_sample_every == 1);
    CHECK(t.manager.next_event.samples > 0);
    CHECK(t.manager.next_event_histogram.count > 0);
    CHECK(t.manager.next_event_histogram.p50 <= t.manager.next_event_histogram.p99);
    CHECK(t.manager.next_event_histogram.p9999 <= t.manager.next_event_histogram.max);
    CHECK(t.manager.resume_from_event.ok >= 2);
    CHECK(t.segment_reader.open_segment.ok >= t.manager.segments_total);
    CHECK(t.segment_reader.bytes_verified > 0);
    CHECK(t.segment_reader.block_checksum_failures == 0);

    /* struct_size: too small is refused; larger (a newer caller) gets what this library has. */
    t.struct_size = 16;
    CHECK_STATUS(wal_telemetry_snapshot(h, &t), WAL_ERR_INVALID_ARGUMENT);
    CHECK(contains(last_message(), "struct_size"));
    memset(&bigger, 0xab, sizeof bigger);
    bigger.t.struct_size = (uint32_t)sizeof bigger;
    CHECK_STATUS(wal_telemetry_snapshot(h, &bigger.t), WAL_OK);
    CHECK(bigger.t.struct_size == sizeof(wal_telemetry));
    CHECK(bigger.newer[0] == 0xab && bigger.newer[15] == 0xab);

    text = render(h, 0, "harness");
    CHECK(contains(text, "[harness] WAL Recovery Telemetry:"));
    CHECK(contains(text, "Segment Reader"));
    free(text);
    text = render(h, 1, "wal_recovery");
    CHECK(contains(text, "# TYPE wal_recovery_manager_events_delivered_total counter"));
    CHECK(contains(text, "wal_recovery_manager_events_delivered_total{component=\"manager\"} 10004"));
    CHECK(contains(text, "quantile=\"0.9999\""));
    free(text);
    CHECK_STATUS(wal_telemetry_prometheus(h, "9bad-prefix", NULL, 0, &needed), WAL_ERR_INVALID_ARGUMENT);
    CHECK(contains(last_message(), "prefix"));
    CHECK_STATUS(wal_telemetry_prometheus(h, "trailing_", NULL, 0, &needed), WAL_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(wal_telemetry_prometheus(h, "", NULL, 0, &needed), WAL_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(wal_telemetry_dump(h, "\xff\xfe", NULL, 0, &needed), WAL_ERR_INVALID_ARGUMENT);
    CHECK(contains(last_message(), "UTF-8"));
    wal_recovery_close(h);
}

static void test_missing_directory(void) {
    wal_recovery *h = (wal_recovery *)&h;
    char dir[600];
    scratch(dir, sizeof dir, "does-not-exist");
    CHECK_STATUS(wal_recovery_open(dir, NULL, &h), WAL_ERR_DIRECTORY_NOT_FOUND);
    CHECK(h == NULL);
    CHECK(contains(last_message(), "does-not-exist"));
}

static void test_corruption(void) {
    char dir[600], seg[700], msg[1024];
    wal_recovery *h = NULL;
    wal_recovery_options ro;
    wal_event ev;
    uint64_t delivered;
    char *json;

    scratch(dir, sizeof dir, "corrupt");
    write_log(dir);
    /* A payload byte of the first block of segment 3. */
    segment_path(seg, sizeof seg, dir, 3);
    flip_byte(seg, 64 + 64 + 8);

    /* Strict: every event before the damage, then the typed error, again on every call. */
    REQUIRE_STATUS(wal_recovery_open(dir, NULL, &h), WAL_OK);
    delivered = replay_next(h, FIRST_ID, WAL_ERR_CORRUPT_PAYLOAD_CHECKSUM);
    CHECK(delivered > 0 && delivered < COUNT);
    CHECK(wal_last_error_message(h, msg, sizeof msg) > 0);
    CHECK(contains(msg, "00000000000000000003.wal"));
    CHECK(contains(msg, "checksum"));
    CHECK_STATUS(wal_recovery_next(h, &ev), WAL_ERR_CORRUPT_PAYLOAD_CHECKSUM);
    json = report(h);
    CHECK(contains(json, "\"error\":\"corruption"));
    free(json);
    wal_recovery_close(h);

    /* Stop at corruption: a clean end at the same place; the report says why. */
    wal_recovery_options_init_sized(&ro, sizeof ro);
    ro.mode = WAL_MODE_STOP_AT_CORRUPTION;
    REQUIRE_STATUS(wal_recovery_open(dir, &ro, &h), WAL_OK);
    CHECK(replay_next(h, FIRST_ID, WAL_END) == delivered);
    json = report(h);
    CHECK(contains(json, "\"stopped\":\""));
    CHECK(contains(json, "\"clean\":false"));
    free(json);
    wal_recovery_close(h);

    /* Skip corrupted: the damaged block is skipped, the rest delivered, the loss reported. */
    ro.mode = WAL_MODE_SKIP_CORRUPTED;
    REQUIRE_STATUS(wal_recovery_open(dir, &ro, &h), WAL_OK);
    {
        wal_status s;
        uint64_t n = 0, prev = 0;
        int ordered = 1;
        while ((s = wal_recovery_next(h, &ev)) == WAL_OK) {
            ordered &= ev.event_id > prev && payload_ok(ev.event_id, ev.data, ev.len);
            prev = ev.event_id;
            n++;
        }
        CHECK_STATUS(s, WAL_END);
        CHECK(ordered);
        CHECK(n > delivered && n < COUNT);
        CHECK(prev == FIRST_ID + COUNT - 1);
    }
    json = report(h);
    CHECK(contains(json, "\"lost\":[{"));
    free(json);
    wal_recovery_close(h);
}

static void test_gap(void) {
    char dir[600], seg[700], msg[1024];
    wal_recovery *h = NULL;
    uint64_t delivered;

    scratch(dir, sizeof dir, "gap");
    write_log(dir);
    segment_path(seg, sizeof seg, dir, 4);
    REQUIRE(unlink(seg) == 0);
    REQUIRE_STATUS(wal_recovery_open(dir, NULL, &h), WAL_OK);
    delivered = replay_next(h, FIRST_ID, WAL_ERR_GAP);
    CHECK(delivered > 0 && delivered < COUNT);
    CHECK(wal_last_error_message(h, msg, sizeof msg) > 0 && contains(msg, "gap"));
    wal_recovery_close(h);
}

static void test_messages(const char *dir) {
    wal_recovery *h = NULL;
    char full[512], small[8];
    size_t n, m;
    /* An error to report: a start id before the log. */
    wal_recovery_options ro;
    wal_recovery_options_init_sized(&ro, sizeof ro);
    ro.start_event_id = 1;
    CHECK_STATUS(wal_recovery_open(dir, &ro, &h), WAL_ERR_EVENT_TOO_OLD);
    n = wal_last_error_message(NULL, NULL, 0);
    CHECK(n > sizeof small);
    m = wal_last_error_message(NULL, full, sizeof full);
    CHECK(m == n && strlen(full) == n);
    memset(small, 'x', sizeof small);
    m = wal_last_error_message(NULL, small, sizeof small);
    CHECK(m == n && strlen(small) == sizeof small - 1 && strncmp(small, full, sizeof small - 1) == 0);
    /* A new handle has no error yet. */
    REQUIRE_STATUS(wal_recovery_open(dir, NULL, &h), WAL_OK);
    full[0] = 'x';
    CHECK(wal_last_error_message(h, full, sizeof full) == 0 && full[0] == '\0');
    wal_recovery_close(h);
}

/* Every function, with NULL for each pointer argument in turn. */
static void test_null_arguments(const char *dir) {
    wal_recovery *h = NULL;
    wal_writer *w = NULL;
    wal_event ev;
    size_t n = 0, needed = 0;
    char buf[64];
    uint64_t id;
    wal_recovery_options ro;
    wal_writer_options wo;
    char wdir[600];

    wal_recovery_options_init_sized(&ro, sizeof ro);
    wal_writer_options_init(&wo);
    CHECK_STATUS(wal_recovery_options_init_sized(NULL, sizeof ro), WAL_ERR_NULL_ARGUMENT);
    wal_writer_options_init(NULL);

    {
        wal_request_event r;
        unsigned char rec[64] = {0};
        CHECK_STATUS(wal_request_event_decode(NULL, 64, &r), WAL_ERR_NULL_ARGUMENT);
        CHECK_STATUS(wal_request_event_decode(rec, 64, NULL), WAL_ERR_NULL_ARGUMENT);
        rec[0] = 7;
        rec[40] = 3;
        CHECK_STATUS(wal_request_event_decode(rec, 64, &r), WAL_OK);
        CHECK(r.event_id == 7 && r.request_type == 3 && r.side == 0);
    }
    CHECK_STATUS(wal_recovery_open(NULL, NULL, &h), WAL_ERR_NULL_ARGUMENT);
    CHECK(contains(last_message(), "dir"));
    CHECK_STATUS(wal_recovery_open(NULL, &ro, &h), WAL_ERR_NULL_ARGUMENT);
    CHECK_STATUS(wal_recovery_open(dir, &ro, NULL), WAL_ERR_NULL_ARGUMENT);
    CHECK(contains(last_message(), "out"));
    REQUIRE_STATUS(wal_recovery_open(dir, NULL, &h), WAL_OK);

    CHECK_STATUS(wal_recovery_next(NULL, &ev), WAL_ERR_NULL_ARGUMENT);
    CHECK_STATUS(wal_recovery_next(h, NULL), WAL_ERR_NULL_ARGUMENT);
    CHECK_STATUS(wal_recovery_next_wait(NULL, &ev, 0), WAL_ERR_NULL_ARGUMENT);
    CHECK_STATUS(wal_recovery_next_wait(h, NULL, 0), WAL_ERR_NULL_ARGUMENT);
    /* The inline call's functions: more in hot_window.c. */
    CHECK(wal_recovery_hot_window(NULL) == NULL);
    CHECK_STATUS(wal_recovery_next_refill(NULL, wal_recovery_hot_window(h), &ev),
                 WAL_ERR_NULL_ARGUMENT);
    CHECK_STATUS(wal_recovery_next_refill(h, wal_recovery_hot_window(h), NULL),
                 WAL_ERR_NULL_ARGUMENT);
    CHECK(wal_last_error_message(h, buf, sizeof buf) > 0 && contains(buf, "out"));
    CHECK_STATUS(wal_recovery_next_batch(NULL, &ev, 1, &n), WAL_ERR_NULL_ARGUMENT);
    CHECK_STATUS(wal_recovery_next_batch(h, NULL, 1, &n), WAL_ERR_NULL_ARGUMENT);
    CHECK_STATUS(wal_recovery_next_batch(h, &ev, 1, NULL), WAL_ERR_NULL_ARGUMENT);
    CHECK_STATUS(wal_recovery_resume(NULL, 0), WAL_ERR_NULL_ARGUMENT);
    CHECK_STATUS(wal_recovery_report_json(NULL, buf, sizeof buf, &needed), WAL_ERR_NULL_ARGUMENT);
    CHECK_STATUS(wal_recovery_report_json(h, NULL, sizeof buf, &needed), WAL_ERR_NULL_ARGUMENT);
    CHECK_STATUS(wal_recovery_report_json(h, buf, sizeof buf, NULL), WAL_ERR_NULL_ARGUMENT);
    {
        wal_telemetry t;
        memset(&t, 0, sizeof t);
        t.struct_size = (uint32_t)sizeof t;
        CHECK_STATUS(wal_telemetry_snapshot(NULL, &t), WAL_ERR_NULL_ARGUMENT);
        CHECK_STATUS(wal_telemetry_snapshot(h, NULL), WAL_ERR_NULL_ARGUMENT);
        CHECK_STATUS(wal_telemetry_dump(NULL, "x", buf, sizeof buf, &needed), WAL_ERR_NULL_ARGUMENT);
        CHECK_STATUS(wal_telemetry_dump(h, NULL, buf, sizeof buf, &needed), WAL_ERR_NULL_ARGUMENT);
        CHECK_STATUS(wal_telemetry_dump(h, "x", NULL, sizeof buf, &needed), WAL_ERR_NULL_ARGUMENT);
        CHECK_STATUS(wal_telemetry_dump(h, "x", buf, sizeof buf, NULL), WAL_ERR_NULL_ARGUMENT);
        CHECK_STATUS(wal_telemetry_prometheus(NULL, "x", buf, sizeof buf, &needed),
                     WAL_ERR_NULL_ARGUMENT);
        CHECK_STATUS(wal_telemetry_prometheus(h, NULL, buf, sizeof buf, &needed),
                     WAL_ERR_NULL_ARGUMENT);
        CHECK_STATUS(wal_telemetry_prometheus(h, "x", NULL, sizeof buf, &needed),
                     WAL_ERR_NULL_ARGUMENT);
        CHECK_STATUS(wal_telemetry_prometheus(h, "x", buf, sizeof buf, NULL), WAL_ERR_NULL_ARGUMENT);
        /* Telemetry errors stay on the calling thread: the handle's message is unchanged. */
        CHECK(wal_last_error_message(h, buf, sizeof buf) > 0 && contains(buf, "needed"));
    }
    /* The handle still works after all that. */
    CHECK_STATUS(wal_recovery_next(h, &ev), WAL_OK);
    CHECK(ev.event_id == FIRST_ID);
    CHECK(wal_last_error_message(NULL, NULL, 0) > 0);
    CHECK(wal_last_error_message(h, NULL, 0) > 0);
    CHECK(wal_last_error_message(h, NULL, 10) > 0); /* NULL buffer: length only */

    wal_recovery_close(h);
    wal_recovery_close(NULL);

    scratch(wdir, sizeof wdir, "null-writer");
    CHECK_STATUS(wal_writer_open(NULL, &wo, &w), WAL_ERR_NULL_ARGUMENT);
    CHECK_STATUS(wal_writer_open(wdir, &wo, NULL), WAL_ERR_NULL_ARGUMENT);
    REQUIRE_STATUS(wal_writer_open(wdir, NULL, &w), WAL_OK);
    CHECK_STATUS(wal_writer_append(NULL, "x", 1, &id), WAL_ERR_NULL_ARGUMENT);
    CHECK_STATUS(wal_writer_append(w, NULL, 1, &id), WAL_ERR_NULL_ARGUMENT);
    CHECK(wal_writer_last_error_message(w, buf, sizeof buf) > 0 && contains(buf, "data"));
    CHECK_STATUS(wal_writer_append(w, "x", 1, NULL), WAL_OK);
    CHECK_STATUS(wal_writer_sync(NULL), WAL_ERR_NULL_ARGUMENT);
    CHECK(wal_writer_last_error_message(NULL, NULL, 0) > 0);
    CHECK(wal_writer_last_error_message(w, NULL, 0) > 0);
    CHECK_STATUS(wal_writer_close(w), WAL_OK);
    CHECK_STATUS(wal_writer_close(NULL), WAL_OK);

    CHECK(wal_status_str(WAL_ERR_NULL_ARGUMENT) != NULL);
}

int main(int argc, char **argv) {
    char dir[600];
    if (argc != 2) {
        fprintf(stderr, "usage: %s <scratch directory>\n", argv[0]);
        return 2;
    }
    REQUIRE(strlen(argv[1]) < sizeof g_root);
    strcpy(g_root, argv[1]);
    scratch(dir, sizeof dir, "log");

    test_versions_and_statuses();
    write_log(dir);
    test_writer_errors(dir);
    test_replay(dir);
    test_telemetry(dir);
    test_missing_directory();
    test_messages(dir);
    test_corruption();
    test_gap();
    test_null_arguments(dir);

    if (g_failures != 0) {
        fprintf(stderr, "harness: %d check(s) failed\n", g_failures);
        return 1;
    }
    printf("harness: all checks passed\n");
    return 0;
}
