//! Diagnoses of sizes: the flash size in the bootloader header against the
//! board's (ESP-IDF refuses to start when the header claims more flash than
//! the chip has, and uses only what the header says when it claims less),
//! the table against the flash, and each filesystem against its partition
//! and the app's MicroPython (see [`crate::fs::probe`]), and whether it
//! mounts at all (MicroPython's boot then prints "The filesystem appears to
//! be corrupted" and waits, or makes a new, empty one).

use crate::flash::Flash;
use crate::format::banner::Banner;
use crate::format::partition::{Partition, TYPE_DATA};
use crate::format::size::flash_label as mb;
use crate::fs::probe::{disk_version_name, probe_cached, Probe, LFS_DISK_2_1};
use crate::fs::{open_volume, BlockCache, FsError, FsPartition};
use crate::ops::firmware::Firmware;
use crate::ops::fit::plan_fit;

use super::{Board, Code, Diagnosis, Fix, Severity};

/// The flash size, the table and the filesystems.
pub(super) fn check<F: Flash>(fw: &mut Firmware<F>, board: Option<&Board>, out: &mut Vec<Diagnosis>) {
    let header = fw.flash_size();
    if let Some(b) = board.filter(|b| b.flash_size != header) {
        out.push(flash_size(header, b.flash_size));
    }
    // The app reaches no further than the header says, nor than the chip has.
    let limit = board.map_or(header, |b| b.flash_size.min(header));
    let past: Vec<&Partition> = fw.table.entries.iter().filter(|p| p.end() > limit).collect();
    if !past.is_empty() {
        let parts: Vec<String> =
            past.iter().map(|p| format!("'{}' ({:#x}..{:#x})", p.name(), p.offset, p.end())).collect();
        let verb = if past.len() == 1 { "ends" } else { "end" };
        let target = board.map_or(header, |b| b.flash_size);
        let fix = plan_fit(&fw.table, header, target, false).ok().map(|_| Fix::Fit);
        let how =
            if fix.is_some() { "" } else { "; only a new layout fits it (--table, or a firmware for this flash size)" };
        out.push(Diagnosis::new(
            Code::TablePastFlash,
            Severity::Error,
            format!(
                "{} {verb} past the end of the {} flash ({limit:#x}): MicroPython cannot use it{how}",
                parts.join(", "),
                mb(limit)
            ),
            fix,
        ));
    }
    filesystems(fw, board, limit, out);
}

fn flash_size(header: u32, board: u32) -> Diagnosis {
    let (severity, effect) = if header > board {
        (Severity::Error, "the app stops at start-up, finding less flash than its header claims".to_string())
    } else {
        (Severity::Warning, format!("MicroPython uses only the first {} of it", mb(header)))
    };
    Diagnosis::new(
        Code::FlashSizeMismatch,
        severity,
        format!("the bootloader header says the flash is {} but the board has {}: {effect}", mb(header), mb(board)),
        Some(Fix::Fit),
    )
}

/// Data subtypes ESP-IDF components own (ota, phy, nvs, coredump, nvs_keys,
/// efuse): never a filesystem.
fn idf_owned(p: &Partition) -> bool {
    p.ptype == TYPE_DATA && p.subtype <= 0x05
}

/// The partitions a filesystem may be in, as the board has them: the data
/// partitions of the table within `limit`, and MicroPython ≥ 1.26's implicit
/// `vfs` up to the end of the board's flash.
fn fs_partitions<F: Flash>(fw: &mut Firmware<F>, board: Option<&Board>, limit: u32) -> Vec<FsPartition> {
    let mut parts: Vec<FsPartition> = fw
        .table
        .entries
        .iter()
        .filter(|p| p.ptype == TYPE_DATA && !idf_owned(p) && p.end() <= limit)
        .map(|p| FsPartition { name: p.name(), offset: p.offset, size: p.size, implicit: false })
        .collect();
    if let Some(v) = fw.implicit_vfs() {
        let end = board.map_or(v.end(), |b| b.flash_size);
        if end > v.offset {
            parts.push(FsPartition { name: v.name(), offset: v.offset, size: end - v.offset, implicit: true });
        }
    }
    parts
}

