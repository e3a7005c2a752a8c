//! OTA on a device (or any flash): which OTA app boots now and which one an
//! update goes to, and the update itself: the app written to the next OTA
//! partition (rest of the partition erased) and otadata rewritten by ESP-IDF's
//! `esp_ota_set_boot_partition` rules ([`OtaData::try_plan_update`]).
//!
//! The app goes first, otadata last (one sector, one transfer): cut off
//! before otadata lands, the board starts the app it started before. An
//! update whose otadata write landed but was not confirmed (the link failed
//! just then) is done: the same update run again finds the app it would
//! write already selected, and writes nothing.

use serde::Serialize;

use crate::flash::{Flash, SECTOR_SIZE};
use crate::format::otadata::{BootTarget, OtaData, OtaState, OTADATA_LEN, OTADATA_SECTOR_LEN, OTA_RECORD_LEN};
use crate::format::partition::{Partition, PartitionTable, SUBTYPE_OTA, TYPE_DATA};

use super::cut::{leaving, CutLeaves};
use super::partition_io::write_region;
use super::region::Region;
use crate::error::Error;

/// What otadata says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OtaStatus {
    /// The partition the bootloader starts next (`factory` or `ota_N`).
    pub boots: String,
    /// The OTA partition the next update goes to.
    pub next: String,
    /// Sequence number and state of the record in charge, if any.
    pub seq: Option<u32>,
    /// The state of the record in charge (`new`, `valid`, ...).
    pub state: Option<String>,
}

/// What an OTA update did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OtaReport {
    /// The OTA partition written.
    pub partition: String,
    /// Its flash offset.
    pub offset: u32,
    /// Bytes of app written.
    pub bytes: u32,
    /// The otadata sector (0 or 1) the new record went to.
    pub otadata_sector: usize,
    /// The new record's sequence number.
    pub seq: u32,
    /// The new record's state (`new`; `undefined` without rollback).
    pub state: String,
    /// The update was made already: the app otadata selects is this one,
    /// with this state (a run cut off after its last write, run again). Nothing was written.
    pub already: bool,
}

/// The otadata partition and the OTA apps ota_0, ota_1, ... up to the first gap (as IDF counts them).
fn ota_layout(table: &PartitionTable) -> Option<(Partition, Vec<Partition>)> {
    let otadata = table.entries.iter().find(|p| p.ptype == TYPE_DATA && p.subtype == SUBTYPE_OTA)?.clone();
    let mut apps = Vec::new();
    while let Some(p) = table.entries.iter().find(|p| p.ota_index() == Some(apps.len())) {
        apps.push(p.clone());
    }
    Some((otadata, apps))
}

/// The two records of `otadata`: only the record at the start of each
/// sector is read (on a device, 64 bytes rather than 8 KB).
fn read_otadata(flash: &mut dyn Flash, otadata: &Partition) -> Result<OtaData, Error> {
    let second = OTADATA_SECTOR_LEN as u32;
    if otadata.size < second + OTA_RECORD_LEN as u32 {
        // Too short for the second record: the parse says so.
        let len = otadata.size.min(OTADATA_LEN as u32);
        return Ok(OtaData::parse(&flash.read_vec(otadata.offset, len)?)?);
    }
    let mut bytes = vec![0xFF; OTADATA_SECTOR_LEN + OTA_RECORD_LEN];
    flash.read(otadata.offset, &mut bytes[..OTA_RECORD_LEN])?;
    flash.read(otadata.offset + second, &mut bytes[OTADATA_SECTOR_LEN..])?;
    Ok(OtaData::parse(&bytes)?)
}

/// Where the bootloader starts and where an update would go (ESP-IDF's
/// `esp_ota_get_next_update_partition` from the app that boots). None without
/// otadata or OTA apps.
pub fn ota_status(flash: &mut dyn Flash, table: &PartitionTable) -> Result<Option<OtaStatus>, Error> {
    let Some((otadata, apps)) = ota_layout(table) else { return Ok(None) };
    if apps.is_empty() {
        return Ok(None);
    }
    let data = read_otadata(flash, &otadata)?;
    let has_factory = table.entries.iter().any(|p| p.is_app() && p.subtype == 0);
    // MicroPython's bootloaders are built with rollback enabled.
    let target = data.boot_target(apps.len(), has_factory, true);
    let (boots, next) = match target {
        BootTarget::Factory => ("factory".to_string(), 0),
        BootTarget::Ota(k) => (apps[k].name(), (k + 1) % apps.len()),
    };
    let active = data.active_record().map(|i| data.records[i]);
    Ok(Some(OtaStatus {
        boots,
        next: apps[next].name(),
        seq: active.map(|r| r.seq),
        state: active.map(|r| r.ota_state().to_string()),
    }))
}

