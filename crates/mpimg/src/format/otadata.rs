//! The otadata partition (data/ota, two 4 KB sectors): which OTA app boots.
//!
//! Each sector starts with one 32-byte record (`esp_ota_select_entry_t`,
//! ESP-IDF `bootloader_support/include/esp_flash_partitions.h`):
//!
//! ```text
//!  0  ota_seq u32      24  ota_state u32
//!  4  seq_label[20]    28  crc u32 = CRC-32 of the 4 bytes of ota_seq
//! ```
//!
//! The rules here follow ESP-IDF v5.x, the line every MicroPython release so
//! far is built with; each function names the IDF function it mirrors.

use serde::Serialize;
use thiserror::Error;

/// Size of one `esp_ota_select_entry_t`.
pub const OTA_RECORD_LEN: usize = 32;
/// Distance between the two records (one flash sector).
pub const OTADATA_SECTOR_LEN: usize = 0x1000;
/// Size of the otadata partition.
pub const OTADATA_LEN: usize = 2 * OTADATA_SECTOR_LEN;

/// `esp_ota_img_states_t`: the rollback state of an OTA app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum OtaState {
    /// Written by `esp_ota_set_boot_partition` when rollback is enabled; not yet booted.
    New,
    /// Booted once, not yet confirmed; a rollback-enabled bootloader aborts it on the next boot.
    PendingVerify,
    /// Confirmed working.
    Valid,
    /// Confirmed broken: never selected.
    Invalid,
    /// Not confirmed in time: never selected.
    Aborted,
    /// No rollback tracking (0xFFFFFFFF, the erased value): boots without limits.
    Undefined,
    /// Any other value.
    Other(u32),
}

impl OtaState {
    /// The state a raw `ota_state` value stands for.
    pub fn from_u32(v: u32) -> OtaState {
        match v {
            0 => OtaState::New,
            1 => OtaState::PendingVerify,
            2 => OtaState::Valid,
            3 => OtaState::Invalid,
            4 => OtaState::Aborted,
            u32::MAX => OtaState::Undefined,
            other => OtaState::Other(other),
        }
    }

    /// The raw value stored in a record.
    pub fn to_u32(self) -> u32 {
        match self {
            OtaState::New => 0,
            OtaState::PendingVerify => 1,
            OtaState::Valid => 2,
            OtaState::Invalid => 3,
            OtaState::Aborted => 4,
            OtaState::Undefined => u32::MAX,
            OtaState::Other(v) => v,
        }
    }
}

impl std::fmt::Display for OtaState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OtaState::New => write!(f, "new"),
            OtaState::PendingVerify => write!(f, "pending_verify"),
            OtaState::Valid => write!(f, "valid"),
            OtaState::Invalid => write!(f, "invalid"),
            OtaState::Aborted => write!(f, "aborted"),
            OtaState::Undefined => write!(f, "undefined"),
            OtaState::Other(v) => write!(f, "{v:#x}"),
        }
    }
}

/// The CRC a record stores for sequence number `seq`: ESP-IDF's
/// `bootloader_common_ota_select_crc`, i.e. `esp_rom_crc32_le(UINT32_MAX, &seq, 4)`,
/// which is zlib's CRC-32 continued from 0xFFFFFFFF (Python:
/// `binascii.crc32(struct.pack('<I', seq), 0xFFFFFFFF)`).
pub fn ota_crc(seq: u32) -> u32 {
    let mut h = crc32fast::Hasher::new_with_initial(u32::MAX);
    h.update(&seq.to_le_bytes());
    h.finalize()
}

/// One `esp_ota_select_entry_t`, every byte kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct OtaRecord {
    /// Sequence number (the record with the highest valid one is in charge).
    pub seq: u32,
    /// Label bytes (unused by ESP-IDF, 0xFF).
    pub label: [u8; 20],
    /// The `esp_ota_img_states_t` of the app it selects.
    pub state: u32,
    /// CRC-32 of `seq`.
    pub crc: u32,
}

impl OtaRecord {
    /// An erased record (all 0xFF).
    pub const ERASED: OtaRecord = OtaRecord { seq: u32::MAX, label: [0xFF; 20], state: u32::MAX, crc: u32::MAX };

    /// Read a record from its 32 bytes.
    pub fn parse(b: &[u8; OTA_RECORD_LEN]) -> OtaRecord {
        let u32_at = |at: usize| u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
        let mut label = [0u8; 20];
        label.copy_from_slice(&b[4..24]);
        OtaRecord { seq: u32_at(0), label, state: u32_at(24), crc: u32_at(28) }
    }

