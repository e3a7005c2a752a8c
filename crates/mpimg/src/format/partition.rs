//! The ESP-IDF partition table: binary form, type and subtype names, and the
//! consistency rules a table must meet.
//!
//! Binary form (one 4 KB sector at flash 0x8000): 32-byte entries `AA 50`,
//! type, subtype, offset u32, size u32, `label[16]`, flags u32; then an optional
//! MD5 entry (`EB EB`, 14 × 0xFF, MD5 of all preceding entry bytes); then 0xFF.

use md5::{Digest, Md5};
use serde::Serialize;
use thiserror::Error;

/// Flash offset of the partition table.
pub const TABLE_OFFSET: u32 = 0x8000;
/// Size of the partition table sector.
pub const TABLE_SIZE: usize = 0x1000;
/// Size of one table entry.
pub const ENTRY_LEN: usize = 32;
/// First flash offset a partition may use (after the table sector).
pub const FIRST_PART_OFFSET: u32 = 0x9000;
/// Where the first app partition is expected.
pub const APP_PART_OFFSET: u32 = 0x10000;
/// App partitions must start on a 64 KB boundary (the MMU page size).
pub const APP_ALIGN: u32 = 0x10000;
/// Other partitions must start and end on 4 KB sector boundaries.
pub const DATA_ALIGN: u32 = 0x1000;
/// Longest usable label: 16 bytes on flash, NUL-terminated by ESP-IDF's tools.
pub const NAME_MAX: usize = 15;
/// Size of the `otadata` partition (two sectors).
pub const OTADATA_SIZE: u32 = 0x2000;

const ENTRY_MAGIC: [u8; 2] = [0xAA, 0x50];
const MD5_MAGIC: [u8; 2] = [0xEB, 0xEB];

/// Partition type: an app.
pub const TYPE_APP: u8 = 0x00;
/// Partition type: data (nvs, otadata, filesystems, ...).
pub const TYPE_DATA: u8 = 0x01;
/// Partition type: a bootloader (ESP-IDF ≥ 5.3 tables).
pub const TYPE_BOOTLOADER: u8 = 0x02;
/// Partition type: a partition table (ESP-IDF ≥ 5.3 tables).
pub const TYPE_PARTITION_TABLE: u8 = 0x03;

/// Flag: the partition is encrypted.
pub const FLAG_ENCRYPTED: u32 = 1 << 0;
/// Flag: the partition is read-only.
pub const FLAG_READONLY: u32 = 1 << 1;

/// Data subtype: FAT (MicroPython's `vfs` is of this subtype, whatever filesystem it holds).
pub const SUBTYPE_FAT: u8 = 0x81;
/// Data subtype: SPIFFS.
pub const SUBTYPE_SPIFFS: u8 = 0x82;
/// Data subtype: littlefs.
pub const SUBTYPE_LITTLEFS: u8 = 0x83;
/// Data subtype: otadata.
pub const SUBTYPE_OTA: u8 = 0x00;
/// Data subtype: NVS (ESP-IDF's key-value store).
pub const SUBTYPE_NVS: u8 = 0x02;

const TYPE_NAMES: &[(u8, &str)] = &[
    (TYPE_APP, "app"),
    (TYPE_DATA, "data"),
    (TYPE_BOOTLOADER, "bootloader"),
    (TYPE_PARTITION_TABLE, "partition_table"),
];

/// Named subtypes by type. App `ota_0..ota_15` are computed (0x10 + n).
const SUBTYPE_NAMES: &[(u8, u8, &str)] = &[
    (TYPE_APP, 0x00, "factory"),
    (TYPE_APP, 0x20, "test"),
    (TYPE_DATA, 0x00, "ota"),
    (TYPE_DATA, 0x01, "phy"),
    (TYPE_DATA, 0x02, "nvs"),
    (TYPE_DATA, 0x03, "coredump"),
    (TYPE_DATA, 0x04, "nvs_keys"),
    (TYPE_DATA, 0x05, "efuse"),
    (TYPE_DATA, 0x06, "undefined"),
    (TYPE_DATA, 0x80, "esphttpd"),
    (TYPE_DATA, SUBTYPE_FAT, "fat"),
    (TYPE_DATA, SUBTYPE_SPIFFS, "spiffs"),
    (TYPE_DATA, SUBTYPE_LITTLEFS, "littlefs"),
    (TYPE_DATA, 0x8F, "romfs"),
    (TYPE_BOOTLOADER, 0x00, "primary"),
    (TYPE_BOOTLOADER, 0x01, "ota"),
    (TYPE_BOOTLOADER, 0x02, "recovery"),
    (TYPE_PARTITION_TABLE, 0x00, "primary"),
    (TYPE_PARTITION_TABLE, 0x01, "ota"),
];