fn filesystems<F: Flash>(fw: &mut Firmware<F>, board: Option<&Board>, limit: u32, out: &mut Vec<Diagnosis>) {
    for part in fs_partitions(fw, board, limit) {
        let (found, broken) = {
            let mut cache = BlockCache::new(&mut fw.flash);
            let found = probe_cached(&mut cache, &part);
            // A size or a version that does not fit is its own diagnosis, with
            // a fix that keeps the files; only a filesystem that fails to mount
            // for none of those reasons is corrupt.
            let broken = match &found {
                Probe::Unreadable(_) => mount_failure(&mut cache, &part),
                Probe::Fat { bytes } if *bytes <= u64::from(part.size) => mount_failure(&mut cache, &part),
                _ => None,
            };
            (found, broken)
        };
        if let Some((kind, detail)) = broken {
            out.push(corrupt(&part, kind, &detail));
        }
        match found {
            Probe::Littlefs { disk_version, block_count, block_size: 4096 } => {
                let blocks = part.size / 4096;
                if block_count != blocks {
                    out.push(littlefs_size(fw, &part, block_count, limit));
                }
                if disk_version >= LFS_DISK_2_1 {
                    if let Some(b) = fw.micropython().filter(|b| reads_only_2_0(b)).cloned() {
                        out.push(Diagnosis::new(
                            Code::LittlefsVersion,
                            Severity::Error,
                            format!(
                                "'{}' holds littlefs {}, which MicroPython {} cannot mount (its littlefs reads 2.0 only)",
                                part.name,
                                disk_version_name(disk_version),
                                b.version
                            ),
                            Some(Fix::Fit),
                        ));
                    }
                }
            }
            Probe::Fat { bytes } if bytes > u64::from(part.size) => {
                let fix = resize_back(fw, &part, bytes, limit);
                out.push(Diagnosis::new(
                    Code::FsSizeMismatch,
                    Severity::Error,
                    format!(
                        "the FAT volume in '{}' is {bytes:#x} bytes, larger than its partition ({:#x} bytes): its end is cut off",
                        part.name, part.size
                    ),
                    fix,
                ));
            }
            _ => {}
        }
    }
}

/// Why `part`'s filesystem does not mount, when it is corrupt (a flash that
/// cannot be read is not a corrupt filesystem: None).
fn mount_failure(cache: &mut BlockCache, part: &FsPartition) -> Option<(&'static str, String)> {
    match open_volume(cache, part) {
        Err(FsError::Corrupt { kind, detail, .. }) => Some((kind, detail)),
        _ => None,
    }
}

fn corrupt(part: &FsPartition, kind: &'static str, detail: &str) -> Diagnosis {
    Diagnosis::new(
        Code::FsCorrupt,
        Severity::Error,
        format!(
            "the {kind} filesystem in '{}' is corrupt ({detail}): it does not mount, no file in it can be read, and MicroPython's boot says \"The filesystem appears to be corrupted\" (or makes a new one)",
            part.name
        ),
        Some(Fix::Mkfs { part: part.name.clone(), fat: kind == "FAT" }),
    )
}

fn littlefs_size<F: Flash>(fw: &Firmware<F>, part: &FsPartition, block_count: u32, limit: u32) -> Diagnosis {
    let blocks = part.size / 4096;
    let fix = if block_count < blocks {
        Some(Fix::GrowFs { part: part.name.clone() })
    } else {
        resize_back(fw, part, u64::from(block_count) * 4096, limit)
    };
    Diagnosis::new(
        Code::FsSizeMismatch,
        Severity::Error,
        format!(
            "the littlefs in '{}' has {block_count} blocks ({:#x} bytes) but its partition {blocks} ({:#x} bytes): MicroPython will not mount it",
            part.name,
            u64::from(block_count) * 4096,
            part.size
        ),
        fix,
    )
}

/// Give a partition back the size of its filesystem, when the space after it
/// is free (up to the next partition and the end of the flash); else make the
/// filesystem again at the partition's size (`--fit`).
fn resize_back<F: Flash>(fw: &Firmware<F>, part: &FsPartition, bytes: u64, limit: u32) -> Option<Fix> {
    let end = u64::from(part.offset) + bytes;
    let next = fw.table.entries.iter().filter(|p| p.offset > part.offset).map(|p| p.offset).min().unwrap_or(limit);
    let room = !part.implicit && end <= u64::from(next.min(limit));
    match u32::try_from(bytes) {
        Ok(size) if room => Some(Fix::Resize { part: part.name.clone(), size }),
        _ => Some(Fix::Fit),
    }
}

/// A MicroPython release up to v1.21 (littlefs 2.5 and older: on-disk 2.0
/// only). Custom builds (a git hash) are not judged.
fn reads_only_2_0(b: &Banner) -> bool {
    b.release().is_some_and(|v| v <= (1, 21))
}
