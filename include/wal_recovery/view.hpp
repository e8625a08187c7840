/*
 * wal_recovery/view.hpp: wal::View<T> (std::span<T> under C++20, else a span-like view)
 * and wal::Bytes, the zero-copy payload view.
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * Part of the header-only C++17 API over libwal_recovery; include <wal_recovery.hpp>, which
 * documents the contract (errors, lifetimes, threads). This header also compiles on its own.
 */

#ifndef WAL_RECOVERY_VIEW_HPP
#define WAL_RECOVERY_VIEW_HPP

#if !defined(__cplusplus) || __cplusplus < 201703L
#error "wal_recovery/view.hpp needs C++17 or later (use wal_recovery.h from C)"
#endif

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#if __cplusplus >= 202002L && defined(__has_include)
#if __has_include(<span>)
#include <span>
#endif
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

}  // namespace wal

#endif  // WAL_RECOVERY_VIEW_HPP
