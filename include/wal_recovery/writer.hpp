/*
 * wal_recovery/writer.hpp: wal::recovery::Writer (appends events to a log directory)
 * and its WriterOptions.
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * Part of the header-only C++17 API over libwal_recovery; include <wal_recovery.hpp>, which
 * documents the contract (errors, lifetimes, threads). This header also compiles on its own.
 */

#ifndef WAL_RECOVERY_WRITER_HPP
#define WAL_RECOVERY_WRITER_HPP

#if !defined(__cplusplus) || __cplusplus < 201703L
#error "wal_recovery/writer.hpp needs C++17 or later (use wal_recovery.h from C)"
#endif

#include "../wal_recovery.h"
#include "status.hpp"
#include "view.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace wal {

namespace detail {

/// The message of the last failed call on writer `w`.
inline std::string last_writer_error(const wal_writer* w) {
    std::size_t len = wal_writer_last_error_message(w, nullptr, 0);
    std::string s(len, '\0');
    if (len != 0) {
        std::size_t again = wal_writer_last_error_message(w, s.data(), len + 1);
        s.resize(again < len ? again : len);
    }
    return s;
}

}  // namespace detail

namespace recovery {

// ---------------------------------------------------------------------------------------------
// Writer

/// Writer options; unset fields keep the library's defaults.
struct WriterOptions {
    std::optional<std::uint32_t> block_bytes;     ///< 8..=16 MiB (default 64 KiB)
    std::optional<std::uint64_t> segment_bytes;   ///< >= 136 (default 64 MiB)
    std::optional<std::uint64_t> first_event_id;  ///< >= 1, for a new log (default 1)

    wal_writer_options to_c() const noexcept {
        wal_writer_options o;
        wal_writer_options_init(&o);
        if (block_bytes) o.block_bytes = *block_bytes;
        if (segment_bytes) o.segment_bytes = *segment_bytes;
        if (first_event_id) o.first_event_id = *first_event_id;
        return o;
    }
};

/// Appends events to a log directory (owns a wal_writer handle; move-only). The destructor
/// closes it but cannot report an error: call close() to know that everything is durable.
class Writer {
public:
    Writer() noexcept = default;
    Writer(const Writer&) = delete;
    Writer& operator=(const Writer&) = delete;
    Writer(Writer&& o) noexcept : w_(std::exchange(o.w_, nullptr)) {}
    Writer& operator=(Writer&& o) noexcept {
        if (this != &o) {
            (void)wal_writer_close(w_);
            w_ = std::exchange(o.w_, nullptr);
        }
        return *this;
    }
    ~Writer() { (void)wal_writer_close(w_); }

    /// Opens (creating if needed) and locks `dir`; an existing log continues where it ended.
    static Result<Writer> open(const std::string& dir, const WriterOptions& options = {}) {
        std::string c_dir;
        Status st = wal::detail::c_string(dir, "log directory path", c_dir);
        if (!st.ok()) {
            return st;
        }
        wal_writer_options o = options.to_c();
        wal_writer* w = nullptr;
        wal_status s = wal_writer_open(c_dir.c_str(), &o, &w);
        if (s != WAL_OK) {
            return wal::detail::from_call(s, nullptr);
        }
        return Writer(w);
    }
    static Result<Writer> open(const char* dir, const WriterOptions& options = {}) {
        if (dir == nullptr) {
            return Status(WAL_ERR_NULL_ARGUMENT, "null argument: log directory path is null");
        }
        return open(std::string(dir), options);
    }

    /// Appends one event (copied) and returns its id.
    Result<std::uint64_t> append(Bytes payload) { return append(payload.data(), payload.size()); }
    Result<std::uint64_t> append(const void* data, std::size_t len) {
        if (w_ == nullptr) {
            return detail::moved_from("wal::recovery::Writer");
        }
        std::uint64_t id = 0;
        wal_status s = wal_writer_append(w_, data, len, &id);
        if (s != WAL_OK) {
            return Status(s, wal::detail::last_writer_error(w_));
        }
        return id;
    }
    Result<std::uint64_t> append(std::string_view bytes) { return append(bytes.data(), bytes.size()); }

    /// Makes every event appended so far durable.
    Status sync() {
        if (w_ == nullptr) {
            return detail::moved_from("wal::recovery::Writer");
        }
        wal_status s = wal_writer_sync(w_);
        return s == WAL_OK ? Status() : Status(s, wal::detail::last_writer_error(w_));
    }

    /// Flushes, seals, syncs, unlocks and frees the writer (also on an error, which is returned).
    Status close() {
        if (w_ == nullptr) {
            return detail::moved_from("wal::recovery::Writer");
        }
        wal_status s = wal_writer_close(std::exchange(w_, nullptr));
        return wal::detail::from_call(s, nullptr);
    }

    wal_writer* native_handle() const noexcept { return w_; }
    bool valid() const noexcept { return w_ != nullptr; }

private:
    explicit Writer(wal_writer* w) noexcept : w_(w) {}
    wal_writer* w_ = nullptr;
};

}  // namespace recovery
}  // namespace wal

#endif  // WAL_RECOVERY_WRITER_HPP
