/*
 * wal_recovery: header-only C++17 API over the C ABI of libwal_recovery (wal_recovery.h).
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * Everything here calls the C functions of wal_recovery.h and nothing else: no other library,
 * no hidden state. Link with libwal_recovery (CMake: wal_recovery::wal_recovery).
 *
 * Errors do not throw. Every call that can fail returns a `wal::Status` (code, symbolic name,
 * message; [[nodiscard]]) or a `wal::Result<T>` (a value or a Status). Define
 * WAL_RECOVERY_EXCEPTIONS before including this header to also get `Result::value_or_throw()`,
 * `Status::throw_if_error()` and the exception type `wal::Error`.
 *
 *     #include <wal_recovery.hpp>
 *
 *     auto m = wal::recovery::Manager::open(dir);            // wal::Result<Manager>
 *     if (!m) { std::cerr << m.error().message() << "\n"; return 1; }
 *     for (const auto& ev : m->events())                     // zero-copy, one C call per event
 *         engine.apply(ev.id, ev.payload.data(), ev.payload.size());
 *     wal::Status s = m->status();                           // ALWAYS check after the loop:
 *     if (!s.ok()) { ... s.code(), s.name(), s.message() }   // the loop also ends at an error
 *     std::ostringstream os; m->telemetry().dump("replay", os);
 *
 * A range-for cannot return an error, so it ends both at the clean end of the log and at an
 * error (Strict mode: corruption, a gap, ...). After the loop, `status()` tells them apart:
 * `ok()` is the clean end (or a `break` of yours); otherwise it is the error, with the library's
 * message (file, offset, ids). `next(Event&)` and `next_batch(EventBatch&)` follow the same
 * pattern: they return false / 0 at the end and at an error, and `status()` says which.
 *
 * Lifetimes: an `Event`'s payload points into the log's read-only mapping and stays valid until
 * the next call that moves the replay (next, next_batch, events() iteration, resume_from_event,
 * destruction of the Manager). Copy it to keep it longer.
 *
 * Threads: a Manager is used from one thread at a time. Its `telemetry()` view may be used from
 * any thread while the replay runs, as long as the Manager outlives the use.
 */

#ifndef WAL_RECOVERY_HPP
#define WAL_RECOVERY_HPP

#if !defined(__cplusplus) || __cplusplus < 201703L
#error "wal_recovery.hpp needs C++17 or later (use wal_recovery.h from C)"
#endif

#include "wal_recovery.h"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <new>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#if __cplusplus >= 202002L && defined(__has_include)
#if __has_include(<span>)
#include <span>
#endif
#endif

#ifdef WAL_RECOVERY_EXCEPTIONS
#include <stdexcept>
#endif

namespace wal {

// ---------------------------------------------------------------------------------------------
// View<T>: std::span<T> where C++20 provides it, otherwise a small span-like view with the same
// members used here (data, size, size_bytes, empty, operator[], begin, end, subspan).

#if defined(__cpp_lib_span) && __cpp_lib_span >= 202002L
#define WAL_RECOVERY_STD_SPAN 1
template <class T>
using View = std::span<T>;
#else
#define WAL_RECOVERY_STD_SPAN 0
template <class T>
class View {
public:
    using element_type = T;
    using value_type = std::remove_cv_t<T>;
    using size_type = std::size_t;
    using pointer = T*;
    using reference = T&;
    using iterator = T*;

    constexpr View() noexcept = default;
    constexpr View(T* data, std::size_t size) noexcept : data_(data), size_(size) {}
    template <std::size_t N>
    constexpr View(T (&array)[N]) noexcept : data_(array), size_(N) {}  // NOLINT: implicit like span
    template <class Container,
              class = std::enable_if_t<std::is_convertible_v<
                  decltype(std::declval<Container&>().data()), T*>>>
    constexpr View(Container& c) noexcept : data_(c.data()), size_(c.size()) {}  // NOLINT

