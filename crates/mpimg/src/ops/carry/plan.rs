//! Working out what happens to each filesystem of the old table: every read,
//! every check and every new filesystem made before anything is written.

use crate::flash::{FileFlash, Flash};
use crate::format::partition::subtype_name;
use crate::fs::cache::BLOCK_SIZE;
use crate::fs::probe::{probe_cached, Probe};
use crate::fs::tree::build::{build, is_no_room, smallest_size, Built};
use crate::fs::tree::{read, read_spanning, survey, survey_spanning, Survey, Tree, TreeKind};
use crate::fs::{open_volume, BlockCache, FsError, FsPartition};

use super::{files, holds_a_filesystem, Action, Carried, CarryError, CarryPlan, Layout, PartPlan, Place, Slot, Writes};

/// For each slot of `old`, the index of its slot in `new`: the one with its
/// name, else (a rename) one not otherwise claimed at the same place and size.
fn match_slots(old: &Layout, new: &Layout) -> Vec<Option<usize>> {
    let mut taken = vec![false; new.slots.len()];
    let mut m: Vec<Option<usize>> = old
        .slots
        .iter()
        .map(|o| {
            let j = new.slots.iter().position(|n| n.name == o.name)?;
            taken[j] = true;
            Some(j)
        })
        .collect();
    for (i, o) in old.slots.iter().enumerate() {
        if m[i].is_some() {
            continue;
        }
        let found =
            new.slots.iter().enumerate().position(|(j, n)| !taken[j] && n.offset == o.offset && n.size == o.size);
        if let Some(j) = found {
            taken[j] = true;
            m[i] = Some(j);
        }
    }
    m
}

fn fs_part(s: &Slot) -> FsPartition {
    FsPartition { name: s.name.clone(), offset: s.offset, size: s.size, implicit: s.implicit }
}

/// Plan keeping the filesystems of `old` through the change to `new`. Reads
/// through one block cache over `flash` and writes nothing. With `discard`,
/// a filesystem whose partition is deleted or re-typed (or that cannot be
/// read) is dropped instead of refused.
pub fn plan(flash: &mut dyn Flash, old: &Layout, new: &Layout, discard: bool) -> Result<CarryPlan, CarryError> {
    plan_within(flash, old, new, discard, Repairs::default())
}

/// What a plan repairs besides carrying the files through a table change,
/// in partitions the change touches and those it leaves as they are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Repairs {
    /// Every littlefs newer than this on-disk version is made again at it
    /// (0x0002_0000 for 2.0: what MicroPython up to v1.21 reads).
    pub max_lfs_version: Option<u32>,
    /// A filesystem larger than its partition (the partition shrank without
    /// it, or is cut by the end of the flash) is made again at the
    /// partition's size from what it holds.
    pub refit: bool,
}

/// [`plan`], with `repairs`: filesystems the board cannot mount are made
/// again, even where the edit leaves their partition as it is.
pub fn plan_within(
    flash: &mut dyn Flash,
    old: &Layout,
    new: &Layout,
    discard: bool,
    repairs: Repairs,
) -> Result<CarryPlan, CarryError> {
    let mut cache = BlockCache::new(flash);
    let mut out = CarryPlan::default();
    let max_version = repairs.max_lfs_version;
    for (o, n) in old.slots.iter().zip(match_slots(old, new)) {
        let n = n.map(|j| &new.slots[j]);
        let untouched = n.is_some_and(|n| n == o);
        if o.ptype != crate::format::partition::TYPE_DATA || (untouched && repairs == Repairs::default()) {
            continue; // not data, or untouched by the edit
        }
        let in_table = o;
        let (read_as, found, spanning) = survey_old(&mut cache, o);
        let o = &read_as;
        let found = match found {
            Ok(Some(s)) => s,
            Ok(None) | Err(FsError::PartitionPastFlash { .. }) => continue, // nothing to keep
            Err(e @ FsError::Flash(_)) => return Err(e.into()),
            Err(e) => {
                // Where only the name changes nothing is lost; elsewhere it is the caller's choice.
                let same_place = n.is_some_and(|n| n.offset == o.offset && n.size == o.size && holds_a_filesystem(n));
                if same_place || discard {
                    let action = if same_place { Action::Unchanged } else { Action::Discarded };
                    let carried = carried(o, n, "unreadable filesystem".into(), action, None, 0);
                    out.keep.extend(n.filter(|_| same_place).map(|n| n.offset));
                    out.parts.push(PartPlan { carried, tree: None, writes: Writes::None });
                    continue;
                }
                return Err(CarryError::Unreadable {
                    name: o.name.clone(),
                    filesystem: describe_kind(&e),
                    source: Box::new(e),
                });
            }
        };
        let too_new = match (&found.kind, max_version) {
            (TreeKind::Littlefs { disk_version }, Some(max)) if *disk_version > max => Some(max),
            _ => None,
        };
        // A filesystem larger than its partition, read as what it spans.
        let larger = spanning || read_as.size > in_table.size;
        if untouched && too_new.is_none() && !(repairs.refit && larger) {
            continue;
        }
        let how = How { discard, downgrade: too_new, spanning };
        let span = Place { offset: o.offset, size: found.fs_size.max(o.size), implicit: o.implicit };
        let mut part = plan_one(&mut cache, o, n, found, how, &mut out.keep)?;
        // Reported where the table had it, whatever span it was read as; a
        // filesystem made again in its own partition, as the span it had.
        part.carried.from = if untouched && too_new.is_none() { span } else { Place::of(in_table) };
        out.parts.push(part);
    }
    Ok(out)
}

