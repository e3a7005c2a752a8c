//! Pure binary formats: bytes in, typed values out. Nothing here opens a file or a port.

pub mod app_desc;
pub mod app_kind;
pub mod banner;
pub mod bootloader_desc;
pub mod chip;
pub mod csv;
pub mod flash_params;
pub mod flasher_args;
pub mod ihex;
pub mod image;
pub mod otadata;
pub mod partition;
pub mod regions;
pub mod size;
pub mod uf2;
