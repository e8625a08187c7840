// cpp_orderbook: what wal_recovery looks like in a C++ matching engine. After a crash the engine
// rebuilds its limit order book by replaying its write-ahead log of FlashStrike RequestEvents,
// then prints the recovered book and the recovery report.
//
//   cpp_orderbook replay DIR [--mode strict|stop|skip] [--format auto|native|flashstrike] [--telemetry]
//       Rebuilds the book from the log in DIR (a FlashStrike log, or a native log of 64-byte
//       RequestEvent records such as `generate` writes) and prints it. Exit 0: the replay ended
//       cleanly; 1: it ended with an error (the book holds every event before it); 2: usage, or
//       the log could not be opened.
//
//   cpp_orderbook generate DIR --orders N [--seed S]
//       The live engine: runs a deterministic stream of N requests (limit and market orders on
//       both sides, price and quantity modifies, cancels) through the book, appending each one to
//       a native log in DIR first, and prints the live book. `replay DIR` must print the same.
#include "order_book.hpp"

#include <wal_recovery.hpp>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

namespace {

using orderbook::Book;
using wal::recovery::flashstrike::OrderType;
using wal::recovery::flashstrike::RequestEvent;
using wal::recovery::flashstrike::RequestType;
using wal::recovery::flashstrike::Side;

int usage() {
    std::cerr << "usage: cpp_orderbook replay DIR [--mode strict|stop|skip] [--format auto|native|flashstrike] "
                 "[--telemetry]\n"
                 "       cpp_orderbook generate DIR --orders N [--seed S]\n";
    return 2;
}

bool parse_u64(const std::string& s, std::uint64_t& out) {
    if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos) return false;
    errno = 0;
    char* end = nullptr;
    unsigned long long v = std::strtoull(s.c_str(), &end, 10);
    if (errno != 0 || *end != '\0') return false;
    out = v;
    return true;
}

int replay(const std::string& dir, const std::vector<std::string>& args) {
    wal::recovery::Options options;
    bool telemetry = false;
    for (std::size_t i = 0; i < args.size(); i++) {
        const std::string& a = args[i];
        const std::string v = i + 1 < args.size() ? args[i + 1] : "";
        if (a == "--mode" && (v == "strict" || v == "stop" || v == "skip")) {
            options.mode = v == "strict" ? wal::recovery::Mode::Strict
                           : v == "stop" ? wal::recovery::Mode::StopAtCorruption
                                         : wal::recovery::Mode::SkipCorrupted;
            i++;
        } else if (a == "--format" && (v == "auto" || v == "native" || v == "flashstrike")) {
            options.format = v == "auto"     ? wal::recovery::Format::Auto
                             : v == "native" ? wal::recovery::Format::Native
                                             : wal::recovery::Format::FlashStrikeV1;
            i++;
        } else if (a == "--telemetry") {
            telemetry = true;
        } else {
            return usage();
        }
    }

    auto m = wal::recovery::Manager::open(dir, options);
    if (!m) {
        std::cerr << "cpp_orderbook: cannot open " << dir << ": " << m.error().name() << ": " << m.error().message()
                  << "\n";
        return 2;
    }

    Book book;
    wal::Status decode_error;
    for (const auto& ev : m->events()) {
        auto request = RequestEvent::decode(ev);
        if (!request) {
            decode_error = request.error();
            break;
        }
        book.apply(*request);
    }
    // The loop ends at the clean end of the log and at an error alike: status() tells which.
    const wal::Status& status = decode_error.ok() ? m->status() : decode_error;

    std::cout << "recovered order book (" << dir << ")\n";
    book.print(std::cout);
    std::cout << "replay status         : " << status.to_string() << "\n";
    auto report = m->report_json();
    std::cout << "recovery report       : " << (report ? *report : report.error().to_string()) << "\n";
    if (telemetry) {
        m->telemetry().dump("replay", std::cout);
    }
    return status.ok() && report.ok() ? 0 : 1;
}

// The 64-byte FlashStrike record of `r` (little-endian, docs/FORMAT.md).
void encode(const RequestEvent& r, std::uint8_t out[64]) {
    std::memset(out, 0, 64);
    auto put = [out](std::size_t at, std::uint64_t v, std::size_t n) {
        for (std::size_t k = 0; k < n; k++) out[at + k] = static_cast<std::uint8_t>(v >> (8 * k));
    };
    put(0, r.event_id, 8);
    put(8, r.timestamp, 8);
    put(16, static_cast<std::uint64_t>(r.price), 8);
    put(24, static_cast<std::uint64_t>(r.quantity), 8);
    put(32, r.user_id, 4);
    put(36, r.order_id, 4);
    out[40] = static_cast<std::uint8_t>(r.request_type);
    out[41] = static_cast<std::uint8_t>(r.order_type);
    out[42] = static_cast<std::uint8_t>(r.side);
}

