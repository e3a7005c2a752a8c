//! Telling an app image from the other files that start with the same ESP
//! image header: a bootloader image, or a whole firmware (a bootloader
//! followed by a partition table and the app, as MicroPython's `.bin`
//! releases are). All three walk as valid images, since a whole firmware's
//! header is its bootloader's; only an app has the app descriptor
//! `esp_app_desc_t` (magic 0xABCD5432) at image offset 0x20, which ESP-IDF's
//! bootloader requires of every app it loads (`esp_app_format.h`; IDF 4.x
//! apps, such as MicroPython v1.17, have it too).

use std::fmt;

use serde::Serialize;

use crate::format::app_desc::{AppDesc, APP_DESC_LEN, APP_DESC_MAGIC, APP_DESC_OFFSET};
use crate::format::bootloader_desc::BootloaderDesc;
use crate::format::image::parse_image_layout;
use crate::format::partition::TABLE_OFFSET;

/// The longest a bootloader image can be: the room below the partition table
/// on the chips whose bootloader is at flash 0x0 (0x8000 bytes).
pub const BOOTLOADER_MAX_LEN: usize = TABLE_OFFSET as usize;

/// The bootloader offsets of the chips (0x0, 0x1000, 0x2000): a whole
/// firmware file starts at one of them, so its table is at 0x8000 minus it.
const BOOTLOADER_OFFSETS: [u32; 3] = [0x0, 0x1000, 0x2000];

/// What an image that is not an app is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NotApp {
    /// A bootloader, then a partition table where a firmware file has it.
    WholeFirmware,
    /// A bootloader image: its descriptor (IDF >= 5.2), or no app descriptor
    /// and short enough to sit below the partition table.
    Bootloader,
    /// Some other image without an app descriptor.
    NoAppDesc,
}

impl fmt::Display for NotApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotApp::WholeFirmware => f.write_str("a whole firmware image (bootloader at 0x0 followed by a table)"),
            NotApp::Bootloader => f.write_str("a bootloader image"),
            NotApp::NoAppDesc => write!(
                f,
                "an image without an app descriptor (no magic {APP_DESC_MAGIC:#010x} at offset {APP_DESC_OFFSET:#x})"
            ),
        }
    }
}

/// Why `data` (an image's bytes from its header on, and whatever follows it)
/// is not an app image; None for an app (one with an app descriptor).
///
/// A whole firmware is recognised only when `data` reaches its table (at
/// most 0x8002 bytes are looked at); given only the bootloader's bytes, it
/// reads as [`NotApp::Bootloader`].
pub fn not_an_app(data: &[u8]) -> Option<NotApp> {
    let len = parse_image_layout(data).ok().map(|i| i.total_len);
    classify(data, len, &mut |at| data.get(at..at + 2) == Some(&[0xAA, 0x50][..]))
}

/// [`not_an_app`] for an image not read whole: `head` is its first
/// [`HEAD_LEN`] bytes (or more), `image_len` its length as its headers say,
/// and `table_at(n)` tells whether the two bytes at image offset `n` are a
/// partition table entry's magic (`AA 50`).
pub fn classify(head: &[u8], image_len: Option<usize>, table_at: &mut dyn FnMut(usize) -> bool) -> Option<NotApp> {
    if AppDesc::parse(head).is_some() {
        return None;
    }
    if BOOTLOADER_OFFSETS.into_iter().any(|bl| table_at((TABLE_OFFSET - bl) as usize)) {
        return Some(NotApp::WholeFirmware);
    }
    if BootloaderDesc::parse(head).is_some() || image_len.is_some_and(|n| n <= BOOTLOADER_MAX_LEN) {
        return Some(NotApp::Bootloader);
    }
    Some(NotApp::NoAppDesc)
}

/// How many bytes of an image [`classify`] needs as its head: the header,
/// the first segment's header and an app descriptor.
pub const HEAD_LEN: usize = APP_DESC_OFFSET + APP_DESC_LEN;

/// How many bytes from an image's start [`not_an_app`] needs to see a whole
/// firmware's table at any bootloader offset.
pub const NOT_AN_APP_LOOKS_AT: usize = TABLE_OFFSET as usize + 2;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::image::testimg::{build, header};

    fn app() -> Vec<u8> {
        let mut desc = vec![0u8; 256];
        desc[..4].copy_from_slice(&APP_DESC_MAGIC.to_le_bytes());
        build(&header(0, 2), &[(0x3F40_0020, desc), (0x400D_0020, vec![0x42; 0x9000])])
    }

    fn bootloader(with_desc: bool) -> Vec<u8> {
        let mut seg0 = vec![0x11u8; 0x100];
        if with_desc {
            seg0[..4].copy_from_slice(&[0x50, 0, 0, 0]);
        }
        build(&header(0, 2), &[(0x3FFF_0030, seg0), (0x4007_8000, vec![0x22; 0x4000])])
    }

    #[test]
    fn an_app_is_an_app_and_the_others_say_what_they_are() {
        assert_eq!(not_an_app(&app()), None);
        assert_eq!(not_an_app(&bootloader(true)), Some(NotApp::Bootloader));
        assert_eq!(not_an_app(&bootloader(false)), Some(NotApp::Bootloader));
        // A long image without descriptor is no bootloader either.
        let mut long = app();
        long[APP_DESC_OFFSET] = 0;
        assert_eq!(not_an_app(&long), Some(NotApp::NoAppDesc));
        for bl in BOOTLOADER_OFFSETS {
            let mut whole = bootloader(false);
            whole.resize((TABLE_OFFSET - bl) as usize, 0xFF);
            whole.extend_from_slice(&[0xAA, 0x50, 0, 0]);
            assert_eq!(not_an_app(&whole), Some(NotApp::WholeFirmware), "bootloader at {bl:#x}");
            // Cut before the table, it is the bootloader alone.
            assert_eq!(not_an_app(&whole[..(TABLE_OFFSET - bl) as usize + 1]), Some(NotApp::Bootloader));
        }
    }

    #[test]
    fn what_each_looks_like_in_words() {
        assert_eq!(NotApp::WholeFirmware.to_string(), "a whole firmware image (bootloader at 0x0 followed by a table)");
        assert_eq!(NotApp::Bootloader.to_string(), "a bootloader image");
        assert_eq!(
            NotApp::NoAppDesc.to_string(),
            "an image without an app descriptor (no magic 0xabcd5432 at offset 0x20)"
        );
    }
}
