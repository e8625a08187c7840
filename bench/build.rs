// Compiles the C replay loop of the "C ABI, inline next_hot" row (c/hot_loop.c) against the
// library's header. Its calls into the library resolve against the wal-recovery rlib linked
// into wal-bench: the C ABI statically linked, as a C engine links libwal_recovery.a.

fn main() {
    println!("cargo:rerun-if-changed=c/hot_loop.c");
    println!("cargo:rerun-if-changed=../include/wal_recovery.h");
    cc::Build::new()
        .file("c/hot_loop.c")
        .include("../include")
        .opt_level(2)
        .flag("-std=c99")
        .warnings_into_errors(true)
        .compile("wal_bench_hot_loop");
}
