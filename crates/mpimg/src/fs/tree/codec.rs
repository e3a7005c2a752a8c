//! A [`Tree`] as bytes, to keep it in a file (a host backup of a partition
//! about to be moved) and read it back exactly.
//!
//! Layout (integers little-endian): the magic `MPIMG-TREE`, format version
//! (u8, 1); the kind (u8: 0 littlefs + disk version u32, 1 FAT + volume id
//! u32 + label 11 bytes); the root's attributes; the node count (u32) and each
//! node: path (u32 length + bytes), kind (u8: 0 directory, 1 file + u64
//! length + bytes), meta (u8: 0 attributes, 1 FAT times: created, accessed,
//! modified, each 7 u16: year, month, day, hour, min, sec, millis). Attributes
//! are a count (u32) and for each its type (u8) and value (u32 length +
//! bytes). The file ends with the CRC-32 (IEEE) of everything before it.

use mpimg_littlefs::Attribute;
use thiserror::Error;

use super::{FatStamp, FatTimes, Meta, Node, NodeKind, Tree, TreeKind};

const MAGIC: &[u8] = b"MPIMG-TREE";
const VERSION: u8 = 1;

/// Why bytes are not a backup (a tree here, or the carry backup that holds trees).
#[derive(Debug, Error, PartialEq, Eq)]
pub enum CodecError {
    /// The bytes do not start with the magic.
    #[error("not a backup made by mpimg (its header is missing)")]
    NotABackup,
    /// A format version this mpimg does not read.
    #[error("backup format {0} is not known to this mpimg (it reads format 1)")]
    Version(u8),
    /// The CRC-32 does not match the bytes.
    #[error("the backup is damaged (its checksum does not match)")]
    Checksum,
    /// The checksum matches but the contents do not parse (what is wrong).
    #[error("the backup is damaged ({0})")]
    Damaged(&'static str),
}

/// The bytes of `tree`.
pub fn encode(tree: &Tree) -> Vec<u8> {
    let mut w = Vec::new();
    w.extend_from_slice(MAGIC);
    w.push(VERSION);
    match &tree.kind {
        TreeKind::Littlefs { disk_version } => {
            w.push(0);
            w.extend_from_slice(&disk_version.to_le_bytes());
        }
        TreeKind::Fat { volume_id, label } => {
            w.push(1);
            w.extend_from_slice(&volume_id.to_le_bytes());
            w.extend_from_slice(label);
        }
    }
    put_attrs(&mut w, &tree.root_attrs);
    w.extend_from_slice(&(tree.nodes.len() as u32).to_le_bytes());
    for n in &tree.nodes {
        put_bytes32(&mut w, &n.path);
        match &n.kind {
            NodeKind::Dir => w.push(0),
            NodeKind::File(data) => {
                w.push(1);
                w.extend_from_slice(&(data.len() as u64).to_le_bytes());
                w.extend_from_slice(data);
            }
        }
        match &n.meta {
            Meta::Littlefs(attrs) => {
                w.push(0);
                put_attrs(&mut w, attrs);
            }
            Meta::Fat(t) => {
                w.push(1);
                for s in [t.created, t.accessed, t.modified] {
                    for v in [s.year, s.month, s.day, s.hour, s.min, s.sec, s.millis] {
                        w.extend_from_slice(&v.to_le_bytes());
                    }
                }
            }
        }
    }
    let crc = crc32fast::hash(&w);
    w.extend_from_slice(&crc.to_le_bytes());
    w
}

/// `b` as its length (u32 little-endian) and its bytes.
pub(crate) fn put_bytes32(w: &mut Vec<u8>, b: &[u8]) {
    w.extend_from_slice(&(b.len() as u32).to_le_bytes());
    w.extend_from_slice(b);
}

fn put_attrs(w: &mut Vec<u8>, attrs: &[Attribute]) {
    w.extend_from_slice(&(attrs.len() as u32).to_le_bytes());
    for a in attrs {
        w.push(a.kind);
        put_bytes32(w, &a.value);
    }
}

/// Reads values off the front of a byte slice.
pub(crate) struct Reader<'a>(pub(crate) &'a [u8]);

pub(crate) const SHORT: CodecError = CodecError::Damaged("it ends early");

