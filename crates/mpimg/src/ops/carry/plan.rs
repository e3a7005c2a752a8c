//! Working out what happens to each filesystem of the old table: every read,
//! every check and every new filesystem made before anything is written.

use crate::flash::{FileFlash, Flash};
use crate::format::partition::subtype_name;
use crate::fs::tree::build::{build, is_no_room, smallest_size, Built};
use crate::fs::tree::{read, survey, Survey, Tree, TreeKind};
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
    let mut cache = BlockCache::new(flash);
    let mut out = CarryPlan::default();
    for (o, n) in old.slots.iter().zip(match_slots(old, new)) {
        let n = n.map(|j| &new.slots[j]);
        if o.ptype != crate::format::partition::TYPE_DATA || n.is_some_and(|n| n == o) {
            continue; // not data, or untouched by the edit
        }
        let part = fs_part(o);
        let found = match survey(&mut cache, &part) {
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
        out.parts.push(plan_one(&mut cache, o, n, found, discard, &mut out.keep)?);
    }
    Ok(out)
}

/// What kind of filesystem a mount error is about.
fn describe_kind(e: &FsError) -> String {
    match e {
        FsError::Corrupt { kind, .. } => (*kind).to_owned(),
        FsError::FsLargerThanPartition { .. } => "littlefs".into(),
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

fn plan_one(
    cache: &mut BlockCache,
    o: &Slot,
    n: Option<&Slot>,
    found: Survey,
    discard: bool,
    keep: &mut Vec<u32>,
) -> Result<PartPlan, CarryError> {
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
    if n.offset == o.offset && n.size == o.size {
        return Ok(PartPlan { carried: part(Action::Unchanged, found.fs_size), tree: None, writes: Writes::None });
    }
    if n.offset == o.offset && n.size > o.size {
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
    let tree = read(cache, &fs_part(o))?;
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
    Ok(PartPlan { carried: part(Action::Recreated, n.size), tree: Some(tree), writes })
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
