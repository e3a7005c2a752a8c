//! The host backup of a table edit on a device: everything needed to finish
//! the edit from any point at which its link was cut, kept on the computer
//! before anything on the board is erased.
//!
//! It holds the board it is for (MAC and port), when it was made, the
//! bootloader header and partition table before and after the edit, the
//! flash offsets of the partitions whose bytes it owns, and per filesystem
//! partition what happens to it ([`Carried`]) with the means to do it: the
//! whole [`Tree`] of a filesystem that is made again at a new place, the new
//! blocks of a littlefs grown in place.
//!
//! Layout (integers little-endian): the magic `MPIMG-CARRY`, format version
//! (u8, 1); port and MAC (each a u32 length and UTF-8 bytes, an empty MAC
//! for none); the time made (u64, seconds since 1970); old and new header
//! (24 bytes each); old and new table (u32 length and the table sector as
//! ESP-IDF writes it); the kept offsets (u32 count, u32 each); the parts (u32
//! count), each: partition name, new name (u8 0 none / 1 and string), the
//! filesystem's description, action (u8), the place before (offset u32, size
//! u32, implicit u8), the place after (u8 0 none / 1 and the place), the
//! contents (u8 0 none / 1, files u32, dirs u32, bytes u64), the filesystem's
//! size (u32), then the payload (u8: 0 none; 1 a tree, as u32 length and its
//! [`crate::fs::tree::codec`] bytes; 2 blocks, u32 count and each a flash
//! offset u32 and 4096 bytes). The file ends with the CRC-32 (IEEE) of
//! everything before it.

use crate::format::image::{ImageHeader, HEADER_LEN};
use crate::format::partition::PartitionTable;
use crate::fs::cache::BLOCK_SIZE;
use crate::fs::tree::codec::{self, put_bytes32, CodecError, Reader, SHORT};
use crate::fs::tree::{Tree, TreeStats};

use super::{Action, Carried, Place};

const MAGIC: &[u8] = b"MPIMG-CARRY";
const VERSION: u8 = 1;

/// The board a backup belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Board {
    /// The serial port it was on (`/dev/ttyUSB0`).
    pub port: String,
    /// Its factory MAC (`24:0a:c4:12:34:56`), when the device told it.
    pub mac: Option<String>,
}

impl Board {
    /// Whether a backup made for `other` is this board's: the same MAC when
    /// both are known (whatever port it is on now), else the same port.
    pub fn is(&self, other: &Board) -> bool {
        match (&self.mac, &other.mac) {
            (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
            _ => self.port == other.port,
        }
    }
}

/// One filesystem partition in a backup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedPart {
    /// What the edit does with it.
    pub carried: Carried,
    /// The whole tree of a filesystem made again at its new place.
    pub tree: Option<Tree>,
    /// The new blocks (flash offset, 4 KB) of a littlefs grown in place.
    pub blocks: Vec<(u32, Vec<u8>)>,
}

/// A host backup of one table edit on one board.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backup {
    /// The board.
    pub board: Board,
    /// When the backup was made, seconds since 1970.
    pub created: u64,
    /// The bootloader header before the edit.
    pub old_header: ImageHeader,
    /// The bootloader header after it.
    pub new_header: ImageHeader,
    /// The partition table before the edit.
    pub old_table: PartitionTable,
    /// The partition table after it.
    pub new_table: PartitionTable,
    /// Flash offsets of the new table's partitions whose bytes the backup
    /// owns (committing the table leaves them alone).
    pub keep: Vec<u32>,
    /// Every filesystem partition the edit touches.
    pub parts: Vec<SavedPart>,
}

fn put_str(w: &mut Vec<u8>, s: &str) {
    put_bytes32(w, s.as_bytes());
}

fn put_place(w: &mut Vec<u8>, p: &Place) {
    w.extend_from_slice(&p.offset.to_le_bytes());
    w.extend_from_slice(&p.size.to_le_bytes());
    w.push(u8::from(p.implicit));
}

fn action_code(a: Action) -> u8 {
    match a {
        Action::Unchanged => 0,
        Action::Grown => 1,
        Action::KeptSize => 2,
        Action::Recreated => 3,
        Action::Discarded => 4,
    }
}

fn put_carried(w: &mut Vec<u8>, c: &Carried) {
    put_str(w, &c.partition);
    match &c.new_name {
        None => w.push(0),
        Some(n) => {
            w.push(1);
            put_str(w, n);
        }
    }
    put_str(w, &c.filesystem);
    w.push(action_code(c.action));
    put_place(w, &c.from);
    match &c.to {
        None => w.push(0),
        Some(p) => {
            w.push(1);
            put_place(w, p);
        }
    }
    match &c.contents {
        None => w.push(0),
        Some(s) => {
            w.push(1);
            w.extend_from_slice(&s.files.to_le_bytes());
            w.extend_from_slice(&s.dirs.to_le_bytes());
            w.extend_from_slice(&s.bytes.to_le_bytes());
        }
    }
    w.extend_from_slice(&c.fs_size.to_le_bytes());
}

