// Exercises every function of include/wal_recovery.hpp against the real library, error paths
// included: missing directory, not a directory, corrupt log (strict error mid-replay, stop, skip),
// bad options, moved-from objects, telemetry from another thread, FlashStrike RequestEvents.
// Built by scripts/cpp.sh with and without -DWAL_RECOVERY_EXCEPTIONS, under ASan+UBSan.
//
// Usage: wrapper <empty scratch directory> <tests/data/flashstrike>
#include "wal_recovery.hpp"

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

using wal::Status;
using wal::recovery::Event;
using wal::recovery::Manager;
using wal::recovery::Mode;
using wal::recovery::Options;

int failures = 0;

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) {                                                                \
            std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                               \
        }                                                                             \
    } while (0)

#define REQUIRE(cond)                                                                   \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            std::fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond); \
            std::exit(1);                                                               \
        }                                                                               \
    } while (0)

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

std::string scratch_root;
std::string scratch(const std::string& name) {
    std::string d = scratch_root + "/" + name;
    REQUIRE(::mkdir(d.c_str(), 0755) == 0 || errno == EEXIST);
    return d;
}

// Payload of event `id`: 8 bytes of id (LE) then (id*31 + k*17) % 251, length 8 + id % 41.
std::vector<std::uint8_t> payload(std::uint64_t id) {
    std::vector<std::uint8_t> p(8 + id % 41);
    for (std::size_t k = 0; k < p.size(); k++) {
        p[k] = k < 8 ? static_cast<std::uint8_t>(id >> (8 * k)) : static_cast<std::uint8_t>((id * 31 + k * 17) % 251);
    }
    return p;
}

bool payload_ok(const Event& ev) {
    std::vector<std::uint8_t> want = payload(ev.id);
    return ev.payload.size() == want.size() && std::memcmp(ev.payload.data(), want.data(), want.size()) == 0;
}

constexpr std::uint64_t kEvents = 20000;

// A native log of kEvents events in 16 KiB segments, through wal::recovery::Writer.
void write_log(const std::string& dir) {
    wal::recovery::WriterOptions wo;
    wo.segment_bytes = 16 * 1024;
    wo.block_bytes = 2048;
    auto w = wal::recovery::Writer::open(dir, wo);
    REQUIRE(w.ok());
    REQUIRE(w->valid() && w->native_handle() != nullptr);
    for (std::uint64_t i = 1; i <= kEvents; i++) {
        std::vector<std::uint8_t> p = payload(i);
        auto id = (i % 2) ? w->append(wal::Bytes(p.data(), p.size())) : w->append(p.data(), p.size());
        REQUIRE(id.ok() && *id == i);
        if (i == kEvents / 2) {
            CHECK(w->sync().ok());
        }
    }
    Status s = w->close();
    CHECK(s.ok());
    CHECK(!w->valid());
}

std::uint64_t read_u64(const std::string& path, long offset) {
    std::ifstream f(path, std::ios::binary);
    REQUIRE(f.good());
    f.seekg(offset);
    unsigned char b[8];
    f.read(reinterpret_cast<char*>(b), 8);
    REQUIRE(f.good());
    std::uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | b[i];
    return v;
}

void flip_byte(const std::string& path, long offset) {
    std::FILE* f = std::fopen(path.c_str(), "r+b");
    REQUIRE(f != nullptr);
    REQUIRE(std::fseek(f, offset, SEEK_SET) == 0);
    int c = std::fgetc(f);
    REQUIRE(c != EOF);
    REQUIRE(std::fseek(f, offset, SEEK_SET) == 0);
    REQUIRE(std::fputc(c ^ 0xff, f) != EOF);
    REQUIRE(std::fclose(f) == 0);
}

std::string segment(const std::string& dir, unsigned seq) {
    char name[64];
    std::snprintf(name, sizeof name, "/%020u.wal", seq);
    return dir + name;
}

// The same replay through the C API: (delivered, final status).
std::pair<std::uint64_t, wal_status> c_replay(const std::string& dir, wal_mode mode) {
    wal_recovery_options o;
    REQUIRE(wal_recovery_options_init_sized(&o, sizeof o) == WAL_OK);
    o.mode = mode;
    wal_recovery* h = nullptr;
    REQUIRE(wal_recovery_open(dir.c_str(), &o, &h) == WAL_OK);
    wal_event ev;
    wal_status s;
    std::uint64_t n = 0;
    while ((s = wal_recovery_next(h, &ev)) == WAL_OK) n++;
    wal_recovery_close(h);
    return {n, s};
}

// ---------------------------------------------------------------------------------------------

