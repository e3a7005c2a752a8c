//! The `mpimg` command-line entry point.

fn main() {
    eprintln!("mpimg: under construction");
    std::process::exit(2);
}
