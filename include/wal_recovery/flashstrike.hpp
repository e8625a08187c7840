/*
 * wal_recovery/flashstrike.hpp: wal::recovery::flashstrike::RequestEvent, the typed 64-byte
 * record of a FlashStrike log, and its enums.
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * Part of the header-only C++17 API over libwal_recovery; include <wal_recovery.hpp>, which
 * documents the contract (errors, lifetimes, threads). This header also compiles on its own.
 */

#ifndef WAL_RECOVERY_FLASHSTRIKE_HPP
#define WAL_RECOVERY_FLASHSTRIKE_HPP

#if !defined(__cplusplus) || __cplusplus < 201703L
#error "wal_recovery/flashstrike.hpp needs C++17 or later (use wal_recovery.h from C)"
#endif

#include "../wal_recovery.h"
#include "event.hpp"
#include "status.hpp"
#include "view.hpp"

#include <cstdint>
#include <string>

namespace wal {
namespace recovery {

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

}  // namespace recovery
}  // namespace wal

#endif  // WAL_RECOVERY_FLASHSTRIKE_HPP
