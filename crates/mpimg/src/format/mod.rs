//! Pure binary formats: bytes in, typed values out. Nothing here opens a file or a port.

pub mod chip;
pub mod image;
pub mod app_desc;
pub mod bootloader_desc;
pub mod banner;
pub mod otadata;
