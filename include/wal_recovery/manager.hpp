/*
 * wal_recovery/manager.hpp: wal::recovery::Manager (a replay: open, next, events() range,
 * next_batch, resume, report, telemetry) and its Options.
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * Part of the header-only C++17 API over libwal_recovery; include <wal_recovery.hpp>, which
 * documents the contract (errors, lifetimes, threads). This header also compiles on its own.
 */

#ifndef WAL_RECOVERY_MANAGER_HPP
#define WAL_RECOVERY_MANAGER_HPP

#if !defined(__cplusplus) || __cplusplus < 201703L
#error "wal_recovery/manager.hpp needs C++17 or later (use wal_recovery.h from C)"
#endif

#include "../wal_recovery.h"
#include "event.hpp"
#include "status.hpp"
#include "telemetry.hpp"
#include "view.hpp"

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <utility>

namespace wal {
namespace recovery {

// ---------------------------------------------------------------------------------------------
// Options

/// What replay does at corruption, a gap, a conflicting duplicate or a broken chain.
enum class Mode : std::uint32_t {
    Strict = WAL_MODE_STRICT,                      ///< deliver what is valid, then the error
    StopAtCorruption = WAL_MODE_STOP_AT_CORRUPTION,  ///< end cleanly at the first problem
    SkipCorrupted = WAL_MODE_SKIP_CORRUPTED,        ///< skip damage; the report lists it
};

/// The on-disk format to read.
enum class Format : std::uint32_t {
    Auto = WAL_FORMAT_AUTO,                 ///< from the segment headers
    Native = WAL_FORMAT_NATIVE,             ///< wal_recovery's own format only
    FlashStrikeV1 = WAL_FORMAT_FLASHSTRIKE_V1,  ///< FlashStrike v1 only
};

/// Replay options; unset tuning fields keep the library's defaults.
struct Options {
    Mode mode = Mode::Strict;
    /// First event to deliver; 0 = the oldest retained event.
    std::uint64_t start_event_id = 0;
    Format format = Format::Auto;
    std::optional<std::uint32_t> preload_depth;            ///< 1..=64 (default 3)
    std::optional<std::uint32_t> finished_capacity;        ///< 1..=65536 (default 64)
    std::optional<std::uint32_t> fallback_after_us;        ///< wait for the preloader
    std::optional<std::uint32_t> next_event_sample_every;  ///< >= 1 (default 1024)

    /// The C struct these options describe (initialised with wal_recovery_options_init_sized).
    Result<wal_recovery_options> to_c() const {
        wal_recovery_options o;
        wal_status s = wal_recovery_options_init_sized(&o, sizeof o);
        if (s != WAL_OK) {
            return detail::from_call(s, nullptr);
        }
        o.mode = static_cast<std::uint32_t>(mode);
        o.start_event_id = start_event_id;
        o.format = static_cast<std::uint32_t>(format);
        if (preload_depth) o.preload_depth = *preload_depth;
        if (finished_capacity) o.finished_capacity = *finished_capacity;
        if (fallback_after_us) o.fallback_after_us = *fallback_after_us;
        if (next_event_sample_every) o.next_event_sample_every = *next_event_sample_every;
        return o;
    }
};

// ---------------------------------------------------------------------------------------------
// Manager

class Manager;

/// End marker of Manager::events().
struct EventSentinel {};

/// Input iterator of Manager::events(): each increment is one wal_recovery_next_hot (the C
/// header's inline per-event call: a call into the library only at a block's end).
class EventIterator {
public:
    using iterator_category = std::input_iterator_tag;
    using value_type = Event;
    using difference_type = std::ptrdiff_t;
    using pointer = const Event*;
    using reference = const Event&;

    EventIterator() noexcept = default;
    inline explicit EventIterator(Manager* m);

    const Event& operator*() const noexcept { return ev_; }
    const Event* operator->() const noexcept { return &ev_; }
    inline EventIterator& operator++();
    void operator++(int) { ++*this; }

    friend bool operator==(const EventIterator& it, EventSentinel) noexcept { return it.m_ == nullptr; }
    friend bool operator!=(const EventIterator& it, EventSentinel) noexcept { return it.m_ != nullptr; }
    friend bool operator==(EventSentinel, const EventIterator& it) noexcept { return it.m_ == nullptr; }
    friend bool operator!=(EventSentinel, const EventIterator& it) noexcept { return it.m_ != nullptr; }

private:
    Manager* m_ = nullptr;  // null at the end (clean or error: see Manager::status())
    Event ev_;
};

/// What Manager::events() returns: `for (const Event& ev : m.events())`.
class EventRange {
public:
    explicit EventRange(Manager* m) noexcept : m_(m) {}
    EventIterator begin() const { return EventIterator(m_); }
    EventSentinel end() const noexcept { return {}; }

private:
    Manager* m_;
};

/// A replay of one log directory (owns a wal_recovery handle; move-only).
class Manager {
public:
    Manager() noexcept = default;
    Manager(const Manager&) = delete;
    Manager& operator=(const Manager&) = delete;
    Manager(Manager&& o) noexcept
        : h_(std::exchange(o.h_, nullptr)), w_(std::exchange(o.w_, nullptr)), status_(std::move(o.status_)) {
        o.status_ = Status();
    }
    Manager& operator=(Manager&& o) noexcept {
        if (this != &o) {
            wal_recovery_close(h_);
            h_ = std::exchange(o.h_, nullptr);
            w_ = std::exchange(o.w_, nullptr);
            status_ = std::move(o.status_);
            o.status_ = Status();
        }
        return *this;
    }
    ~Manager() { wal_recovery_close(h_); }

