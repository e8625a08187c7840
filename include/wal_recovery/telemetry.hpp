/*
 * wal_recovery/telemetry.hpp: wal::recovery::Telemetry (a replay's metrics: snapshot, text
 * dump, Prometheus, collect), Collector, Label and sanitize_prefix.
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * Part of the header-only C++17 API over libwal_recovery; include <wal_recovery.hpp>, which
 * documents the contract (errors, lifetimes, threads). This header also compiles on its own.
 */

#ifndef WAL_RECOVERY_TELEMETRY_HPP
#define WAL_RECOVERY_TELEMETRY_HPP

#if !defined(__cplusplus) || __cplusplus < 201703L
#error "wal_recovery/telemetry.hpp needs C++17 or later (use wal_recovery.h from C)"
#endif

#include "../wal_recovery.h"
#include "status.hpp"
#include "view.hpp"

#include <cstddef>
#include <cstdint>
#include <ios>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

namespace wal {
namespace recovery {

class Manager;

// ---------------------------------------------------------------------------------------------
// Telemetry

/// A metric label (name="value").
struct Label {
    std::string_view name;
    std::string_view value;
};

/// Receiver of `Telemetry::collect`. Names are complete series names
/// `<prefix>_<component>_<metric>` (counters end in `_total`); every series has the label
/// component="segment_reader"|"segment_preloader"|"manager". Calls for one name are consecutive.
class Collector {
public:
    virtual ~Collector() = default;
    /// A monotonically increasing counter.
    virtual void counter(std::string_view name, std::string_view help, View<const Label> labels,
                         std::uint64_t value) = 0;
    /// A value that can go up and down.
    virtual void gauge(std::string_view name, std::string_view help, View<const Label> labels,
                       double value) = 0;
    /// A latency distribution in ns (count, sum, min, max, mean, p50 ... p9999).
    virtual void summary(std::string_view name, std::string_view help, View<const Label> labels,
                         const wal_histogram& histogram) = 0;
};

/// A plain-data copy of every metric (the C struct, filled by wal_telemetry_snapshot).
using TelemetrySnapshot = wal_telemetry;

/// Makes any string a valid metric prefix ([a-zA-Z_:][a-zA-Z0-9_:]*, not ending in '_'), as the
/// library does: valid prefixes come back unchanged; otherwise characters outside [a-zA-Z0-9_:]
/// become '_', a leading digit gets a '_' in front, runs of '_' collapse, trailing '_' go, and an
/// empty result becomes "wal_recovery".
inline std::string sanitize_prefix(std::string_view prefix) {
    auto start = [](unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':'; };
    auto inner = [&](unsigned char c) { return start(c) || (c >= '0' && c <= '9'); };
    bool valid = !prefix.empty() && start(static_cast<unsigned char>(prefix[0])) && prefix.back() != '_';
    for (std::size_t i = 1; valid && i < prefix.size(); i++) {
        valid = inner(static_cast<unsigned char>(prefix[i]));
    }
    if (valid) {
        return std::string(prefix);
    }
    std::string out;
    if (!prefix.empty() && prefix[0] >= '0' && prefix[0] <= '9') {
        out.push_back('_');
    }
    std::size_t i = 0;
    while (i < prefix.size()) {
        unsigned char c = static_cast<unsigned char>(prefix[i]);
        std::size_t width = 1;
        if (c >= 0x80) {  // one UTF-8 character (as the library sees it): one '_'
            width = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
        }
        char ch = (width == 1 && inner(c)) ? static_cast<char>(c) : '_';
        if (!(ch == '_' && !out.empty() && out.back() == '_')) {
            out.push_back(ch);
        }
        i += width;
    }
    while (!out.empty() && out.back() == '_') {
        out.pop_back();
    }
    return out.empty() ? std::string("wal_recovery") : out;
}

/// The telemetry of a replay: a non-owning view of a Manager's handle, usable from any thread
/// while the replay runs (the Manager must outlive it). Errors of these calls are the calling
/// thread's (wal_last_error_message(NULL)).
class Telemetry {
public:
    Telemetry() noexcept = default;

    /// Every counter, operation statistic and histogram summary.
    Result<TelemetrySnapshot> snapshot() const {
        if (h_ == nullptr) {
            return detail::moved_from("wal::recovery::Telemetry");
        }
        TelemetrySnapshot t{};
        t.struct_size = sizeof t;
        wal_status s = wal_telemetry_snapshot(h_, &t);
        if (s != WAL_OK) {
            return wal::detail::from_call(s, nullptr);
        }
        return t;
    }

