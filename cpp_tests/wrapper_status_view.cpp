// The value types of include/wal_recovery.hpp: wal::Status, wal::Result<T>, wal::Error (with
// WAL_RECOVERY_EXCEPTIONS; without, value() on an error aborts), wal::View / wal::Bytes, and the
// library version. Built and run by scripts/cpp.sh under ASan+UBSan, with and without
// -DWAL_RECOVERY_EXCEPTIONS.
//
// Usage: wrapper_status_view <empty scratch directory> <tests/data/flashstrike>
#include "wrapper_support.hpp"

#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <utility>
#include <vector>

namespace {

using namespace wrapper_test;

void test_status_and_result() {
    Status ok;
    CHECK(ok.ok() && static_cast<bool>(ok) && ok.code() == WAL_OK && ok.message().empty());
    CHECK(std::string(ok.name()) == "WAL_OK" && ok.to_string() == "WAL_OK");
    CHECK(ok == WAL_OK && ok != WAL_END);
    Status gap(WAL_ERR_GAP, "gap: ids 5..9 missing");
    CHECK(!gap.ok() && !static_cast<bool>(gap) && gap.code() == WAL_ERR_GAP);
    CHECK(std::string(gap.name()) == "WAL_ERR_GAP");
    CHECK(gap.to_string() == "WAL_ERR_GAP: gap: ids 5..9 missing");
    std::ostringstream os;
    os << gap;
    CHECK(os.str() == gap.to_string());
    Status described(WAL_ERR_LOCKED, "");  // an empty message becomes the code's description
    CHECK(described.message() == wal_status_str(WAL_ERR_LOCKED) && !described.message().empty());
    Status unknown(static_cast<wal_status>(9999), "newer library");
    CHECK(std::string(unknown.name()) == "WAL_UNKNOWN_STATUS" && unknown.code() == 9999);

    wal::Result<int> v(7);
    CHECK(v.ok() && v.has_value() && static_cast<bool>(v) && *v == 7 && v.value() == 7);
    CHECK(v.error().ok() && v.value_or(3) == 7);
    wal::Result<int> e(Status(WAL_ERR_IO, "read failed"));
    CHECK(!e.ok() && !e && e.error().code() == WAL_ERR_IO && e.error().message() == "read failed");
    CHECK(e.value_or(3) == 3);
    wal::Result<int> bogus{Status()};  // an OK status without a value is an internal error
    CHECK(!bogus.ok() && bogus.error().code() == WAL_ERR_INTERNAL && contains(bogus.error().message(), "without a value"));
    wal::Result<std::string> s(std::string("abc"));
    CHECK(s->size() == 3 && std::move(s).value_or("x") == "abc");
    wal::Result<std::string> se(Status(WAL_ERR_IO, "x"));
    CHECK(std::move(se).value_or("fallback") == "fallback");

#ifdef WAL_RECOVERY_EXCEPTIONS
    CHECK(v.value_or_throw() == 7);
    bool thrown = false;
    try {
        (void)e.value_or_throw();
    } catch (const wal::Error& err) {
        thrown = err.code() == WAL_ERR_IO && err.status().message() == "read failed" &&
                 std::string(err.what()) == "WAL_ERR_IO: read failed";
    }
    CHECK(thrown);
    thrown = false;
    try {
        (void)e.value();  // with exceptions, value() on an error throws too
    } catch (const wal::Error& err) {
        thrown = err.code() == WAL_ERR_IO;
    }
    CHECK(thrown);
    thrown = false;
    try {
        gap.throw_if_error();
    } catch (const wal::Error& err) {
        thrown = err.code() == WAL_ERR_GAP;
    }
    CHECK(thrown);
    ok.throw_if_error();  // does not throw
#else
    // Without exceptions, value() on an error aborts with the message: never a garbage value.
    std::fflush(stderr);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        int fd = ::open("/dev/null", O_WRONLY);
        if (fd >= 0) ::dup2(fd, 2);
        int x = e.value();
        std::_Exit(x == 0 ? 10 : 11);
    }
    int wstatus = 0;
    REQUIRE(::waitpid(pid, &wstatus, 0) == pid);
    CHECK(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGABRT);
#endif
}

void test_view() {
    std::vector<std::uint8_t> bytes = {1, 2, 3, 4, 5};
    wal::Bytes b(bytes.data(), bytes.size());
    CHECK(b.size() == 5 && b.size_bytes() == 5 && !b.empty() && b[2] == 3 && b.data() == bytes.data());
    int sum = 0;
    for (std::uint8_t x : b) sum += x;
    CHECK(sum == 15);
    wal::Bytes mid = b.subspan(1, 3);
    CHECK(mid.size() == 3 && mid[0] == 2 && mid[2] == 4 && mid.end() - mid.begin() == 3);
    const std::uint8_t arr[3] = {9, 8, 7};
    wal::Bytes a(arr);
    CHECK(a.size() == 3 && a[1] == 8);
    wal::Bytes c(bytes);
    CHECK(c.size() == 5);
    wal::Bytes none;
    CHECK(none.empty() && none.size() == 0);
    const wal::recovery::Label labels[2] = {{"component", "manager"}, {"reason", "io"}};
    wal::View<const wal::recovery::Label> lv(labels, 2);
    CHECK(lv.size() == 2 && lv[1].value == "io");
}

}  // namespace

int main(int argc, char** argv) {
    return wrapper_test::run("wrapper_status_view", argc, argv, [](const std::string&) {
        CHECK(std::string(wal::version()) == WAL_RECOVERY_VERSION_STRING &&
              wal::abi_version() == WAL_RECOVERY_ABI_VERSION);
        test_status_and_result();
        test_view();
    });
}