    /// Opens `dir` for replay: scans it and positions at options.start_event_id.
    static Result<Manager> open(const std::string& dir, const Options& options = {}) {
        Result<wal_recovery_options> o = options.to_c();
        if (!o) {
            return o.error();
        }
        std::string c_dir;
        Status st = wal::detail::c_string(dir, "log directory path", c_dir);
        if (!st.ok()) {
            return st;
        }
        wal_recovery* h = nullptr;
        wal_status s = wal_recovery_open(c_dir.c_str(), &*o, &h);
        if (s != WAL_OK) {
            return wal::detail::from_call(s, nullptr);
        }
        return Manager(h);
    }
    static Result<Manager> open(const char* dir, const Options& options = {}) {
        if (dir == nullptr) {
            return Status(WAL_ERR_NULL_ARGUMENT, "null argument: log directory path is null");
        }
        return open(std::string(dir), options);
    }

    /// The next event: true with `out` filled; false at the clean end or at an error
    /// (`status()` tells which; `out` is left unchanged). Inlined: `wal_recovery_next_hot`.
    [[nodiscard]] bool next(Event& out) {
        wal_event raw;
        wal_status s = wal_recovery_next_hot(h_, w_, &raw);
        if (s == WAL_OK) {
            out = Event::from_c(raw);
            return true;
        }
        on_stop(s);
        return false;
    }

    /// Fills `batch` with up to batch.capacity() events (never across a segment boundary) and
    /// returns how many; 0 at the clean end or at an error (`status()` tells which).
    [[nodiscard]] std::size_t next_batch(EventBatch& batch) {
        batch.size_ = 0;
        std::size_t n = 0;
        wal_status s = wal_recovery_next_batch(h_, batch.raw_.data(), batch.raw_.size(), &n);
        if (s == WAL_OK) {
            batch.size_ = n;
            return n;
        }
        on_stop(s);
        return 0;
    }

    /// The events from the current position to the end: `for (const auto& ev : m.events())`.
    /// Check `status()` after the loop.
    EventRange events() noexcept { return EventRange(this); }

    /// Why the last next/next_batch/events() stopped: OK at the clean end (or while the replay
    /// goes on), else the error. A successful resume_from_event clears it.
    const Status& status() const noexcept { return status_; }

    /// Repositions so that the next event delivered is `event_id` (0 = the oldest retained).
    Status resume_from_event(std::uint64_t event_id) {
        if (h_ == nullptr) {
            status_ = detail::moved_from("wal::recovery::Manager");
            return status_;
        }
        wal_status s = wal_recovery_resume(h_, event_id);
        status_ = wal::detail::from_call(s, h_);
        return status_;
    }

    /// The recovery report: what was scanned, delivered, skipped and lost, as one JSON object.
    Result<std::string> report_json() const {
        if (h_ == nullptr) {
            return detail::moved_from("wal::recovery::Manager");
        }
        std::string text;
        const wal_recovery* h = h_;
        Status st = wal::detail::render(
            [h](char* buf, std::size_t cap, std::size_t* needed) {
                return wal_recovery_report_json(h, buf, cap, needed);
            },
            [h] { return wal::detail::last_error(h); }, text);
        if (!st.ok()) {
            return st;
        }
        return text;
    }

    /// The telemetry view (any thread; this Manager must outlive its use).
    Telemetry telemetry() const noexcept { return Telemetry(h_); }

    /// The C handle (still owned by this Manager), or null when moved from.
    wal_recovery* native_handle() const noexcept { return h_; }
    /// False when moved from.
    bool valid() const noexcept { return h_ != nullptr; }

private:
    explicit Manager(wal_recovery* h) noexcept : h_(h), w_(wal_recovery_hot_window(h)) {}

    void on_stop(wal_status s) {
        if (s == WAL_END) {
            status_ = Status();
        } else if (h_ == nullptr) {
            status_ = detail::moved_from("wal::recovery::Manager");
        } else {
            status_ = Status(s, wal::detail::last_error(h_));
        }
    }

    friend class EventIterator;
    wal_recovery* h_ = nullptr;
    wal_hot_window* w_ = nullptr;  // h_'s window for wal_recovery_next_hot (null with h_)
    Status status_;
};

inline EventIterator::EventIterator(Manager* m) : m_(m) { ++*this; }

inline EventIterator& EventIterator::operator++() {
    wal_event raw;
    wal_status s = wal_recovery_next_hot(m_->h_, m_->w_, &raw);
    if (s == WAL_OK) {
        ev_.id = raw.event_id;
        ev_.payload = Bytes(raw.data, raw.len);
    } else {
        m_->on_stop(s);
        m_ = nullptr;
    }
    return *this;
}

}  // namespace recovery
}  // namespace wal

#endif  // WAL_RECOVERY_MANAGER_HPP