    /// The human-readable report in the original design's text format
    /// ("[<label> Metrics] Snapshot:" framed sections, one per component).
    Result<std::string> dump(std::string_view label) const {
        return text(label, "telemetry label", wal_telemetry_dump);
    }

    /// Writes dump(label) to `os`. On an error nothing is written and `os`'s failbit is set
    /// (call dump(label) for the Status).
    std::ostream& dump(std::string_view label, std::ostream& os) const {
        Result<std::string> text = dump(label);
        if (text) {
            os.write(text->data(), static_cast<std::streamsize>(text->size()));
        } else {
            os.setstate(std::ios_base::failbit);
        }
        return os;
    }

    /// Prometheus text exposition format 0.0.4, series `<prefix>_<component>_<metric>`.
    Result<std::string> prometheus(std::string_view prefix = "wal_recovery") const {
        return text(prefix, "metric prefix", wal_telemetry_prometheus);
    }

    /// Feeds every metric to `collector` under `<prefix>_<component>_<metric>` (the prefix is
    /// passed through sanitize_prefix), with the same names, kinds and labels as the library's
    /// Prometheus output.
    Status collect(std::string_view prefix, Collector& collector) const {
        Result<TelemetrySnapshot> snap = snapshot();
        if (!snap) {
            return snap.error();
        }
        collect(*snap, prefix, collector);
        return Status();
    }

    /// collect() over a snapshot taken earlier.
    static void collect(const TelemetrySnapshot& t, std::string_view prefix, Collector& c) {
        const std::string base = sanitize_prefix(prefix);
        Emit reader{base + "_segment_reader_", "segment_reader", c};
        const wal_segment_reader_telemetry& r = t.segment_reader;
        reader.op("open_segment", "Segment open (open, fstat, mmap)", r.open_segment);
        reader.op("close_segment", "Segment close (munmap, close)", r.close_segment);
        reader.op("verify_segment", "Full segment integrity verification", r.verify_segment);
        reader.op("build_index", "Sparse index build", r.build_index);
        reader.op("seek_event", "In-segment seek to an event id", r.seek_event);
        reader.counter("header_checksum_failures_total", "Segment header checksum mismatches", r.header_checksum_failures);
        reader.counter("block_header_checksum_failures_total", "Block header checksum mismatches", r.block_header_checksum_failures);
        reader.counter("block_checksum_failures_total", "Block payload checksum mismatches", r.block_checksum_failures);
        reader.counter("chained_checksum_failures_total", "Chained block checksum mismatches", r.chained_checksum_failures);
        reader.counter("validation_failures_total", "Structural segment validation failures", r.validation_failures);
        reader.counter("open_failures_total", "Failed segment opens", r.open_failures);
        reader.counter("torn_tails_total", "Segments with a torn (truncated) tail", r.torn_tails);
        reader.counter("bytes_verified_total", "Bytes walked by segment verification", r.bytes_verified);

        Emit pre{base + "_segment_preloader_", "segment_preloader", c};
        const wal_segment_preloader_telemetry& p = t.segment_preloader;
        pre.op("preload_segment", "Background segment preload (open, verify)", p.preload_segment);
        pre.op("finish_segment", "Background close of a finished segment", p.finish_segment);
        pre.counter("segments_skipped_total", "Segments skipped by the preloader", p.segments_skipped);
        const std::string by_reason = pre.base + "segments_skipped_by_reason_total";
        const char* help = "Segments skipped by the preloader, by reason";
        const std::pair<const char*, std::uint64_t> reasons[] = {
            {"bad_header", p.skipped_bad_header}, {"corrupt", p.skipped_corrupt}, {"io", p.skipped_io}};
        for (const auto& reason : reasons) {
            const Label labels[] = {{"component", "segment_preloader"}, {"reason", reason.first}};
            c.counter(by_reason, help, View<const Label>(labels, 2), reason.second);
        }
        pre.counter("prepared_ring_full_wait_ns_total", "Nanoseconds the preloader waited on a full prepared ring", p.prepared_ring_full_wait_ns);

        Emit man{base + "_manager_", "manager", c};
        const wal_manager_telemetry& m = t.manager;
        man.op("read_segment_header", "Segment header read during scan", m.read_segment_header);
        man.op("resume_from_event", "Resume from an event id", m.resume_from_event);
        man.op("seek_event", "Manager seek to the resume event", m.seek_event);
        man.op("next_event", "Sampled next() calls", m.next_event);
        man.histogram("next_event", "Sampled next() calls", m.next_event_histogram);
        man.histogram("segment_handoff", "Segment handoffs", m.segment_handoff_histogram);
        man.counter("histogram_samples_dropped_total", "Latency samples dropped because two threads recorded into one histogram at once", m.histogram_samples_dropped);
        man.counter("fallback_opens_total", "Synchronous segment opens (nothing preloaded)", m.fallback_opens);
        man.counter("events_delivered_total", "Events delivered to the caller", m.events_delivered);
        man.counter("bytes_delivered_total", "Event bytes delivered to the caller", m.bytes_delivered);
        man.counter("finished_ring_full_sync_closes_total", "Segments closed synchronously because the finished ring was full", m.finished_ring_full_sync_closes);
        man.gauge("segments", "Segments selected for replay", m.segments_total);
        man.gauge("segments_remaining", "Segments not yet started", m.segments_remaining);
        man.gauge("next_event_sample_every", "Sampling period N of next_event (one in N)", m.next_event_sample_every);
        man.gauge("replay_start_unix_ns", "Replay start, Unix time in ns (0 = not started)", m.replay_start_unix_ns);
        man.gauge("replay_elapsed_ns", "Monotonic replay duration in ns", m.replay_elapsed_ns);
    }