/// The name of a partition type, or its number.
pub fn type_name(ptype: u8) -> String {
    TYPE_NAMES.iter().find(|(t, _)| *t == ptype).map(|(_, n)| n.to_string()).unwrap_or_else(|| format!("{ptype:#04x}"))
}

/// The partition type for a name (`app`, `data`, ...) or number.
pub fn type_from_name(name: &str) -> Option<u8> {
    let n = name.trim().to_ascii_lowercase();
    TYPE_NAMES
        .iter()
        .find(|(_, tn)| *tn == n)
        .map(|(t, _)| *t)
        .or_else(|| crate::format::size::parse_int(&n).and_then(|v| u8::try_from(v).ok()))
}

/// The name of a subtype of `ptype`, or its number.
pub fn subtype_name(ptype: u8, subtype: u8) -> String {
    if ptype == TYPE_APP && (0x10..0x20).contains(&subtype) {
        return format!("ota_{}", subtype - 0x10);
    }
    SUBTYPE_NAMES
        .iter()
        .find(|(t, s, _)| *t == ptype && *s == subtype)
        .map(|(_, _, n)| n.to_string())
        .unwrap_or_else(|| format!("{subtype:#04x}"))
}

/// A subtype of `ptype` by name or number.
pub fn subtype_in_type(ptype: u8, name: &str) -> Option<u8> {
    let n = name.trim().to_ascii_lowercase();
    if ptype == TYPE_APP {
        if let Some(k) = n.strip_prefix("ota_").and_then(|k| k.parse::<u8>().ok()) {
            return (k < 16).then_some(0x10 + k);
        }
    }
    SUBTYPE_NAMES
        .iter()
        .find(|(t, _, sn)| *t == ptype && *sn == n)
        .map(|(_, s, _)| *s)
        .or_else(|| crate::format::size::parse_int(&n).and_then(|v| u8::try_from(v).ok()))
}

/// The (type, subtype) for an app or data subtype name alone, as
/// `--add NAME:SUBTYPE` and `--table NAME=SUBTYPE` name them (the app and data
/// subtype names do not collide, except data `ota` vs app `ota_N`).
pub fn type_and_subtype(name: &str) -> Option<(u8, u8)> {
    let n = name.trim().to_ascii_lowercase();
    [TYPE_APP, TYPE_DATA].iter().find_map(|&t| subtype_in_type(t, &n).filter(|_| parse_is_named(t, &n)).map(|s| (t, s)))
}

fn parse_is_named(ptype: u8, name: &str) -> bool {
    // Numbers alone do not say whether app or data is meant.
    crate::format::size::parse_int(name).is_none() && subtype_in_type(ptype, name).is_some()
}

/// One entry of the partition table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    /// Its type ([`TYPE_APP`], [`TYPE_DATA`], ...).
    pub ptype: u8,
    /// Its subtype within the type.
    pub subtype: u8,
    /// Its flash offset.
    pub offset: u32,
    /// Its size in bytes.
    pub size: u32,
    /// The 16 label bytes as stored (kept so an unchanged entry round-trips exactly).
    pub label: [u8; 16],
    /// Its flags ([`FLAG_ENCRYPTED`], [`FLAG_READONLY`]).
    pub flags: u32,
}

impl Partition {
    /// A new entry; `name` must already be checked with [`check_name`].
    pub fn new(name: &str, ptype: u8, subtype: u8, offset: u32, size: u32, flags: u32) -> Self {
        Self { ptype, subtype, offset, size, label: label_bytes(name), flags }
    }