    /// The record's 32 bytes.
    pub fn to_bytes(&self) -> [u8; OTA_RECORD_LEN] {
        let mut b = [0u8; OTA_RECORD_LEN];
        b[0..4].copy_from_slice(&self.seq.to_le_bytes());
        b[4..24].copy_from_slice(&self.label);
        b[24..28].copy_from_slice(&self.state.to_le_bytes());
        b[28..32].copy_from_slice(&self.crc.to_le_bytes());
        b
    }

    /// A fresh record (label left erased, as on a newly erased sector) with its CRC.
    pub fn new(seq: u32, state: OtaState) -> OtaRecord {
        OtaRecord { seq, label: [0xFF; 20], state: state.to_u32(), crc: ota_crc(seq) }
    }

    /// Whether the stored CRC matches the sequence number.
    pub fn crc_ok(&self) -> bool {
        self.crc == ota_crc(self.seq)
    }

    /// Whether all 32 bytes are 0xFF (never written since the sector was erased).
    pub fn is_erased(&self) -> bool {
        *self == OtaRecord::ERASED
    }

    /// The decoded `ota_state`.
    pub fn ota_state(&self) -> OtaState {
        OtaState::from_u32(self.state)
    }

    /// ESP-IDF's `bootloader_common_ota_select_invalid`: unset sequence
    /// (0xFFFFFFFF) or a state that forbids booting (INVALID, ABORTED). The CRC
    /// is not looked at, so this is not simply `!is_valid()`.
    pub fn is_invalid(&self) -> bool {
        self.seq == u32::MAX || matches!(self.ota_state(), OtaState::Invalid | OtaState::Aborted)
    }

    /// ESP-IDF's `bootloader_common_ota_select_valid`: not invalid (above) and
    /// the CRC matches. NEW, PENDING_VERIFY, VALID, UNDEFINED and unknown
    /// states all count as valid.
    pub fn is_valid(&self) -> bool {
        !self.is_invalid() && self.crc_ok()
    }
}

/// Where the bootloader starts looking for an app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum BootTarget {
    /// The factory app.
    Factory,
    /// ota_N (index among the OTA app partitions).
    Ota(usize),
}

/// Why otadata could not be read or an update planned.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum OtaError {
    /// An otadata partition shorter than two sectors.
    #[error(
        "otadata is {len:#x} bytes, too short to hold its second record at 0x1000; an otadata \
         partition is 0x2000 bytes: check the partition table"
    )]
    TooShort {
        /// Its length in bytes.
        len: usize,
    },

    /// No OTA app partitions.
    #[error("there are no OTA app partitions (ota_0, ota_1, ...) to boot: add some to the partition table")]
    NoOtaApps,

    /// An OTA slot that the table does not have.
    #[error(
        "cannot boot ota_{target}: the partition table has {count} OTA app partitions \
         (ota_0 to ota_{last}), numbered without gaps",
        last = count.saturating_sub(1)
    )]
    TargetOutOfRange {
        /// The slot.
        target: usize,
        /// OTA app partitions in the table.
        count: usize,
    },

    /// A sequence number with no larger one left.
    #[error(
        "the OTA sequence number {seq:#x} is too close to 0xffffffff for ESP-IDF to pick a larger \
         one: erase the otadata partition and set the boot partition again"
    )]
    SequenceExhausted {
        /// The sequence number in charge.
        seq: u32,
    },
    /// Advancing the sequence number the way ESP-IDF does would not boot
    /// the target (found by fuzzing: seq 0 with 3 apps stays on ota_0).
    #[error(
        "otadata's sequence number {seq:#x} cannot be advanced to boot ota_{target} the way ESP-IDF \
         counts (the bootloader would still start another app): erase the otadata partition \
         (--erase otadata) and update again"
    )]
    WouldNotBoot {
        /// The sequence number in charge.
        seq: u32,
        /// The OTA app index (ota_N) that should boot.
        target: usize,
    },
}

/// The two records of an otadata partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OtaData {
    /// The records in the partition's two sectors.
    pub records: [OtaRecord; 2],
}

impl OtaData {
    /// Erased otadata: the bootloader boots factory, or ota_0 without one.
    pub fn erased() -> OtaData {
        OtaData { records: [OtaRecord::ERASED; 2] }
    }

