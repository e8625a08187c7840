/*
 * Loads the library the way legacy tools do: dlopen + dlsym of every function, no link-time
 * dependency. Checks wal_abi_version() before resolving anything else, then writes a log and
 * replays it per event and in batches, and replays FlashStrike's own sample logs with default
 * options (the results the samples' README and issue 14 state).
 *
 * Usage: dlopen <path to libwal_recovery.so> <empty scratch directory> <FlashStrike samples>
 * (the samples directory is tests/data/flashstrike).
 */
#define _POSIX_C_SOURCE 200809L

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wal_recovery.h"

/* Every exported function (tests/ffi_c.rs checks this list against the library's symbols). */
struct api {
    uint32_t (*wal_abi_version)(void);
    const char *(*wal_version)(void);
    const char *(*wal_status_str)(uint32_t);
    const char *(*wal_status_name)(uint32_t);
    size_t (*wal_last_error_message)(const wal_recovery *, char *, size_t);
    void (*wal_recovery_options_init)(wal_recovery_options *);
    wal_status (*wal_recovery_options_init_sized)(wal_recovery_options *, size_t);
    wal_status (*wal_request_event_decode)(const uint8_t *, size_t, wal_request_event *);
    wal_status (*wal_recovery_open)(const char *, const wal_recovery_options *, wal_recovery **);
    wal_status (*wal_recovery_next)(wal_recovery *, wal_event *);
    wal_status (*wal_recovery_next_batch)(wal_recovery *, wal_event *, size_t, size_t *);
    wal_status (*wal_recovery_next_wait)(wal_recovery *, wal_event *, uint64_t);
    wal_hot_window *(*wal_recovery_hot_window)(wal_recovery *);
    wal_status (*wal_recovery_next_refill)(wal_recovery *, wal_hot_window *, wal_event *);
    wal_status (*wal_recovery_resume)(wal_recovery *, uint64_t);
    wal_status (*wal_recovery_report_json)(const wal_recovery *, char *, size_t, size_t *);
    void (*wal_recovery_close)(wal_recovery *);
    wal_status (*wal_telemetry_snapshot)(const wal_recovery *, wal_telemetry *);
    wal_status (*wal_telemetry_dump)(const wal_recovery *, const char *, char *, size_t, size_t *);
    wal_status (*wal_telemetry_prometheus)(const wal_recovery *, const char *, char *, size_t,
                                           size_t *);
    void (*wal_writer_options_init)(wal_writer_options *);
    wal_status (*wal_writer_open)(const char *, const wal_writer_options *, wal_writer **);
    wal_status (*wal_writer_append)(wal_writer *, const void *, size_t, uint64_t *);
    wal_status (*wal_writer_sync)(wal_writer *);
    wal_status (*wal_writer_close)(wal_writer *);
    size_t (*wal_writer_last_error_message)(const wal_writer *, char *, size_t);
};

static int failures = 0;

#define CHECK(cond)                                                                      \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);     \
            failures++;                                                                  \
        }                                                                                \
    } while (0)

#define REQUIRE(cond)                                                                    \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond);   \
            exit(1);                                                                     \
        }                                                                                \
    } while (0)

