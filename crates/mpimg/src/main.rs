//! The `mpimg` command-line tool: run the command line, exit with its code.
//! Everything but this entry point is in [`cli`], which is part of the binary
//! only (the library, `mpimg`, knows nothing of the command line).

mod cli;

fn main() {
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr().lock();
    let code = cli::main(std::env::args_os().collect(), &mut out, &mut err);
    std::process::exit(code);
}
