//! Named flash regions: the partitions of a table plus the two fixed areas
//! `bootloader` (from the chip's bootloader offset to the table) and
//! `partition_table`, which `--read`, `--write` and `--erase` accept as names.

use crate::format::partition::{Partition, PartitionTable, TABLE_OFFSET, TABLE_SIZE, TYPE_APP, TYPE_DATA};

/// The name of the bootloader region.
pub const BOOTLOADER: &str = "bootloader";
/// The name of the partition table region.
pub const PARTITION_TABLE: &str = "partition_table";

/// What a region holds, for the checks a write makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegionKind {
    /// The bootloader (from its offset to the table).
    Bootloader,
    /// The partition table sector.
    PartitionTable,
    /// An app partition.
    App,
    /// Any other partition.
    Data,
}

/// A named range of flash: a partition, the bootloader or the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    /// Its name.
    pub name: String,
    /// Its flash offset.
    pub offset: u32,
    /// Its size in bytes.
    pub size: u32,
    /// What it holds.
    pub kind: RegionKind,
    /// The table entry, for partitions.
    pub entry: Option<Partition>,
}

impl Region {
    /// The flash offset one past its end.
    pub fn end(&self) -> u32 {
        self.offset + self.size
    }

    /// The region of partition `p`.
    pub fn of(p: &Partition) -> Self {
        Self {
            name: p.name(),
            offset: p.offset,
            size: p.size,
            kind: if p.ptype == TYPE_APP { RegionKind::App } else { RegionKind::Data },
            entry: Some(p.clone()),
        }
    }

    /// The bootloader's region, from `bootloader_offset` to the table.
    pub fn bootloader(bootloader_offset: u32) -> Self {
        Self {
            name: BOOTLOADER.into(),
            offset: bootloader_offset,
            size: TABLE_OFFSET - bootloader_offset,
            kind: RegionKind::Bootloader,
            entry: None,
        }
    }

    /// The partition table sector.
    pub fn partition_table() -> Self {
        Self {
            name: PARTITION_TABLE.into(),
            offset: TABLE_OFFSET,
            size: TABLE_SIZE as u32,
            kind: RegionKind::PartitionTable,
            entry: None,
        }
    }

    /// A filesystem-capable data partition.
    pub fn is_data(&self) -> bool {
        self.entry.as_ref().is_some_and(|p| p.ptype == TYPE_DATA)
    }
}

/// Find a region by name in `table`, including `bootloader` and `partition_table`.
pub fn find_region(table: &PartitionTable, bootloader_offset: u32, name: &str) -> Option<Region> {
    match name {
        BOOTLOADER => Some(Region::bootloader(bootloader_offset)),
        PARTITION_TABLE => Some(Region::partition_table()),
        _ => table.find(name).map(Region::of),
    }
}