    /// Read the records at 0 and 0x1000 of the otadata partition's bytes.
    pub fn parse(otadata: &[u8]) -> Result<OtaData, OtaError> {
        let record = |at: usize| -> Result<OtaRecord, OtaError> {
            let bytes = otadata
                .get(at..at + OTA_RECORD_LEN)
                .and_then(|s| <&[u8; OTA_RECORD_LEN]>::try_from(s).ok())
                .ok_or(OtaError::TooShort { len: otadata.len() })?;
            Ok(OtaRecord::parse(bytes))
        };
        Ok(OtaData { records: [record(0)?, record(OTADATA_SECTOR_LEN)?] })
    }

    /// The partition's 0x2000 bytes: each record at the start of its sector,
    /// the rest erased (IDF erases a sector before writing its record).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![0xFF; OTADATA_LEN];
        for (i, r) in self.records.iter().enumerate() {
            let at = i * OTADATA_SECTOR_LEN;
            out[at..at + OTA_RECORD_LEN].copy_from_slice(&r.to_bytes());
        }
        out
    }

    /// This otadata with `record` written to sector `slot` (0 or 1).
    pub fn with_record(&self, slot: usize, record: OtaRecord) -> OtaData {
        let mut records = self.records;
        records[slot & 1] = record;
        OtaData { records }
    }

    /// Which record is in charge (ESP-IDF's `bootloader_common_get_active_otadata`
    /// and `bootloader_common_select_otadata`): of the valid records (see
    /// [`OtaRecord::is_valid`]) the one with the higher sequence number, record
    /// 0 on a tie.
    pub fn active_record(&self) -> Option<usize> {
        select(&self.records, [self.records[0].is_valid(), self.records[1].is_valid()])
    }

    /// The active record and the OTA app it selects: `(seq - 1) % ota_app_count`
    /// in 32-bit unsigned arithmetic, as ESP-IDF's `esp_ota_get_boot_partition`
    /// and the bootloader compute it. None when no record is valid or there are
    /// no OTA apps; then the bootloader boots factory (or ota_0 without one),
    /// see [`OtaData::boot_target`].
    pub fn active(&self, ota_app_count: usize) -> Option<(usize, usize)> {
        if ota_app_count == 0 {
            return None;
        }
        let i = self.active_record()?;
        Some((i, slot_of(self.records[i].seq, ota_app_count)))
    }

    /// Where the bootloader starts (ESP-IDF's
    /// `bootloader_utility_get_selected_boot_partition`, without anti-rollback).
    /// With `rollback` (`CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE`) the bootloader
    /// first turns PENDING_VERIFY records into ABORTED: an app that was booted
    /// once and never confirmed is skipped. Without a valid record it picks
    /// factory, or ota_0 when there is no factory app (from there
    /// `bootloader_utility_load_boot_image` tries the other apps if that one
    /// does not load).
    pub fn boot_target(&self, ota_app_count: usize, has_factory: bool, rollback: bool) -> BootTarget {
        let mut records = self.records;
        if rollback {
            for r in records.iter_mut().filter(|r| r.ota_state() == OtaState::PendingVerify) {
                r.state = OtaState::Aborted.to_u32();
            }
        }
        let fallback = if has_factory { BootTarget::Factory } else { BootTarget::Ota(0) };
        match (OtaData { records }).active(ota_app_count) {
            Some((_, slot)) => BootTarget::Ota(slot),
            None => fallback,
        }
    }

    /// The record ESP-IDF v5.x's `esp_ota_set_boot_partition` writes to make
    /// ota_`target_index` boot next, and the sector (0 or 1) it goes to; see
    /// [`OtaData::try_plan_update`]. For arguments IDF would refuse (no OTA
    /// apps, target out of range, sequence exhausted) this returns what IDF
    /// writes to erased otadata: sector 0, `seq = target_index + 1`. Check with
    /// `try_plan_update` when the arguments are not known to be good.
    pub fn plan_update(&self, ota_app_count: usize, target_index: usize, rollback: bool) -> (usize, OtaRecord) {
        self.idf_plan(ota_app_count, target_index, rollback).unwrap_or_else(|_| {
            let seq = u32::try_from(target_index).map_or(u32::MAX, |t| t.saturating_add(1));
            (0, OtaRecord::new(seq, new_state(rollback)))
        })
    }

    /// The record `esp_ota_set_boot_partition` (ESP-IDF v5.0 .. v5.5,
    /// `esp_rewrite_ota_data` and `rewrite_ota_seq` in `esp_ota_ops.c`) writes
    /// to boot ota_`target_index` next, and the sector it writes it to:
    ///
    /// - no valid record: sector 0, `seq = target + 1`;
    /// - else, with `active` the active record: the other sector, and the
    ///   smallest `seq >= active.seq` with `(seq - 1) % count == target`, found
    ///   as IDF does: `(target + 1) % count + i * count` for the smallest `i`
    ///   (so targeting the running app rewrites its sequence number into the
    ///   other sector);
    /// - state NEW with rollback enabled (`CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE`),
    ///   else UNDEFINED (`set_new_state_otadata`);
    /// - the label is kept from the record that sector held: IDF changes only
    ///   seq, state and crc of the copy it read, erases the sector and writes
    ///   the whole record back.
    ///
    /// (ESP-IDF 6.0 differs in one case: when the target is already the active
    /// app it rewrites the active sector with the same sequence number.)
    ///
    /// IDF's arithmetic can pick a record the bootloader then passes over: from
    /// sequence number 0 (valid, as its CRC is 0xFFFFFFFF) with a count that
    /// is not a power of two, `(0 - 1) % count` wraps to another slot; near
    /// 0xFFFFFFFF the sum wraps to the erased value or onto another slot.
    /// Writing such a record would leave the board booting the old app while
    /// saying it boots the new one, so this refuses it:
    /// [`OtaError::SequenceExhausted`] when the sequence reached 0xFFFFFFFF,
    /// else [`OtaError::WouldNotBoot`]. [`OtaData::plan_update`] gives what
    /// IDF writes regardless.
    pub fn try_plan_update(
        &self,
        ota_app_count: usize,
        target_index: usize,
        rollback: bool,
    ) -> Result<(usize, OtaRecord), OtaError> {
        let (slot, record) = self.idf_plan(ota_app_count, target_index, rollback)?;
        if self.with_record(slot, record).active(ota_app_count).map(|a| a.1) != Some(target_index) {
            let seq = self.active_record().map_or(0, |i| self.records[i].seq);
            return Err(if record.seq == u32::MAX {
                OtaError::SequenceExhausted { seq }
            } else {
                OtaError::WouldNotBoot { seq, target: target_index }
            });
        }
        Ok((slot, record))
    }

    /// What `esp_ota_set_boot_partition` writes (see [`OtaData::try_plan_update`]),
    /// whether or not the bootloader then boots the target.
    fn idf_plan(
        &self,
        ota_app_count: usize,
        target_index: usize,
        rollback: bool,
    ) -> Result<(usize, OtaRecord), OtaError> {
        if ota_app_count == 0 {
            return Err(OtaError::NoOtaApps);
        }
        // IDF counts ota_0, ota_1, ... up to the first gap; there are at most 16.
        if target_index >= ota_app_count || ota_app_count > 16 {
            return Err(OtaError::TargetOutOfRange { target: target_index, count: ota_app_count });
        }
        let (count, target) = (ota_app_count as u32, target_index as u32);
        let (slot, seq) = match self.active_record() {
            Some(active) => {
                let current = self.records[active].seq;
                let seq = next_seq(current, (target + 1) % count, count)
                    .ok_or(OtaError::SequenceExhausted { seq: current })?;
                (active ^ 1, seq)
            }
            None => (0, target + 1),
        };
        let record =
            OtaRecord { seq, label: self.records[slot].label, state: new_state(rollback).to_u32(), crc: ota_crc(seq) };
        Ok((slot, record))
    }
}

