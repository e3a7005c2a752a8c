//! A table edit that carries the files, from plan to finish, written once
//! for firmware files and devices. With [`Backups`] (a device), a cut link
//! never loses the files:
//!
//! 1. [`plan_change`] plans the edit. A pending backup of this board (same
//!    MAC, else same port) whose edit is the one asked for (planned from the
//!    backup's old table and header, it gives the backup's new ones) is
//!    resumed, if the board's table is still one of those two;
//! 2. [`prepare`] reads the trees of the filesystems to move (only the
//!    blocks they use, through the block cache) and makes them anew in
//!    memory; then, before anything on the board changes, saves the backup
//!    (the trees, the new blocks of a grown littlefs, both tables and
//!    headers) through the [`BackupStore`]. A resumed edit reads nothing: it
//!    takes the trees from its backup;
//! 3. [`finish`] commits the edit ([`crate::ops::update::commit`]: erase,
//!    header, table, the filesystems written and read back), then removes
//!    the backup (or keeps it as finished).
//!
//! Why a re-run of the same command always ends with the files in place:
//! before the backup is saved nothing on the board has changed, and a
//! re-run starts over. Once it is saved, the re-run finds it; the board's
//! table is then the old one (the cut came before the table was written:
//! committing erases, writes the header and table again, which is
//! harmless) or the new one (the cut came later: nothing is erased again),
//! and either way every carried filesystem is written again from the backup
//! and read back before the backup goes. The table sector itself is written
//! in one verified piece, and the header before it.

use std::mem::replace;

use crate::error::Error;
use crate::flash::Flash;
use crate::fs::time::Civil;
use crate::fs::tree::build::build;
use crate::ops::firmware::Firmware;
use crate::ops::plan::{plan, Plan, TableEdits};
use crate::ops::update::{commit, UpdateReport};

use super::backup::{self, Backup, Board, SavedPart};
use super::plan::check_copy;
use super::store::{backup_name, BackupStore};
use super::{plan_edit, Action, Carried, CarryError, CarryPlan, PartPlan, Writes};

/// Host backups for a run on a device: where they are kept, which board
/// this is, the time (seconds since 1970), and whether a backup stays after
/// its edit finished (`--keep-backup`).
pub struct Backups<'s> {
    /// Where backups are kept.
    pub store: &'s mut dyn BackupStore,
    /// The board.
    pub board: Board,
    /// Now, seconds since 1970 (names the backup).
    pub now: u64,
    /// Keep the backup (as finished) rather than remove it.
    pub keep: bool,
}

/// A backup of this board from an edit that did not finish.
#[derive(Debug, Clone)]
pub struct Pending {
    /// Where it is.
    pub location: String,
    /// What it holds.
    pub backup: Backup,
}

/// A planned table edit.
#[derive(Debug)]
pub struct Change {
    /// The new table and header.
    pub plan: Plan,
    /// The interrupted edit this run finishes.
    pub resumes: Option<Pending>,
    /// Pending backups of this board from another edit (a run that writes is refused while one is there).
    pub others: Vec<Pending>,
    /// Pending backups that cannot be read: where, and why.
    pub damaged: Damaged,
}

/// When a backup was made, as people read it (UTC).
pub fn made_at(b: &Backup) -> String {
    format!("{} UTC", Civil::from_unix(i64::try_from(b.created).unwrap_or(0)))
}

/// Backups that cannot be read: where, and why.
pub type Damaged = Vec<(String, String)>;

/// This board's pending backups, newest first, and those that cannot be read.
fn find_pending(b: &mut Backups) -> Result<(Vec<Pending>, Damaged), Error> {
    let (mut mine, mut damaged) = (Vec::new(), Vec::new());
    for location in b.store.pending()? {
        let bytes = b.store.load(&location)?;
        match backup::decode(&bytes) {
            Ok(backup) if backup.board.is(&b.board) => mine.push(Pending { location, backup }),
            Ok(_) => {} // another board's
            Err(e) => damaged.push((location, e.to_string())),
        }
    }
    mine.sort_by_key(|p| std::cmp::Reverse(p.backup.created));
    Ok((mine, damaged))
}

/// Plan `edits` on `fw` as if its table and header were the backup's old ones.
fn plan_from_old<F: Flash>(fw: &mut Firmware<F>, b: &Backup, edits: &TableEdits, app: u32) -> Result<Plan, Error> {
    let table = replace(&mut fw.table, b.old_table.clone());
    let header = replace(&mut fw.header, b.old_header.clone());
    let planned = plan(fw, edits, app);
    fw.table = table;
    fw.header = header;
    planned
}

/// Plan `edits` on `fw`, whose first app image is `app_image_size` bytes
/// (see [`crate::ops::plan::plan`]); with `backups`, resume this board's
/// interrupted edit when it is the same one.
///
/// Errors: those of planning; [`CarryError::TableChanged`] when the edit to
/// resume is found but the board's table is neither its old nor its new one.
pub fn plan_change<F: Flash>(
    fw: &mut Firmware<F>,
    edits: &TableEdits,
    app_image_size: u32,
    backups: Option<&mut Backups>,
) -> Result<Change, Error> {
    let (mut mine, damaged) = match backups {
        Some(b) => find_pending(b)?,
        None => Default::default(),
    };
    for i in 0..mine.len() {
        let b = &mine[i].backup;
        let Ok(plan) = plan_from_old(fw, b, edits, app_image_size) else { continue };
        if plan.table.entries != b.new_table.entries || plan.header != b.new_header {
            continue;
        }
        let p = mine.remove(i);
        let on_board = &fw.table.entries;
        if *on_board != p.backup.old_table.entries && *on_board != p.backup.new_table.entries {
            return Err(CarryError::TableChanged { location: p.location, made: made_at(&p.backup) }.into());
        }
        return Ok(Change { plan, resumes: Some(p), others: mine, damaged });
    }
    let plan = plan(fw, edits, app_image_size)?;
    Ok(Change { plan, resumes: None, others: mine, damaged })
}