void test_status_and_result() {
    Status ok;
    CHECK(ok.ok() && static_cast<bool>(ok) && ok.code() == WAL_OK && ok.message().empty());
    CHECK(std::string(ok.name()) == "WAL_OK" && ok.to_string() == "WAL_OK");
    CHECK(ok == WAL_OK && ok != WAL_END);
    Status gap(WAL_ERR_GAP, "gap: ids 5..9 missing");
    CHECK(!gap.ok() && !static_cast<bool>(gap) && gap.code() == WAL_ERR_GAP);
    CHECK(std::string(gap.name()) == "WAL_ERR_GAP");
    CHECK(gap.to_string() == "WAL_ERR_GAP: gap: ids 5..9 missing");
    std::ostringstream os;
    os << gap;
    CHECK(os.str() == gap.to_string());
    Status described(WAL_ERR_LOCKED, "");  // an empty message becomes the code's description
    CHECK(described.message() == wal_status_str(WAL_ERR_LOCKED) && !described.message().empty());
    Status unknown(static_cast<wal_status>(9999), "newer library");
    CHECK(std::string(unknown.name()) == "WAL_UNKNOWN_STATUS" && unknown.code() == 9999);

    wal::Result<int> v(7);
    CHECK(v.ok() && v.has_value() && static_cast<bool>(v) && *v == 7 && v.value() == 7);
    CHECK(v.error().ok() && v.value_or(3) == 7);
    wal::Result<int> e(Status(WAL_ERR_IO, "read failed"));
    CHECK(!e.ok() && !e && e.error().code() == WAL_ERR_IO && e.error().message() == "read failed");
    CHECK(e.value_or(3) == 3);
    wal::Result<int> bogus{Status()};  // an OK status without a value is an internal error
    CHECK(!bogus.ok() && bogus.error().code() == WAL_ERR_INTERNAL && contains(bogus.error().message(), "without a value"));
    wal::Result<std::string> s(std::string("abc"));
    CHECK(s->size() == 3 && std::move(s).value_or("x") == "abc");
    wal::Result<std::string> se(Status(WAL_ERR_IO, "x"));
    CHECK(std::move(se).value_or("fallback") == "fallback");

#ifdef WAL_RECOVERY_EXCEPTIONS
    CHECK(v.value_or_throw() == 7);
    bool thrown = false;
    try {
        (void)e.value_or_throw();
    } catch (const wal::Error& err) {
        thrown = err.code() == WAL_ERR_IO && err.status().message() == "read failed" &&
                 std::string(err.what()) == "WAL_ERR_IO: read failed";
    }
    CHECK(thrown);
    thrown = false;
    try {
        (void)e.value();  // with exceptions, value() on an error throws too
    } catch (const wal::Error& err) {
        thrown = err.code() == WAL_ERR_IO;
    }
    CHECK(thrown);
    thrown = false;
    try {
        gap.throw_if_error();
    } catch (const wal::Error& err) {
        thrown = err.code() == WAL_ERR_GAP;
    }
    CHECK(thrown);
    ok.throw_if_error();  // does not throw
#else
    // Without exceptions, value() on an error aborts with the message: never a garbage value.
    std::fflush(stderr);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        int fd = ::open("/dev/null", O_WRONLY);
        if (fd >= 0) ::dup2(fd, 2);
        int x = e.value();
        std::_Exit(x == 0 ? 10 : 11);
    }
    int wstatus = 0;
    REQUIRE(::waitpid(pid, &wstatus, 0) == pid);
    CHECK(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGABRT);
#endif
}

void test_view() {
    std::vector<std::uint8_t> bytes = {1, 2, 3, 4, 5};
    wal::Bytes b(bytes.data(), bytes.size());
    CHECK(b.size() == 5 && b.size_bytes() == 5 && !b.empty() && b[2] == 3 && b.data() == bytes.data());
    int sum = 0;
    for (std::uint8_t x : b) sum += x;
    CHECK(sum == 15);
    wal::Bytes mid = b.subspan(1, 3);
    CHECK(mid.size() == 3 && mid[0] == 2 && mid[2] == 4 && mid.end() - mid.begin() == 3);
    const std::uint8_t arr[3] = {9, 8, 7};
    wal::Bytes a(arr);
    CHECK(a.size() == 3 && a[1] == 8);
    wal::Bytes c(bytes);
    CHECK(c.size() == 5);
    wal::Bytes none;
    CHECK(none.empty() && none.size() == 0);
    const wal::recovery::Label labels[2] = {{"component", "manager"}, {"reason", "io"}};
    wal::View<const wal::recovery::Label> lv(labels, 2);
    CHECK(lv.size() == 2 && lv[1].value == "io");
}