/// The bytes of `b`. Errors: a table with more entries than a table sector holds.
pub fn encode(b: &Backup) -> Result<Vec<u8>, crate::format::partition::TableError> {
    let mut w = Vec::new();
    w.extend_from_slice(MAGIC);
    w.push(VERSION);
    put_str(&mut w, &b.board.port);
    put_str(&mut w, b.board.mac.as_deref().unwrap_or(""));
    w.extend_from_slice(&b.created.to_le_bytes());
    w.extend_from_slice(&b.old_header.to_bytes());
    w.extend_from_slice(&b.new_header.to_bytes());
    put_bytes32(&mut w, &b.old_table.to_bytes()?);
    put_bytes32(&mut w, &b.new_table.to_bytes()?);
    w.extend_from_slice(&(b.keep.len() as u32).to_le_bytes());
    for k in &b.keep {
        w.extend_from_slice(&k.to_le_bytes());
    }
    w.extend_from_slice(&(b.parts.len() as u32).to_le_bytes());
    for p in &b.parts {
        put_carried(&mut w, &p.carried);
        match (&p.tree, p.blocks.is_empty()) {
            (Some(t), _) => {
                w.push(1);
                put_bytes32(&mut w, &codec::encode(t));
            }
            (None, false) => {
                w.push(2);
                w.extend_from_slice(&(p.blocks.len() as u32).to_le_bytes());
                for (offset, data) in &p.blocks {
                    w.extend_from_slice(&offset.to_le_bytes());
                    w.extend_from_slice(data);
                }
            }
            (None, true) => w.push(0),
        }
    }
    let crc = crc32fast::hash(&w);
    w.extend_from_slice(&crc.to_le_bytes());
    Ok(w)
}

fn string(r: &mut Reader) -> Result<String, CodecError> {
    String::from_utf8(r.bytes32()?).map_err(|_| CodecError::Damaged("a name is not UTF-8"))
}

fn place(r: &mut Reader) -> Result<Place, CodecError> {
    Ok(Place { offset: r.u32()?, size: r.u32()?, implicit: r.u8()? != 0 })
}

fn flag(r: &mut Reader) -> Result<bool, CodecError> {
    match r.u8()? {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(CodecError::Damaged("unknown flag")),
    }
}

fn carried(r: &mut Reader) -> Result<Carried, CodecError> {
    let partition = string(r)?;
    let new_name = if flag(r)? { Some(string(r)?) } else { None };
    let filesystem = string(r)?;
    let action = match r.u8()? {
        0 => Action::Unchanged,
        1 => Action::Grown,
        2 => Action::KeptSize,
        3 => Action::Recreated,
        4 => Action::Discarded,
        _ => return Err(CodecError::Damaged("unknown action")),
    };
    let from = place(r)?;
    let to = if flag(r)? { Some(place(r)?) } else { None };
    let contents = if flag(r)? { Some(TreeStats { files: r.u32()?, dirs: r.u32()?, bytes: r.u64()? }) } else { None };
    Ok(Carried { partition, new_name, filesystem, action, from, to, contents, fs_size: r.u32()? })
}

fn header(r: &mut Reader) -> Result<ImageHeader, CodecError> {
    ImageHeader::parse(r.take(HEADER_LEN)?).map_err(|_| CodecError::Damaged("a bootloader header is not one"))
}

fn table(r: &mut Reader) -> Result<PartitionTable, CodecError> {
    PartitionTable::parse(&r.bytes32()?).map_err(|_| CodecError::Damaged("a partition table is not one"))
}