    /// The label up to its first NUL, as ESP-IDF compares it.
    pub fn name(&self) -> String {
        let end = self.label.iter().position(|&b| b == 0).unwrap_or(self.label.len());
        String::from_utf8_lossy(&self.label[..end]).into_owned()
    }

    /// Set the label; `name` must already be checked with [`check_name`].
    pub fn set_name(&mut self, name: &str) {
        self.label = label_bytes(name);
    }

    /// The flash offset one past its last byte.
    pub fn end(&self) -> u32 {
        self.offset.saturating_add(self.size)
    }

    /// Its type's name (`app`, `data`) or number.
    pub fn type_name(&self) -> String {
        type_name(self.ptype)
    }

    /// Its subtype's name (`factory`, `ota_0`, `fat`) or number.
    pub fn subtype_name(&self) -> String {
        subtype_name(self.ptype, self.subtype)
    }

    /// Whether it is an app partition.
    pub fn is_app(&self) -> bool {
        self.ptype == TYPE_APP
    }

    /// An `ota_N` app partition: returns N.
    pub fn ota_index(&self) -> Option<usize> {
        (self.ptype == TYPE_APP && (0x10..0x20).contains(&self.subtype)).then(|| (self.subtype - 0x10) as usize)
    }

    /// A data partition whose subtype holds a filesystem (fat, spiffs, littlefs).
    pub fn is_filesystem(&self) -> bool {
        self.ptype == TYPE_DATA && matches!(self.subtype, SUBTYPE_FAT | SUBTYPE_SPIFFS | SUBTYPE_LITTLEFS)
    }

    /// Flag names (`encrypted`, `readonly`) and any unknown bits as a number.
    pub fn flag_names(&self) -> Vec<String> {
        let mut v = Vec::new();
        if self.flags & FLAG_ENCRYPTED != 0 {
            v.push("encrypted".to_string());
        }
        if self.flags & FLAG_READONLY != 0 {
            v.push("readonly".to_string());
        }
        let rest = self.flags & !(FLAG_ENCRYPTED | FLAG_READONLY);
        if rest != 0 {
            v.push(format!("{rest:#x}"));
        }
        v
    }

    fn to_bytes(&self) -> [u8; ENTRY_LEN] {
        let mut b = [0u8; ENTRY_LEN];
        b[0..2].copy_from_slice(&ENTRY_MAGIC);
        b[2] = self.ptype;
        b[3] = self.subtype;
        b[4..8].copy_from_slice(&self.offset.to_le_bytes());
        b[8..12].copy_from_slice(&self.size.to_le_bytes());
        b[12..28].copy_from_slice(&self.label);
        b[28..32].copy_from_slice(&self.flags.to_le_bytes());
        b
    }

    fn from_bytes(b: &[u8]) -> Self {
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let mut label = [0u8; 16];
        label.copy_from_slice(&b[12..28]);
        Self { ptype: b[2], subtype: b[3], offset: u32_at(4), size: u32_at(8), label, flags: u32_at(28) }
    }
}

fn label_bytes(name: &str) -> [u8; 16] {
    let mut label = [0u8; 16];
    let n = name.len().min(16);
    label[..n].copy_from_slice(&name.as_bytes()[..n]);
    label
}

/// Check a partition name: 1..=15 bytes, no NUL, no `,` `:` `=` (the option syntax's delimiters).
pub fn check_name(name: &str) -> Result<(), TableError> {
    if name.is_empty() || name.len() > NAME_MAX || name.contains(['\0', ',', ':', '=']) {
        return Err(TableError::BadName { name: name.to_string() });
    }
    Ok(())
}