void test_prefix() {
    using wal::recovery::sanitize_prefix;
    CHECK(sanitize_prefix("wal_recovery") == "wal_recovery");
    CHECK(sanitize_prefix("ie_wal_recovery_") == "ie_wal_recovery");
    CHECK(sanitize_prefix("my-app.wal") == "my_app_wal");
    CHECK(sanitize_prefix("9lives") == "_9lives");
    CHECK(sanitize_prefix("a--b") == "a_b");
    CHECK(sanitize_prefix("") == "wal_recovery");
    CHECK(sanitize_prefix("___") == "wal_recovery");
    CHECK(sanitize_prefix("\xc3\xa9") == "wal_recovery");
    CHECK(sanitize_prefix("\xc3\xbc:z") == "_:z");
    CHECK(sanitize_prefix(":a:b_9") == ":a:b_9");
    CHECK(sanitize_prefix("a__b") == "a__b");  // valid: unchanged
    CHECK(sanitize_prefix("a__b-") == "a_b");
}

void test_replay(const std::string& dir) {
    // Range-for: every event, in order, zero-copy; status() OK at the clean end.
    auto m = Manager::open(dir);
    REQUIRE(m.ok());
    CHECK(m->valid() && m->native_handle() != nullptr && m->status().ok());
    std::uint64_t n = 0, prev = 0;
    bool good = true;
    for (const auto& ev : m->events()) {
        good = good && ev.id == prev + 1 && payload_ok(ev);
        prev = ev.id;
        n++;
    }
    CHECK(good && n == kEvents && prev == kEvents);
    Status s = m->status();
    CHECK(s.ok());
    // The end stays the end.
    Event ev;
    CHECK(!m->next(ev) && m->status().ok());
    n = 0;
    for (const auto& e : m->events()) n += e.id;
    CHECK(n == 0 && m->status().ok());

    // next(Event&) after a resume into the middle.
    Status r = m->resume_from_event(kEvents - 99);
    CHECK(r.ok() && m->status().ok());
    n = 0;
    prev = kEvents - 100;
    good = true;
    while (m->next(ev)) {
        good = good && ev.id == prev + 1 && payload_ok(ev);
        prev = ev.id;
        n++;
    }
    CHECK(good && n == 100 && m->status().ok());

    // next_batch from the start: batches never exceed the capacity and cover every event.
    CHECK(m->resume_from_event(0).ok());
    wal::recovery::EventBatch batch(64);
    CHECK(batch.capacity() == 64 && batch.empty());
    std::uint64_t total = 0, batches = 0;
    std::size_t got;
    prev = 0;
    good = true;
    while ((got = m->next_batch(batch)) != 0) {
        good = good && got == batch.size() && got <= 64;
        for (const Event& e : batch) {
            good = good && e.id == prev + 1 && payload_ok(e);
            prev = e.id;
        }
        good = good && batch[0].id + got - 1 == batch[got - 1].id;
        total += got;
        batches++;
    }
    CHECK(good && total == kEvents && batches >= kEvents / 64 && m->status().ok() && batch.size() == 0);
    wal::recovery::EventBatch zero(0);  // capacity 0 is rounded up to 1
    CHECK(zero.capacity() == 1);

    // Resume errors: typed, in status(), and next() repeats them until a resume succeeds.
    Status beyond = m->resume_from_event(kEvents + 2);
    CHECK(beyond.code() == WAL_ERR_EVENT_BEYOND_END && contains(beyond.message(), "beyond the end"));
    CHECK(m->status().code() == WAL_ERR_EVENT_BEYOND_END);
    CHECK(!m->next(ev) && m->status().code() == WAL_ERR_EVENT_BEYOND_END);
    CHECK(m->next_batch(batch) == 0 && m->status().code() == WAL_ERR_EVENT_BEYOND_END);
    CHECK(m->resume_from_event(kEvents + 1).ok());  // the end itself is a valid position
    CHECK(!m->next(ev) && m->status().ok());

    // The report.
    auto json = m->report_json();
    REQUIRE(json.ok());
    CHECK(json->front() == '{' && json->back() == '}');
    CHECK(contains(*json, "\"clean\":true"));
    CHECK(contains(*json, "\"lost\":[]"));

    // Options: start id, and invalid values rejected with the library's message.
    Options o;
    o.start_event_id = 1234;
    o.preload_depth = 2;
    o.finished_capacity = 8;
    o.fallback_after_us = 50;
    o.next_event_sample_every = 1;
    o.format = wal::recovery::Format::Native;
    auto m2 = Manager::open(dir.c_str(), o);
    REQUIRE(m2.ok());
    CHECK(m2->next(ev) && ev.id == 1234 && payload_ok(ev));
    Options bad;
    bad.preload_depth = 0;
    auto m3 = Manager::open(dir, bad);
    CHECK(!m3 && m3.error().code() == WAL_ERR_INVALID_ARGUMENT && contains(m3.error().message(), "preload_depth"));
    Options too_old;
    too_old.start_event_id = kEvents + 5;
    auto m4 = Manager::open(dir, too_old);
    CHECK(!m4 && m4.error().code() == WAL_ERR_EVENT_BEYOND_END);
    Options fs;
    fs.format = wal::recovery::Format::FlashStrikeV1;
    fs.mode = Mode::SkipCorrupted;
    auto m5 = Manager::open(dir, fs);  // a native log read as FlashStrike: nothing of it
    REQUIRE(m5.ok());
    CHECK(!m5->next(ev) && m5->status().ok());
}