/// The app partitions in the order the bootloader tries them, and what chose the first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootOrder {
    /// From the app the bootloader starts with, each one it falls back to in turn.
    pub apps: Vec<Partition>,
    /// The otadata record in charge chose the first app: its sequence number
    /// (None: no valid record, or no otadata; the bootloader starts with
    /// factory, else ota_0).
    pub selected_by: Option<u32>,
    /// The otadata partition, if the table has one.
    pub otadata: Option<Partition>,
}

/// The order in which the bootloader tries the app partitions
/// (`bootloader_utility_load_boot_image`): the one otadata selects (or
/// factory, else ota_0), then down through the lower OTA apps to factory,
/// then up through the higher OTA apps. An app that does not load is skipped.
///
/// Errors: flash errors, and [`Error::Ota`] for an otadata partition too short to hold its records.
pub fn boot_order(flash: &mut dyn Flash, table: &PartitionTable) -> Result<BootOrder, Error> {
    let factory = table.entries.iter().find(|p| p.is_app() && p.subtype == 0).cloned();
    let (otadata, apps) = match ota_layout(table) {
        Some((o, a)) => (Some(o), a),
        None => {
            let mut apps = Vec::new();
            while let Some(p) = table.entries.iter().find(|p| p.ota_index() == Some(apps.len())) {
                apps.push(p.clone());
            }
            (None, apps)
        }
    };
    let (start, selected_by) = match &otadata {
        Some(o) if !apps.is_empty() => {
            let data = read_otadata(flash, o)?;
            // MicroPython's bootloaders are built with rollback enabled.
            match data.boot_target(apps.len(), factory.is_some(), true) {
                BootTarget::Ota(k) => {
                    let mut adjusted = data.clone();
                    for r in adjusted.records.iter_mut().filter(|r| r.ota_state() == OtaState::PendingVerify) {
                        r.state = OtaState::Aborted.to_u32();
                    }
                    (Some(k), adjusted.active_record().map(|i| data.records[i].seq))
                }
                BootTarget::Factory => (None, None),
            }
        }
        _ if factory.is_none() && !apps.is_empty() => (Some(0), None),
        _ => (None, None),
    };
    let mut order = Vec::new();
    if let Some(k) = start {
        order.extend(apps[..=k].iter().rev().cloned());
    }
    order.extend(factory);
    order.extend(apps[start.map_or(0, |k| k + 1)..].iter().cloned());
    if order.is_empty() {
        order.extend(table.first_app().cloned());
    }
    Ok(BootOrder { apps: order, selected_by, otadata })
}

/// Write `app` to the next OTA partition and make it boot next.
pub fn ota_update(
    flash: &mut dyn Flash,
    table: &PartitionTable,
    app: &[u8],
    rollback: bool,
) -> Result<OtaReport, Error> {
    let no_ota = || Error::NoOtaPartitions;
    let (otadata, apps) = ota_layout(table).ok_or_else(no_ota)?;
    if apps.len() < 2 {
        return Err(no_ota());
    }
    let status = ota_status(flash, table)?.ok_or_else(no_ota)?;
    let state = if rollback { OtaState::New } else { OtaState::Undefined };
    if let Some(done) = already_done(flash, &otadata, &apps, &status, app, state)? {
        return Ok(done);
    }
    let target = apps.iter().position(|p| p.name() == status.next).unwrap_or(0);
    let part = &apps[target];
    let data = read_otadata(flash, &otadata)?;
    let (slot, record) = data.try_plan_update(apps.len(), target, rollback)?;
    let written = write_region(flash, &Region::of(part), app);
    let bytes = leaving(written, |_| Some(CutLeaves::CurrentAppStarts))?;
    // IDF erases the record's sector and writes the record at its start.
    let mut sector = vec![0xFFu8; SECTOR_SIZE as usize];
    sector[..OTA_RECORD_LEN].copy_from_slice(&record.to_bytes());
    flash.write(otadata.offset + (slot as u32) * SECTOR_SIZE, &sector)?;
    Ok(OtaReport {
        partition: part.name(),
        offset: part.offset,
        bytes,
        otadata_sector: slot,
        seq: record.seq,
        state: record.ota_state().to_string(),
        already: false,
    })
}

