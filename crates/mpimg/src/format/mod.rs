//! Pure binary formats: bytes in, typed values out. Nothing here opens a file or a port.

pub mod chip;
pub mod image;
