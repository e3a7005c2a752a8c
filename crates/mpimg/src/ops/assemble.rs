//! Assembling one firmware image from a build's pieces: the bootloader, the
//! partition table, the app(s) and any data images, each at its flash
//! offset, as `flasher_args.json` (or a plain `OFFSET=FILE` list) names them.
//!
//! The image starts at the chip's bootloader offset (0x1000 on esp32 and
//! esp32s2, 0x2000 on esp32c5 and esp32p4, else 0x0), as MicroPython's `.bin`
//! releases do; gaps between pieces are 0xFF (erased flash). The flash mode,
//! frequency and size are written into the bootloader's header and its
//! SHA-256 renewed, as esptool does when it writes the bootloader (and as
//! `merge-bin` does). Every piece is checked against what its offset says it
//! is before anything is joined: a bootloader image at the bootloader offset,
//! a partition table at 0x8000, an app image at each app partition.
//!
//! [`assemble`] is pure over bytes: files are read through the caller's
//! loader (`ops::firmware::assemble_files` reads them from this computer).

use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::format::app_kind::{not_an_app, NotApp};
use crate::format::chip::Chip;
use crate::format::flash_params::{FlashParamError, FlashParams};
use crate::format::flasher_args::FlasherArgs;
use crate::format::image::{parse_image_layout, rehash, ImageHeader, IMAGE_MAGIC};
use crate::format::partition::{PartitionTable, TABLE_OFFSET, TABLE_SIZE};

/// One file to place at a flash offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    /// Flash offset.
    pub offset: u32,
    /// The file (already joined to the directory it is relative to).
    pub path: PathBuf,
}

/// What to assemble: the pieces and the flash settings for the bootloader header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recipe {
    /// The chip, when the recipe names it (`flasher_args.json`); else the
    /// bootloader's (or the first image's) header tells it.
    pub chip: Option<String>,
    /// The flash mode (`dio`) as esptool names it; empty or `keep` leave the
    /// bootloader's header as it is (for the size, `detect` too).
    pub flash_mode: String,
    /// The flash frequency, as [`Recipe::flash_mode`].
    pub flash_freq: String,
    /// The flash size, as [`Recipe::flash_mode`].
    pub flash_size: String,
    /// The files and their offsets, in any order.
    pub pieces: Vec<Piece>,
}

impl Recipe {
    /// The recipe of a `flasher_args.json` found in directory `dir` (its
    /// files are relative to it).
    ///
    /// # Errors
    /// [`AssembleError::Encrypted`] when the build flashes a piece encrypted:
    /// esptool encrypts those while flashing, which an image file cannot carry.
    pub fn from_flasher_args(args: &FlasherArgs, dir: &Path) -> Result<Self, AssembleError> {
        if let Some(f) = args.files.iter().find(|f| f.encrypted) {
            return Err(AssembleError::Encrypted { offset: f.offset, path: dir.join(&f.file) });
        }
        Ok(Recipe {
            chip: args.chip.clone(),
            flash_mode: args.flash_mode.clone(),
            flash_freq: args.flash_freq.clone(),
            flash_size: args.flash_size.clone(),
            pieces: args.files.iter().map(|f| Piece { offset: f.offset, path: dir.join(&f.file) }).collect(),
        })
    }
}