/// The backup `bytes` hold (as [`encode`] wrote them).
pub fn decode(bytes: &[u8]) -> Result<Backup, CodecError> {
    let mut r = codec::unframe(bytes, MAGIC, VERSION)?;
    let port = string(&mut r)?;
    let mac = Some(string(&mut r)?).filter(|m| !m.is_empty());
    let created = r.u64()?;
    let (old_header, new_header) = (header(&mut r)?, header(&mut r)?);
    let (old_table, new_table) = (table(&mut r)?, table(&mut r)?);
    let n = r.u32()? as usize;
    if n > r.0.len() / 4 {
        return Err(SHORT);
    }
    let keep = (0..n).map(|_| r.u32()).collect::<Result<Vec<_>, _>>()?;
    let count = r.u32()?;
    let mut parts = Vec::new();
    for _ in 0..count {
        let carried = carried(&mut r)?;
        let (tree, blocks) = match r.u8()? {
            0 => (None, Vec::new()),
            1 => (Some(codec::decode(&r.bytes32()?)?), Vec::new()),
            2 => {
                let n = r.u32()? as usize;
                if n > r.0.len() / (4 + BLOCK_SIZE as usize) {
                    return Err(SHORT);
                }
                let blocks =
                    (0..n)
                        .map(|_| Ok((r.u32()?, r.take(BLOCK_SIZE as usize)?.to_vec())))
                        .collect::<Result<Vec<_>, CodecError>>()?;
                (None, blocks)
            }
            _ => return Err(CodecError::Damaged("unknown payload")),
        };
        parts.push(SavedPart { carried, tree, blocks });
    }
    if !r.0.is_empty() {
        return Err(CodecError::Damaged("bytes after the last partition"));
    }
    Ok(Backup { board: Board { port, mac }, created, old_header, new_header, old_table, new_table, keep, parts })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::partition::{Partition, SUBTYPE_FAT, TYPE_APP, TYPE_DATA};
    use crate::fs::tree::{Meta, Node, NodeKind, TreeKind};

    fn table(vfs_at: u32) -> PartitionTable {
        PartitionTable {
            entries: vec![
                Partition::new("factory", TYPE_APP, 0, 0x10000, 0x1f0000, 0),
                Partition::new("vfs", TYPE_DATA, SUBTYPE_FAT, vfs_at, 0x100000, 0),
            ],
            had_md5: true,
        }
    }

    fn backup() -> Backup {
        let mut h = [0u8; HEADER_LEN];
        h[0] = 0xE9;
        h[3] = 0x20;
        let old_header = ImageHeader::parse(&h).unwrap();
        h[3] = 0x30;
        let new_header = ImageHeader::parse(&h).unwrap();
        let place = |offset| Place { offset, size: 0x100000, implicit: false };
        let tree = Tree {
            kind: TreeKind::Littlefs { disk_version: 0x0002_0000 },
            root_attrs: vec![],
            nodes: vec![Node {
                path: b"a.py".to_vec(),
                kind: NodeKind::File(vec![1, 2]),
                meta: Meta::Littlefs(vec![]),
            }],
        };
        let carried = |action, to| Carried {
            partition: "vfs".into(),
            new_name: Some("vfs".into()),
            filesystem: "littlefs 2.0".into(),
            action,
            from: place(0x200000),
            to: Some(place(to)),
            contents: Some(TreeStats { files: 1, dirs: 0, bytes: 2 }),
            fs_size: 0x100000,
        };
        Backup {
            board: Board { port: "/dev/ttyUSB0".into(), mac: Some("24:0a:c4:00:00:01".into()) },
            created: 1_764_000_000,
            old_header,
            new_header,
            old_table: table(0x200000),
            new_table: table(0x300000),
            keep: vec![0x300000],
            parts: vec![
                SavedPart { carried: carried(Action::Recreated, 0x300000), tree: Some(tree), blocks: vec![] },
                SavedPart {
                    carried: Carried { new_name: None, to: None, ..carried(Action::Grown, 0) },
                    tree: None,
                    blocks: vec![(0x200000, vec![7u8; 4096])],
                },
            ],
        }
    }

    #[test]
    fn round_trip_is_exact() {
        let b = backup();
        assert_eq!(decode(&encode(&b).unwrap()), Ok(b.clone()));
        let no_mac = Backup { board: Board { mac: None, ..b.board.clone() }, ..b };
        assert_eq!(decode(&encode(&no_mac).unwrap()), Ok(no_mac));
    }

    #[test]
    fn damage_is_refused() {
        let good = encode(&backup()).unwrap();
        assert_eq!(decode(b"MPIMG-TREE\x01"), Err(CodecError::NotABackup));
        let mut v = good.clone();
        v[MAGIC.len()] = 9;
        assert_eq!(decode(&v), Err(CodecError::Version(9)));
        let mut flipped = good.clone();
        flipped[40] ^= 1;
        assert_eq!(decode(&flipped), Err(CodecError::Checksum));
        for cut in [MAGIC.len(), MAGIC.len() + 3, good.len() / 2, good.len() - 1] {
            assert!(decode(&good[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn a_board_is_known_by_its_mac_else_by_its_port() {
        let b = |port: &str, mac: Option<&str>| Board { port: port.into(), mac: mac.map(Into::into) };
        assert!(b("/dev/ttyUSB0", Some("24:0A:C4:00:00:01")).is(&b("/dev/ttyUSB3", Some("24:0a:c4:00:00:01"))));
        assert!(!b("/dev/ttyUSB0", Some("24:0a:c4:00:00:01")).is(&b("/dev/ttyUSB0", Some("24:0a:c4:00:00:02"))));
        assert!(b("/dev/ttyUSB0", None).is(&b("/dev/ttyUSB0", Some("24:0a:c4:00:00:02"))));
        assert!(!b("/dev/ttyUSB0", None).is(&b("/dev/ttyUSB1", None)));
    }
}
