//! The `--fs` command parser and the path syntax of its arguments. The input
//! is the words of one command, one per line.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mpimg::fs::path::{is_safe_host_name, parse_paths, split_partition};
use mpimg::fs::{commands_modify_flash, FsCommand, DEFAULT_PARTITION};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let words: Vec<String> = text.split('\n').map(str::to_owned).collect();
    if let Ok(cmd) = FsCommand::parse(&words) {
        let _ = (cmd.name(), cmd.modifies_flash());
        assert_eq!(commands_modify_flash(std::slice::from_ref(&words)), cmd.modifies_flash());
    }
    for path in parse_paths(&words, DEFAULT_PARTITION) {
        let _ = (path.abs(), path.rel(), path.name(), path.parent(), path.to_string(), path.check_names());
        // A parsed path is normal: parsing its text again gives it back.
        let again = mpimg::fs::path::FsPath::parse(&path.part, &path.abs());
        assert_eq!(again, path);
    }
    for w in &words {
        let _ = (split_partition(w), is_safe_host_name(w));
    }
});
