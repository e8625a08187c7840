// A limit order book with price-time priority: the state a matching engine rebuilds by replaying
// its log of FlashStrike RequestEvents (NEW_ORDER, MODIFY price, MODIFY quantity, CANCEL; LIMIT
// or MARKET; BID or ASK).
//
// Rules (the engine's, applied identically live and at recovery):
//  * NEW LIMIT: matches the opposite side while it crosses (trades at the resting price, oldest
//    order first), then the remainder rests at its price. Price and quantity must be > 0, and the
//    order id must not be live (else rejected: invalid / duplicate id).
//  * NEW MARKET: matches the opposite side until filled or the side is empty; what is left is
//    dropped (counted), never rested.
//  * MODIFY price: the live order moves to the new price and to the back of its queue, and may
//    trade if it now crosses.
//  * MODIFY quantity: the live order's remaining quantity becomes the new one; a decrease keeps
//    its queue position, an increase moves it to the back.
//  * CANCEL: the live order leaves the book.
//  * A modify or cancel of an order id that is not live (never created, filled or cancelled) is
//    rejected as "unknown order" and changes nothing.
#ifndef CPP_ORDERBOOK_ORDER_BOOK_HPP
#define CPP_ORDERBOOK_ORDER_BOOK_HPP

#include <wal_recovery.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <list>
#include <map>
#include <ostream>
#include <string>
#include <unordered_map>

namespace orderbook {

using wal::recovery::flashstrike::OrderType;
using wal::recovery::flashstrike::RequestEvent;
using wal::recovery::flashstrike::RequestType;
using wal::recovery::flashstrike::Side;

struct Order {
    std::uint32_t id;
    std::uint32_t user;
    std::int64_t quantity;  // remaining
};

struct Level {
    std::list<Order> queue;  // oldest first
    std::int64_t quantity = 0;
};

struct Stats {
    std::uint64_t applied = 0;
    std::uint64_t last_id = 0;
    std::uint64_t new_limit = 0, new_market = 0, modify_price = 0, modify_quantity = 0, cancels = 0;
    std::uint64_t rejected_unknown = 0, rejected_duplicate = 0, rejected_invalid = 0;
    std::uint64_t trades = 0;
    std::int64_t volume = 0;
    std::int64_t market_unfilled = 0;
};

class Book {
public:
    void apply(const RequestEvent& r) {
        stats_.applied++;
        stats_.last_id = r.event_id;
        switch (r.request_type) {
        case RequestType::NewOrder:
            new_order(r);
            break;
        case RequestType::ModifyPrice:
            modify_price(r);
            break;
        case RequestType::ModifyQuantity:
            modify_quantity(r);
            break;
        case RequestType::Cancel:
            cancel(r);
            break;
        }
    }

    const Stats& stats() const { return stats_; }
    std::size_t resting() const { return live_.size(); }
    bool is_live(std::uint32_t id) const { return live_.count(id) != 0; }

    /// Prints the recovered book: counters, every level count, best bid/ask, the top levels.
    void print(std::ostream& os, std::size_t depth = 5) const {
        const Stats& s = stats_;
        os << "  events applied      : " << s.applied << "\n"
           << "  last applied id     : " << s.last_id << "\n"
           << "  new orders          : " << s.new_limit + s.new_market << " (limit " << s.new_limit << ", market "
           << s.new_market << ")\n"
           << "  modifies            : price " << s.modify_price << ", quantity " << s.modify_quantity << "\n"
           << "  cancels             : " << s.cancels << "\n"
           << "  rejected            : " << s.rejected_unknown + s.rejected_duplicate + s.rejected_invalid
           << " (unknown order " << s.rejected_unknown << ", duplicate id " << s.rejected_duplicate << ", invalid "
           << s.rejected_invalid << ")\n"
           << "  trades              : " << s.trades << ", volume " << s.volume << "\n"
           << "  market unfilled     : " << s.market_unfilled << "\n"
           << "  resting orders      : " << live_.size() << "\n"
           << "  bid levels          : " << bids_.size() << "\n"
           << "  ask levels          : " << asks_.size() << "\n"
           << "  best bid            : " << best(bids_) << "\n"
           << "  best ask            : " << best(asks_) << "\n"
           << "  book digest         : " << digest() << "\n";
        os << "  top bids (price qty orders):\n";
        top(os, bids_, depth);
        os << "  top asks (price qty orders):\n";
        top(os, asks_, depth);
    }

private:
    using Bids = std::map<std::int64_t, Level, std::greater<std::int64_t>>;
    using Asks = std::map<std::int64_t, Level, std::less<std::int64_t>>;
    struct Where {
        Side side;
        std::int64_t price;
        std::list<Order>::iterator it;
    };

    template <class Map>
    static std::string best(const Map& m) {
        if (m.empty()) return "none";
        const auto& [price, level] = *m.begin();
        return std::to_string(price) + " x " + std::to_string(level.quantity) + " (" +
               std::to_string(level.queue.size()) + (level.queue.size() == 1 ? " order)" : " orders)");
    }

    template <class Map>
    static void top(std::ostream& os, const Map& m, std::size_t depth) {
        std::size_t n = 0;
        for (const auto& [price, level] : m) {
            if (n++ == depth) break;
            os << "    " << price << " " << level.quantity << " " << level.queue.size() << "\n";
        }
        if (m.empty()) os << "    (empty)\n";
    }