/* dlsym into a function pointer without an object-to-function pointer cast (ISO C). */
#define LOAD(lib, api, name)                                                             \
    do {                                                                                 \
        void *sym_ = dlsym((lib), #name);                                                \
        if (sym_ == NULL) {                                                              \
            fprintf(stderr, "dlsym(%s): %s\n", #name, dlerror());                        \
            exit(1);                                                                     \
        }                                                                                \
        REQUIRE(sizeof sym_ == sizeof (api).name);                                       \
        memcpy(&(api).name, &sym_, sizeof sym_);                                         \
    } while (0)

#define N_EVENTS 10000u

static void payload(uint64_t id, unsigned char *buf, size_t *len) {
    size_t i;
    *len = (size_t)(id % 61u);
    for (i = 0; i < *len; i++) {
        buf[i] = (unsigned char)(id + i);
    }
}

static int event_ok(const wal_event *ev, uint64_t expect) {
    unsigned char want[64];
    size_t len;
    payload(expect, want, &len);
    return ev->event_id == expect && ev->len == len && (len == 0 || memcmp(ev->data, want, len) == 0);
}

/* Replays FlashStrike sample `name` in `mode`: checks every event's id and decoded fields
   (the samples' formula), returns the status that ended the replay and the ids delivered as up
   to 4 inclusive ranges. */
static wal_status replay_sample(const struct api *api, const char *root, const char *name,
                                uint32_t mode, uint64_t ranges[4][2], size_t *n_ranges) {
    char dir[1024];
    wal_recovery_options o;
    wal_recovery *h = NULL;
    wal_event ev;
    wal_request_event r;
    wal_status s;
    snprintf(dir, sizeof dir, "%s/%s", root, name);
    REQUIRE(api->wal_recovery_options_init_sized(&o, sizeof o) == WAL_OK);
    o.mode = mode;
    REQUIRE(api->wal_recovery_open(dir, &o, &h) == WAL_OK);
    *n_ranges = 0;
    while ((s = api->wal_recovery_next(h, &ev)) == WAL_OK) {
        uint64_t i = ev.event_id;
        REQUIRE(api->wal_request_event_decode(ev.data, ev.len, &r) == WAL_OK);
        REQUIRE(r.event_id == i && r.timestamp == i * 1000u && r.price == (int64_t)(i * 7u));
        REQUIRE(r.quantity == (int64_t)(i % 100u + 1u) && r.user_id == (uint32_t)(i % 997u));
        REQUIRE(r.order_id == (uint32_t)i && r.request_type == i % 4u);
        REQUIRE(r.order_type == i % 2u && r.side == i % 2u);
        if (*n_ranges > 0 && ranges[*n_ranges - 1][1] + 1 == i) {
            ranges[*n_ranges - 1][1] = i;
        } else {
            REQUIRE(*n_ranges < 4);
            ranges[*n_ranges][0] = i;
            ranges[*n_ranges][1] = i;
            (*n_ranges)++;
        }
    }
    api->wal_recovery_close(h);
    return s;
}

static void flashstrike_samples(const struct api *api, const char *root) {
    uint64_t r[4][2];
    size_t n = 0;
    wal_request_event out;
    unsigned char short_record[63] = {0};
    CHECK(replay_sample(api, root, "clean", WAL_MODE_STRICT, r, &n) == WAL_END);
    CHECK(n == 1 && r[0][0] == 1 && r[0][1] == 20000);
    CHECK(replay_sample(api, root, "crash", WAL_MODE_STRICT, r, &n) == WAL_END);
    CHECK(n == 1 && r[0][0] == 1 && r[0][1] == 17920);
    CHECK(replay_sample(api, root, "crash_rotation", WAL_MODE_STRICT, r, &n) == WAL_END);
    CHECK(n == 1 && r[0][0] == 1 && r[0][1] == 16384);
    CHECK(replay_sample(api, root, "cold", WAL_MODE_STRICT, r, &n) == WAL_END);
    CHECK(n == 1 && r[0][0] == 1 && r[0][1] == 20000);
    CHECK(replay_sample(api, root, "restart", WAL_MODE_STRICT, r, &n) == WAL_ERR_GAP);
    CHECK(n == 1 && r[0][0] == 1 && r[0][1] == 16384);
    CHECK(replay_sample(api, root, "restart", WAL_MODE_SKIP_CORRUPTED, r, &n) == WAL_END);
    CHECK(n == 2 && r[0][0] == 1 && r[0][1] == 16384 && r[1][0] == 18001 && r[1][1] == 20000);
    CHECK(api->wal_request_event_decode(short_record, sizeof short_record, &out) ==
          WAL_ERR_INVALID_ARGUMENT);
}

int main(int argc, char **argv) {
    struct api api;
    void *lib;
    char dir[1024], msg[512];
    wal_writer *w = NULL;
    wal_writer_options wo;
    wal_recovery *h = NULL;
    wal_event ev, batch[256];
    unsigned char buf[64];
    uint64_t i, expect;
    size_t len, n;
    wal_status s;

    if (argc != 4) {
        fprintf(stderr, "usage: %s <libwal_recovery.so> <scratch directory> <samples>\n", argv[0]);
        return 2;
    }
    lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 1;
    }
    memset(&api, 0, sizeof api);
    /* The ABI version first: nothing else is trusted before it matches. */
    LOAD(lib, api, wal_abi_version);
    if (api.wal_abi_version() != WAL_RECOVERY_ABI_VERSION) {
        fprintf(stderr, "ABI %u, expected %u\n", api.wal_abi_version(), WAL_RECOVERY_ABI_VERSION);
        return 1;
    }
    LOAD(lib, api, wal_version);
    LOAD(lib, api, wal_status_str);
    LOAD(lib, api, wal_status_name);
    LOAD(lib, api, wal_last_error_message);
    LOAD(lib, api, wal_recovery_options_init);
    LOAD(lib, api, wal_recovery_options_init_sized);
    LOAD(lib, api, wal_request_event_decode);
    LOAD(lib, api, wal_recovery_open);
    LOAD(lib, api, wal_recovery_next);
    LOAD(lib, api, wal_recovery_next_batch);
    LOAD(lib, api, wal_recovery_next_wait);
    LOAD(lib, api, wal_recovery_hot_window);
    LOAD(lib, api, wal_recovery_next_refill);
    LOAD(lib, api, wal_recovery_resume);
    LOAD(lib, api, wal_recovery_report_json);
    LOAD(lib, api, wal_recovery_close);
    LOAD(lib, api, wal_telemetry_snapshot);
    LOAD(lib, api, wal_telemetry_dump);
    LOAD(lib, api, wal_telemetry_prometheus);
    LOAD(lib, api, wal_writer_options_init);
    LOAD(lib, api, wal_writer_open);
    LOAD(lib, api, wal_writer_append);
    LOAD(lib, api, wal_writer_sync);
    LOAD(lib, api, wal_writer_close);
    LOAD(lib, api, wal_writer_last_error_message);

    CHECK(strcmp(api.wal_version(), WAL_RECOVERY_VERSION_STRING) == 0);
    CHECK(strcmp(api.wal_status_name(WAL_END), "WAL_END") == 0);

    snprintf(dir, sizeof dir, "%s/log", argv[2]);
    api.wal_writer_options_init(&wo);
    wo.segment_bytes = 64u * 1024u;
    wo.block_bytes = 4096u;
    REQUIRE(api.wal_writer_open(dir, &wo, &w) == WAL_OK);
    for (i = 1; i <= N_EVENTS; i++) {
        uint64_t id = 0;
        payload(i, buf, &len);
        REQUIRE(api.wal_writer_append(w, buf, len, &id) == WAL_OK);
        REQUIRE(id == i);
    }
    REQUIRE(api.wal_writer_close(w) == WAL_OK);

    REQUIRE(api.wal_recovery_open(dir, NULL, &h) == WAL_OK);
    expect = 1;
    while ((s = api.wal_recovery_next(h, &ev)) == WAL_OK) {
        REQUIRE(event_ok(&ev, expect));
        expect++;
    }
    CHECK(s == WAL_END);
    CHECK(expect == N_EVENTS + 1);

    REQUIRE(api.wal_recovery_resume(h, 5000) == WAL_OK);
    expect = 5000;
    while ((s = api.wal_recovery_next_batch(h, batch, 256, &n)) == WAL_OK) {
        for (i = 0; i < n; i++) {
            REQUIRE(event_ok(&batch[i], expect));
            expect++;
        }
    }
    CHECK(s == WAL_END);
    CHECK(expect == N_EVENTS + 1);

    {
        wal_telemetry t;
        char text[64];
        size_t needed = 0;
        memset(&t, 0, sizeof t);
        t.struct_size = (uint32_t)sizeof t;
        CHECK(api.wal_telemetry_snapshot(h, &t) == WAL_OK);
        CHECK(t.manager.events_delivered == N_EVENTS + (N_EVENTS - 5000 + 1));
        CHECK(api.wal_telemetry_dump(h, "dl", text, sizeof text, &needed) ==
              WAL_ERR_BUFFER_TOO_SMALL);
        CHECK(needed > sizeof text);
        CHECK(api.wal_telemetry_prometheus(h, "dl", NULL, 0, &needed) == WAL_ERR_BUFFER_TOO_SMALL);
        CHECK(needed > 1000);
    }
    /* The inline call's out-of-line half, called for every event: it fills the window and
       takes nothing back from it each time. */
    REQUIRE(api.wal_recovery_resume(h, 1) == WAL_OK);
    expect = 1;
    {
        wal_hot_window *hw = api.wal_recovery_hot_window(h);
        REQUIRE(hw != NULL);
        while ((s = api.wal_recovery_next_refill(h, hw, &ev)) == WAL_OK) {
            REQUIRE(event_ok(&ev, expect));
            expect++;
        }
        CHECK(api.wal_recovery_hot_window(NULL) == NULL);
    }
    CHECK(s == WAL_END);
    CHECK(expect == N_EVENTS + 1);
    CHECK(api.wal_recovery_resume(h, N_EVENTS + 7) == WAL_ERR_EVENT_BEYOND_END);
    CHECK(api.wal_last_error_message(h, msg, sizeof msg) > 0 && strstr(msg, "beyond") != NULL);
    api.wal_recovery_close(h);

    flashstrike_samples(&api, argv[3]);

    CHECK(dlclose(lib) == 0);
    if (failures != 0) {
        fprintf(stderr, "dlopen: %d check(s) failed\n", failures);
        return 1;
    }
    printf("dlopen: all checks passed\n");
    return 0;
}
