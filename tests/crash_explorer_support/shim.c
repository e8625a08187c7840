/*
 * LD_PRELOAD shim of the crash-state explorer (tests/crash_explorer.rs): records every
 * file-system call a process makes under one directory tree, with the bytes it writes, so
 * that the explorer can rebuild the crash states a power loss could leave.
 *
 * Environment: WALX_TRACE  file the records are appended to (opened O_APPEND);
 *              WALX_ROOT   absolute directory; only calls on paths under it are recorded;
 *              WALX_ENOSPC optional byte budget: writes to recorded files beyond it fail
 *                          with ENOSPC (the write that crosses it is cut short first).
 *
 * Records are one text line each ("open <ino> <created> <truncated> <path>",
 * "write <ino> <offset> <len>" followed by exactly <len> raw bytes, "trunc <ino> <len>",
 * "fsync <ino>", "fdatasync <ino>", "rename <ino> <from> <to>", "unlink <ino> <path>",
 * "mkdir <ino> <path>"). A call the explorer cannot model (writev, mmap for writing, the
 * *at variants on a recorded path, ...) is recorded as "unhandled <name>", which fails the
 * trace: nothing the writer does may escape the record. Only successful calls are recorded;
 * the explorer checks after each run that replaying the record reproduces the real files.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_FD 65536

static int trace_fd = -1;
static char root[4096];
static size_t root_len;
static long long enospc_left = -1;
static unsigned long long fd_ino[MAX_FD];
static unsigned char fd_tracked[MAX_FD];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void raw_write_all(const void *buf, size_t len) {
    const char *p = buf;
    while (len > 0) {
        long r = syscall(SYS_write, trace_fd, p, len);
        if (r < 0) {
            if (errno == EINTR) continue;
            abort();
        }
        p += r;
        len -= (size_t)r;
    }
}

/* One record: a header line, then `len` raw bytes (may be 0). Caller holds `mu`. */
static void emit(const char *line, const void *data, size_t len) {
    raw_write_all(line, strlen(line));
    if (len) raw_write_all(data, len);
}

static void emitf(const void *data, size_t len, const char *fmt, ...) {
    char line[9000];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&mu);
    emit(line, data, len);
    pthread_mutex_unlock(&mu);
}

__attribute__((constructor)) static void shim_init(void) {
    const char *t = getenv("WALX_TRACE");
    const char *r = getenv("WALX_ROOT");
    const char *e = getenv("WALX_ENOSPC");
    if (!t || !r || r[0] != '/') return;
    root_len = strlen(r);
    if (root_len >= sizeof root) return;
    memcpy(root, r, root_len + 1);
    while (root_len > 1 && root[root_len - 1] == '/') root[--root_len] = 0;
    trace_fd = (int)syscall(SYS_openat, AT_FDCWD, t, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (e) enospc_left = atoll(e);
}

static int under_root(const char *p) {
    if (trace_fd < 0 || !p || p[0] != '/') return 0;
    return strncmp(p, root, root_len) == 0 && (p[root_len] == '/' || p[root_len] == 0);
}

static int tracked(int fd) { return trace_fd >= 0 && fd >= 0 && fd < MAX_FD && fd_tracked[fd]; }

#define REAL(name) \
    static __typeof__(&name) real_##name; \
    if (!real_##name) real_##name = (__typeof__(&name))dlsym(RTLD_NEXT, #name)

typedef int (*open_fn)(const char *, int, ...);

static int do_open(open_fn real, const char *p, int flags, mode_t mode) {
    int rec = under_root(p);
    int existed = 1;
    struct stat st;
    if (rec && (flags & O_CREAT)) existed = stat(p, &st) == 0;
    int fd = real(p, flags, mode);
    if (rec && fd >= 0 && fd < MAX_FD) {
        if (fstat(fd, &st) != 0) abort();
        fd_tracked[fd] = 1;
        fd_ino[fd] = (unsigned long long)st.st_ino;
        emitf(NULL, 0, "open %llu %d %d %s\n", fd_ino[fd], !existed,
              existed && (flags & O_TRUNC) && (flags & O_ACCMODE) != O_RDONLY, p);
    }
    return fd;
}

int open(const char *p, int flags, ...) {
    REAL(open);
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = va_arg(ap, mode_t);
        va_end(ap);
    }
    return do_open(real_open, p, flags, mode);
}

int open64(const char *p, int flags, ...) {
    REAL(open64);
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = va_arg(ap, mode_t);
        va_end(ap);
    }
    return do_open(real_open64, p, flags, mode);
}