/// Why the pieces do not make a firmware image. Each names the file and
/// offset at fault.
#[derive(Debug, Error)]
pub enum AssembleError {
    /// An empty recipe.
    #[error("nothing to assemble: no pieces given")]
    NoPieces,
    /// A file that cannot be read.
    #[error("cannot read '{}' (for {offset:#x}): {}", path.display(), crate::flash::io_reason(source))]
    Read {
        /// Its flash offset.
        offset: u32,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// An empty file.
    #[error("'{}' at {offset:#x} is empty", path.display())]
    Empty {
        /// Its flash offset.
        offset: u32,
        /// The file.
        path: PathBuf,
    },
    /// Two pieces share flash bytes.
    #[error("'{}' at {offset:#x} overlaps '{}' at {other_offset:#x}..{other_end:#x}: check the offsets", path.display(), other.display())]
    Overlap {
        /// Its flash offset.
        offset: u32,
        /// The file.
        path: PathBuf,
        /// Flash offset of the piece it overlaps.
        other_offset: u32,
        /// Where that piece ends (exclusive).
        other_end: u64,
        /// That piece's file.
        other: PathBuf,
    },
    /// A piece below the chip's bootloader offset, where the image starts.
    #[error("'{}' at {offset:#x} lies below the bootloader offset of {chip} ({bootloader:#x}), where a firmware image starts: check the offset (or the chip)", path.display())]
    BelowBootloader {
        /// Its flash offset.
        offset: u32,
        /// The file.
        path: PathBuf,
        /// The chip.
        chip: &'static str,
        /// Its bootloader offset.
        bootloader: u32,
    },
    /// A piece ending past 128 MB.
    #[error("'{}' at {offset:#x} ends at {end:#x}, past the largest flash (128 MB)", path.display())]
    PastEnd {
        /// Its flash offset.
        offset: u32,
        /// The file.
        path: PathBuf,
        /// Where it ends.
        end: u64,
    },
    /// A chip name mpimg does not know.
    #[error("unknown chip '{name}' in flasher_args.json: mpimg knows {}", Chip::names())]
    UnknownChip {
        /// The name as given.
        name: String,
    },
    /// No piece is an ESP image, so nothing names the chip.
    #[error("cannot tell the chip: no piece starts with an ESP image header (0xE9); give the bootloader")]
    NoChip,
    /// Nothing at the bootloader offset.
    #[error("no piece at {offset:#x}, the bootloader offset of {chip}: a firmware image starts with the bootloader")]
    NoBootloader {
        /// The bootloader offset.
        offset: u32,
        /// The chip.
        chip: &'static str,
    },
    /// The piece at the bootloader offset is not an image.
    #[error("'{}' at {offset:#x} is not a bootloader image: {why}", path.display())]
    NotBootloader {
        /// Its flash offset.
        offset: u32,
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// An image for another chip.
    #[error("'{}' at {offset:#x} is an image for {found}, but the build is for {chip}", path.display())]
    WrongChip {
        /// Its flash offset.
        offset: u32,
        /// The file.
        path: PathBuf,
        /// The chip its header names.
        found: String,
        /// The build's chip.
        chip: &'static str,
    },
    /// Nothing at 0x8000.
    #[error("no partition table at {TABLE_OFFSET:#x} among the pieces: mpimg needs the table there")]
    NoTable,
    /// The piece at 0x8000 is not a table.
    #[error("'{}' at {offset:#x} is not a partition table: {why}", path.display())]
    NotTable {
        /// Its flash offset.
        offset: u32,
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// The piece at an app partition is not an app image.
    #[error("'{}' at {offset:#x} is not an app image for partition '{partition}': {why}", path.display())]
    NotApp {
        /// Its flash offset.
        offset: u32,
        /// The file.
        path: PathBuf,
        /// The app partition.
        partition: String,
        /// What is wrong with it.
        why: String,
    },
    /// An app larger than its partition.
    #[error("'{}' at {offset:#x} ({len:#x} bytes) does not fit partition '{partition}' ({size:#x} bytes)", path.display())]
    TooBig {
        /// Its flash offset.
        offset: u32,
        /// The file.
        path: PathBuf,
        /// Its length in bytes.
        len: usize,
        /// The partition.
        partition: String,
        /// The partition's size in bytes.
        size: u32,
    },
    /// A piece the build flashes encrypted.
    #[error("'{}' at {offset:#x} is flashed encrypted (flasher_args.json says \"encrypted\": \"true\"): esptool encrypts it while flashing, which an image file cannot carry; flash the build with esptool --encrypt", path.display())]
    Encrypted {
        /// Its flash offset.
        offset: u32,
        /// The file.
        path: PathBuf,
    },
    /// A flash setting the chip does not take.
    #[error("flasher_args.json: {0}")]
    FlashParam(#[from] FlashParamError),
}

/// A piece placed in the image.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Placed {
    /// Flash offset.
    pub offset: u32,
    /// Length in bytes.
    pub len: usize,
    /// The file it came from.
    pub path: PathBuf,
}

/// The assembled firmware image (serialised without its bytes: what was joined).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Assembled {
    /// The chip (from the recipe or the bootloader's header).
    #[serde(serialize_with = "chip_name")]
    pub chip: &'static Chip,
    /// The image: its first byte is at the chip's bootloader offset.
    #[serde(skip)]
    pub bytes: Vec<u8>,
    /// The pieces in flash order.
    pub placed: Vec<Placed>,
    /// Whether the flash settings changed the bootloader's header (and digest).
    pub header_changed: bool,
}

fn chip_name<S: serde::Serializer>(chip: &&'static Chip, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(chip.name)
}

/// The json file name ESP-IDF gives a build's flashing recipe.
pub const FLASHER_ARGS: &str = "flasher_args.json";

/// The `flasher_args.json` that `path` names: `path` itself when it has
/// that name, `path/flasher_args.json` when it is a directory; else `None`
/// (`path` is not a build).
pub fn flasher_args_path(path: &Path) -> Option<PathBuf> {
    if path.is_dir() {
        Some(path.join(FLASHER_ARGS))
    } else {
        (path.file_name().is_some_and(|n| n == FLASHER_ARGS)).then(|| path.to_path_buf())
    }
}

/// The largest flash an image can address (128 MB).
const MAX_END: u64 = 128 << 20;

struct Loaded {
    offset: u32,
    path: PathBuf,
    data: Vec<u8>,
}

impl Loaded {
    fn end(&self) -> u64 {
        u64::from(self.offset) + self.data.len() as u64
    }
}

/// Join the pieces of `recipe` into one image, reading files with `load`.
///
/// # Errors
/// [`AssembleError`] naming the file and offset: a file that cannot be read
/// or is empty, overlapping pieces, a piece below the chip's bootloader
/// offset, no bootloader, a piece that is not what its offset says, an app
/// larger than its partition, a flash setting the chip does not take.
pub fn assemble(
    recipe: &Recipe,
    load: &mut dyn FnMut(&Path) -> std::io::Result<Vec<u8>>,
) -> Result<Assembled, AssembleError> {
    if recipe.pieces.is_empty() {
        return Err(AssembleError::NoPieces);
    }
    let mut pieces = Vec::with_capacity(recipe.pieces.len());
    for p in &recipe.pieces {
        let data =
            load(&p.path).map_err(|source| AssembleError::Read { offset: p.offset, path: p.path.clone(), source })?;
        if data.is_empty() {
            return Err(AssembleError::Empty { offset: p.offset, path: p.path.clone() });
        }
        pieces.push(Loaded { offset: p.offset, path: p.path.clone(), data });
    }
    pieces.sort_by_key(|p| p.offset);
    let chip = which_chip(recipe, &pieces)?;
    check_layout(chip, &pieces)?;
    check_table_and_apps(chip, &pieces)?;
    let bl = chip.bootloader_offset;
    let end = pieces.iter().map(Loaded::end).max().unwrap_or(u64::from(bl));
    let mut bytes = vec![0xFF; (end - u64::from(bl)) as usize];
    for p in &pieces {
        let at = (p.offset - bl) as usize;
        bytes[at..at + p.data.len()].copy_from_slice(&p.data);
    }
    let params = FlashParams::parse(chip.name, &recipe.flash_mode, &recipe.flash_freq, &recipe.flash_size)?;
    let header_changed = apply_params(&mut bytes, &pieces[0], &params)?;
    let placed = pieces.into_iter().map(|p| Placed { offset: p.offset, len: p.data.len(), path: p.path }).collect();
    Ok(Assembled { chip, bytes, placed, header_changed })
}

/// The chip the recipe names, else the one in the lowest image header.
fn which_chip(recipe: &Recipe, pieces: &[Loaded]) -> Result<&'static Chip, AssembleError> {
    if let Some(name) = &recipe.chip {
        return Chip::by_name(name).ok_or_else(|| AssembleError::UnknownChip { name: name.clone() });
    }
    pieces
        .iter()
        .find_map(|p| (p.data[0] == IMAGE_MAGIC).then(|| ImageHeader::parse(&p.data).ok()).flatten())
        .and_then(|h| h.chip())
        .ok_or(AssembleError::NoChip)
}

/// Offsets: none below the bootloader, none past 128 MB, no overlaps, a
/// bootloader image for the chip at its offset.
fn check_layout(chip: &'static Chip, pieces: &[Loaded]) -> Result<(), AssembleError> {
    let bl = chip.bootloader_offset;
    let first = &pieces[0];
    if first.offset < bl {
        return Err(AssembleError::BelowBootloader {
            offset: first.offset,
            path: first.path.clone(),
            chip: chip.name,
            bootloader: bl,
        });
    }
    for w in pieces.windows(2) {
        if u64::from(w[1].offset) < w[0].end() {
            return Err(AssembleError::Overlap {
                offset: w[1].offset,
                path: w[1].path.clone(),
                other_offset: w[0].offset,
                other_end: w[0].end(),
                other: w[0].path.clone(),
            });
        }
    }
    if let Some(p) = pieces.iter().find(|p| p.end() > MAX_END) {
        return Err(AssembleError::PastEnd { offset: p.offset, path: p.path.clone(), end: p.end() });
    }
    if first.offset != bl {
        return Err(AssembleError::NoBootloader { offset: bl, chip: chip.name });
    }
    let not = |why: String| AssembleError::NotBootloader { offset: first.offset, path: first.path.clone(), why };
    if first.data[0] != IMAGE_MAGIC {
        return Err(not(format!("it starts with {:#04x}, not the image magic 0xe9", first.data[0])));
    }
    let info = parse_image_layout(&first.data).map_err(|e| not(e.to_string()))?;
    image_chip(chip, first, &info.header)
}

fn image_chip(chip: &'static Chip, p: &Loaded, header: &ImageHeader) -> Result<(), AssembleError> {
    if header.chip_id == chip.image_id {
        return Ok(());
    }
    let found = header.chip().map_or_else(|| format!("chip id {}", header.chip_id), |c| c.name.to_owned());
    Err(AssembleError::WrongChip { offset: p.offset, path: p.path.clone(), found, chip: chip.name })
}

/// A partition table at 0x8000, and at each app partition an app image that fits it.
fn check_table_and_apps(chip: &'static Chip, pieces: &[Loaded]) -> Result<(), AssembleError> {
    let t = pieces.iter().find(|p| p.offset == TABLE_OFFSET).ok_or(AssembleError::NoTable)?;
    let not_table = |why: String| AssembleError::NotTable { offset: t.offset, path: t.path.clone(), why };
    if !t.data.starts_with(&[0xAA, 0x50]) {
        let head: Vec<String> = t.data.iter().take(2).map(|b| format!("{b:02x}")).collect();
        return Err(not_table(format!("it starts with {}, not the entry magic aa 50", head.join(" "))));
    }
    // The piece may stop after its entries (a trimmed table): the flash after it reads erased.
    let mut sector = t.data[..t.data.len().min(TABLE_SIZE)].to_vec();
    sector.resize(TABLE_SIZE, 0xFF);
    let table = PartitionTable::parse(&sector).map_err(|e| not_table(e.to_string()))?;
    for part in table.entries.iter().filter(|e| e.is_app()) {
        let Some(p) = pieces.iter().find(|p| p.offset == part.offset) else { continue };
        let not_app =
            |why: String| AssembleError::NotApp { offset: p.offset, path: p.path.clone(), partition: part.name(), why };
        if p.data[0] != IMAGE_MAGIC {
            return Err(not_app(format!("it starts with {:#04x}, not the image magic 0xe9", p.data[0])));
        }
        let info = parse_image_layout(&p.data).map_err(|e| not_app(e.to_string()))?;
        image_chip(chip, p, &info.header)?;
        if let Some(looks) = not_an_app(&p.data) {
            let fix = match looks {
                NotApp::WholeFirmware => {
                    format!(": extract its app with `mpimg {} -x` and give that", p.path.display())
                }
                _ => String::new(),
            };
            return Err(not_app(format!("it is {looks}{fix}")));
        }
        if p.data.len() as u64 > u64::from(part.size) {
            return Err(AssembleError::TooBig {
                offset: p.offset,
                path: p.path.clone(),
                len: p.data.len(),
                partition: part.name(),
                size: part.size,
            });
        }
    }
    Ok(())
}

/// Write the flash settings into the bootloader header at the start of
/// `bytes` (the bootloader piece is `bl`) and renew its digest.
fn apply_params(bytes: &mut [u8], bl: &Loaded, params: &FlashParams) -> Result<bool, AssembleError> {
    let not = |why: String| AssembleError::NotBootloader { offset: bl.offset, path: bl.path.clone(), why };
    let mut header = ImageHeader::parse(bytes).map_err(|e| not(e.to_string()))?;
    if !params.apply(&mut header) {
        return Ok(false);
    }
    let head = header.to_bytes();
    bytes[..head.len()].copy_from_slice(&head);
    rehash(&mut bytes[..bl.data.len()]).map_err(|e| not(e.to_string()))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::format::image::{parse_image, testimg};
    use crate::format::partition::{Partition, TYPE_APP, TYPE_DATA};

    fn table() -> Vec<u8> {
        let entries = vec![
            Partition::new("nvs", TYPE_DATA, 2, 0x9000, 0x6000, 0),
            Partition::new("factory", TYPE_APP, 0, 0x10000, 0x1000, 0),
        ];
        PartitionTable { entries, had_md5: true }.to_bytes().unwrap()
    }

    /// Files by name, and a recipe placing them.
    fn build(chip_id: u16, bl: u32) -> (HashMap<PathBuf, Vec<u8>>, Recipe) {
        let files: HashMap<PathBuf, Vec<u8>> = [
            ("bl.bin", testimg::sample(chip_id)),
            ("pt.bin", table()[..0xC00].to_vec()),
            ("app.bin", testimg::sample_app(chip_id)),
        ]
        .into_iter()
        .map(|(n, d)| (PathBuf::from(n), d))
        .collect();
        let pieces = [(bl, "bl.bin"), (0x10000, "app.bin"), (0x8000, "pt.bin")];
        let pieces = pieces.iter().map(|&(offset, f)| Piece { offset, path: f.into() }).collect();
        (files, Recipe { pieces, ..Recipe::default() })
    }

    fn run(files: &HashMap<PathBuf, Vec<u8>>, recipe: &Recipe) -> Result<Assembled, AssembleError> {
        assemble(recipe, &mut |p: &Path| {
            files.get(p).cloned().ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))
        })
    }

    #[test]
    fn pieces_land_at_their_offsets_from_the_bootloader_offset_on() {
        for (chip_id, bl) in [(0u16, 0x1000u32), (9, 0x0), (23, 0x2000)] {
            let (files, recipe) = build(chip_id, bl);
            let a = run(&files, &recipe).unwrap();
            assert_eq!(a.chip.bootloader_offset, bl);
            let at = |off: u32| (off - bl) as usize;
            let bl_bin = &files[Path::new("bl.bin")];
            assert_eq!(&a.bytes[..bl_bin.len()], &bl_bin[..]);
            assert!(a.bytes[bl_bin.len()..at(0x8000)].iter().all(|&b| b == 0xFF));
            assert_eq!(&a.bytes[at(0x8000)..at(0x8C00)], &table()[..0xC00]);
            assert_eq!(&a.bytes[at(0x10000)..], &files[Path::new("app.bin")][..]);
            let placed: Vec<(u32, usize)> = a.placed.iter().map(|p| (p.offset, p.len)).collect();
            let app_len = files[Path::new("app.bin")].len();
            assert_eq!(placed, vec![(bl, bl_bin.len()), (0x8000, 0xC00), (0x10000, app_len)]);
            assert!(!a.header_changed);
        }
    }

    #[test]
    fn flash_settings_go_into_the_bootloader_header_with_a_new_digest() {
        let (files, recipe) = build(9, 0);
        let recipe = Recipe { flash_mode: "qio".into(), flash_freq: "40m".into(), flash_size: "16MB".into(), ..recipe };
        let a = run(&files, &recipe).unwrap();
        assert!(a.header_changed);
        assert_eq!(&a.bytes[..4], &[0xE9, 3, 0x00, 0x40]);
        let bl = parse_image(&a.bytes).unwrap();
        assert!(bl.is_valid());
        let mut want = files[Path::new("bl.bin")].clone();
        want[2..4].copy_from_slice(&[0x00, 0x40]);
        rehash(&mut want).unwrap();
        assert_eq!(&a.bytes[..want.len()], &want[..]);
        // The app keeps its own header: settings are the bootloader's.
        assert_eq!(&a.bytes[0x10000..0x10004], &files[Path::new("app.bin")][..4]);
    }

    #[test]
    fn the_errors_of_a_broken_recipe() {
        let (mut files, recipe) = build(0, 0x1000);
        let mut big = testimg::sample_app(0);
        big.resize(0x1001, 0xFF);
        files.insert("big.bin".into(), big);
        let mut whole = testimg::sample(0);
        whole.resize(0x7000, 0xFF);
        whole.extend_from_slice(&table());
        files.insert("whole.bin".into(), whole);
        let with = |f: &dyn Fn(&mut Recipe)| {
            let mut r = recipe.clone();
            f(&mut r);
            match run(&files, &r) {
                Ok(_) => "assembled".to_owned(),
                Err(e) => e.to_string(),
            }
        };
        assert_eq!(with(&|_| ()), "assembled");
        assert_eq!(with(&|r| r.pieces.clear()), "nothing to assemble: no pieces given");
        assert_eq!(
            with(&|r| r.pieces[1].path = "gone.bin".into()),
            "cannot read 'gone.bin' (for 0x10000): no such file"
        );
        assert_eq!(
            with(&|r| r.pieces[0].offset = 0),
            "'bl.bin' at 0x0 lies below the bootloader offset of esp32 (0x1000), where a firmware image starts: check the \
             offset (or the chip)"
        );
        assert_eq!(
            with(&|r| r.pieces[1].offset = 0x8100),
            "'app.bin' at 0x8100 overlaps 'pt.bin' at 0x8000..0x8c00: check the offsets"
        );
        assert_eq!(
            with(&|r| r.chip = Some("esp8266".into())),
            format!("unknown chip 'esp8266' in flasher_args.json: mpimg knows {}", Chip::names())
        );
        assert_eq!(
            with(&|r| r.pieces[1].path = "big.bin".into()),
            "'big.bin' at 0x10000 (0x1001 bytes) does not fit partition 'factory' (0x1000 bytes)"
        );
        assert_eq!(
            with(&|r| r.pieces[1].path = "bl.bin".into()),
            "'bl.bin' at 0x10000 is not an app image for partition 'factory': it is a bootloader image"
        );
        assert_eq!(
            with(&|r| r.pieces[1].path = "whole.bin".into()),
            "'whole.bin' at 0x10000 is not an app image for partition 'factory': it is a whole firmware image \
             (bootloader at 0x0 followed by a table): extract its app with `mpimg whole.bin -x` and give that"
        );
        assert_eq!(
            with(&|r| r.pieces[1].offset = 0x7FF_FF00),
            "'app.bin' at 0x7ffff00 ends at 0x80000d0, past the largest flash (128 MB)"
        );
    }
}
