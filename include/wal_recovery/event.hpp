/*
 * wal_recovery/event.hpp: wal::recovery::Event (one replayed event, zero-copy) and
 * EventBatch (the reusable buffer of Manager::next_batch).
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * Part of the header-only C++17 API over libwal_recovery; include <wal_recovery.hpp>, which
 * documents the contract (errors, lifetimes, threads). This header also compiles on its own.
 */

#ifndef WAL_RECOVERY_EVENT_HPP
#define WAL_RECOVERY_EVENT_HPP

#if !defined(__cplusplus) || __cplusplus < 201703L
#error "wal_recovery/event.hpp needs C++17 or later (use wal_recovery.h from C)"
#endif

#include "../wal_recovery.h"
#include "view.hpp"

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <vector>

namespace wal {
namespace recovery {

class Manager;

// ---------------------------------------------------------------------------------------------
// Event

/// One replayed event: its id and its payload, zero-copy: the payload stays valid
/// until the next call that moves the replay (the lifetime rule of wal_recovery.hpp).
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
    // 64 by default: the payloads of a batch are read after the call that filled it, and 64
    // events are still in cache then (1024 replay ~30 % slower; BENCHMARKS.md, C ABI).
    explicit EventBatch(std::size_t capacity = 64) : raw_(capacity == 0 ? 1 : capacity) {}

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

}  // namespace recovery
}  // namespace wal

#endif  // WAL_RECOVERY_EVENT_HPP