typedef int (*openat_fn)(int, const char *, int, ...);
static int do_openat(openat_fn real, const char *name, int dirfd, const char *p, int flags, mode_t mode) {
    if (under_root(p) || tracked(dirfd)) {
        emitf(NULL, 0, "unhandled %s\n", name);
    }
    return real(dirfd, p, flags, mode);
}

int openat(int dirfd, const char *p, int flags, ...) {
    REAL(openat);
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = va_arg(ap, mode_t);
        va_end(ap);
    }
    return do_openat(real_openat, "openat", dirfd, p, flags, mode);
}

int openat64(int dirfd, const char *p, int flags, ...) {
    REAL(openat64);
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = va_arg(ap, mode_t);
        va_end(ap);
    }
    return do_openat(real_openat64, "openat64", dirfd, p, flags, mode);
}

/* Applies the ENOSPC budget to a write of `n` bytes: how many may be written (-1: none, fail). */
static long long budget(size_t n) {
    if (enospc_left < 0) return (long long)n;
    if (enospc_left == 0) return -1;
    return (long long)n < enospc_left ? (long long)n : enospc_left;
}

typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);
static ssize_t do_pwrite(pwrite_fn real, int fd, const void *buf, size_t n, off_t off) {
    if (!tracked(fd)) return real(fd, buf, n, off);
    pthread_mutex_lock(&mu);
    long long allowed = budget(n);
    if (allowed < 0) {
        pthread_mutex_unlock(&mu);
        errno = ENOSPC;
        return -1;
    }
    ssize_t r = real(fd, buf, (size_t)allowed, off);
    if (r > 0) {
        if (enospc_left > 0) enospc_left -= r;
        char line[128];
        snprintf(line, sizeof line, "write %llu %lld %zd\n", fd_ino[fd], (long long)off, r);
        emit(line, buf, (size_t)r);
    }
    pthread_mutex_unlock(&mu);
    return r;
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off) {
    REAL(pwrite);
    return do_pwrite(real_pwrite, fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off) {
    REAL(pwrite64);
    return do_pwrite(real_pwrite64, fd, buf, n, off);
}

ssize_t write(int fd, const void *buf, size_t n) {
    REAL(write);
    if (!tracked(fd)) return real_write(fd, buf, n);
    off_t off = lseek(fd, 0, SEEK_CUR);
    if (off < 0 || (fcntl(fd, F_GETFL) & O_APPEND)) {
        emitf(NULL, 0, "unhandled write\n");
        return real_write(fd, buf, n);
    }
    pthread_mutex_lock(&mu);
    long long allowed = budget(n);
    if (allowed < 0) {
        pthread_mutex_unlock(&mu);
        errno = ENOSPC;
        return -1;
    }
    ssize_t r = real_write(fd, buf, (size_t)allowed);
    if (r > 0) {
        if (enospc_left > 0) enospc_left -= r;
        char line[128];
        snprintf(line, sizeof line, "write %llu %lld %zd\n", fd_ino[fd], (long long)off, r);
        emit(line, buf, (size_t)r);
    }
    pthread_mutex_unlock(&mu);
    return r;
}

#define UNHANDLED_FD(name, ret, params, args)                       \
    ret name params {                                               \
        REAL(name);                                  \
        if (tracked(fd)) emitf(NULL, 0, "unhandled " #name "\n");   \
        return real_##name args;                                    \
    }

UNHANDLED_FD(writev, ssize_t, (int fd, const struct iovec *v, int c), (fd, v, c))
UNHANDLED_FD(pwritev, ssize_t, (int fd, const struct iovec *v, int c, off_t o), (fd, v, c, o))
UNHANDLED_FD(pwritev64, ssize_t, (int fd, const struct iovec *v, int c, off_t o), (fd, v, c, o))
UNHANDLED_FD(fallocate, int, (int fd, int m, off_t o, off_t l), (fd, m, o, l))
UNHANDLED_FD(fallocate64, int, (int fd, int m, off_t o, off_t l), (fd, m, o, l))
UNHANDLED_FD(dup, int, (int fd), (fd))
UNHANDLED_FD(dup2, int, (int fd, int n), (fd, n))

void *mmap64(void *a, size_t l, int prot, int flags, int fd, off_t o) {
    REAL(mmap64);
    if (tracked(fd) && (prot & PROT_WRITE) && (flags & MAP_SHARED)) emitf(NULL, 0, "unhandled mmap64\n");
    return real_mmap64(a, l, prot, flags, fd, o);
}

void *mmap(void *a, size_t l, int prot, int flags, int fd, off_t o) {
    REAL(mmap);
    if (tracked(fd) && (prot & PROT_WRITE) && (flags & MAP_SHARED)) emitf(NULL, 0, "unhandled mmap\n");
    return real_mmap(a, l, prot, flags, fd, o);
}

typedef int (*trunc_fn)(int, off_t);
static int do_ftruncate(trunc_fn real, int fd, off_t len) {
    int r = real(fd, len);
    if (r == 0 && tracked(fd)) emitf(NULL, 0, "trunc %llu %lld\n", fd_ino[fd], (long long)len);
    return r;
}
int ftruncate(int fd, off_t len) {
    REAL(ftruncate);
    return do_ftruncate(real_ftruncate, fd, len);
}
int ftruncate64(int fd, off_t len) {
    REAL(ftruncate64);
    return do_ftruncate(real_ftruncate64, fd, len);
}

int truncate(const char *p, off_t len) {
    REAL(truncate);
    if (under_root(p)) emitf(NULL, 0, "unhandled truncate\n");
    return real_truncate(p, len);
}

int fsync(int fd) {
    REAL(fsync);
    int r = real_fsync(fd);
    if (r == 0 && tracked(fd)) emitf(NULL, 0, "fsync %llu\n", fd_ino[fd]);
    return r;
}

int fdatasync(int fd) {
    REAL(fdatasync);
    int r = real_fdatasync(fd);
    if (r == 0 && tracked(fd)) emitf(NULL, 0, "fdatasync %llu\n", fd_ino[fd]);
    return r;
}

UNHANDLED_FD(sync_file_range, int, (int fd, off_t o, off_t n, unsigned int f), (fd, o, n, f))

int close(int fd) {
    REAL(close);
    if (tracked(fd)) fd_tracked[fd] = 0;
    return real_close(fd);
}

int rename(const char *a, const char *b) {
    REAL(rename);
    int rec = under_root(a) || under_root(b);
    struct stat st;
    unsigned long long ino = 0;
    if (rec && stat(a, &st) == 0) ino = (unsigned long long)st.st_ino;
    int r = real_rename(a, b);
    if (r == 0 && rec) emitf(NULL, 0, "rename %llu %s %s\n", ino, a, b);
    return r;
}

int unlink(const char *p) {
    REAL(unlink);
    int rec = under_root(p);
    struct stat st;
    unsigned long long ino = 0;
    if (rec && lstat(p, &st) == 0) ino = (unsigned long long)st.st_ino;
    int r = real_unlink(p);
    if (r == 0 && rec) emitf(NULL, 0, "unlink %llu %s\n", ino, p);
    return r;
}

int mkdir(const char *p, mode_t m) {
    REAL(mkdir);
    int r = real_mkdir(p, m);
    struct stat st;
    if (r == 0 && under_root(p) && stat(p, &st) == 0)
        emitf(NULL, 0, "mkdir %llu %s\n", (unsigned long long)st.st_ino, p);
    return r;
}

#define UNHANDLED_PATH(name, ret, params, path, args)                  \
    ret name params {                                                  \
        REAL(name);                                     \
        if (under_root(path)) emitf(NULL, 0, "unhandled " #name "\n"); \
        return real_##name args;                                       \
    }

UNHANDLED_PATH(renameat, int, (int d1, const char *a, int d2, const char *b), a, (d1, a, d2, b))
UNHANDLED_PATH(renameat2, int, (int d1, const char *a, int d2, const char *b, unsigned f), a, (d1, a, d2, b, f))
UNHANDLED_PATH(unlinkat, int, (int d, const char *p, int f), p, (d, p, f))
UNHANDLED_PATH(mkdirat, int, (int d, const char *p, mode_t m), p, (d, p, m))
UNHANDLED_PATH(rmdir, int, (const char *p), p, (p))
UNHANDLED_PATH(link, int, (const char *a, const char *b), a, (a, b))
UNHANDLED_PATH(symlink, int, (const char *a, const char *b), b, (a, b))
UNHANDLED_PATH(creat, int, (const char *p, mode_t m), p, (p, m))
