//! Helpers of the device tests: an esp-sim device on a pty holding a real
//! firmware image, and the flash file it keeps, to compare with what the same
//! operation does to a firmware file.

use std::path::{Path, PathBuf};

use esp_sim::{Chip, Fault, SimConfig, Simulator};

/// A simulated device and the directory holding its flash file.
pub struct Dev {
    pub sim: Simulator,
    pub dir: tempfile::TempDir,
    pub flash: PathBuf,
    pub flash_size: u32,
}

impl Dev {
    pub fn port(&self) -> String {
        self.sim.pty_path().display().to_string()
    }

    /// The device's whole flash as it is now.
    pub fn bytes(&self) -> Vec<u8> {
        std::fs::read(&self.flash).unwrap()
    }
}

pub fn sim_chip(name: &str) -> Chip {
    match name {
        "esp32" => Chip::Esp32,
        "esp32s2" => Chip::Esp32s2,
        "esp32s3" => Chip::Esp32s3,
        "esp32c3" => Chip::Esp32c3,
        other => panic!("no simulated chip {other}"),
    }
}

/// Bootloader offset of a chip (where a firmware file starts in flash).
pub fn bootloader_offset(chip: &str) -> u32 {
    if matches!(chip, "esp32" | "esp32s2") {
        0x1000
    } else {
        0
    }
}

/// Start a device of `chip` with `flash_size`, holding `image` at its
/// bootloader offset (or erased), with `faults`.
pub fn start(chip: &str, flash_size: u32, image: Option<&Path>, faults: Vec<Fault>) -> Dev {
    start_over(chip, flash_size, None, image, faults)
}

/// Like [`start`], with the flash holding `initial` (whole flash) before the image is loaded.
pub fn start_over(
    chip: &str,
    flash_size: u32,
    initial: Option<&[u8]>,
    image: Option<&Path>,
    faults: Vec<Fault>,
) -> Dev {
    start_with(chip, flash_size, initial, image, faults, |_| {})
}

/// Like [`start_over`], with more settings (`set` changes the configuration: a MAC, tracing).
pub fn start_with(
    chip: &str,
    flash_size: u32,
    initial: Option<&[u8]>,
    image: Option<&Path>,
    faults: Vec<Fault>,
    set: impl FnOnce(&mut SimConfig),
) -> Dev {
    let dir = tempfile::tempdir().unwrap();
    let flash = dir.path().join("flash.bin");
    if let Some(b) = initial {
        std::fs::write(&flash, b).unwrap();
    }
    let mut cfg = SimConfig::new(sim_chip(chip), flash_size, &flash);
    if let Some(img) = image {
        cfg.image = Some(img.to_path_buf());
        cfg.image_offset = bootloader_offset(chip);
    }
    cfg.faults = faults;
    set(&mut cfg);
    let sim = Simulator::start(cfg).unwrap();
    Dev { sim, dir, flash, flash_size }
}

/// A whole flash image: `file` placed at `offset` in erased flash of `size`.
pub fn flash_image(file: &[u8], offset: u32, size: u32) -> Vec<u8> {
    let mut v = vec![0xFFu8; size as usize];
    v[offset as usize..offset as usize + file.len()].copy_from_slice(file);
    v
}

/// The first index where two flash images differ, for readable failures.
pub fn first_diff(a: &[u8], b: &[u8]) -> Option<usize> {
    a.iter().zip(b).position(|(x, y)| x != y).or((a.len() != b.len()).then(|| a.len().min(b.len())))
}

#[track_caller]
pub fn assert_same_flash(got: &[u8], want: &[u8]) {
    if let Some(at) = first_diff(got, want) {
        panic!(
            "device flash differs from the expected image first at {at:#x} (got {:02x?}, want {:02x?})",
            &got[at..(at + 8).min(got.len())],
            &want[at..(at + 8).min(want.len())]
        );
    }
}

/// Foreign flash contents: a pattern that is neither erased nor an image.
pub fn foreign(size: u32) -> Vec<u8> {
    (0..size).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8 | 1).collect()
}

/// Restart a device on the same flash file (as a board keeps its flash).
pub fn restart(d: Dev, chip: &str, faults: Vec<Fault>) -> Dev {
    restart_with(d, chip, faults, |_| {})
}

/// Like [`restart`], with more settings (see [`start_with`]).
pub fn restart_with(d: Dev, chip: &str, faults: Vec<Fault>, set: impl FnOnce(&mut SimConfig)) -> Dev {
    let Dev { sim, dir, flash, flash_size } = d;
    drop(sim);
    let mut cfg = SimConfig::new(sim_chip(chip), flash_size, &flash);
    cfg.faults = faults;
    set(&mut cfg);
    let sim = Simulator::start(cfg).unwrap();
    Dev { sim, dir, flash, flash_size }
}