    // FNV-1a 64 over every resting order in priority order (side, price, id, quantity).
    std::string digest() const {
        std::uint64_t h = 0xcbf29ce484222325ull;
        auto mix = [&h](std::uint64_t v) {
            for (int i = 0; i < 8; i++) {
                h ^= (v >> (8 * i)) & 0xff;
                h *= 0x100000001b3ull;
            }
        };
        auto side = [&](const auto& m, std::uint64_t tag) {
            for (const auto& [price, level] : m) {
                for (const Order& o : level.queue) {
                    mix(tag);
                    mix(static_cast<std::uint64_t>(price));
                    mix(o.id);
                    mix(static_cast<std::uint64_t>(o.quantity));
                }
            }
        };
        side(bids_, 0);
        side(asks_, 1);
        char buf[19];
        std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
        return buf;
    }

    void new_order(const RequestEvent& r) {
        const bool market = r.order_type == OrderType::Market;
        if (r.quantity <= 0 || (!market && r.price <= 0)) {
            stats_.rejected_invalid++;
            return;
        }
        if (live_.count(r.order_id) != 0) {
            stats_.rejected_duplicate++;
            return;
        }
        (market ? stats_.new_market : stats_.new_limit)++;
        std::int64_t left = r.quantity;
        if (r.side == Side::Bid) {
            left = match(asks_, left, [&](std::int64_t ask) { return market || ask <= r.price; });
        } else {
            left = match(bids_, left, [&](std::int64_t bid) { return market || bid >= r.price; });
        }
        if (left == 0) return;
        if (market) {
            stats_.market_unfilled += left;
            return;
        }
        rest(r.side, r.price, Order{r.order_id, r.user_id, left});
    }

    void modify_price(const RequestEvent& r) {
        auto found = live_.find(r.order_id);
        if (found == live_.end()) {
            stats_.rejected_unknown++;
            return;
        }
        if (r.price <= 0) {
            stats_.rejected_invalid++;
            return;
        }
        stats_.modify_price++;
        Order o = take(found);
        const Side side = found_side_;
        std::int64_t left = o.quantity;
        if (side == Side::Bid) {
            left = match(asks_, left, [&](std::int64_t ask) { return ask <= r.price; });
        } else {
            left = match(bids_, left, [&](std::int64_t bid) { return bid >= r.price; });
        }
        if (left > 0) {
            o.quantity = left;
            rest(side, r.price, o);
        }
    }

    void modify_quantity(const RequestEvent& r) {
        auto found = live_.find(r.order_id);
        if (found == live_.end()) {
            stats_.rejected_unknown++;
            return;
        }
        if (r.quantity <= 0) {
            stats_.rejected_invalid++;
            return;
        }
        stats_.modify_quantity++;
        Where& w = found->second;
        Level& level = w.side == Side::Bid ? bids_.at(w.price) : asks_.at(w.price);
        if (r.quantity <= w.it->quantity) {  // a decrease keeps the queue position
            level.quantity -= w.it->quantity - r.quantity;
            w.it->quantity = r.quantity;
            return;
        }
        const std::int64_t price = w.price;
        Order o = take(found);
        o.quantity = r.quantity;
        rest(found_side_, price, o);
    }

    void cancel(const RequestEvent& r) {
        auto found = live_.find(r.order_id);
        if (found == live_.end()) {
            stats_.rejected_unknown++;
            return;
        }
        stats_.cancels++;
        (void)take(found);
    }

    // Trades `quantity` against `side` while `crosses(best price)`; returns what is left.
    template <class Map, class Crosses>
    std::int64_t match(Map& side, std::int64_t quantity, Crosses crosses) {
        while (quantity > 0 && !side.empty() && crosses(side.begin()->first)) {
            Level& level = side.begin()->second;
            Order& maker = level.queue.front();
            const std::int64_t fill = std::min(quantity, maker.quantity);
            maker.quantity -= fill;
            level.quantity -= fill;
            quantity -= fill;
            stats_.trades++;
            stats_.volume += fill;
            if (maker.quantity == 0) {
                live_.erase(maker.id);
                level.queue.pop_front();
                if (level.queue.empty()) side.erase(side.begin());
            }
        }
        return quantity;
    }

    void rest(Side side, std::int64_t price, const Order& o) {
        Level& level = side == Side::Bid ? bids_[price] : asks_[price];
        level.queue.push_back(o);
        level.quantity += o.quantity;
        live_[o.id] = Where{side, price, std::prev(level.queue.end())};
    }

    // Removes a live order from the book (its side is left in found_side_).
    Order take(std::unordered_map<std::uint32_t, Where>::iterator found) {
        Where w = found->second;
        found_side_ = w.side;
        Order o = *w.it;
        live_.erase(found);
        if (w.side == Side::Bid) {
            erase(bids_, w);
        } else {
            erase(asks_, w);
        }
        return o;
    }

    template <class Map>
    static void erase(Map& m, const Where& w) {
        auto level = m.find(w.price);
        level->second.quantity -= w.it->quantity;
        level->second.queue.erase(w.it);
        if (level->second.queue.empty()) m.erase(level);
    }

    Bids bids_;
    Asks asks_;
    std::unordered_map<std::uint32_t, Where> live_;
    Side found_side_ = Side::Bid;
    Stats stats_;
};

}  // namespace orderbook

#endif  // CPP_ORDERBOOK_ORDER_BOOK_HPP
