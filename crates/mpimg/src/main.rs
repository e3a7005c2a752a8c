//! The `mpimg` command-line entry point: parse the arguments, run, and turn
//! an error into one line on stderr and a non-zero exit code.

use std::io::Write;

fn main() {
    let args = match mpimg::cli::args::parse_from(std::env::args_os().collect()) {
        Ok(a) => a,
        Err(e) => e.exit(),
    };
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr().lock();
    let code = match mpimg::cli::run::run(&args, &mut out, &mut err) {
        Ok(code) => code,
        Err(e) => {
            let _ = out.flush();
            let _ = writeln!(err, "error: {e}");
            1
        }
    };
    let _ = out.flush();
    std::process::exit(code);
}