void test_open_errors() {
    std::string missing = scratch_root + "/does-not-exist";
    auto m = Manager::open(missing);
    CHECK(!m && m.error().code() == WAL_ERR_DIRECTORY_NOT_FOUND);
    CHECK(contains(m.error().message(), "does-not-exist"));
    CHECK(std::string(m.error().name()) == "WAL_ERR_DIRECTORY_NOT_FOUND");
    std::string file = scratch_root + "/plain-file";
    { std::ofstream(file) << "x"; }
    auto f = Manager::open(file);
    CHECK(!f && f.error().code() == WAL_ERR_NOT_A_DIRECTORY && contains(f.error().message(), "plain-file"));
    auto n = Manager::open(static_cast<const char*>(nullptr));
    CHECK(!n && n.error().code() == WAL_ERR_NULL_ARGUMENT);
    auto z = Manager::open(std::string("a\0b", 3));
    CHECK(!z && z.error().code() == WAL_ERR_INVALID_ARGUMENT && contains(z.error().message(), "NUL"));

    auto w = wal::recovery::Writer::open(file);
    CHECK(!w && w.error().code() != WAL_OK && contains(w.error().message(), "plain-file"));
    auto wn = wal::recovery::Writer::open(static_cast<const char*>(nullptr));
    CHECK(!wn && wn.error().code() == WAL_ERR_NULL_ARGUMENT);
    auto wz = wal::recovery::Writer::open(std::string("a\0b", 3));
    CHECK(!wz && wz.error().code() == WAL_ERR_INVALID_ARGUMENT);
    wal::recovery::WriterOptions bad;
    bad.block_bytes = 1;
    auto wb = wal::recovery::Writer::open(scratch("bad-writer"), bad);
    CHECK(!wb && wb.error().code() == WAL_ERR_INVALID_ARGUMENT && contains(wb.error().message(), "block_bytes"));
}

void test_writer_lock_and_moves() {
    std::string dir = scratch("writer");
    wal::recovery::WriterOptions wo;
    wo.first_event_id = 100;
    auto w = wal::recovery::Writer::open(dir, wo);
    REQUIRE(w.ok());
    auto second = wal::recovery::Writer::open(dir);
    CHECK(!second && second.error().code() == WAL_ERR_LOCKED);
    auto id = w->append(std::string_view("hello"));
    CHECK(id.ok() && *id == 100);
    id = w->append(nullptr, 0);  // an empty event
    CHECK(id.ok() && *id == 101);

    wal::recovery::Writer moved(std::move(*w));
    CHECK(!w->valid() && moved.valid());
    auto after = w->append(std::string_view("x"));
    CHECK(!after && after.error().code() == WAL_ERR_NULL_ARGUMENT && contains(after.error().message(), "moved from"));
    CHECK(w->sync().code() == WAL_ERR_NULL_ARGUMENT);
    CHECK(w->close().code() == WAL_ERR_NULL_ARGUMENT);
    wal::recovery::Writer assigned;
    assigned = std::move(moved);
    CHECK(assigned.valid() && !moved.valid());
    auto& self = assigned;
    assigned = std::move(self);  // self-move keeps the handle
    CHECK(assigned.valid());
    CHECK(assigned.append(std::string_view("third")).value_or(0) == 102);
    CHECK(assigned.close().ok());
    CHECK(assigned.close().code() == WAL_ERR_NULL_ARGUMENT);

    // Replay what was written, and destroy a writer without close() (the destructor closes).
    {
        auto w2 = wal::recovery::Writer::open(dir);
        REQUIRE(w2.ok());
        CHECK(w2->append(std::string_view("fourth")).value_or(0) == 103);
    }
    auto m = Manager::open(dir);
    REQUIRE(m.ok());
    std::vector<std::string> got;
    for (const auto& ev : m->events()) {
        got.emplace_back(reinterpret_cast<const char*>(ev.payload.data()), ev.payload.size());
        CHECK(ev.id == 99 + got.size());
    }
    CHECK(m->status().ok());
    CHECK((got == std::vector<std::string>{"hello", "", "third", "fourth"}));
}

