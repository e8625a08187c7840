// wal::recovery::Telemetry against the real library: snapshot(), dump() in the original design's
// text format, collect() with exactly the library's Prometheus series, prometheus(), their
// errors, sanitize_prefix(), and the view used from another thread while the replay runs. Built
// and run by scripts/cpp.sh under ASan+UBSan, with and without -DWAL_RECOVERY_EXCEPTIONS.
//
// Usage: wrapper_telemetry <empty scratch directory> <tests/data/flashstrike>
#include "wrapper_support.hpp"

#include <atomic>
#include <cstdint>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using namespace wrapper_test;

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

}  // namespace

int main(int argc, char** argv) {
    return wrapper_test::run("wrapper_telemetry", argc, argv, [](const std::string&) {
        test_prefix();
        const std::string log = scratch("log");
        write_log(log);
        test_telemetry(log);
        test_telemetry_from_another_thread(log);
    });
}
