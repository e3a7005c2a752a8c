//! A MicroPython firmware opened over a [`Flash`]: its chip, bootloader header
//! and partition table, read once and kept for the operations that follow.

use crate::flash::{FileBytes, FileFlash, Flash, FlashKind};
use crate::format::app_desc::AppDesc;
use crate::format::chip::Chip;
use crate::format::image::{ImageHeader, HEADER_LEN, IMAGE_MAGIC};
use crate::format::partition::{Partition, PartitionTable, TABLE_OFFSET, TABLE_SIZE, TYPE_DATA, SUBTYPE_FAT};

use super::OpError;

/// Largest flash an image header can describe (128 MB): a file may grow up to it.
pub const MAX_FLASH: u32 = 128 << 20;

/// A firmware (bootloader + table + apps + data) on a flash backend.
pub struct Firmware<F: Flash> {
    pub flash: F,
    pub chip: &'static Chip,
    /// The bootloader's image header as read from flash.
    pub header: ImageHeader,
    pub table: PartitionTable,
    /// Problems with the table that do not stop reading it (shown as warnings).
    pub table_warnings: Vec<String>,
}

/// What a file turned out to hold.
pub enum Opened {
    Firmware(Firmware<FileFlash>),
    /// An app image on its own (`.app-bin`): no bootloader, no table.
    App(FileBytes),
}

/// Open a firmware or app image from the bytes of a file.
pub fn open_bytes(bytes: impl Into<FileBytes>) -> Result<Opened, OpError> {
    let bytes = bytes.into();
    let data = bytes.as_slice();
    if data.is_empty() {
        return Err(OpError::Empty);
    }
    if data.len() < HEADER_LEN {
        return Err(OpError::TooShort { len: data.len() });
    }
    if data[0] != IMAGE_MAGIC {
        return Err(not_an_image(data));
    }
    let header = ImageHeader::parse(data)?;
    let chip = header.chip().ok_or(OpError::UnknownChip { id: header.chip_id })?;
    if AppDesc::parse(data).is_some() {
        return Ok(Opened::App(bytes));
    }
    let start = chip.bootloader_offset;
    let end = start as u64 + data.len() as u64;
    if end < u64::from(TABLE_OFFSET) + TABLE_SIZE as u64 {
        return Err(OpError::EndsBeforeTable { chip: chip.name, file_end: end as u32 });
    }
    let flash = FileFlash::new(bytes, start, MAX_FLASH);
    Ok(Opened::Firmware(Firmware::open(flash, chip)?))
}

/// Explain a file that does not start with an image header.
fn not_an_image(data: &[u8]) -> OpError {
    if data.iter().all(|&b| b == 0xFF) {
        return OpError::Erased;
    }
    // A dump of flash from offset 0 of an esp32/esp32s2 has the bootloader at 0x1000.
    for off in [0x1000usize, 0x2000] {
        if data.get(off) == Some(&IMAGE_MAGIC) {
            return OpError::WrongStart { found_at: off as u32 };
        }
    }
    OpError::NotAnImage { first: data[..4].iter().map(|b| format!("{b:02x}")).collect() }
}

impl<F: Flash> Firmware<F> {
    /// Read the bootloader header and table of a firmware on `flash`, for `chip`.
    pub fn open(mut flash: F, chip: &'static Chip) -> Result<Self, OpError> {
        let start = chip.bootloader_offset;
        let head = flash.read_vec(start, HEADER_LEN as u32)?;
        if head.iter().all(|&b| b == 0xFF) {
            return Err(OpError::NoBootloader { offset: start });
        }
        let header = ImageHeader::parse(&head)?;
        // Most tables (up to six entries) fit in their first 256 bytes: on a
        // device that is all that goes over the wire.
        let head = flash.read_vec(TABLE_OFFSET, 0x100)?;
        let table = match PartitionTable::parse(&head) {
            Ok(t) => t,
            Err(_) => PartitionTable::parse(&flash.read_vec(TABLE_OFFSET, TABLE_SIZE as u32)?)?,
        };
        let flash_size = header.flash_size().unwrap_or(MAX_FLASH);
        let table_warnings = match table.check(flash_size) {
            Ok(w) => w,
            Err(e) => vec![e.to_string()],
        };
        Ok(Self { flash, chip, header, table, table_warnings })
    }

    pub fn bootloader_offset(&self) -> u32 {
        self.chip.bootloader_offset
    }

    /// Flash size from the bootloader header (bytes).
    pub fn flash_size(&self) -> u32 {
        self.header.flash_size().unwrap_or(MAX_FLASH)
    }

    pub fn is_file(&self) -> bool {
        self.flash.kind() == FlashKind::File
    }

    /// Whether the table has the data partition MicroPython mounts (`vfs`, or
    /// TinyUF2 builds' `ffat`).
    pub fn has_vfs(&self) -> bool {
        has_vfs(&self.table)
    }

    /// The implicit `vfs` MicroPython ≥ v1.26 creates at boot when the table
    /// has no `vfs` or `ffat` data partition: from the end of the table to the
    /// end of flash. `micropython_implicit_vfs` says whether the app does that.
    pub fn implicit_vfs(&self, micropython_implicit_vfs: bool, flash_size: u32) -> Option<Partition> {
        implicit_vfs(&self.table, micropython_implicit_vfs, flash_size)
    }
}

/// Whether `table` has the data partition MicroPython mounts (`vfs`, or
/// TinyUF2 builds' `ffat`).
pub fn has_vfs(table: &PartitionTable) -> bool {
    table.entries.iter().any(|p| p.ptype == TYPE_DATA && matches!(p.name().as_str(), "vfs" | "ffat"))
}

/// The implicit `vfs` of MicroPython ≥ v1.26 with `table` on `flash_size`
/// bytes of flash (see [`Firmware::implicit_vfs`]).
pub fn implicit_vfs(table: &PartitionTable, micropython_implicit_vfs: bool, flash_size: u32) -> Option<Partition> {
    let end = table.end();
    (micropython_implicit_vfs && !has_vfs(table) && end < flash_size)
        .then(|| Partition::new("vfs", TYPE_DATA, SUBTYPE_FAT, end, flash_size - end, 0))
}