void test_moved_from_manager(const std::string& dir) {
    auto opened = Manager::open(dir);
    REQUIRE(opened.ok());
    Manager a = std::move(*opened);
    CHECK(a.valid() && !opened->valid());
    Event ev;
    CHECK(a.next(ev) && ev.id == 1);
    Manager b(std::move(a));
    CHECK(!a.valid() && b.valid() && a.native_handle() == nullptr);
    // Every call on the moved-from Manager is a typed error, never a crash.
    CHECK(!a.next(ev) && a.status().code() == WAL_ERR_NULL_ARGUMENT && contains(a.status().message(), "moved from"));
    std::uint64_t n = 0;
    for (const auto& e : a.events()) n += e.id;
    CHECK(n == 0 && a.status().code() == WAL_ERR_NULL_ARGUMENT);
    wal::recovery::EventBatch batch(8);
    CHECK(a.next_batch(batch) == 0 && a.status().code() == WAL_ERR_NULL_ARGUMENT);
    CHECK(a.resume_from_event(1).code() == WAL_ERR_NULL_ARGUMENT);
    CHECK(a.report_json().error().code() == WAL_ERR_NULL_ARGUMENT);
    wal::recovery::Telemetry t = a.telemetry();
    CHECK(t.empty());
    CHECK(t.snapshot().error().code() == WAL_ERR_NULL_ARGUMENT);
    CHECK(t.dump("x").error().code() == WAL_ERR_NULL_ARGUMENT);
    CHECK(t.prometheus().error().code() == WAL_ERR_NULL_ARGUMENT);
    std::ostringstream os;
    t.dump("x", os);
    CHECK(os.fail() && os.str().empty());
    struct Null : wal::recovery::Collector {
        int calls = 0;
        void counter(std::string_view, std::string_view, wal::View<const wal::recovery::Label>, std::uint64_t) override { calls++; }
        void gauge(std::string_view, std::string_view, wal::View<const wal::recovery::Label>, double) override { calls++; }
        void summary(std::string_view, std::string_view, wal::View<const wal::recovery::Label>, const wal_histogram&) override { calls++; }
    } null;
    CHECK(t.collect("p", null).code() == WAL_ERR_NULL_ARGUMENT && null.calls == 0);
    CHECK(wal::recovery::Telemetry().snapshot().error().code() == WAL_ERR_NULL_ARGUMENT);

    // The moved-to Manager continues where a stopped.
    CHECK(b.next(ev) && ev.id == 2);
    // Move-assignment closes the target's handle first; self-move keeps it.
    auto other = Manager::open(dir);
    REQUIRE(other.ok());
    b = std::move(*other);
    CHECK(b.next(ev) && ev.id == 1);
    Manager& self = b;
    b = std::move(self);
    CHECK(b.valid() && b.next(ev) && ev.id == 2);
    // Moving carries status() with it, and leaves the source's OK.
    CHECK(b.resume_from_event(kEvents + 9).code() == WAL_ERR_EVENT_BEYOND_END);
    Manager c = std::move(b);
    CHECK(c.status().code() == WAL_ERR_EVENT_BEYOND_END && b.status().ok());
    Manager empty;
    CHECK(!empty.valid() && !empty.next(ev) && empty.status().code() == WAL_ERR_NULL_ARGUMENT);
}

void test_corruption(const std::string& dir) {
    // A payload byte of the first block of segment 3: strict replay stops right before it.
    const std::string seg3 = segment(dir, 3);
    const std::uint64_t first3 = read_u64(seg3, 24);
    REQUIRE(first3 > 1 && first3 < kEvents);
    flip_byte(seg3, 64 + 64 + 8);

    auto m = Manager::open(dir);
    REQUIRE(m.ok());
    std::uint64_t n = 0, prev = 0;
    bool good = true;
    for (const auto& ev : m->events()) {
        good = good && ev.id == prev + 1 && payload_ok(ev);
        prev = ev.id;
        n++;
    }
    Status s = m->status();
    CHECK(good && n == first3 - 1);
    CHECK(s.code() == WAL_ERR_CORRUPT_PAYLOAD_CHECKSUM);
    CHECK(std::string(s.name()) == "WAL_ERR_CORRUPT_PAYLOAD_CHECKSUM");
    CHECK(contains(s.message(), "00000000000000000003.wal") && contains(s.message(), "checksum"));
    // The C loop over the same log agrees exactly.
    auto c = c_replay(dir, WAL_MODE_STRICT);
    CHECK(c.first == n && c.second == WAL_ERR_CORRUPT_PAYLOAD_CHECKSUM);
    // Every later call repeats the error.
    Event ev;
    CHECK(!m->next(ev) && m->status().code() == WAL_ERR_CORRUPT_PAYLOAD_CHECKSUM);
    auto json = m->report_json();
    CHECK(json.ok() && contains(*json, "\"error\":\"corruption"));

    // Stop at corruption: a clean end at the same place.
    Options stop;
    stop.mode = Mode::StopAtCorruption;
    auto ms = Manager::open(dir, stop);
    REQUIRE(ms.ok());
    std::uint64_t ns = 0;
    for (const auto& e : ms->events()) ns += (e.id > 0);
    CHECK(ns == first3 - 1 && ms->status().ok());
    CHECK(contains(ms->report_json().value_or(""), "\"clean\":false"));

    // Skip corrupted: the damaged block skipped, replay on to the last event, the loss reported.
    Options skip;
    skip.mode = Mode::SkipCorrupted;
    auto mk = Manager::open(dir, skip);
    REQUIRE(mk.ok());
    std::uint64_t nk = 0, last = 0, first_missing = 0;
    for (const auto& e : mk->events()) {
        if (first_missing == 0 && e.id != last + 1) first_missing = last + 1;
        last = e.id;
        nk++;
    }
    CHECK(mk->status().ok() && last == kEvents && first_missing == first3 && nk > n && nk < kEvents);
    CHECK(c_replay(dir, WAL_MODE_SKIP_CORRUPTED).first == nk);
    CHECK(contains(mk->report_json().value_or(""), "\"lost\":[{"));

    // A directory holding only a garbage segment file: strict replay reports it, typed.
    std::string garbage = scratch("garbage");
    { std::ofstream(segment(garbage, 0), std::ios::binary) << std::string(200, 'Z'); }
    auto mg = Manager::open(garbage);
    Status g = mg ? (mg->next(ev) ? Status(WAL_ERR_INTERNAL, "an event from garbage") : mg->status()) : mg.error();
    CHECK(g.code() >= 200 && g.code() < 300 && contains(g.message(), "00000000000000000000.wal"));
}

