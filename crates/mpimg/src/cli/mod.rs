//! The `mpimg` command line, part of the binary only: raw arguments
//! ([`args`], clap) are turned once into a checked [`request::Request`] with a
//! [`request::Mode`]; [`run::run`] carries it out as a sequence of steps
//! ([`steps`]) over the library; every line of output goes through
//! [`report::Reporter`]; [`error`] adds the advice that names options.
//!
//! The binary lives in the `mpimg` package, behind its `cli` feature (which
//! pulls in clap and comfy-table), rather than in a package of its own: one
//! package keeps `cargo install mpimg` and `cargo run -p mpimg` as they are,
//! while a library user turns the feature off (`default-features = false`).

pub mod arglist;
pub mod args;
pub mod boards;
pub mod device;
pub mod error;
pub mod fix;
pub mod naming;
pub mod outcome;
pub mod port;
pub mod report;
pub mod request;
pub mod run;
pub mod steps;

use std::io::Write;

use error::CliError;
use outcome::Gathered;
use report::Reporter;
use request::Request;

/// Run the command line `argv` with output to `out` and `err`; returns the
/// exit code (0, 1 for a failed check or an error, 2 for bad usage as clap
/// reports it).
pub fn main(argv: Vec<std::ffi::OsString>, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let json = argv.iter().any(|a| a == "--json");
    let args = match args::parse_from(argv) {
        Ok(a) => a,
        Err(e) => return report::usage_error(&e, json, out),
    };
    let show = request::Show { json: args.json, quiet: args.quiet, debug: args.debug };
    let source = args.filename.clone().or(args.assemble.as_ref().map(|_| "(--assemble)".to_string()));
    let mut g = Gathered { source, ..Gathered::default() };
    let req = Request::from_args(&args);
    // A request that cannot be made still reports as the run would have.
    let product = req
        .as_ref()
        .map_or(if show.json { request::Product::Json } else { request::Product::Report }, Request::product);
    let mut rep = Reporter::new(out, err, show, product);
    let code = req.and_then(|req| run::run(&req, &mut rep, &mut g));
    let done = code.and_then(|code| rep.finish(&mut g).map(|()| code).map_err(CliError::from));
    match done {
        Ok(code) => code,
        // A closed stdout (`mpimg fw.bin --fs cat big.py | head`) is not a failure.
        Err(e) if e.is_broken_pipe() => 0,
        Err(e) => {
            let _ = rep.fail(&e, &mut g);
            1
        }
    }
}
