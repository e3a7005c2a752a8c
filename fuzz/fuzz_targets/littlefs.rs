//! littlefs: the input is a `vfs` partition; detect, mount (through the
//! mpimg-littlefs wrapper), walk and read every file, then the read-only
//! `--fs` commands.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Inputs that hold no littlefs are the other target's work.
    if !matches!(mpimg_fuzz::detected(data), mpimg::fs::detect::Detected::Littlefs) {
        return;
    }
    let (mut flash, part) = mpimg_fuzz::partition_flash(data);
    mpimg_fuzz::mount_and_walk(&mut flash, &part);
    mpimg_fuzz::run_read_commands(&mut flash, &part);
});
