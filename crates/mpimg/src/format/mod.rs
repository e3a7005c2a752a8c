//! Pure binary formats: bytes in, typed values out. Nothing here opens a file or a port.

pub mod app_desc;
pub mod banner;
pub mod bootloader_desc;
// chip.rs and csv.rs are being changed on other branches: formatted (and
// csv.rs's error fields documented) after those merge.
#[rustfmt::skip]
pub mod chip;
#[rustfmt::skip]
#[allow(missing_docs)]
pub mod csv;
pub mod image;
pub mod otadata;
pub mod partition;
pub mod size;
