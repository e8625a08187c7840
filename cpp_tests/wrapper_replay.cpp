// wal::recovery::Manager and Writer against the real library, error paths included: replay by
// range-for, next() and next_batch(), resume, the report, options, missing directory, not a
// directory, bad options, the writer's lock, moved-from objects, a corrupt log (strict error
// mid-replay, stop, skip) and the FlashStrike samples decoded as RequestEvents. Built and run by
// scripts/cpp.sh under ASan+UBSan, with and without -DWAL_RECOVERY_EXCEPTIONS.
//
// Usage: wrapper_replay <empty scratch directory> <tests/data/flashstrike>
#include "wrapper_support.hpp"

#include <cstdint>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

using namespace wrapper_test;

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
    return wrapper_test::run("wrapper_replay", argc, argv, [](const std::string& samples) {
        const std::string log = scratch("log");
        write_log(log);
        test_replay(log);
        test_open_errors();
        test_writer_lock_and_moves();
        test_moved_from_manager(log);
        test_flashstrike(samples);
        const std::string corrupt = scratch("corrupt");
        write_log(corrupt);
        test_corruption(corrupt);
    });
}