impl<'a> Reader<'a> {
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        if n > self.0.len() {
            return Err(SHORT);
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    pub(crate) fn u8(&mut self) -> Result<u8, CodecError> {
        Ok(self.take(1)?[0])
    }
    pub(crate) fn u16(&mut self) -> Result<u16, CodecError> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    pub(crate) fn u32(&mut self) -> Result<u32, CodecError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    pub(crate) fn u64(&mut self) -> Result<u64, CodecError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
    pub(crate) fn bytes32(&mut self) -> Result<Vec<u8>, CodecError> {
        let n = self.u32()? as usize;
        Ok(self.take(n)?.to_vec())
    }
    fn attrs(&mut self) -> Result<Vec<Attribute>, CodecError> {
        let n = self.u32()?;
        // Each attribute takes at least 5 bytes: a count past the data is damage, not a huge allocation.
        if n as usize > self.0.len() / 5 {
            return Err(SHORT);
        }
        (0..n).map(|_| Ok(Attribute { kind: self.u8()?, value: self.bytes32()? })).collect()
    }
    fn stamp(&mut self) -> Result<FatStamp, CodecError> {
        Ok(FatStamp {
            year: self.u16()?,
            month: self.u16()?,
            day: self.u16()?,
            hour: self.u16()?,
            min: self.u16()?,
            sec: self.u16()?,
            millis: self.u16()?,
        })
    }
}

/// The body of a framed record (`magic`, a `version` byte, the body, then
/// the CRC-32 of all before it, little-endian), as a reader: the framing
/// both the tree and the carry backup use.
///
/// Errors: [`CodecError::NotABackup`] (another magic), [`CodecError::Version`],
/// `SHORT`, [`CodecError::Checksum`].
pub(crate) fn unframe<'a>(bytes: &'a [u8], magic: &[u8], version: u8) -> Result<Reader<'a>, CodecError> {
    if !bytes.starts_with(magic) {
        return Err(CodecError::NotABackup);
    }
    match bytes.get(magic.len()) {
        Some(&v) if v != version => return Err(CodecError::Version(v)),
        _ => {}
    }
    if bytes.len() < magic.len() + 1 + 4 {
        return Err(SHORT);
    }
    let (body, crc) = bytes.split_at(bytes.len() - 4);
    if crc32fast::hash(body).to_le_bytes() != crc {
        return Err(CodecError::Checksum);
    }
    Ok(Reader(&body[magic.len() + 1..]))
}

/// The tree `bytes` hold (as [`encode`] wrote them).
pub fn decode(bytes: &[u8]) -> Result<Tree, CodecError> {
    let mut r = unframe(bytes, MAGIC, VERSION)?;
    let kind = match r.u8()? {
        0 => TreeKind::Littlefs { disk_version: r.u32()? },
        1 => {
            let volume_id = r.u32()?;
            let mut label = [0u8; 11];
            label.copy_from_slice(r.take(11)?);
            TreeKind::Fat { volume_id, label }
        }
        _ => return Err(CodecError::Damaged("unknown filesystem kind")),
    };
    let root_attrs = r.attrs()?;
    let count = r.u32()?;
    let mut nodes = Vec::new();
    for _ in 0..count {
        let path = r.bytes32()?;
        let kind = match r.u8()? {
            0 => NodeKind::Dir,
            1 => {
                let n = usize::try_from(r.u64()?).map_err(|_| SHORT)?;
                NodeKind::File(r.take(n)?.to_vec())
            }
            _ => return Err(CodecError::Damaged("unknown node kind")),
        };
        let meta = match r.u8()? {
            0 => Meta::Littlefs(r.attrs()?),
            1 => Meta::Fat(FatTimes { created: r.stamp()?, accessed: r.stamp()?, modified: r.stamp()? }),
            _ => return Err(CodecError::Damaged("unknown metadata kind")),
        };
        nodes.push(Node { path, kind, meta });
    }
    if !r.0.is_empty() {
        return Err(CodecError::Damaged("bytes after the last node"));
    }
    Ok(Tree { kind, root_attrs, nodes })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(sec: u16) -> FatStamp {
        FatStamp { year: 2024, month: 6, day: 2, hour: 1, min: 2, sec, millis: 10 }
    }

    fn trees() -> Vec<Tree> {
        let a = |kind: u8, v: &[u8]| Attribute { kind, value: v.to_vec() };
        vec![
            Tree {
                kind: TreeKind::Littlefs { disk_version: 0x0002_0000 },
                root_attrs: vec![a(6, b"root")],
                nodes: vec![
                    Node { path: b"lib".to_vec(), kind: NodeKind::Dir, meta: Meta::Littlefs(vec![]) },
                    Node {
                        path: b"lib/\xff.py".to_vec(),
                        kind: NodeKind::File(vec![1, 2, 3]),
                        meta: Meta::Littlefs(vec![a(0, b""), a(1, &7u64.to_le_bytes())]),
                    },
                    Node { path: b"empty".to_vec(), kind: NodeKind::File(vec![]), meta: Meta::Littlefs(vec![]) },
                ],
            },
            Tree {
                kind: TreeKind::Fat { volume_id: 0x1234_5678, label: *b"NO NAME    " },
                root_attrs: vec![],
                nodes: vec![Node {
                    path: b"a.txt".to_vec(),
                    kind: NodeKind::File(b"x".to_vec()),
                    meta: Meta::Fat(FatTimes { created: stamp(3), accessed: stamp(0), modified: stamp(4) }),
                }],
            },
        ]
    }

    #[test]
    fn round_trip_is_exact() {
        for t in trees() {
            assert_eq!(decode(&encode(&t)), Ok(t));
        }
    }

    #[test]
    fn damage_is_refused() {
        let t = &trees()[0];
        let good = encode(t);
        assert_eq!(decode(b"something else"), Err(CodecError::NotABackup));
        let mut v = good.clone();
        v[MAGIC.len()] = 2;
        assert_eq!(decode(&v), Err(CodecError::Version(2)));
        let mut flipped = good.clone();
        flipped[20] ^= 1;
        assert_eq!(decode(&flipped), Err(CodecError::Checksum));
        for cut in [MAGIC.len() + 1, good.len() - 5, good.len() - 1] {
            assert!(decode(&good[..cut]).is_err(), "cut at {cut}");
        }
    }
}