    constexpr T* data() const noexcept { return data_; }
    constexpr std::size_t size() const noexcept { return size_; }
    constexpr std::size_t size_bytes() const noexcept { return size_ * sizeof(T); }
    [[nodiscard]] constexpr bool empty() const noexcept { return size_ == 0; }
    constexpr T& operator[](std::size_t i) const noexcept { return data_[i]; }
    constexpr T* begin() const noexcept { return data_; }
    constexpr T* end() const noexcept { return data_ + size_; }
    constexpr View subspan(std::size_t offset, std::size_t count) const noexcept {
        return View(data_ + offset, count);
    }

private:
    T* data_ = nullptr;
    std::size_t size_ = 0;
};
#endif

/// The bytes of an event payload (zero-copy, read-only).
using Bytes = View<const std::uint8_t>;

// ---------------------------------------------------------------------------------------------
// Status

/// The outcome of a call: a `wal_status` code (WAL_OK = success; see wal_recovery.h for the
/// stable numbers), its symbolic name ("WAL_ERR_GAP") and the library's detail message (path,
/// offset, ids, errno). Never WAL_END: the clean end of a replay is an OK status.
class [[nodiscard]] Status {
public:
    /// Success.
    Status() noexcept = default;
    /// A status with `code` and `message` (an empty message becomes the code's description).
    Status(wal_status code, std::string message) : code_(code), message_(std::move(message)) {
        if (code_ != WAL_OK && message_.empty()) {
            message_ = wal_status_str(static_cast<std::uint32_t>(code_));
        }
    }

    /// True for success (including the clean end of a replay).
    bool ok() const noexcept { return code_ == WAL_OK; }
    explicit operator bool() const noexcept { return ok(); }
    /// The C status code (any number >= 2 is an error; newer libraries may add numbers).
    wal_status code() const noexcept { return code_; }
    /// The symbolic name of the code ("WAL_OK", "WAL_ERR_GAP", "WAL_UNKNOWN_STATUS").
    const char* name() const noexcept { return wal_status_name(static_cast<std::uint32_t>(code_)); }
    /// The detail message; empty for success.
    const std::string& message() const noexcept { return message_; }
    /// "WAL_ERR_GAP: <message>", or "WAL_OK".
    std::string to_string() const {
        std::string s = name();
        if (!message_.empty()) {
            s += ": ";
            s += message_;
        }
        return s;
    }
#ifdef WAL_RECOVERY_EXCEPTIONS
    /// Throws `wal::Error` unless ok().
    inline void throw_if_error() const;
#endif