// Records what collect() emits.
struct Recorder : wal::recovery::Collector {
    struct Row {
        std::string kind, name, labels;
        double value;
    };
    std::vector<Row> rows;
    static std::string join(wal::View<const wal::recovery::Label> labels) {
        std::string s;
        for (const auto& l : labels) s += std::string(l.name) + "=" + std::string(l.value) + ";";
        return s;
    }
    void counter(std::string_view name, std::string_view help, wal::View<const wal::recovery::Label> labels, std::uint64_t v) override {
        CHECK(!help.empty());
        rows.push_back({"counter", std::string(name), join(labels), static_cast<double>(v)});
    }
    void gauge(std::string_view name, std::string_view help, wal::View<const wal::recovery::Label> labels, double v) override {
        CHECK(!help.empty());
        rows.push_back({"gauge", std::string(name), join(labels), v});
    }
    void summary(std::string_view name, std::string_view help, wal::View<const wal::recovery::Label> labels, const wal_histogram& h) override {
        CHECK(!help.empty());
        rows.push_back({"summary", std::string(name), join(labels), static_cast<double>(h.count)});
    }
};

void test_telemetry(const std::string& dir) {
    Options o;
    o.next_event_sample_every = 1;
    auto m = Manager::open(dir, o);
    REQUIRE(m.ok());
    for (const auto& ev : m->events()) (void)ev;
    REQUIRE(m->status().ok());
    wal::recovery::Telemetry t = m->telemetry();
    CHECK(!t.empty());

    auto snap = t.snapshot();
    REQUIRE(snap.ok());
    CHECK(snap->manager.events_delivered == kEvents);
    CHECK(snap->manager.next_event_histogram.count == kEvents);  // sampled 1 in 1: every event
    CHECK(snap->manager.next_event.samples == kEvents);
    CHECK(snap->struct_size == sizeof(wal_telemetry));

    // dump(label, os): the original design's text format.
    std::ostringstream os;
    t.dump("replay", os);
    CHECK(os.good());
    const std::string text = os.str();
    CHECK(contains(text, "[replay] WAL Recovery Telemetry:"));
    CHECK(contains(text, "[Segment Reader Metrics] Snapshot:"));
    CHECK(contains(text, "[Segment Preloader Metrics] Snapshot:"));
    CHECK(contains(text, "[Manager Metrics] Snapshot:"));
    CHECK(contains(text, " Read segment header"));
    CHECK(contains(text, " Resume from event"));
    CHECK(contains(text, " Next event"));
    CHECK(contains(text, "-----------------------------------------------------------------"));
    auto text2 = t.dump("replay");
    CHECK(text2.ok() && contains(*text2, "[Manager Metrics] Snapshot:"));
    // Errors of the library (label not UTF-8) and of the wrapper (NUL in the label).
    auto bad_label = t.dump("\xff\xfe");
    CHECK(bad_label.error().code() == WAL_ERR_INVALID_ARGUMENT && contains(bad_label.error().message(), "UTF-8"));
    std::ostringstream bad_os;
    t.dump("\xff\xfe", bad_os);
    CHECK(bad_os.fail() && bad_os.str().empty());
    CHECK(t.dump(std::string_view("a\0b", 3)).error().code() == WAL_ERR_INVALID_ARGUMENT);

    // collect(prefix, Collector): the seed's per-component keys, and exactly the library's
    // Prometheus series (names, kinds, values).
    Recorder rec;
    CHECK(t.collect("wal_recovery", rec).ok());
    CHECK(rec.rows.size() == (35 + 8) + (14 + 5) + (28 + 6 + 5 + 5));
    std::set<std::string> expected_series;
    std::map<std::string, double> counters;
    for (const auto& r : rec.rows) {
        CHECK((r.kind == "counter") == (r.name.size() > 6 && r.name.compare(r.name.size() - 6, 6, "_total") == 0));
        CHECK(r.name.rfind("wal_recovery_", 0) == 0 && !contains(r.name, "__"));
        CHECK(r.labels.rfind("component=", 0) == 0);
        expected_series.insert(r.name);
        if (r.kind == "summary") {
            expected_series.insert(r.name + "_sum");
            expected_series.insert(r.name + "_count");
        }
        if (r.kind == "counter" && r.labels.find("reason=") == std::string::npos) counters[r.name] = r.value;
    }
    for (const char* key : {"wal_recovery_manager_read_segment_header_samples_total",
                            "wal_recovery_manager_resume_from_event_samples_total",
                            "wal_recovery_manager_seek_event_samples_total",
                            "wal_recovery_manager_next_event_samples_total",
                            "wal_recovery_manager_next_event_latency_ns",
                            "wal_recovery_segment_reader_open_segment_samples_total",
                            "wal_recovery_segment_preloader_preload_segment_samples_total"}) {
        CHECK(expected_series.count(key) == 1);
    }
    CHECK(counters["wal_recovery_manager_events_delivered_total"] == kEvents);
    auto prom = t.prometheus("wal_recovery");
    REQUIRE(prom.ok());
    std::set<std::string> prom_series;
    std::istringstream lines(*prom);
    std::string line;
    std::size_t checked = 0;
    while (std::getline(lines, line)) {
        if (line.empty() || line[0] == '#') continue;
        std::size_t end = line.find_first_of("{ ");
        std::string name = line.substr(0, end);
        prom_series.insert(name);
        auto it = counters.find(name);
        if (it != counters.end() && name.find("_ns_total") == std::string::npos &&
            name.find("wait_ns") == std::string::npos) {
            CHECK(std::stod(line.substr(line.rfind(' ') + 1)) == it->second);
            checked++;
        }
    }
    CHECK(prom_series == expected_series);
    CHECK(checked > 20);
    Recorder sanitized;
    CHECK(t.collect("my-app.wal", sanitized).ok());
    CHECK(sanitized.rows.size() == rec.rows.size() && sanitized.rows[0].name.rfind("my_app_wal_segment_reader_", 0) == 0);
    Recorder from_snapshot;
    wal::recovery::Telemetry::collect(*snap, "x", from_snapshot);
    CHECK(from_snapshot.rows.size() == rec.rows.size());
    auto bad_prefix = t.prometheus("9bad-prefix");
    CHECK(bad_prefix.error().code() == WAL_ERR_INVALID_ARGUMENT && contains(bad_prefix.error().message(), "prefix"));
}