/// A table edit ready to be committed: nothing has been written to the
/// board yet, but its backup (if it needs one) is saved.
#[derive(Debug)]
pub struct Prepared {
    /// The new table and header.
    pub plan: Plan,
    /// What happens to each filesystem, with the blocks to write.
    pub carry: CarryPlan,
    /// Where the backup is (saved now, or the one resumed).
    pub backup: Option<String>,
    /// When the resumed edit's backup was made (None: a new edit).
    pub resumed: Option<String>,
}

/// Prepare `change`: read and check every filesystem it moves (or take
/// them from the backup it resumes), and with `backups` save a backup when
/// the edit writes filesystems. `discard`: drop the files of a partition
/// the edit deletes or re-types instead of refusing.
///
/// Errors: [`CarryError::OtherChange`] when `backups` holds a pending
/// backup of this board from another edit; those of [`plan_edit`]; the
/// store's errors; [`CarryError::BadBackup`] for a resumed backup that does
/// not make the filesystems again.
pub fn prepare<F: Flash>(
    fw: &mut Firmware<F>,
    change: Change,
    discard: bool,
    backups: Option<&mut Backups>,
) -> Result<Prepared, Error> {
    let Change { plan, resumes, others, .. } = change;
    if let Some(p) = resumes {
        let carry = from_backup(&p.location, &p.backup)?;
        return Ok(Prepared { plan, carry, resumed: Some(made_at(&p.backup)), backup: Some(p.location) });
    }
    if let (Some(p), Some(_)) = (others.first(), &backups) {
        return Err(CarryError::OtherChange { location: p.location.clone(), made: made_at(&p.backup) }.into());
    }
    let carry = plan_edit(fw, &plan, discard)?;
    let backup = match backups {
        Some(b) if carry.writes_anything() => Some(save(b, fw, &plan, &carry)?),
        _ => None,
    };
    Ok(Prepared { plan, carry, backup, resumed: None })
}

/// Save the backup of `carry` before `plan` changes `fw`; returns where it is.
fn save<F: Flash>(b: &mut Backups, fw: &Firmware<F>, plan: &Plan, carry: &CarryPlan) -> Result<String, Error> {
    let parts = carry
        .parts
        .iter()
        .map(|p| SavedPart {
            carried: p.carried.clone(),
            tree: p.tree.clone(),
            blocks: match &p.writes {
                Writes::Blocks(blocks) => blocks.clone(),
                _ => Vec::new(),
            },
        })
        .collect();
    let backup = Backup {
        board: b.board.clone(),
        created: b.now,
        old_header: fw.header.clone(),
        new_header: plan.header.clone(),
        old_table: fw.table.clone(),
        new_table: plan.table.clone(),
        keep: carry.keep.clone(),
        parts,
    };
    let bytes = backup::encode(&backup)?;
    b.store.save(&backup_name(&b.board, b.now), &bytes)
}

/// The writes of a backup's edit, made again from what it holds.
fn from_backup(location: &str, b: &Backup) -> Result<CarryPlan, Error> {
    let bad = |why: &'static str| CarryError::BadBackup {
        location: location.to_owned(),
        source: crate::fs::tree::codec::CodecError::Damaged(why),
    };
    let mut parts = Vec::new();
    for s in &b.parts {
        let c = &s.carried;
        let writes = match (c.action, &s.tree, c.to) {
            (Action::Recreated, Some(tree), Some(to)) => {
                let name = c.new_name.as_deref().unwrap_or(&c.partition);
                let built = build(tree, name, to.size)?;
                check_copy(name, tree, &built, to.size)?;
                Writes::Image { offset: to.offset, size: to.size, built }
            }
            (Action::Recreated, _, _) => return Err(bad("a moved filesystem without its tree").into()),
            (Action::Grown, _, _) if s.blocks.is_empty() => {
                return Err(bad("a grown filesystem without its blocks").into())
            }
            (Action::Grown, _, _) => Writes::Blocks(s.blocks.clone()),
            _ => Writes::None,
        };
        parts.push(PartPlan { carried: c.clone(), tree: s.tree.clone(), writes });
    }
    Ok(CarryPlan { parts, keep: b.keep.clone() })
}

/// What became of a backup once its edit finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackupFate {
    /// The edit needed none (nothing to carry, or a firmware file).
    None,
    /// Removed: the files read back as saved.
    Removed(String),
    /// Kept as finished, here (`--keep-backup`).
    Kept(String),
}

/// A finished table edit.
#[derive(Debug)]
pub struct Finished {
    /// What committing it did.
    pub update: UpdateReport,
    /// What happened to each filesystem partition it touched.
    pub carried: Vec<Carried>,
    /// What became of its backup.
    pub backup: BackupFate,
}

/// Commit `p` to `fw` (see [`crate::ops::update::commit`]); once every
/// filesystem has been written and read back, remove its backup (or keep
/// it, as `backups` says). On an error the backup stays, for a re-run.
pub fn finish<F: Flash>(fw: &mut Firmware<F>, p: &Prepared, backups: Option<&mut Backups>) -> Result<Finished, Error> {
    let (update, carried) = commit(fw, &p.plan, &p.carry)?;
    let backup = match (&p.backup, backups) {
        (Some(at), Some(b)) => match b.store.finish(at, b.keep)? {
            Some(kept) => BackupFate::Kept(kept),
            None => BackupFate::Removed(at.clone()),
        },
        _ => BackupFate::None,
    };
    Ok(Finished { update, carried, backup })
}
