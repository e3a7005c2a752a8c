//! Taking a tree from a mounted littlefs and putting one into a fresh one,
//! names as bytes and every custom attribute as stored.

use mpimg_littlefs::FileType;

use super::super::lfs::{LfsVolume, DIR_LIMIT};
use super::super::run::MAX_DEPTH;
use super::super::FsError;
use super::{join, Meta, Node, NodeKind, Survey, Tree, TreeKind, TreeStats};

/// A directory's path as littlefs takes it: the root is `/`.
fn dir_arg(path: &[u8]) -> &[u8] {
    if path.is_empty() {
        b"/"
    } else {
        path
    }
}

/// What [`walk`] calls for each entry: its path, whether it is a directory, its size.
type Visit<'v> = dyn FnMut(&mut LfsVolume, Vec<u8>, bool, u32) -> Result<(), FsError> + 'v;

/// Walk the tree depth first in littlefs's (name) order, calling `visit`
/// with each entry's path, whether it is a directory, and its size.
fn walk(vol: &mut LfsVolume, dir: &[u8], depth: usize, visit: &mut Visit) -> Result<(), FsError> {
    if depth > MAX_DEPTH {
        return Err(FsError::TooDeep(vol.part.clone()));
    }
    let entries = match vol.fs.read_dir(dir_arg(dir), DIR_LIMIT) {
        Ok(e) => e,
        Err(e) => return Err(vol.err_at(e, "list", dir)),
    };
    for e in entries {
        let path = join(dir, &e.name);
        let is_dir = e.file_type == FileType::Dir;
        visit(vol, path.clone(), is_dir, e.size)?;
        if is_dir {
            walk(vol, &path, depth + 1, visit)?;
        }
    }
    Ok(())
}

pub(super) fn survey(vol: &mut LfsVolume) -> Result<Survey, FsError> {
    let mut stats = TreeStats::default();
    walk(vol, b"", 0, &mut |_, _, is_dir, size| {
        if is_dir {
            stats.dirs += 1;
        } else {
            stats.files += 1;
            stats.bytes += u64::from(size);
        }
        Ok(())
    })?;
    Ok(Survey {
        kind: TreeKind::Littlefs { disk_version: vol.info.disk_version },
        describe: TreeKind::Littlefs { disk_version: vol.info.disk_version }.describe(),
        fs_size: vol.info.block_count * vol.info.block_size,
        stats,
    })
}

pub(super) fn read(vol: &mut LfsVolume) -> Result<Tree, FsError> {
    let root_attrs = vol.fs.attrs("/").map_err(|e| vol.err_at(e, "read attributes of", b""))?;
    let mut nodes = Vec::new();
    walk(vol, b"", 0, &mut |vol, path, is_dir, _| {
        let attrs = vol.fs.attrs(&path).map_err(|e| vol.err_at(e, "read attributes of", &path))?;
        let kind = if is_dir {
            NodeKind::Dir
        } else {
            NodeKind::File(vol.fs.read_file(&path).map_err(|e| vol.err_at(e, "read", &path))?)
        };
        nodes.push(Node { path, kind, meta: Meta::Littlefs(attrs) });
        Ok(())
    })?;
    Ok(Tree { kind: TreeKind::Littlefs { disk_version: vol.info.disk_version }, root_attrs, nodes })
}

/// Put every node of `tree` into `vol` (freshly formatted: nothing is
/// replaced), each file written with all its attributes in one commit.
pub(super) fn write(vol: &mut LfsVolume, tree: &Tree) -> Result<(), FsError> {
    for a in &tree.root_attrs {
        vol.fs.setattr("/", a.kind, &a.value).map_err(|e| vol.err_at(e, "set attributes of", b""))?;
    }
    for node in &tree.nodes {
        let attrs: &[mpimg_littlefs::Attribute] = match &node.meta {
            Meta::Littlefs(a) => a,
            Meta::Fat(_) => &[],
        };
        let path = &node.path;
        match &node.kind {
            NodeKind::Dir => {
                vol.fs.mkdir(path).map_err(|e| vol.err_at(e, "mkdir", path))?;
                for a in attrs {
                    vol.fs.setattr(path, a.kind, &a.value).map_err(|e| vol.err_at(e, "set attributes of", path))?;
                }
            }
            NodeKind::File(data) => {
                vol.fs.write_file(path, data, attrs).map_err(|e| vol.err_at(e, "write", path))?;
            }
        }
    }
    Ok(())
}

/// Distinct blocks in use (littlefs's traversal visits some blocks more than
/// once, which the board's `statvfs` counts as it goes).
pub(super) fn blocks_in_use(vol: &mut LfsVolume) -> Result<u32, FsError> {
    let mut seen = vec![false; vol.info.block_count as usize];
    vol.fs
        .traverse(&mut |b| {
            if let Some(s) = seen.get_mut(b as usize) {
                *s = true;
            }
        })
        .map_err(|e| vol.err_at(e, "traverse", b""))?;
    Ok(seen.iter().filter(|&&s| s).count() as u32)
}
