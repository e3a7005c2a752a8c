//! What one run needs from its flash backend beyond [`Flash`]: a firmware
//! file is saved to an output file at the end, a device is changed in place
//! and has facts (chip, MAC, detected flash) and warnings of its own.

use std::path::Path;

use crate::flash::device::DeviceFacts;
use crate::flash::{DeviceFlash, FileFlash, Flash};
use crate::format::chip::Chip;
use crate::format::size::flash_label as mb;

pub trait Backend: Flash {
    /// Save the firmware to `path`; returns its length (files only).
    fn save_output(&self, path: &Path) -> std::io::Result<usize>;
    /// Write the changes back into `path`, the file the firmware came from
    /// (`--in-place`); returns the bytes written (files only).
    fn save_in_place(&self, path: &Path) -> std::io::Result<usize>;
    /// The firmware's bytes from the bootloader offset on (files only).
    fn image(&self) -> Option<&[u8]>;
    fn device_facts(&self) -> Option<DeviceFacts> {
        None
    }
    /// Mismatches between the firmware in flash and the device itself.
    fn device_warnings(&self, bootloader_chip: Option<&str>, header_flash_size: Option<u32>) -> Vec<String> {
        let _ = (bootloader_chip, header_flash_size);
        Vec::new()
    }
}

impl Backend for FileFlash {
    fn save_output(&self, path: &Path) -> std::io::Result<usize> {
        self.save(path).map(|()| self.bytes().len())
    }

    fn save_in_place(&self, path: &Path) -> std::io::Result<usize> {
        FileFlash::save_in_place(self, path)
    }

    fn image(&self) -> Option<&[u8]> {
        Some(self.bytes())
    }
}

impl Backend for DeviceFlash {
    fn save_output(&self, _path: &Path) -> std::io::Result<usize> {
        Err(std::io::Error::new(std::io::ErrorKind::Unsupported, "a device is changed in place"))
    }

    fn save_in_place(&self, path: &Path) -> std::io::Result<usize> {
        self.save_output(path)
    }

    fn image(&self) -> Option<&[u8]> {
        None
    }

    fn device_facts(&self) -> Option<DeviceFacts> {
        Some(self.facts().clone())
    }

    fn device_warnings(&self, bootloader_chip: Option<&str>, header_flash_size: Option<u32>) -> Vec<String> {
        let mut w = Vec::new();
        let facts = self.facts();
        if let Some(size) = header_flash_size.filter(|&s| s != facts.flash_size) {
            w.push(format!(
                "the bootloader header says the flash is {} but the device has {}: set it with -f {}",
                mb(size),
                mb(facts.flash_size),
                mb(facts.flash_size).trim_end_matches('B')
            ));
        }
        if let Some(c) = bootloader_chip.filter(|&c| c != facts.chip) {
            w.push(format!(
                "the bootloader is built for {c} but the device is an {}: flash a firmware for {} with --flash",
                facts.chip, facts.chip
            ));
        }
        w
    }
}

/// The chip of an image header, by name, for the warnings above.
pub fn chip_name(id: u16) -> Option<&'static str> {
    Chip::by_image_id(id).map(|c| c.name)
}
