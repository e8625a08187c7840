// The C++ header compiles on its own, as the first and only include of a translation unit, with
// -Wall -Wextra -Wpedantic -Werror (C++17 and C++20, g++ and clang++). Linked with
// double_include.cpp: two translation units including it define nothing twice (header-only, so
// every function must be inline).
#include "wal_recovery.hpp"

int header_alone_probe();

int header_alone_probe() {
    wal::recovery::Options o;
    o.mode = wal::recovery::Mode::SkipCorrupted;
    auto c = o.to_c();
    wal::recovery::EventBatch batch(4);
    wal::Status s;
    return static_cast<int>(c.value().struct_size + batch.capacity() + (s.ok() ? 1 : 0) +
                            static_cast<unsigned>(o.mode));
}
