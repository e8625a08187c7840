/*
 * wal_recovery/version.hpp: wal::version() and wal::abi_version() of the loaded library.
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * Part of the header-only C++17 API over libwal_recovery; include <wal_recovery.hpp>, which
 * documents the contract (errors, lifetimes, threads). This header also compiles on its own.
 */

#ifndef WAL_RECOVERY_VERSION_HPP
#define WAL_RECOVERY_VERSION_HPP

#if !defined(__cplusplus) || __cplusplus < 201703L
#error "wal_recovery/version.hpp needs C++17 or later (use wal_recovery.h from C)"
#endif

#include "../wal_recovery.h"

#include <cstdint>

namespace wal {

/// The library version ("MAJOR.MINOR.PATCH") and ABI version of the loaded library.
inline const char* version() noexcept { return wal_version(); }
inline std::uint32_t abi_version() noexcept { return wal_abi_version(); }

}  // namespace wal

#endif  // WAL_RECOVERY_VERSION_HPP