/// Survey the filesystem of old slot `o`, read as what it spans: `o` cut at
/// the end of the flash (a table for a larger flash than the board's), then
/// widened to a filesystem larger than its partition (the partition shrank
/// without it, or was cut) where the flash holds that much; a littlefs that
/// spans past the flash is read as far as the flash goes (`spanning`: it can
/// only be made again, from what is there).
fn survey_old(cache: &mut BlockCache, o: &Slot) -> (Slot, Result<Option<Survey>, FsError>, bool) {
    let capacity = cache.flash().capacity();
    let mut o = o.clone();
    if o.offset < capacity && o.offset.saturating_add(o.size) > capacity {
        o.size = (capacity - o.offset) / BLOCK_SIZE * BLOCK_SIZE;
    }
    let (span, lfs) = match probe_cached(cache, &fs_part(&o)) {
        Probe::Littlefs { block_count, .. } => (u64::from(block_count) * u64::from(BLOCK_SIZE), true),
        Probe::Fat { bytes } => (bytes, false),
        _ => (0, false),
    };
    if span > u64::from(o.size) {
        match u32::try_from(span) {
            Ok(span) if u64::from(o.offset) + u64::from(span) <= u64::from(capacity) => o.size = span,
            _ if lfs => return (o.clone(), survey_spanning(cache, &fs_part(&o)), true),
            _ => {}
        }
    }
    let found = survey(cache, &fs_part(&o));
    (o, found, false)
}

/// How a filesystem is planned: `discard` (see [`plan`]); `downgrade`: a
/// littlefs made again at that older on-disk version; `spanning`: a littlefs
/// that counts more blocks than the flash holds of it, which can only be made
/// again from what it holds.
#[derive(Debug, Clone, Copy)]
struct How {
    discard: bool,
    downgrade: Option<u32>,
    spanning: bool,
}

/// What kind of filesystem a mount error is about.
fn describe_kind(e: &FsError) -> String {
    match e {
        FsError::Corrupt { kind, .. } => (*kind).to_owned(),
        FsError::FsLargerThanPartition { .. } => "littlefs".into(),
        FsError::FatLargerThanPartition { .. } => "FAT".into(),
        _ => "littlefs or FAT".into(),
    }
}

fn carried(
    o: &Slot,
    n: Option<&Slot>,
    filesystem: String,
    action: Action,
    s: Option<&Survey>,
    fs_size: u32,
) -> Carried {
    Carried {
        partition: o.name.clone(),
        new_name: n.map(|n| n.name.clone()),
        filesystem,
        action,
        from: Place::of(o),
        to: n.map(Place::of),
        contents: s.map(|s| s.stats),
        fs_size,
    }
}