    friend bool operator==(const Status& a, wal_status c) noexcept { return a.code_ == c; }
    friend bool operator!=(const Status& a, wal_status c) noexcept { return a.code_ != c; }

private:
    wal_status code_ = WAL_OK;
    std::string message_;
};

inline std::ostream& operator<<(std::ostream& os, const Status& s) { return os << s.to_string(); }

#ifdef WAL_RECOVERY_EXCEPTIONS
/// Thrown only when WAL_RECOVERY_EXCEPTIONS is defined, by value_or_throw()/throw_if_error().
class Error : public std::runtime_error {
public:
    explicit Error(Status s) : std::runtime_error(s.to_string()), status_(std::move(s)) {}
    const Status& status() const noexcept { return status_; }
    wal_status code() const noexcept { return status_.code(); }

private:
    Status status_;
};

inline void Status::throw_if_error() const {
    if (!ok()) {
        throw Error(*this);
    }
}
#endif

namespace detail {

/// The message of the last failed call: on handle `h`, or the calling thread's when `h` is null.
inline std::string last_error(const wal_recovery* h) {
    std::size_t len = wal_last_error_message(h, nullptr, 0);
    std::string s(len, '\0');
    if (len != 0) {
        std::size_t again = wal_last_error_message(h, s.data(), len + 1);
        s.resize(again < len ? again : len);
    }
    return s;
}

inline std::string last_writer_error(const wal_writer* w) {
    std::size_t len = wal_writer_last_error_message(w, nullptr, 0);
    std::string s(len, '\0');
    if (len != 0) {
        std::size_t again = wal_writer_last_error_message(w, s.data(), len + 1);
        s.resize(again < len ? again : len);
    }
    return s;
}

inline Status from_call(wal_status code, const wal_recovery* h) {
    if (code == WAL_OK) {
        return Status();
    }
    return Status(code, last_error(h));
}

inline Status moved_from(const char* what) {
    return Status(WAL_ERR_NULL_ARGUMENT,
                  std::string(what) + " has no handle (it was moved from, or closed)");
}

/// A NUL-terminated copy of `s`, or an error when `s` holds a NUL byte.
inline Status c_string(std::string_view s, const char* what, std::string& out) {
    if (s.find('\0') != std::string_view::npos) {
        return Status(WAL_ERR_INVALID_ARGUMENT,
                      std::string("invalid argument: ") + what + " contains a NUL byte");
    }
    out.assign(s.data(), s.size());
    return Status();
}

[[noreturn]] inline void bad_access(const Status& error) {
#ifdef WAL_RECOVERY_EXCEPTIONS
    throw Error(error);
#else
    std::fprintf(stderr, "wal::Result: value() called on an error: %s\n", error.to_string().c_str());
    std::abort();
#endif
}

/// Runs a C buffer-protocol render (`call(buf, cap, &needed)`) until the text fits; an error
/// carries the message `message()` fetches (the handle's or the thread's last error).
template <class Call, class Message>
Status render(Call&& call, Message&& message, std::string& out) {
    std::size_t needed = 0;
    wal_status s = call(nullptr, 0, &needed);
    for (int attempt = 0; attempt < 8; attempt++) {
        if (s != WAL_OK && s != WAL_ERR_BUFFER_TOO_SMALL) {
            return Status(s, message());
        }
        if (needed == 0) {
            return Status(WAL_ERR_INTERNAL, "render reported a size of 0 (NUL included)");
        }
        out.assign(needed, '\0');
        std::size_t again = 0;
        s = call(out.data(), out.size(), &again);
        if (s == WAL_OK) {
            out.resize(again == 0 ? 0 : again - 1);  // drop the NUL
            return Status();
        }
        needed = again + again / 4 + 64;  // the text grew while the replay moved
    }
    return Status(WAL_ERR_BUFFER_TOO_SMALL, "the text kept growing faster than it was rendered");
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------
// Result<T>

/// A value, or the Status that prevented it. `error()` is an OK Status when a value is held.
/// `value()`, `*` and `->` require a value: on an error they abort with the message (or throw
/// wal::Error with WAL_RECOVERY_EXCEPTIONS).
template <class T>
class [[nodiscard]] Result {
    static_assert(!std::is_reference_v<T>, "Result<T&> is not supported");

public:
    Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit, like std::optional
    Result(Status error) : error_(std::move(error)) {  // NOLINT
        if (error_.ok()) {
            error_ = Status(WAL_ERR_INTERNAL, "wal::Result built from an OK status without a value");
        }
    }

    bool ok() const noexcept { return value_.has_value(); }
    explicit operator bool() const noexcept { return ok(); }
    bool has_value() const noexcept { return ok(); }
    const Status& error() const noexcept { return error_; }

    T& value() & {
        check();
        return *value_;
    }
    const T& value() const& {
        check();
        return *value_;
    }
    T&& value() && {
        check();
        return std::move(*value_);
    }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T&& operator*() && { return std::move(*this).value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

    template <class U>
    T value_or(U&& fallback) const& {
        return ok() ? *value_ : static_cast<T>(std::forward<U>(fallback));
    }
    template <class U>
    T value_or(U&& fallback) && {
        return ok() ? std::move(*value_) : static_cast<T>(std::forward<U>(fallback));
    }

#ifdef WAL_RECOVERY_EXCEPTIONS
    /// The value, or throws wal::Error carrying the status.
    T& value_or_throw() & {
        error_.throw_if_error();
        return *value_;
    }
    T&& value_or_throw() && {
        error_.throw_if_error();
        return std::move(*value_);
    }
#endif

private:
    void check() const {
        if (!value_.has_value()) {
            detail::bad_access(error_);
        }
    }

    std::optional<T> value_;
    Status error_;
};

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
// Event

/// One replayed event: its id and its payload, zero-copy (see the lifetime rule above).
struct Event {
    std::uint64_t id = 0;
    Bytes payload;

    /// The Event a C wal_event describes (same pointer, no copy).
    static Event from_c(const wal_event& e) noexcept { return Event{e.event_id, Bytes(e.data, e.len)}; }
};

/// A reusable buffer for next_batch: up to capacity() events whose payloads stay valid together
/// until the next call that moves the replay.
class EventBatch {
public:
    explicit EventBatch(std::size_t capacity = 256) : raw_(capacity == 0 ? 1 : capacity) {}

    std::size_t size() const noexcept { return size_; }
    std::size_t capacity() const noexcept { return raw_.size(); }
    [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
    Event operator[](std::size_t i) const noexcept { return Event::from_c(raw_[i]); }

    class iterator {
    public:
        using iterator_category = std::random_access_iterator_tag;
        using value_type = Event;
        using difference_type = std::ptrdiff_t;
        using pointer = void;
        using reference = Event;

        iterator() noexcept = default;
        explicit iterator(const wal_event* p) noexcept : p_(p) {}
        Event operator*() const noexcept { return Event::from_c(*p_); }
        iterator& operator++() noexcept {
            ++p_;
            return *this;
        }
        iterator operator++(int) noexcept {
            iterator t = *this;
            ++p_;
            return t;
        }
        friend bool operator==(iterator a, iterator b) noexcept { return a.p_ == b.p_; }
        friend bool operator!=(iterator a, iterator b) noexcept { return a.p_ != b.p_; }
        friend difference_type operator-(iterator a, iterator b) noexcept { return a.p_ - b.p_; }

    private:
        const wal_event* p_ = nullptr;
    };
    iterator begin() const noexcept { return iterator(raw_.data()); }
    iterator end() const noexcept { return iterator(raw_.data() + size_); }

private:
    friend class Manager;
    std::vector<wal_event> raw_;
    std::size_t size_ = 0;
};

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
        if (h_ == nullptr) {
            return detail::moved_from("wal::recovery::Telemetry");
        }
        std::string c_label;
        Status st = wal::detail::c_string(label, "telemetry label", c_label);
        if (!st.ok()) {
            return st;
        }
        std::string text;
        const wal_recovery* h = h_;
        st = wal::detail::render(
            [&](char* buf, std::size_t cap, std::size_t* needed) {
                return wal_telemetry_dump(h, c_label.c_str(), buf, cap, needed);
            },
            [] { return wal::detail::last_error(nullptr); }, text);
        if (!st.ok()) {
            return st;
        }
        return text;
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
        if (h_ == nullptr) {
            return detail::moved_from("wal::recovery::Telemetry");
        }
        std::string c_prefix;
        Status st = wal::detail::c_string(prefix, "metric prefix", c_prefix);
        if (!st.ok()) {
            return st;
        }
        std::string text;
        const wal_recovery* h = h_;
        st = wal::detail::render(
            [&](char* buf, std::size_t cap, std::size_t* needed) {
                return wal_telemetry_prometheus(h, c_prefix.c_str(), buf, cap, needed);
            },
            [] { return wal::detail::last_error(nullptr); }, text);
        if (!st.ok()) {
            return st;
        }
        return text;
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

// ---------------------------------------------------------------------------------------------
// Manager

class Manager;

/// End marker of Manager::events().
struct EventSentinel {};

/// Input iterator of Manager::events(): each increment is one wal_recovery_next call.
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
    Manager(Manager&& o) noexcept : h_(std::exchange(o.h_, nullptr)), status_(std::move(o.status_)) {
        o.status_ = Status();
    }
    Manager& operator=(Manager&& o) noexcept {
        if (this != &o) {
            wal_recovery_close(h_);
            h_ = std::exchange(o.h_, nullptr);
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
    /// (`status()` tells which; `out` is left unchanged).
    [[nodiscard]] bool next(Event& out) {
        wal_event raw;
        wal_status s = wal_recovery_next(h_, &raw);
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
    explicit Manager(wal_recovery* h) noexcept : h_(h) {}

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
    Status status_;
};

inline EventIterator::EventIterator(Manager* m) : m_(m) { ++*this; }

inline EventIterator& EventIterator::operator++() {
    wal_event raw;
    wal_status s = wal_recovery_next(m_->h_, &raw);
    if (s == WAL_OK) {
        ev_.id = raw.event_id;
        ev_.payload = Bytes(raw.data, raw.len);
    } else {
        m_->on_stop(s);
        m_ = nullptr;
    }
    return *this;
}

// ---------------------------------------------------------------------------------------------
// FlashStrike RequestEvent

namespace flashstrike {

enum class RequestType : std::uint8_t { NewOrder = 0, ModifyPrice = 1, ModifyQuantity = 2, Cancel = 3 };
enum class OrderType : std::uint8_t { Limit = 0, Market = 1 };
enum class Side : std::uint8_t { Bid = 0, Ask = 1 };

inline const char* to_string(RequestType t) noexcept {
    switch (t) {
    case RequestType::NewOrder: return "NEW_ORDER";
    case RequestType::ModifyPrice: return "MODIFY_PRICE";
    case RequestType::ModifyQuantity: return "MODIFY_QUANTITY";
    case RequestType::Cancel: return "CANCEL";
    }
    return "UNKNOWN";
}
inline const char* to_string(OrderType t) noexcept {
    switch (t) {
    case OrderType::Limit: return "LIMIT";
    case OrderType::Market: return "MARKET";
    }
    return "UNKNOWN";
}
inline const char* to_string(Side s) noexcept {
    switch (s) {
    case Side::Bid: return "BID";
    case Side::Ask: return "ASK";
    }
    return "UNKNOWN";
}

/// A FlashStrike RequestEvent (the 64-byte record of a FlashStrike log), typed.
struct RequestEvent {
    std::uint64_t event_id = 0;
    std::uint64_t timestamp = 0;  ///< engine timestamp, ns
    std::int64_t price = 0;       ///< scaled ticks
    std::int64_t quantity = 0;    ///< scaled ticks
    std::uint32_t user_id = 0;
    std::uint32_t order_id = 0;
    RequestType request_type = RequestType::NewOrder;
    OrderType order_type = OrderType::Limit;
    Side side = Side::Bid;

    /// Decodes a 64-byte record. Errors (WAL_ERR_INVALID_ARGUMENT): not 64 bytes, or a
    /// request type, order type or side FlashStrike does not define (the message says which).
    static Result<RequestEvent> decode(Bytes payload) {
        wal_request_event r;
        wal_status s = wal_request_event_decode(payload.data(), payload.size(), &r);
        if (s != WAL_OK) {
            return wal::detail::from_call(s, nullptr);
        }
        auto bad = [&](const char* field, unsigned v) {
            return Status(WAL_ERR_INVALID_ARGUMENT, "invalid argument: RequestEvent " +
                                                        std::to_string(r.event_id) + " has " + field +
                                                        " " + std::to_string(v));
        };
        if (r.request_type > 3) return bad("request_type", r.request_type);
        if (r.order_type > 1) return bad("order_type", r.order_type);
        if (r.side > 1) return bad("side", r.side);
        RequestEvent e;
        e.event_id = r.event_id;
        e.timestamp = r.timestamp;
        e.price = r.price;
        e.quantity = r.quantity;
        e.user_id = r.user_id;
        e.order_id = r.order_id;
        e.request_type = static_cast<RequestType>(r.request_type);
        e.order_type = static_cast<OrderType>(r.order_type);
        e.side = static_cast<Side>(r.side);
        return e;
    }
    static Result<RequestEvent> decode(const Event& ev) { return decode(ev.payload); }
};

}  // namespace flashstrike

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

/// The library version ("MAJOR.MINOR.PATCH") and ABI version of the loaded library.
inline const char* version() noexcept { return wal_version(); }
inline std::uint32_t abi_version() noexcept { return wal_abi_version(); }

}  // namespace wal

#endif  // WAL_RECOVERY_HPP
