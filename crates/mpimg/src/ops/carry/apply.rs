//! After the new table is committed: writing the prepared filesystems, and
//! reading them back at their new places.

use crate::flash::Flash;
use crate::fs::tree::{read, survey};
use crate::fs::{BlockCache, CacheStats, FsError, FsPartition};

use super::{Action, CarryError, CarryPlan, Place, Writes};

/// Write what `plan` prepared: each recreated filesystem's partition erased
/// whole and its image written, each grown littlefs's changed blocks. One
/// erase and write per run of neighbouring blocks; blank blocks are only
/// erased. A grown littlefs's blocks are in use on the flash: each is
/// written in place, never erased first (see [`BlockCache::protect`]), so a
/// cut link leaves the filesystem at its old size or grown, never without
/// its superblock. Nothing is read. Returns the flash traffic.
pub fn recreate(flash: &mut dyn Flash, plan: &CarryPlan) -> Result<CacheStats, CarryError> {
    let mut cache = BlockCache::new(flash);
    for p in &plan.parts {
        match &p.writes {
            Writes::None => {}
            Writes::Image { offset, size, built } => {
                cache.erase(*offset, *size)?;
                cache.write(*offset, &built.image)?;
            }
            Writes::Blocks(blocks) => {
                cache.protect(blocks.iter().map(|(offset, _)| offset / crate::fs::cache::BLOCK_SIZE));
                for (offset, data) in blocks {
                    cache.write(*offset, data)?;
                }
            }
        }
    }
    cache.flush()?;
    Ok(cache.stats())
}

fn at(name: &str, to: Place) -> FsPartition {
    FsPartition { name: name.to_owned(), offset: to.offset, size: to.size, implicit: to.implicit }
}

/// Read each recreated or grown filesystem back from `flash` at its new
/// place: the flash must hold the bytes written (a device checks its whole
/// partition, or each grown block, by MD5 on the chip), a recreated one must
/// then read as exactly the tree read before, a grown one must span its
/// partition with the same files.
pub fn verify(flash: &mut dyn Flash, plan: &CarryPlan) -> Result<(), CarryError> {
    for p in &plan.parts {
        let name = p.carried.new_name.as_deref().unwrap_or(&p.carried.partition);
        let held = match &p.writes {
            Writes::None => true,
            Writes::Image { offset, size, built } => {
                let mut whole = built.image.clone();
                whole.resize(*size as usize, 0xFF);
                flash.holds(*offset, &whole).map_err(FsError::from)?
            }
            Writes::Blocks(blocks) => {
                let mut all = true;
                for (offset, data) in blocks {
                    all &= flash.holds(*offset, data).map_err(FsError::from)?;
                }
                all
            }
        };
        if !held {
            let offset = p.carried.to.map_or(0, |t| t.offset);
            return Err(CarryError::Verify {
                name: name.to_owned(),
                offset,
                detail: "the flash does not hold the bytes written".into(),
            });
        }
    }
    let mut cache = BlockCache::new(flash);
    for p in &plan.parts {
        let (Some(to), name) = (p.carried.to, p.carried.new_name.as_deref().unwrap_or(&p.carried.partition)) else {
            continue;
        };
        let fail = |detail: String| CarryError::Verify { name: name.to_owned(), offset: to.offset, detail };
        match (p.carried.action, &p.tree) {
            (Action::Recreated, Some(tree)) => {
                let back = read(&mut cache, &at(name, to)).map_err(|e| fail(e.to_string()))?;
                if let Some(d) = tree.difference(&back) {
                    return Err(fail(d));
                }
            }
            (Action::Grown, _) => match survey(&mut cache, &at(name, to)) {
                Ok(Some(s)) if s.fs_size == to.size && Some(s.stats) == p.carried.contents => {}
                Ok(s) => return Err(fail(format!("found {:?}", s.map(|s| (s.describe, s.fs_size, s.stats))))),
                Err(e) => return Err(fail(e.to_string())),
            },
            _ => {}
        }
    }
    Ok(())
}