/// What happens to the filesystem `found` in `o`, going to `n`, planned as `how` says.
fn plan_one(
    cache: &mut BlockCache,
    o: &Slot,
    n: Option<&Slot>,
    found: Survey,
    how: How,
    keep: &mut Vec<u32>,
) -> Result<PartPlan, CarryError> {
    let How { discard, downgrade, spanning } = how;
    let as_it_is = downgrade.is_none() && !spanning;
    let part = |action, fs_size| carried(o, n, found.describe.clone(), action, Some(&found), fs_size);
    let lost = |how: String| {
        if discard {
            Ok(PartPlan { carried: part(Action::Discarded, 0), tree: None, writes: Writes::None })
        } else {
            Err(CarryError::WouldLose {
                name: o.name.clone(),
                filesystem: found.describe.clone(),
                files: files(&found.stats),
                how,
            })
        }
    };
    let Some(n) = n else { return lost("deletes the partition".into()) };
    if !holds_a_filesystem(n) {
        let to = if n.ptype == crate::format::partition::TYPE_DATA {
            subtype_name(n.ptype, n.subtype)
        } else {
            "app".into()
        };
        return lost(format!("re-types it as {to}"));
    }
    keep.push(n.offset);
    if n.offset == o.offset && n.size == o.size && as_it_is {
        return Ok(PartPlan { carried: part(Action::Unchanged, found.fs_size), tree: None, writes: Writes::None });
    }
    if n.offset == o.offset && n.size > o.size && as_it_is {
        return Ok(match found.kind {
            TreeKind::Littlefs { .. } => {
                let writes = grow(cache, n, &found)?;
                PartPlan { carried: part(Action::Grown, n.size), tree: None, writes }
            }
            TreeKind::Fat { .. } => {
                PartPlan { carried: part(Action::KeptSize, found.fs_size), tree: None, writes: Writes::None }
            }
        });
    }
    let mut tree = if spanning { read_spanning(cache, &fs_part(o))? } else { read(cache, &fs_part(o))? };
    let mut describe = found.describe.clone();
    if let Some(disk_version) = downgrade {
        tree.kind = TreeKind::Littlefs { disk_version };
        describe = tree.kind.describe();
    }
    let built = match build(&tree, &o.name, n.size) {
        Ok(b) => b,
        Err(e) if is_no_room(&e) => {
            let (min_size, at_min) = smallest_size(&tree, &o.name, o.size)?;
            return Err(CarryError::DoesNotFit {
                name: o.name.clone(),
                filesystem: found.describe.clone(),
                files: files(&found.stats),
                new_size: n.size,
                needed_blocks: at_min.used_blocks,
                min_size,
            });
        }
        Err(e) => return Err(e.into()),
    };
    check_copy(&o.name, &tree, &built, n.size)?;
    let writes = Writes::Image { offset: n.offset, size: n.size, built };
    let carried = carried(o, Some(n), describe, Action::Recreated, Some(&found), n.size);
    Ok(PartPlan { carried, tree: Some(tree), writes })
}

/// Grow the littlefs of `found` to fill `n` in the cache, check it, and take
/// the changed blocks out (to be written after the table).
fn grow(cache: &mut BlockCache, n: &Slot, found: &Survey) -> Result<Writes, CarryError> {
    let bigger = fs_part(n);
    let mut vol = open_volume(cache, &bigger)?;
    let r = vol.grow(n.size / crate::fs::cache::BLOCK_SIZE);
    match r {
        Ok(_) => vol.finish()?,
        Err(e) => {
            let _ = vol.finish();
            cache.discard();
            return Err(e.into());
        }
    }
    let after = survey(cache, &bigger);
    let changes = cache.take_changes();
    match after {
        Ok(Some(s)) if s.fs_size == n.size && s.stats == found.stats => Ok(Writes::Blocks(changes)),
        Ok(s) => Err(CarryError::CopyDiffers {
            name: n.name.clone(),
            detail: format!("after growing: {:?}", s.map(|s| (s.fs_size, s.stats))),
        }),
        Err(e) => Err(e.into()),
    }
}

/// Read the new filesystem back from its image and compare it with the tree.
pub(super) fn check_copy(name: &str, tree: &Tree, built: &Built, size: u32) -> Result<(), CarryError> {
    let mut scratch = FileFlash::new(built.image.clone(), 0, size);
    let copy =
        read(&mut BlockCache::new(&mut scratch), &FsPartition { name: name.into(), offset: 0, size, implicit: false })?;
    match tree.difference(&copy) {
        None => Ok(()),
        Some(detail) => Err(CarryError::CopyDiffers { name: name.into(), detail }),
    }
}