/// Errors in a partition table, read or built.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum TableError {
    /// The table sector holds no entry.
    #[error("no partition table at flash {TABLE_OFFSET:#x}: the sector holds no partition entry (is this a MicroPython firmware file or an app image?)")]
    Missing,
    /// The data ends inside the table sector.
    #[error("the partition table is cut short at byte {at:#x} of its sector: the file is truncated; get a complete firmware file")]
    Truncated {
        /// Where the data ends, from the start of the sector.
        at: usize,
    },
    /// The MD5 entry does not match the entries.
    #[error("partition table MD5 mismatch: stored {stored}, computed {computed}; the table is corrupt")]
    Md5Mismatch {
        /// The MD5 stored, in hex.
        stored: String,
        /// The MD5 of the entries, in hex.
        computed: String,
    },
    /// Garbage after the last entry where 0xFF should be.
    #[error(
        "the partition table does not end with an empty (0xFF) entry after entry {count}; the table sector is corrupt"
    )]
    NoEnd {
        /// Entries read before it.
        count: usize,
    },
    /// More entries than the sector holds.
    #[error("partition table full: at most {max} entries fit in the 4 KB table sector")]
    TooManyEntries {
        /// How many fit.
        max: usize,
    },
    /// A label that cannot be a partition name.
    #[error("invalid partition name '{name}': use 1 to 15 bytes, without ',', ':' or '='")]
    BadName {
        /// The name.
        name: String,
    },
    /// Two partitions with one name.
    #[error("partition '{name}' appears twice in the table: names must be unique")]
    Duplicate {
        /// The name.
        name: String,
    },
    /// Two partitions that overlap.
    #[error("partition '{name}' ({offset:#x}..{end:#x}) overlaps '{prev}' which ends at {prev_end:#x}")]
    Overlap {
        /// The later partition.
        name: String,
        /// Its flash offset.
        offset: u32,
        /// Where it ends.
        end: u32,
        /// The partition it overlaps.
        prev: String,
        /// Where that one ends.
        prev_end: u32,
    },
    /// A partition inside the bootloader and table area.
    #[error("partition '{name}' starts at {offset:#x}, inside the bootloader and partition table area: partitions start at {FIRST_PART_OFFSET:#x} or later")]
    BeforeFirst {
        /// The partition.
        name: String,
        /// Its flash offset.
        offset: u32,
    },
    /// A partition that does not start on its boundary (64 KB for apps, 4 KB for data).
    #[error("partition '{name}': offset {offset:#x} is not a multiple of {align:#x}{hint}")]
    Misaligned {
        /// The partition.
        name: String,
        /// Its flash offset.
        offset: u32,
        /// The boundary, in bytes.
        align: u32,
        /// What to do (the next boundary), or empty.
        hint: String,
    },
    /// A size that is not a whole number of 4 KB blocks.
    #[error("partition '{name}': size {size:#x} is not a multiple of 0x1000 (4 KB blocks)")]
    BadSize {
        /// The partition.
        name: String,
        /// Its size in bytes.
        size: u32,
    },
    /// A partition of size 0.
    #[error("partition '{name}' has size 0")]
    Empty {
        /// The partition.
        name: String,
    },
    /// A partition that ends past the end of the flash.
    #[error("partition '{name}' ends at {end:#x}, past the end of the {flash_mb} MB flash ({flash_size:#x})")]
    PastFlashEnd {
        /// The partition.
        name: String,
        /// Where it ends.
        end: u32,
        /// The flash size in bytes.
        flash_size: u32,
        /// The flash size in MB.
        flash_mb: u32,
    },
    /// No app partition at all.
    #[error("no app partition in the table: MicroPython needs a factory or ota_0 app partition")]
    NoApp,
}

/// A parsed partition table, entries sorted by offset.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PartitionTable {
    /// The entries, sorted by offset.
    pub entries: Vec<Partition>,
    /// Whether the table as read carried an MD5 entry (tables we write always do).
    pub had_md5: bool,
}