/// `bootloader_common_select_otadata` with `max = true`.
fn select(records: &[OtaRecord; 2], valid: [bool; 2]) -> Option<usize> {
    match valid {
        [true, true] => Some(if records[0].seq >= records[1].seq { 0 } else { 1 }),
        [true, false] => Some(0),
        [false, true] => Some(1),
        [false, false] => None,
    }
}

/// `(seq - 1) % count` as the C code computes it: `seq - 1` wraps for seq 0.
fn slot_of(seq: u32, count: usize) -> usize {
    seq.wrapping_sub(1) as usize % count
}

/// `set_new_state_otadata` in `esp_ota_ops.c`.
fn new_state(rollback: bool) -> OtaState {
    if rollback {
        OtaState::New
    } else {
        OtaState::Undefined
    }
}

/// The value IDF's loop `while (seq > base + i * count) i++;` ends with, in
/// 32-bit unsigned arithmetic: the first `base + i * count` (mod 2^32) that is
/// `>= seq`. Near 2^32 the sum wraps and IDF keeps counting from the wrapped
/// value; when no value can ever reach `seq` IDF loops forever and this
/// returns None. (Reaching this takes about four billion updates.)
fn next_seq(seq: u32, base: u32, count: u32) -> Option<u32> {
    const M: u64 = 1 << 32;
    let (seq, count) = (seq as u64, count as u64);
    // `start` is the first value of a run of values that do not wrap.
    let mut start = base as u64;
    for _ in 0..=count {
        let v = if start >= seq { start } else { start + (seq - start).div_ceil(count) * count };
        if v < M {
            return Some(v as u32);
        }
        let last = start + (M - 1 - start) / count * count;
        start = last + count - M;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(seq: u32, state: OtaState) -> OtaRecord {
        OtaRecord::new(seq, state)
    }

    fn data(a: OtaRecord, b: OtaRecord) -> OtaData {
        OtaData { records: [a, b] }
    }

    const E: OtaRecord = OtaRecord::ERASED;

    #[test]
    fn crc_matches_python_binascii() {
        // python3 -c "import binascii,struct; print(hex(binascii.crc32(struct.pack('<I', s), 0xFFFFFFFF)))"
        let want = [
            (0u32, 0xFFFF_FFFFu32),
            (1, 0x4743_989A),
            (2, 0x55F6_3774),
            (3, 0xED4A_5011),
            (4, 0x709D_68A8),
            (5, 0xC821_0FCD),
            (0x10, 0xAFE6_A860),
            (0xFF, 0x21FA_F90E),
            (0x1234_5678, 0x71D6_A731),
            (0xFFFF_FFFE, 0x99F8_B879),
            (0xFFFF_FFFF, 0x2144_DF1C),
        ];
        for (seq, crc) in want {
            assert_eq!(ota_crc(seq), crc, "seq {seq:#x}");
        }
    }

    #[test]
    fn record_bytes() {
        let r = OtaRecord::new(1, OtaState::Valid);
        let mut want = [0xFFu8; 32];
        want[0..4].copy_from_slice(&[1, 0, 0, 0]);
        want[24..28].copy_from_slice(&[2, 0, 0, 0]);
        want[28..32].copy_from_slice(&[0x9A, 0x98, 0x43, 0x47]);
        assert_eq!(r.to_bytes(), want);
        assert_eq!(OtaRecord::parse(&want), r);
        assert!(r.crc_ok() && r.is_valid() && !r.is_erased());

        let mut odd = [0u8; 32];
        for (i, b) in odd.iter_mut().enumerate() {
            *b = i as u8 * 3;
        }
        assert_eq!(OtaRecord::parse(&odd).to_bytes(), odd, "every byte round-trips");

        assert!(OtaRecord::parse(&[0xFF; 32]).is_erased());
        assert_eq!(OtaRecord::parse(&[0xFF; 32]), E);
        assert!(!E.is_valid() && E.is_invalid() && !E.crc_ok());
    }

    #[test]
    fn states() {
        for v in [0, 1, 2, 3, 4, u32::MAX, 5, 0x1234] {
            assert_eq!(OtaState::from_u32(v).to_u32(), v);
        }
        assert_eq!(OtaState::from_u32(1), OtaState::PendingVerify);
        assert_eq!(OtaState::from_u32(u32::MAX), OtaState::Undefined);
        assert_eq!(OtaState::from_u32(9), OtaState::Other(9));
        assert_eq!(OtaState::PendingVerify.to_string(), "pending_verify");
        assert_eq!(OtaState::Other(9).to_string(), "0x9");
    }

    #[test]
    fn validity_follows_idf() {
        use OtaState::*;
        for (state, valid) in [
            (New, true),
            (PendingVerify, true),
            (Valid, true),
            (Undefined, true),
            (Other(7), true),
            (Invalid, false),
            (Aborted, false),
        ] {
            assert_eq!(rec(3, state).is_valid(), valid, "{state:?}");
        }
        let mut bad_crc = rec(3, Valid);
        bad_crc.crc ^= 1;
        assert!(!bad_crc.is_valid());
        assert!(!bad_crc.is_invalid(), "ota_select_invalid ignores the CRC");
        // seq 0 with its CRC is valid and selects (0 - 1) % n, as in C.
        assert!(rec(0, Valid).is_valid());
    }

    #[test]
    fn parse_and_to_bytes() {
        let mut part = vec![0xFF; OTADATA_LEN];
        part[0..32].copy_from_slice(&rec(3, OtaState::Valid).to_bytes());
        part[0x1000..0x1020].copy_from_slice(&rec(4, OtaState::New).to_bytes());
        let d = OtaData::parse(&part).unwrap();
        assert_eq!(d, data(rec(3, OtaState::Valid), rec(4, OtaState::New)));
        assert_eq!(d.to_bytes(), part);
        assert_eq!(OtaData::parse(&[0xFF; OTADATA_LEN]).unwrap(), OtaData::erased());
        assert_eq!(OtaData::parse(&part[..0x1020]).unwrap(), d);
        assert_eq!(OtaData::parse(&part[..0x101F]), Err(OtaError::TooShort { len: 0x101F }));
        assert_eq!(OtaData::parse(&[]), Err(OtaError::TooShort { len: 0 }));
        assert_eq!(
            OtaError::TooShort { len: 0x1000 }.to_string(),
            "otadata is 0x1000 bytes, too short to hold its second record at 0x1000; an otadata \
             partition is 0x2000 bytes: check the partition table"
        );
    }

    #[test]
    fn active_selection() {
        use OtaState::*;
        type Case = (OtaData, usize, Option<(usize, usize)>);
        let cases: &[Case] = &[
            (OtaData::erased(), 2, None),
            (data(rec(1, Valid), E), 2, Some((0, 0))),
            (data(E, rec(1, Valid)), 2, Some((1, 0))),
            (data(E, rec(2, Undefined)), 2, Some((1, 1))),
            (data(rec(1, Valid), rec(2, New)), 2, Some((1, 1))),
            (data(rec(3, Valid), rec(2, Valid)), 2, Some((0, 0))),
            (data(rec(5, Valid), rec(5, Valid)), 2, Some((0, 0))),
            (data(rec(5, Valid), rec(6, Valid)), 4, Some((1, 1))),
            (data(rec(9, Valid), rec(6, Valid)), 3, Some((0, 2))),
            // Invalid or aborted records are skipped even with a higher sequence.
            (data(rec(1, Valid), rec(2, Invalid)), 2, Some((0, 0))),
            (data(rec(1, Valid), rec(2, Aborted)), 2, Some((0, 0))),
            (data(rec(1, Aborted), rec(2, Invalid)), 2, None),
            // A pending app still counts (only a rollback bootloader aborts it).
            (data(rec(1, Valid), rec(2, PendingVerify)), 2, Some((1, 1))),
            // seq 0: (0u32 - 1) % 3 = 0xFFFFFFFF % 3 = 0; % 2 = 1.
            (data(rec(0, Valid), E), 3, Some((0, 0))),
            (data(rec(0, Valid), E), 2, Some((0, 1))),
            (data(rec(1, Valid), E), 0, None),
        ];
        for (d, n, want) in cases {
            assert_eq!(d.active(*n), *want, "{d:?} n={n}");
        }
        let mut bad = rec(7, Valid);
        bad.crc = 0;
        assert_eq!(data(rec(2, Valid), bad).active(2), Some((0, 1)));
        assert_eq!(data(bad, bad).active(2), None);
    }

    #[test]
    fn boot_targets() {
        use OtaState::*;
        let erased = OtaData::erased();
        assert_eq!(erased.boot_target(2, true, false), BootTarget::Factory);
        assert_eq!(erased.boot_target(2, false, false), BootTarget::Ota(0));
        assert_eq!(data(rec(2, Valid), E).boot_target(2, true, false), BootTarget::Ota(1));
        assert_eq!(data(rec(2, Valid), E).boot_target(0, true, false), BootTarget::Factory);
        let pending = data(rec(1, Valid), rec(2, PendingVerify));
        assert_eq!(pending.boot_target(2, false, false), BootTarget::Ota(1));
        assert_eq!(pending.boot_target(2, false, true), BootTarget::Ota(0), "rolled back");
        let only_pending = data(E, rec(2, PendingVerify));
        assert_eq!(only_pending.boot_target(2, true, true), BootTarget::Factory);
        assert_eq!(only_pending.boot_target(2, false, true), BootTarget::Ota(0));
    }

    #[test]
    fn plan_update_from_erased() {
        let d = OtaData::erased();
        assert_eq!(d.plan_update(2, 0, false), (0, rec(1, OtaState::Undefined)));
        assert_eq!(d.plan_update(2, 1, false), (0, rec(2, OtaState::Undefined)));
        assert_eq!(d.plan_update(4, 3, true), (0, rec(4, OtaState::New)));
    }

    #[test]
    fn plan_update_sequences() {
        use OtaState::*;
        // (records, count, target) -> (slot, seq), worked by hand from IDF v5.x's loop.
        let cases: &[(OtaData, usize, usize, (usize, u32))] = &[
            // Running ota_0 (seq 1 in sector 0): ota_1 needs seq 2, in sector 1.
            (data(rec(1, Valid), E), 2, 1, (1, 2)),
            // Running ota_1 (seq 2 in sector 1): ota_0 needs seq 3, in sector 0.
            (data(rec(1, Valid), rec(2, Valid)), 2, 0, (0, 3)),
            (data(rec(3, Valid), rec(2, Valid)), 2, 1, (1, 4)),
            // Targeting the running app: same seq, written to the other sector.
            (data(rec(3, Valid), rec(2, Valid)), 2, 0, (1, 3)),
            (data(rec(1, Valid), E), 2, 0, (1, 1)),
            // Three apps: from seq 4 (ota_0) to ota_2: base (2+1)%3 = 0 -> 6.
            (data(E, rec(4, Valid)), 3, 2, (0, 6)),
            (data(E, rec(4, Valid)), 3, 1, (0, 5)),
            (data(E, rec(4, Valid)), 3, 0, (0, 4)),
            // Active record chosen among valid ones only.
            (data(rec(1, Valid), rec(8, Invalid)), 2, 1, (1, 2)),
            // seq 0 is valid: base (0+1)%2 = 1 >= 0 -> seq 1.
            (data(rec(0, Valid), E), 2, 0, (1, 1)),
            // Large sequence numbers near the top of the range.
            (data(rec(0xFFFF_FFF0, Valid), E), 2, 0, (1, 0xFFFF_FFF1)),
            (data(rec(0xFFFF_FFFE, Valid), E), 2, 0, (1, 0xFFFF_FFFF)),
        ];
        for (d, n, t, (slot, seq)) in cases {
            let (got_slot, got) = d.plan_update(*n, *t, false);
            assert_eq!((got_slot, got.seq), (*slot, *seq), "{d:?} n={n} target={t}");
            assert_eq!(got, OtaRecord { label: d.records[*slot].label, ..rec(*seq, Undefined) });
            // Unless the sequence wrapped to the erased value, the result boots the target.
            if *seq != u32::MAX {
                let after = d.with_record(got_slot, got);
                assert_eq!(after.active(*n).map(|a| a.1), Some(*t), "{after:?}");
            }
        }
    }

    #[test]
    fn plan_update_keeps_the_sector_label_and_sets_state() {
        let mut old = rec(7, OtaState::Aborted);
        old.label = *b"previous-label-bytes";
        let d = data(rec(8, OtaState::Valid), old);
        let (slot, r) = d.plan_update(2, 0, true);
        assert_eq!(slot, 1);
        assert_eq!(r, OtaRecord { seq: 9, label: *b"previous-label-bytes", state: 0, crc: ota_crc(9) });
        assert_eq!(r.ota_state(), OtaState::New);
    }

    #[test]
    fn plan_update_rejects_what_idf_rejects() {
        let d = data(rec(1, OtaState::Valid), E);
        assert_eq!(d.try_plan_update(0, 0, false), Err(OtaError::NoOtaApps));
        assert_eq!(d.try_plan_update(2, 2, false), Err(OtaError::TargetOutOfRange { target: 2, count: 2 }));
        assert_eq!(
            OtaError::TargetOutOfRange { target: 2, count: 2 }.to_string(),
            "cannot boot ota_2: the partition table has 2 OTA app partitions (ota_0 to ota_1), \
             numbered without gaps"
        );
        // The infallible form falls back to what IDF writes on erased otadata.
        assert_eq!(d.plan_update(2, 2, false), (0, rec(3, OtaState::Undefined)));
        // seq 0xFFFFFFFD, 4 apps, target ota_0: 1 + 4i reaches 0xFFFFFFFD (i = 0x3FFFFFFF).
        let near = data(rec(0xFFFF_FFFD, OtaState::Valid), E);
        assert_eq!(near.try_plan_update(4, 0, false).map(|r| r.1.seq), Ok(0xFFFF_FFFD));
        // Target ota_1 needs 2 + 4i >= 0xFFFFFFFD: 0xFFFFFFFE.
        assert_eq!(near.try_plan_update(4, 1, false).map(|r| r.1.seq), Ok(0xFFFF_FFFE));
        // Target ota_3 needs 0 + 4i >= 0xFFFFFFFD: every such value is a multiple of 4
        // below 2^32, the largest 0xFFFFFFFC; IDF would loop forever.
        assert_eq!(near.try_plan_update(4, 3, false), Err(OtaError::SequenceExhausted { seq: 0xFFFF_FFFD }));
    }

    /// Found by the `otadata` fuzz target: record 0 holds sequence number 0
    /// (its CRC 0xFFFFFFFF reads as erased flash, so it is valid), record 1 is
    /// erased. With 3 OTA apps IDF's loop writes seq 0 again to boot ota_2,
    /// but `(0 - 1) % 3` is 0: the board would keep booting ota_0.
    #[test]
    fn plan_update_refuses_records_that_would_not_boot_the_target() {
        let mut part = vec![0xFFu8; OTADATA_LEN];
        part[..6].copy_from_slice(&[0x00, 0x00, 0x00, 0x00, 0x02, 0xEF]);
        let d = OtaData::parse(&part).unwrap();
        assert_eq!(d.active(3), Some((0, 0)));
        // What IDF writes: seq 0 into sector 1, which ties and loses to sector 0.
        let (slot, idf) = d.plan_update(3, 2, false);
        assert_eq!((slot, idf.seq), (1, 0));
        assert_eq!(d.with_record(slot, idf).active(3), Some((0, 0)));
        let err = d.try_plan_update(3, 2, false).unwrap_err();
        assert_eq!(err, OtaError::WouldNotBoot { seq: 0, target: 2 });
        assert_eq!(
            err.to_string(),
            "otadata's sequence number 0x0 cannot be advanced to boot ota_2 the way ESP-IDF counts \
             (the bootloader would still start another app): erase the otadata partition \
             (--erase otadata) and update again"
        );
        // ota_0 and ota_1 are reachable from seq 0 (seq 1 and 2).
        assert_eq!(d.try_plan_update(3, 0, false).map(|r| (r.0, r.1.seq)), Ok((1, 1)));
        assert_eq!(d.try_plan_update(3, 1, false).map(|r| (r.0, r.1.seq)), Ok((1, 2)));
        // A wrap to the erased sequence number: IDF writes 0xFFFFFFFF, which the
        // bootloader ignores.
        let top = data(rec(0xFFFF_FFFE, OtaState::Valid), E);
        assert_eq!(top.plan_update(2, 0, false).1.seq, 0xFFFF_FFFF);
        assert_eq!(top.try_plan_update(2, 0, false), Err(OtaError::SequenceExhausted { seq: 0xFFFF_FFFE }));
    }

    #[test]
    fn next_seq_matches_a_literal_loop() {
        // The C loop, run literally with wrapping u32 arithmetic where it is short.
        fn literal(seq: u32, base: u32, count: u32) -> Option<u32> {
            for i in 0..100_000u32 {
                let v = base.wrapping_add(i.wrapping_mul(count));
                if seq <= v {
                    return Some(v);
                }
            }
            None
        }
        for count in 1..=16u32 {
            for base in 0..count {
                for seq in (0..40).chain([1000, 4097]) {
                    assert_eq!(next_seq(seq, base, count), literal(seq, base, count));
                }
            }
        }
        // Wrapping: count 3, base 0 from seq 0xFFFFFFFE: 3i reaches 0xFFFFFFFF (3 * 0x55555555).
        assert_eq!(next_seq(0xFFFF_FFFE, 0, 3), Some(0xFFFF_FFFF));
        // count 3, base 1: 1 + 3i peaks at 0xFFFFFFFD, wraps to 0, 3, ..., 0xFFFFFFFF.
        assert_eq!(next_seq(0xFFFF_FFFE, 1, 3), Some(0xFFFF_FFFF));
        // count 5, base 2: 2 + 5i peaks at 0xFFFFFFFC; after the wrap the run is 1, 6, ...,
        // 0xFFFFFFFB, then 0, 5, ..., 0xFFFFFFFF.
        assert_eq!(next_seq(0xFFFF_FFFE, 2, 5), Some(0xFFFF_FFFF));
        // With a power of two the values repeat identically after wrapping: no answer
        // when the largest one is still below seq.
        assert_eq!(next_seq(0xFFFF_FFFD, 0, 4), None);
        assert_eq!(next_seq(0xFFFF_FFFD, 1, 4), Some(0xFFFF_FFFD));
        assert_eq!(next_seq(0xFFFF_FFFE, 0, 2), Some(0xFFFF_FFFE));
        assert_eq!(next_seq(0xFFFF_FFFE, 1, 2), Some(0xFFFF_FFFF));
    }
}