// A deterministic order stream: a 64-bit LCG (Knuth's MMIX constants), top bits used.
struct Stream {
    explicit Stream(std::uint64_t seed) : x(seed) {}

    std::uint64_t x;
    std::uint32_t next_order_id = 1;
    std::vector<std::uint32_t> issued;

    std::uint64_t draw(std::uint64_t bound) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        return (x >> 33) % bound;
    }

    // Prices around 10 000 ticks: bids mostly below, asks mostly above, some crossing.
    std::int64_t price(Side side) {
        const std::int64_t offset = static_cast<std::int64_t>(draw(16));
        return side == Side::Bid ? 9990 + offset : 10010 - offset;
    }

    RequestEvent make(std::uint64_t id) {
        RequestEvent r;
        r.event_id = id;
        r.timestamp = 1'700'000'000'000'000'000ull + id * 1000;
        r.user_id = static_cast<std::uint32_t>(draw(100));
        r.side = draw(2) == 0 ? Side::Bid : Side::Ask;
        const std::uint64_t kind = draw(100);
        if (kind < 60 || issued.empty()) {
            r.request_type = RequestType::NewOrder;
            r.order_type = kind < 54 || issued.empty() ? OrderType::Limit : OrderType::Market;
            r.order_id = next_order_id++;
            r.price = r.order_type == OrderType::Limit ? price(r.side) : 0;
            r.quantity = static_cast<std::int64_t>(1 + draw(100));
            issued.push_back(r.order_id);
            return r;
        }
        // Modifies and cancels name one of the 256 most recent orders (it may be filled or
        // cancelled by now, which the engine rejects as unknown).
        const std::size_t window = issued.size() < 256 ? issued.size() : 256;
        r.order_id = issued[issued.size() - 1 - draw(window)];
        if (kind < 72) {
            r.request_type = RequestType::ModifyPrice;
            r.price = price(r.side);
        } else if (kind < 80) {
            r.request_type = RequestType::ModifyQuantity;
            r.quantity = static_cast<std::int64_t>(1 + draw(100));
        } else {
            r.request_type = RequestType::Cancel;
        }
        return r;
    }
};

int generate(const std::string& dir, const std::vector<std::string>& args) {
    std::uint64_t orders = 0, seed = 1;
    bool have_orders = false;
    for (std::size_t i = 0; i < args.size(); i += 2) {
        if (i + 1 >= args.size()) return usage();
        if (args[i] == "--orders" && parse_u64(args[i + 1], orders) && orders > 0) {
            have_orders = true;
        } else if (!(args[i] == "--seed" && parse_u64(args[i + 1], seed))) {
            return usage();
        }
    }
    if (!have_orders) return usage();

    wal::recovery::WriterOptions wo;
    wo.segment_bytes = 1 << 20;  // several segments, so the replay crosses segment boundaries
    auto w = wal::recovery::Writer::open(dir, wo);
    if (!w) {
        std::cerr << "cpp_orderbook: cannot open " << dir << " for writing: " << w.error() << "\n";
        return 2;
    }
    Book live;
    Stream stream(seed);
    std::uint8_t record[64];
    for (std::uint64_t i = 1; i <= orders; i++) {
        RequestEvent r = stream.make(i);
        encode(r, record);
        auto id = w->append(record, sizeof record);  // logged first, then applied
        if (!id) {
            std::cerr << "cpp_orderbook: append: " << id.error() << "\n";
            return 1;
        }
        if (*id != i) {
            std::cerr << "cpp_orderbook: " << dir << " already holds a log (appended id " << *id << ", expected " << i
                      << "); use an empty directory\n";
            return 1;
        }
        // The id the log assigned is the event id: what the replay will hand back.
        live.apply(r);
    }
    wal::Status closed = w->close();
    if (!closed.ok()) {
        std::cerr << "cpp_orderbook: close: " << closed << "\n";
        return 1;
    }
    std::cout << "live order book (" << dir << ")\n";
    live.print(std::cout);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) return usage();
    const std::string cmd = argv[1], dir = argv[2];
    std::vector<std::string> rest(argv + 3, argv + argc);
    if (cmd == "replay") return replay(dir, rest);
    if (cmd == "generate") return generate(dir, rest);
    return usage();
}
