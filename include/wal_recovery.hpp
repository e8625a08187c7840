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

#include "wal_recovery.h"  // the C API it wraps

// The API, one header per concern (each also compiles on its own):
#include "wal_recovery/status.hpp"       // wal::Status, wal::Result<T>, wal::Error
#include "wal_recovery/view.hpp"         // wal::View<T> (std::span under C++20), wal::Bytes
#include "wal_recovery/event.hpp"        // wal::recovery::Event, EventBatch
#include "wal_recovery/telemetry.hpp"    // wal::recovery::Telemetry, Collector, sanitize_prefix
#include "wal_recovery/manager.hpp"      // wal::recovery::Manager, Options, events()
#include "wal_recovery/flashstrike.hpp"  // wal::recovery::flashstrike::RequestEvent
#include "wal_recovery/writer.hpp"       // wal::recovery::Writer, WriterOptions
#include "wal_recovery/version.hpp"      // wal::version(), wal::abi_version()

#endif  // WAL_RECOVERY_HPP
