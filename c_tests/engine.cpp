// A C++17 engine using the C API through the header: RAII handles, errors as exceptions,
// state rebuilt by replaying the log (the way an event-driven engine recovers after a crash).
//
// Usage: engine <empty scratch directory>. Built with g++ -std=c++17 -Wall -Wextra -Werror.
#include "wal_recovery.h"

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

static_assert(std::is_standard_layout<wal_event>::value, "wal_event is a C struct");
static_assert(sizeof(wal_event) == 8 + 2 * sizeof(void *), "wal_event layout");
static_assert(sizeof(wal_recovery_options) == 40, "wal_recovery_options layout");
static_assert(sizeof(wal_writer_options) == 24, "wal_writer_options layout");
static_assert(std::is_same<std::underlying_type<wal_status>::type, uint32_t>::value,
              "wal_status is uint32_t in C++");
static_assert(WAL_RECOVERY_ABI_VERSION >= 1, "ABI version");

namespace {

struct RecoveryCloser {
    void operator()(wal_recovery *h) const noexcept { wal_recovery_close(h); }
};
using Recovery = std::unique_ptr<wal_recovery, RecoveryCloser>;

struct WriterCloser {
    void operator()(wal_writer *w) const noexcept { (void)wal_writer_close(w); }
};
using Writer = std::unique_ptr<wal_writer, WriterCloser>;

std::string last_error(const wal_recovery *h) {
    std::string s(wal_last_error_message(h, nullptr, 0), '\0');
    wal_last_error_message(h, s.data(), s.size() + 1);
    return s;
}

struct WalError : std::runtime_error {
    wal_status status;
    WalError(wal_status s, const std::string &what)
        : std::runtime_error(std::string(wal_status_name(s)) + ": " + what), status(s) {}
};

void check(wal_status s, const wal_recovery *h = nullptr) {
    if (s != WAL_OK) {
        throw WalError(s, last_error(h));
    }
}

// The engine's state: an order book reduced to a balance per account.
struct Engine {
    std::vector<int64_t> balances = std::vector<int64_t>(16, 0);
    uint64_t applied = 0;
    uint64_t last_id = 0;

    void apply(const wal_event &ev) {
        if (ev.len != 9) {
            throw std::runtime_error("bad event length " + std::to_string(ev.len));
        }
        int64_t amount;
        std::memcpy(&amount, ev.data + 1, sizeof amount);
        balances.at(ev.data[0] % balances.size()) += amount;
        applied++;
        last_id = ev.event_id;
    }
};

std::vector<unsigned char> encode(unsigned account, int64_t amount) {
    std::vector<unsigned char> b(9);
    b[0] = static_cast<unsigned char>(account);
    std::memcpy(b.data() + 1, &amount, sizeof amount);
    return b;
}

}  // namespace

int main(int argc, char **argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s <scratch directory>\n", argv[0]);
        return 2;
    }
    const std::string dir = std::string(argv[1]) + "/engine-log";
    try {
        Engine live;
        {
            wal_writer_options wo;
            wal_writer_options_init(&wo);
            wo.segment_bytes = 8192;
            wal_writer *raw = nullptr;
            check(wal_writer_open(dir.c_str(), &wo, &raw));
            Writer w(raw);
            for (unsigned i = 0; i < 20000; i++) {
                auto ev = encode(i * 7 % 16, static_cast<int64_t>(i % 13) - 6);
                uint64_t id = 0;
                check(wal_writer_append(w.get(), ev.data(), ev.size(), &id));
                live.apply(wal_event{id, ev.data(), ev.size()});
            }
            check(wal_writer_sync(w.get()));
        }

        // Recover: rebuild the state from the log in batches.
        Engine recovered;
        wal_recovery_options ro;
        wal_recovery_options_init_sized(&ro, sizeof ro);
        ro.mode = WAL_MODE_STRICT;
        wal_recovery *raw = nullptr;
        check(wal_recovery_open(dir.c_str(), &ro, &raw));
        Recovery h(raw);
        std::vector<wal_event> batch(512);
        for (;;) {
            size_t n = 0;
            wal_status s = wal_recovery_next_batch(h.get(), batch.data(), batch.size(), &n);
            if (s == WAL_END) {
                break;
            }
            check(s, h.get());
            for (size_t i = 0; i < n; i++) {
                recovered.apply(batch[i]);
            }
        }
        if (recovered.balances != live.balances || recovered.applied != live.applied ||
            recovered.last_id != live.last_id) {
            std::fprintf(stderr, "engine: recovered state differs\n");
            return 1;
        }

        // Errors surface as typed exceptions carrying the library's message.
        try {
            check(wal_recovery_resume(h.get(), 1u << 30), h.get());
            std::fprintf(stderr, "engine: resume past the end succeeded\n");
            return 1;
        } catch (const WalError &e) {
            if (e.status != WAL_ERR_EVENT_BEYOND_END ||
                std::string(e.what()).find("beyond the end") == std::string::npos) {
                std::fprintf(stderr, "engine: unexpected error %s\n", e.what());
                return 1;
            }
        }
        switch (wal_recovery_resume(h.get(), 0)) {
        case WAL_OK:
            break;
        default:
            std::fprintf(stderr, "engine: resume(0) failed\n");
            return 1;
        }
        std::printf("engine: recovered %llu events, state matches\n",
                    static_cast<unsigned long long>(recovered.applied));
    } catch (const std::exception &e) {
        std::fprintf(stderr, "engine: %s\n", e.what());
        return 1;
    }
    return 0;
}