void test_telemetry_from_another_thread(const std::string& dir) {
    auto m = Manager::open(dir);
    REQUIRE(m.ok());
    wal::recovery::Telemetry t = m->telemetry();
    std::atomic<bool> done{false};
    std::atomic<int> snapshots{0}, errors{0}, regressions{0};
    std::string thread_error;
    std::thread monitor([&] {
        std::uint64_t last = 0;
        while (!done.load()) {
            auto s = t.snapshot();
            std::ostringstream os;
            t.dump("live", os);
            Recorder rec;
            Status c = t.collect("live", rec);
            if (!s || !os.good() || !c.ok() || !contains(os.str(), "[live] WAL Recovery Telemetry:")) {
                errors++;
            } else {
                if (s->manager.events_delivered < last) regressions++;
                last = s->manager.events_delivered;
                snapshots++;
            }
        }
        // An error on this thread carries this thread's message.
        auto bad = t.prometheus("trailing_");
        thread_error = bad ? std::string() : bad.error().message();
    });
    std::uint64_t sum = 0, n = 0;
    for (int round = 0; round < 5; round++) {
        for (const auto& ev : m->events()) {
            sum += ev.id;
            n++;
        }
        REQUIRE(m->status().ok());
        CHECK(m->resume_from_event(0).ok());
    }
    while (snapshots.load() + errors.load() < 3) std::this_thread::yield();
    done = true;
    monitor.join();
    CHECK(n == 5 * kEvents && sum == 5 * (kEvents * (kEvents + 1) / 2));
    CHECK(errors.load() == 0 && regressions.load() == 0 && snapshots.load() >= 3);
    CHECK(contains(thread_error, "prefix"));
    CHECK(t.snapshot()->manager.events_delivered >= kEvents);
}