    /// True when the view has no handle (default-built, or taken from a moved-from Manager).
    bool empty() const noexcept { return h_ == nullptr; }

private:
    friend class Manager;
    explicit Telemetry(const wal_recovery* h) noexcept : h_(h) {}

    /// A text rendering of the telemetry by one of the C functions with the buffer protocol
    /// (wal_telemetry_dump, wal_telemetry_prometheus), given its string argument.
    template <typename CRender>
    Result<std::string> text(std::string_view arg, const char* what, CRender c_render) const {
        if (h_ == nullptr) {
            return detail::moved_from("wal::recovery::Telemetry");
        }
        std::string c_arg;
        Status st = wal::detail::c_string(arg, what, c_arg);
        if (!st.ok()) {
            return st;
        }
        std::string out;
        const wal_recovery* h = h_;
        st = wal::detail::render(
            [&](char* buf, std::size_t cap, std::size_t* needed) {
                return c_render(h, c_arg.c_str(), buf, cap, needed);
            },
            [] { return wal::detail::last_error(nullptr); }, out);
        if (!st.ok()) {
            return st;
        }
        return out;
    }

    struct Emit {
        std::string base;  // "<prefix>_<component>_"
        const char* component;
        Collector& c;

        void counter(const char* metric, std::string_view help, std::uint64_t v) {
            const Label l[] = {{"component", component}};
            c.counter(base + metric, help, View<const Label>(l, 1), v);
        }
        void gauge(const char* metric, std::string_view help, std::uint64_t v) {
            const Label l[] = {{"component", component}};
            c.gauge(base + metric, help, View<const Label>(l, 1), static_cast<double>(v));
        }
        void op(const std::string& op, const std::string& what, const wal_op_stats& s) {
            const Label l[] = {{"component", component}};
            const View<const Label> labels(l, 1);
            c.counter(base + op + "_samples_total", what + ": operations recorded", labels, s.samples);
            c.counter(base + op + "_ok_total", what + ": operations that succeeded", labels, s.ok);
            c.counter(base + op + "_fail_total", what + ": operations that failed", labels, s.fail);
            c.counter(base + op + "_ns_total", what + ": total duration in ns", labels, s.total_ns);
            c.gauge(base + op + "_min_ns", what + ": shortest duration in ns", labels, static_cast<double>(s.min_ns));
            c.gauge(base + op + "_max_ns", what + ": longest duration in ns", labels, static_cast<double>(s.max_ns));
            c.gauge(base + op + "_avg_ns", what + ": mean duration in ns", labels, static_cast<double>(s.avg_ns));
        }
        void histogram(const std::string& metric, const std::string& what, const wal_histogram& h) {
            const Label l[] = {{"component", component}};
            const View<const Label> labels(l, 1);
            c.summary(base + metric + "_latency_ns", what + ": latency in ns (HDR histogram, 3 significant digits)", labels, h);
            c.gauge(base + metric + "_latency_min_ns", what + ": smallest latency in ns", labels, static_cast<double>(h.min));
            c.gauge(base + metric + "_latency_max_ns", what + ": largest latency in ns", labels, static_cast<double>(h.max));
        }
    };

    const wal_recovery* h_ = nullptr;
};

}  // namespace recovery
}  // namespace wal

#endif  // WAL_RECOVERY_TELEMETRY_HPP