impl PartitionTable {
    /// Parse the table sector (at least the entries, their MD5 entry and the end marker).
    pub fn parse(data: &[u8]) -> Result<Self, TableError> {
        let mut entries = Vec::new();
        let mut at = 0;
        loop {
            let Some(e) = data.get(at..at + ENTRY_LEN) else {
                return Err(if entries.is_empty() && data.len() < 2 {
                    TableError::Missing
                } else {
                    TableError::Truncated { at: data.len() }
                });
            };
            if e[0..2] != ENTRY_MAGIC {
                break;
            }
            entries.push(Partition::from_bytes(e));
            at += ENTRY_LEN;
        }
        if entries.is_empty() {
            return Err(TableError::Missing);
        }
        let count = entries.len();
        let mut had_md5 = false;
        let next = &data[at..at + ENTRY_LEN];
        if next[0..2] == MD5_MAGIC {
            let computed: [u8; 16] = Md5::digest(&data[..at]).into();
            if next[16..32] != computed {
                return Err(TableError::Md5Mismatch { stored: hex(&next[16..32]), computed: hex(&computed) });
            }
            had_md5 = true;
            at += ENTRY_LEN;
        }
        match data.get(at..at + ENTRY_LEN) {
            None => return Err(TableError::Truncated { at: data.len() }),
            Some(e) if e.iter().any(|&b| b != 0xFF) => return Err(TableError::NoEnd { count }),
            Some(_) => {}
        }
        // Sorted by offset, as mp-image-tool-esp32 keeps (and writes) them.
        entries.sort_by_key(|p| p.offset);
        Ok(Self { entries, had_md5 })
    }

    /// The 4 KB table sector: entries, MD5 entry, 0xFF fill.
    pub fn to_bytes(&self) -> Result<Vec<u8>, TableError> {
        let max = TABLE_SIZE / ENTRY_LEN - 2;
        if self.entries.len() > max {
            return Err(TableError::TooManyEntries { max });
        }
        let mut out: Vec<u8> = self.entries.iter().flat_map(|p| p.to_bytes()).collect();
        let md5: [u8; 16] = Md5::digest(&out).into();
        out.extend_from_slice(&MD5_MAGIC);
        out.extend_from_slice(&[0xFF; 14]);
        out.extend_from_slice(&md5);
        out.resize(TABLE_SIZE, 0xFF);
        Ok(out)
    }

    /// The partition labelled `name`.
    pub fn find(&self, name: &str) -> Option<&Partition> {
        self.entries.iter().find(|p| p.name() == name)
    }

    /// The index in [`PartitionTable::entries`] of the partition labelled `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.entries.iter().position(|p| p.name() == name)
    }

    /// The first app partition by offset (where the bootloader looks first).
    pub fn first_app(&self) -> Option<&Partition> {
        self.entries.iter().find(|p| p.is_app())
    }

    /// Where the last partition ends (or [`FIRST_PART_OFFSET`] for an empty table).
    pub fn end(&self) -> u32 {
        self.entries.iter().map(Partition::end).max().unwrap_or(FIRST_PART_OFFSET).max(FIRST_PART_OFFSET)
    }

    /// Sort the entries by offset.
    pub fn sort(&mut self) {
        self.entries.sort_by_key(|p| p.offset);
    }

    /// Check the table against the rules ESP-IDF's bootloader and tools enforce,
    /// for a flash of `flash_size` bytes. Returns warnings for what is legal but odd.
    pub fn check(&self, flash_size: u32) -> Result<Vec<String>, TableError> {
        let mut warnings = Vec::new();
        let mut names: Vec<String> = Vec::new();
        let mut prev: Option<&Partition> = None;
        for p in &self.entries {
            let name = p.name();
            check_name(&name)?;
            if names.contains(&name) {
                return Err(TableError::Duplicate { name });
            }
            names.push(name.clone());
            if p.offset < FIRST_PART_OFFSET {
                return Err(TableError::BeforeFirst { name, offset: p.offset });
            }
            if let Some(q) = prev {
                if p.offset < q.end() {
                    return Err(TableError::Overlap {
                        name,
                        offset: p.offset,
                        end: p.end(),
                        prev: q.name(),
                        prev_end: q.end(),
                    });
                }
            }
            let free_from = prev.map_or(FIRST_PART_OFFSET, Partition::end);
            if p.offset > free_from {
                warnings.push(format!(
                    "{:#x} bytes free before '{name}' ({free_from:#x}..{:#x})",
                    p.offset - free_from,
                    p.offset
                ));
            }
            if p.is_app() && p.offset % APP_ALIGN != 0 {
                let next = match p.offset.checked_next_multiple_of(APP_ALIGN) {
                    Some(n) => format!(" (next one: {n:#x})"),
                    None => String::new(),
                };
                let hint = format!(": app partitions start on 64 KB boundaries{next}");
                return Err(TableError::Misaligned { name, offset: p.offset, align: APP_ALIGN, hint });
            }
            if p.offset % DATA_ALIGN != 0 {
                return Err(TableError::Misaligned { name, offset: p.offset, align: DATA_ALIGN, hint: String::new() });
            }
            if p.size == 0 {
                return Err(TableError::Empty { name });
            }
            if p.size % DATA_ALIGN != 0 {
                return Err(TableError::BadSize { name, size: p.size });
            }
            if u64::from(p.offset) + u64::from(p.size) > u64::from(flash_size) {
                return Err(TableError::PastFlashEnd { name, end: p.end(), flash_size, flash_mb: flash_size >> 20 });
            }
            prev = Some(p);
        }
        let app = self.first_app().ok_or(TableError::NoApp)?;
        if app.offset != APP_PART_OFFSET {
            warnings.push(format!(
                "first app partition '{}' is at {:#x}, not {APP_PART_OFFSET:#x}",
                app.name(),
                app.offset
            ));
        }
        Ok(warnings)
    }
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A partition table entry as reported (human table and JSON).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PartitionView {
    /// Its name.
    pub name: String,
    /// Its type's name (`app`, `data`) or number (`0x40`).
    #[serde(rename = "type")]
    pub type_name: String,
    /// Its subtype's name (`factory`, `fat`) or number.
    pub subtype: String,
    /// Its flash offset.
    pub offset: u32,
    /// Its size in bytes.
    pub size: u32,
    /// The flash offset one past its end.
    pub end: u32,
    /// Its flags (`encrypted`, `readonly`, or a number).
    pub flags: Vec<String>,
    /// Not in the table: MicroPython ≥ 1.26 creates it at boot.
    pub implicit: bool,
}