void test_flashstrike(const std::string& samples) {
    using namespace wal::recovery::flashstrike;
    auto m = Manager::open(samples + "/clean");
    REQUIRE(m.ok());
    std::uint64_t n = 0;
    bool good = true;
    std::map<RequestType, int> types;
    for (const auto& ev : m->events()) {
        auto r = RequestEvent::decode(ev);
        if (!r) {
            good = false;
            break;
        }
        const std::uint64_t i = ev.id;
        // The samples' formula (tests/data/flashstrike/README.md).
        good = good && r->event_id == i && r->timestamp == i * 1000 && r->price == static_cast<std::int64_t>(i * 7) &&
               r->quantity == static_cast<std::int64_t>(i % 100 + 1) && r->user_id == i % 997 &&
               r->order_id == static_cast<std::uint32_t>(i) && static_cast<unsigned>(r->request_type) == i % 4 &&
               static_cast<unsigned>(r->order_type) == i % 2 && static_cast<unsigned>(r->side) == i % 2;
        types[r->request_type]++;
        n++;
    }
    CHECK(good && n == 20000 && m->status().ok());
    CHECK(types[RequestType::NewOrder] == 5000 && types[RequestType::Cancel] == 5000);

    std::string s0 = to_string(RequestType::NewOrder), s1 = to_string(RequestType::ModifyPrice),
                s2 = to_string(RequestType::ModifyQuantity), s3 = to_string(RequestType::Cancel);
    CHECK(s0 == "NEW_ORDER" && s1 == "MODIFY_PRICE" && s2 == "MODIFY_QUANTITY" && s3 == "CANCEL");
    CHECK(std::string(to_string(OrderType::Limit)) == "LIMIT" && std::string(to_string(OrderType::Market)) == "MARKET");
    CHECK(std::string(to_string(Side::Bid)) == "BID" && std::string(to_string(Side::Ask)) == "ASK");
    CHECK(std::string(to_string(static_cast<Side>(7))) == "UNKNOWN");

    // Errors: not 64 bytes; undefined enum values.
    std::uint8_t rec[64] = {};
    rec[0] = 5;
    auto short_rec = RequestEvent::decode(wal::Bytes(rec, 63));
    CHECK(short_rec.error().code() == WAL_ERR_INVALID_ARGUMENT && contains(short_rec.error().message(), "64 bytes"));
    CHECK(RequestEvent::decode(wal::Bytes()).error().code() == WAL_ERR_NULL_ARGUMENT);
    auto okrec = RequestEvent::decode(wal::Bytes(rec, 64));
    CHECK(okrec.ok() && okrec->event_id == 5 && okrec->side == Side::Bid);
    rec[40] = 9;
    auto badtype = RequestEvent::decode(wal::Bytes(rec, 64));
    CHECK(badtype.error().code() == WAL_ERR_INVALID_ARGUMENT && badtype.error().message() == "invalid argument: RequestEvent 5 has request_type 9");
    rec[40] = 0;
    rec[41] = 2;
    CHECK(contains(RequestEvent::decode(wal::Bytes(rec, 64)).error().message(), "order_type 2"));
    rec[41] = 0;
    rec[42] = 3;
    CHECK(contains(RequestEvent::decode(wal::Bytes(rec, 64)).error().message(), "side 3"));

    // The restart sample in Strict mode: a typed gap error after 1..16384.
    auto r = Manager::open(samples + "/restart");
    REQUIRE(r.ok());
    std::uint64_t last = 0;
    for (const auto& ev : r->events()) last = ev.id;
    CHECK(last == 16384 && r->status().code() == WAL_ERR_GAP && contains(r->status().message(), "16385"));
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s <empty scratch dir> <tests/data/flashstrike>\n", argv[0]);
        return 2;
    }
    scratch_root = argv[1];
    CHECK(std::string(wal::version()) == WAL_RECOVERY_VERSION_STRING && wal::abi_version() == WAL_RECOVERY_ABI_VERSION);
    test_status_and_result();
    test_view();
    test_prefix();
    const std::string log = scratch("log");
    write_log(log);
    test_replay(log);
    test_open_errors();
    test_writer_lock_and_moves();
    test_moved_from_manager(log);
    test_telemetry(log);
    test_telemetry_from_another_thread(log);
    test_flashstrike(argv[2]);
    const std::string corrupt = scratch("corrupt");
    write_log(corrupt);
    test_corruption(corrupt);
    if (failures != 0) {
        std::fprintf(stderr, "wrapper: %d check(s) failed\n", failures);
        return 1;
    }
    std::printf("wrapper (C++%ld, %s, %s): every check passed\n", static_cast<long>(__cplusplus / 100 % 100),
                WAL_RECOVERY_STD_SPAN ? "std::span" : "wal::View",
#ifdef WAL_RECOVERY_EXCEPTIONS
                "exceptions"
#else
                "no exceptions"
#endif
    );
    return 0;
}
