//! The one shared helper module of the integration tests: where the real
//! firmware images, the Python venvs and mtools are, the skip rule (skip with a
//! note when something optional is missing, but fail under CI=true, where
//! everything must be there), and running the mpimg binary. Submodules:
//! [`synth`] builds firmware byte by byte, [`fs`] runs `--fs` commands through
//! the library, [`sim`] starts esp-sim devices, [`matrix`] runs the fault
//! matrix's cells.

pub mod diag;
pub mod fs;
pub mod matrix;
pub mod sim;
pub mod synth;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Skip (return None) with a note, or panic under CI.
pub fn skip<T>(what: &str) -> Option<T> {
    if in_ci() {
        panic!("required for this test under CI=true: {what}");
    }
    eprintln!("SKIPPED: {what} is not available");
    None
}

/// The real firmware images: `$MPIMG_FIRMWARE_DIR`, else `../shared/firmware`
/// beside the workspace, if present.
pub fn firmware_dir() -> Option<PathBuf> {
    let d =
        std::env::var_os("MPIMG_FIRMWARE_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("../shared/firmware"));
    if d.join("MANIFEST.md").is_file() {
        Some(d)
    } else {
        skip("../shared/firmware (real MicroPython images)")
    }
}

/// A real firmware image by file name.
pub fn firmware(name: &str) -> Option<PathBuf> {
    firmware_dir().map(|d| d.join(name))
}

/// The bytes of a real firmware image, or `None` (skip) when absent.
pub fn firmware_bytes(name: &str) -> Option<Vec<u8>> {
    firmware(name).map(|p| std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
}

/// Whether mtools is installed (skip note otherwise).
pub fn mtools() -> Option<()> {
    if Command::new("mdir").arg("--version").output().is_ok() {
        Some(())
    } else {
        skip("mtools (apt-get install mtools)")
    }
}

/// The Python tool mp-image-tool-esp32 0.1.1 from `.venv-mpt`.
pub fn python_tool() -> Option<PathBuf> {
    let p = std::env::var_os("MPIMG_VENV_MPT")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".venv-mpt"))
        .join("bin/mp-image-tool-esp32");
    if p.is_file() {
        Some(p)
    } else {
        skip(".venv-mpt/bin/mp-image-tool-esp32 (run ./.ci/setup)")
    }
}

/// The checkers' Python (esptool, littlefs-python) from `.venv`.
pub fn venv_python() -> Option<PathBuf> {
    let p =
        std::env::var_os("MPIMG_VENV").map(PathBuf::from).unwrap_or_else(|| root().join(".venv")).join("bin/python");
    if p.is_file() {
        Some(p)
    } else {
        skip(".venv/bin/python (run ./.ci/setup)")
    }
}

/// The mpimg binary under test.
pub fn mpimg_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_mpimg"))
}

/// Run mpimg with `args` in `dir`, NO_COLOR set so tables are plain.
pub fn run_mpimg(dir: &Path, args: &[&str]) -> Output {
    run_mpimg_env(dir, args, &[])
}

/// [`run_mpimg`] with more environment variables (set for the child only:
/// the tests share one process).
pub fn run_mpimg_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(mpimg_bin());
    // No pointers to pending backups in this user's state directory: each
    // test's backups are found in its own directory only (tests of the
    // pointers set MPIMG_STATE_DIR themselves).
    c.args(args).current_dir(dir).env("NO_COLOR", "1").env("MPIMG_STATE_DIR", "");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run mpimg")
}

/// A finished mpimg run: its output as text and its exit code.
pub struct Run {
    pub out: String,
    pub err: String,
    pub code: i32,
}

/// Run mpimg in `dir` and collect its output.
pub fn mpimg(dir: &Path, args: &[&str]) -> Run {
    let o = run_mpimg(dir, args);
    Run { out: text(&o.stdout), err: text(&o.stderr), code: o.status.code().unwrap_or(-1) }
}

/// Assert a run succeeded, showing its output if not.
#[track_caller]
pub fn ok(r: &Run) {
    assert_eq!(r.code, 0, "stdout:\n{}\nstderr:\n{}", r.out, r.err);
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Names of the files in `dir`, sorted.
pub fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|it| it.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    v.sort();
    v
}
