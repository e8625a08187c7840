/*
 * wal_recovery/status.hpp: wal::Status (a call's outcome), wal::Result<T> (a value or a
 * Status), wal::Error (with WAL_RECOVERY_EXCEPTIONS) and the helpers that turn C calls into them.
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * Part of the header-only C++17 API over libwal_recovery; include <wal_recovery.hpp>, which
 * documents the contract (errors, lifetimes, threads). This header also compiles on its own.
 */

#ifndef WAL_RECOVERY_STATUS_HPP
#define WAL_RECOVERY_STATUS_HPP

#if !defined(__cplusplus) || __cplusplus < 201703L
#error "wal_recovery/status.hpp needs C++17 or later (use wal_recovery.h from C)"
#endif

#include "../wal_recovery.h"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#ifdef WAL_RECOVERY_EXCEPTIONS
#include <stdexcept>
#endif

namespace wal {

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

}  // namespace wal

#endif  // WAL_RECOVERY_STATUS_HPP