/// The report of an update made already: otadata's record in charge selects
/// an OTA app partition in `state` that holds `app`. None otherwise.
fn already_done(
    flash: &mut dyn Flash,
    otadata: &Partition,
    apps: &[Partition],
    status: &OtaStatus,
    app: &[u8],
    state: OtaState,
) -> Result<Option<OtaReport>, Error> {
    let (Some(seq), Some(current)) = (status.seq, status.state.as_deref()) else { return Ok(None) };
    let Some(part) = apps.iter().find(|p| p.name() == status.boots) else { return Ok(None) };
    if current != state.to_string() || app.len() as u64 > u64::from(part.size) || !flash.holds(part.offset, app)? {
        return Ok(None);
    }
    Ok(Some(OtaReport {
        partition: part.name(),
        offset: part.offset,
        bytes: app.len() as u32,
        otadata_sector: read_otadata(flash, otadata)?.active_record().unwrap_or(0),
        seq,
        state: current.to_string(),
        already: true,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flash::FileFlash;
    use crate::format::otadata::{OtaRecord, OtaState};

    fn table() -> PartitionTable {
        PartitionTable {
            entries: vec![
                Partition::new("otadata", 1, 0, 0xd000, 0x2000, 0),
                Partition::new("ota_0", 0, 0x10, 0x10000, 0x10000, 0),
                Partition::new("ota_1", 0, 0x11, 0x20000, 0x10000, 0),
            ],
            ..PartitionTable::default()
        }
    }

    #[test]
    fn boot_order_follows_the_bootloader() {
        let t = table();
        let mut f = FileFlash::new(vec![0xFF; 0x30000], 0, 0x40_0000);
        let names = |o: &BootOrder| o.apps.iter().map(Partition::name).collect::<Vec<_>>();
        let o = boot_order(&mut f, &t).unwrap();
        assert_eq!((names(&o), o.selected_by), (vec!["ota_0".to_string(), "ota_1".into()], None));
        f.write(0xd000, &OtaRecord::new(2, OtaState::Valid).to_bytes()).unwrap();
        let o = boot_order(&mut f, &t).unwrap();
        assert_eq!((names(&o), o.selected_by), (vec!["ota_1".to_string(), "ota_0".into()], Some(2)));
        // A factory app comes after the lower OTA apps, before the higher ones.
        let mut t3 = t.clone();
        t3.entries.insert(1, Partition::new("factory", 0, 0, 0x30000, 0x10000, 0));
        t3.entries.push(Partition::new("ota_2", 0, 0x12, 0x40000, 0x10000, 0));
        let o = boot_order(&mut f, &t3).unwrap();
        assert_eq!(names(&o), ["ota_1", "ota_0", "factory", "ota_2"]);
        // No otadata: factory, then the OTA apps.
        let t4 = PartitionTable { entries: t3.entries[1..].to_vec(), ..PartitionTable::default() };
        assert_eq!(names(&boot_order(&mut f, &t4).unwrap()), ["factory", "ota_0", "ota_1", "ota_2"]);
    }

    #[test]
    fn updates_alternate_between_ota_apps() {
        let t = table();
        let mut f = FileFlash::new(vec![0xFF; 0x30000], 0, 0x40_0000);
        let st = ota_status(&mut f, &t).unwrap().unwrap();
        assert_eq!((st.boots.as_str(), st.next.as_str(), st.seq), ("ota_0", "ota_1", None));
        let r = ota_update(&mut f, &t, &[1, 2, 3, 4], true).unwrap();
        assert_eq!((r.partition.as_str(), r.otadata_sector, r.seq, r.state.as_str()), ("ota_1", 0, 2, "new"));
        assert_eq!(&f.bytes()[0x20000..0x20004], &[1, 2, 3, 4]);
        assert_eq!(&f.bytes()[0xd000..0xd020], &OtaRecord::new(2, OtaState::New).to_bytes());
        let st = ota_status(&mut f, &t).unwrap().unwrap();
        assert_eq!((st.boots.as_str(), st.next.as_str(), st.seq), ("ota_1", "ota_0", Some(2)));
        let r = ota_update(&mut f, &t, &[5; 8], false).unwrap();
        assert_eq!((r.partition.as_str(), r.otadata_sector, r.seq, r.state.as_str()), ("ota_0", 1, 3, "undefined"));
        assert_eq!(&f.bytes()[0xe000..0xe020], &OtaRecord::new(3, OtaState::Undefined).to_bytes());
        assert!(f.bytes()[0x10008..0x20000].iter().all(|&b| b == 0xFF));
    }

    #[test]
    fn the_same_update_again_writes_nothing() {
        let t = table();
        let mut f = FileFlash::new(vec![0xFF; 0x30000], 0, 0x40_0000);
        let r = ota_update(&mut f, &t, &[1, 2, 3, 4], true).unwrap();
        assert!(!r.already);
        let before = f.bytes().to_vec();
        // What a run cut off after its otadata write, run again, does.
        let again = ota_update(&mut f, &t, &[1, 2, 3, 4], true).unwrap();
        assert_eq!(again, OtaReport { already: true, ..r.clone() });
        assert_eq!(f.bytes(), &before[..]);
        // Another app, or the same one asked without rollback (another state), is an update.
        let other = ota_update(&mut f, &t, &[1, 2, 3, 5], true).unwrap();
        assert_eq!((other.partition.as_str(), other.seq, other.already), ("ota_0", 3, false));
        let plain = ota_update(&mut f, &t, &[1, 2, 3, 5], false).unwrap();
        assert_eq!((plain.partition.as_str(), plain.seq, plain.already), ("ota_1", 4, false));
    }
}