impl From<&Partition> for PartitionView {
    fn from(p: &Partition) -> Self {
        Self {
            name: p.name(),
            type_name: p.type_name(),
            subtype: p.subtype_name(),
            offset: p.offset,
            size: p.size,
            end: p.end(),
            flags: p.flag_names(),
            implicit: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generic() -> PartitionTable {
        PartitionTable {
            entries: vec![
                Partition::new("nvs", TYPE_DATA, 0x02, 0x9000, 0x6000, 0),
                Partition::new("phy_init", TYPE_DATA, 0x01, 0xf000, 0x1000, 0),
                Partition::new("factory", TYPE_APP, 0x00, 0x10000, 0x1f0000, 0),
                Partition::new("vfs", TYPE_DATA, 0x81, 0x200000, 0x200000, 0),
            ],
            had_md5: true,
        }
    }

    #[test]
    fn binary_round_trip_with_md5() {
        let t = generic();
        let bytes = t.to_bytes().unwrap();
        assert_eq!(bytes.len(), TABLE_SIZE);
        assert_eq!(&bytes[0..4], &[0xAA, 0x50, 0x01, 0x02]);
        assert_eq!(&bytes[4..12], &[0x00, 0x90, 0, 0, 0x00, 0x60, 0, 0]);
        assert_eq!(&bytes[12..16], b"nvs\0");
        assert_eq!(&bytes[128..130], &[0xEB, 0xEB]);
        let md5: [u8; 16] = Md5::digest(&bytes[..128]).into();
        assert_eq!(&bytes[144..160], &md5);
        assert!(bytes[160..].iter().all(|&b| b == 0xFF));
        assert_eq!(PartitionTable::parse(&bytes).unwrap(), t);
    }

    #[test]
    fn parse_errors() {
        let good = generic().to_bytes().unwrap();
        assert_eq!(PartitionTable::parse(&[0xFF; 4096]), Err(TableError::Missing));
        assert_eq!(PartitionTable::parse(&good[..100]), Err(TableError::Truncated { at: 100 }));
        let mut bad = good.clone();
        bad[40] ^= 1;
        assert!(matches!(PartitionTable::parse(&bad), Err(TableError::Md5Mismatch { .. })));
        let mut noend = good.clone();
        noend[170] = 0;
        assert_eq!(PartitionTable::parse(&noend), Err(TableError::NoEnd { count: 4 }));
    }

    /// Found by the `partition_table` fuzz target (minimised): an app entry
    /// at 0xffffffff made the misalignment hint's "next 64 KB boundary"
    /// overflow (a panic in debug builds, "next one: 0x0" in release).
    #[test]
    fn misaligned_app_near_4gb_has_no_next_boundary() {
        let mut sector = vec![0xFFu8; 0x60];
        sector[..0x20].copy_from_slice(&Partition::new("nvs", TYPE_DATA, 0x02, 0x9000, 0x4000, 0).to_bytes());
        sector[0x20..0x2C].copy_from_slice(&[0xAA, 0x50, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x30, 0x00]);
        sector[0x2C..0x40].copy_from_slice(&[
            0xAA, 0x50, 0x02, 0x01, 0, 0xF0, 0, 0, 0, 0x10, 0, 0, b'p', b'h', b'y', b'_', b'i', 0xFF, 0xFF, 0xFF,
        ]);
        let t = PartitionTable::parse(&sector).unwrap();
        assert_eq!((t.entries[1].offset, t.entries[1].size), (0xFFFF_FFFF, 0x30_FFFF));
        assert_eq!(
            t.check(4 << 20).unwrap_err().to_string(),
            "partition '\u{FFFD}P\u{2}\u{1}': offset 0xffffffff is not a multiple of 0x10000: app partitions start on 64 KB boundaries"
        );
        // Below the last boundary the hint still names the next one.
        let mut app = t.clone();
        app.entries[1].offset = 0xFFFE_0001;
        assert!(app.check(4 << 20).unwrap_err().to_string().ends_with("(next one: 0xffff0000)"));
    }

    #[test]
    fn names_of_types_and_subtypes() {
        assert_eq!(subtype_name(TYPE_APP, 0x1f), "ota_15");
        assert_eq!(subtype_name(TYPE_DATA, 0x8f), "romfs");
        assert_eq!(subtype_name(TYPE_DATA, 0x40), "0x40");
        assert_eq!(type_name(0x40), "0x40");
        assert_eq!(type_and_subtype("littlefs"), Some((TYPE_DATA, 0x83)));
        assert_eq!(type_and_subtype("ota_3"), Some((TYPE_APP, 0x13)));
        assert_eq!(type_and_subtype("ota"), Some((TYPE_DATA, 0x00)));
        assert_eq!(type_and_subtype("test"), Some((TYPE_APP, 0x20)));
        assert_eq!(type_and_subtype("ota_16"), None);
        assert_eq!(type_and_subtype("bogus"), None);
        assert_eq!(subtype_in_type(TYPE_DATA, "0x40"), Some(0x40));
        let mut p = Partition::new("x", TYPE_DATA, 0x81, 0, 0, FLAG_ENCRYPTED | FLAG_READONLY | 0x10);
        assert_eq!(p.flag_names(), vec!["encrypted", "readonly", "0x10"]);
        p.set_name("abcdefghijklmno");
        assert_eq!(p.name(), "abcdefghijklmno");
    }

    #[test]
    fn check_rules() {
        let t = generic();
        assert_eq!(t.check(0x400000).unwrap(), Vec::<String>::new());
        assert!(matches!(t.check(0x200000), Err(TableError::PastFlashEnd { .. })));
        let mut dup = generic();
        dup.entries[3].set_name("nvs");
        assert_eq!(dup.check(0x400000), Err(TableError::Duplicate { name: "nvs".into() }));
        let mut ov = generic();
        ov.entries[1].offset = 0xe000;
        assert!(matches!(ov.check(0x400000), Err(TableError::Overlap { .. })));
        let mut mis = generic();
        mis.entries[2].offset = 0x11000;
        mis.entries[3].offset = 0x201000;
        assert!(matches!(mis.check(0x800000), Err(TableError::Misaligned { align: 0x10000, .. })));
        let mut gap = generic();
        gap.entries.remove(1);
        assert_eq!(
            gap.check(0x400000).unwrap(),
            vec!["0x1000 bytes free before 'factory' (0xf000..0x10000)".to_string()]
        );
        assert_eq!(check_name("sixteen_bytes_xx"), Err(TableError::BadName { name: "sixteen_bytes_xx".into() }));
    }
}
