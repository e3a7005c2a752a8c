//! The `mpimg` command-line tool: run the command line, exit with its code.
//! Everything but this entry point is in [`cli`], which is part of the binary
//! only (the library, `mpimg`, knows nothing of the command line).

mod cli;

fn main() {
    // Past a file size limit (`ulimit -f`) the kernel would kill the process
    // in the middle of writing a file; ignored, the write fails instead, and
    // mpimg removes what it began, as on a full disk.
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to "ignore" before any thread starts.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr().lock();
    let code = cli::main(std::env::args_os().collect(), &mut out, &mut err);
    std::process::exit(code);
}
