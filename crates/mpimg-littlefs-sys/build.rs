//! Compiles the vendored C littlefs with the flags MicroPython's ports and
//! littlefs2-sys's `multiversion` feature use, plus a tiny C file that
//! reports the struct layouts the C compiler chose (checked against the
//! pre-generated Rust bindings by this crate's tests). `lfs.c` is compiled
//! through `src/attrs.c`, which includes it to list an entry's attributes
//! with littlefs's internal helpers.
//!
//! Why no bindgen here: bindgen needs libclang at build time, a large extra
//! install on Windows and macOS. The bindings are generated once by
//! `scripts/regen-littlefs-bindings.sh` and committed.

fn main() {
    let dir = "littlefs";
    for f in ["lfs.c", "lfs.h", "lfs_util.c", "lfs_util.h", "layout.c", "attrs.c"] {
        let path = if f == "layout.c" || f == "attrs.c" { format!("src/{f}") } else { format!("{dir}/{f}") };
        println!("cargo::rerun-if-changed={path}");
    }
    let mut build = cc::Build::new();
    // Under cargo-fuzz (which sets `--cfg fuzzing`), let the C code feed the
    // fuzzer too: gcc cannot emit libFuzzer's edge counters, but it can trace
    // comparisons (features with -use_value_profile=1, and the operands the
    // mutator tries), and AddressSanitizer checks its memory accesses.
    if std::env::var_os("CARGO_CFG_FUZZING").is_some() {
        build.flag_if_supported("-fsanitize-coverage=trace-cmp");
        if std::env::var("CARGO_CFG_SANITIZE").is_ok_and(|s| s.split(',').any(|x| x == "address")) {
            build.flag("-fsanitize=address");
        }
    }
    println!("cargo::rerun-if-env-changed=CARGO_CFG_FUZZING");
    build
        .flag_if_supported("-std=c99")
        // No littlefs logging or asserts: mpimg reports errors itself, and an
        // assert would abort the process on a corrupt filesystem.
        .define("LFS_NO_DEBUG", None)
        .define("LFS_NO_WARN", None)
        .define("LFS_NO_ERROR", None)
        .define("LFS_NO_ASSERT", None)
        // Every buffer comes from the Rust side (see mpimg-littlefs's config).
        .define("LFS_NO_MALLOC", None)
        // Write on-disk version 2.0 or 2.1 as asked (MicroPython <= 1.21 reads only 2.0).
        .define("LFS_MULTIVERSION", None)
        .include(dir)
        .file("src/attrs.c")
        .file(format!("{dir}/lfs_util.c"))
        .file("src/layout.c")
        .warnings(false)
        .compile("mpimg-lfs");
}
