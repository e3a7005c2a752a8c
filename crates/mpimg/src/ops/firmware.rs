//! A MicroPython firmware opened over a [`Flash`]: its chip, bootloader header
//! and partition table, read once and kept for the operations that follow,
//! and what MicroPython makes of the table at boot (the implicit `vfs`).

use std::path::Path;

use crate::error::Error;
use crate::flash::{same_file, write_atomically, FileBytes, FileFlash, FileStamp, Flash};
use crate::format::app_desc::AppDesc;
use crate::format::banner::{find_banner, Banner};
use crate::format::chip::Chip;
use crate::format::flasher_args::FlasherArgs;
use crate::format::image::{ImageHeader, HEADER_LEN, IMAGE_MAGIC};
use crate::format::partition::{
    Partition, PartitionTable, PartitionView, TableError, SUBTYPE_FAT, TABLE_OFFSET, TABLE_SIZE, TYPE_DATA,
};
use crate::fs::{Filesystem, FsPartition};
use crate::ops::assemble::{assemble, Assembled, Recipe};
use crate::ops::file_format::{decode, encode, FileFormat};

/// Largest flash an image header can describe (128 MB): a file may grow up to it.
pub const MAX_FLASH: u32 = 128 << 20;

/// How far into its app MicroPython's banner lies (within the first segment):
/// what a slow backend reads to learn the version.
const BANNER_WINDOW: u32 = 0x4_0000;

/// A firmware (bootloader + table + apps + data) on a flash backend.
///
/// ```
/// # fn main() -> Result<(), mpimg::Error> {
/// # let Some(path) = mpimg::doc_support::firmware("ESP32_GENERIC_C3-20251209-v1.27.0.bin") else { return Ok(()) };
/// let mut fw = mpimg::Firmware::open_file(&path)?;
/// assert_eq!((fw.chip.name, fw.bootloader_offset(), fw.flash_size()), ("esp32c3", 0, 4 << 20));
/// let names: Vec<String> = fw.partitions().into_iter().map(|p| p.name).collect();
/// assert_eq!(names, ["nvs", "phy_init", "factory", "vfs"]);
/// # Ok(())
/// # }
/// ```
pub struct Firmware<F: Flash> {
    /// The flash it is on.
    pub flash: F,
    /// Its chip (from the bootloader's image header).
    pub chip: &'static Chip,
    /// The bootloader's image header as read from flash.
    pub header: ImageHeader,
    /// The partition table.
    pub table: PartitionTable,
    /// The rule the table breaks, if any (it was read all the same).
    pub table_error: Option<TableError>,
    /// What is legal but odd about the table.
    pub table_warnings: Vec<String>,
    /// MicroPython's banner in the first app, once read.
    banner: Option<Option<Banner>>,
}

/// What a file turned out to hold.
pub enum Opened {
    /// A whole firmware (bootloader, table, apps).
    Firmware(Box<Firmware<FileFlash>>),
    /// An app image on its own (`.app-bin`): no bootloader, no table.
    App(FileBytes),
}

/// Open a firmware or app image from the bytes of a file.
///
/// Errors: [`Error::Empty`], [`Error::TooShort`], [`Error::Erased`],
/// [`Error::NotAnImage`], [`Error::WrongStart`], [`Error::UnknownChip`],
/// [`Error::EndsBeforeTable`], and what reading the header and table gives.
pub fn open_bytes(bytes: impl Into<FileBytes>) -> Result<Opened, Error> {
    let bytes = bytes.into();
    let data = bytes.as_slice();
    if data.is_empty() {
        return Err(Error::Empty);
    }
    if data.len() < HEADER_LEN {
        return Err(Error::TooShort { len: data.len() });
    }
    if data[0] != IMAGE_MAGIC {
        return Err(not_an_image(data));
    }
    let header = ImageHeader::parse(data)?;
    let chip = header.chip().ok_or(Error::UnknownChip { id: header.chip_id })?;
    if AppDesc::parse(data).is_some() {
        return Ok(Opened::App(bytes));
    }
    let start = chip.bootloader_offset;
    let end = start as u64 + data.len() as u64;
    if end < u64::from(TABLE_OFFSET) + TABLE_SIZE as u64 {
        return Err(Error::EndsBeforeTable { chip: chip.name, file_end: end as u32 });
    }
    let flash = FileFlash::new(bytes, start, MAX_FLASH);
    Ok(Opened::Firmware(Box::new(Firmware::open(flash, chip)?)))
}

/// Open the file at `path` (mapped, not read, until something changes it).
/// An Intel HEX or UF2 file (known by its contents) is decoded to the image
/// it holds first (see [`crate::ops::file_format`]).
///
/// Errors: [`Error::Read`] when the file cannot be read, [`Error::Decode`]
/// for a HEX or UF2 file that holds no firmware, and those of [`open_bytes`].
///
/// The file's stamp is taken first: a firmware saved later from these bytes
/// is refused ([`Error::InputChanged`]) if another program changed the file
/// meanwhile.
pub fn open_path(path: &Path) -> Result<Opened, Error> {
    let cannot = |source| Error::Read { path: path.into(), source };
    let stamp = FileStamp::now(path).map_err(cannot)?;
    let bytes = FileBytes::open(path).map_err(cannot)?;
    let opened = match decode(bytes.as_slice()) {
        Ok(None) => open_bytes(bytes),
        Ok(Some(decoded)) => open_bytes(decoded.bytes),
        Err(source) => Err(Error::Decode { path: path.into(), source }),
    }?;
    Ok(match opened {
        // A stream (a pipe, a FIFO) was read whole: there is no file to change under us,
        // and writing into it changes its time, which is not a change of what was read.
        Opened::Firmware(mut fw) if std::fs::metadata(path).is_ok_and(|m| m.is_file()) => {
            fw.flash.set_source(path, stamp);
            Opened::Firmware(fw)
        }
        app => app,
    })
}

/// Refuse to write any of `outputs` when it is the `input` file itself (by
/// the same path, another one, a hard link or a symbolic link): a run writes
/// its input only when asked to change it in place.
///
/// Errors: [`Error::OutputIsInput`] naming the first such output.
pub fn check_outputs<'a>(input: &Path, outputs: impl IntoIterator<Item = &'a Path>) -> Result<(), Error> {
    match outputs.into_iter().find(|o| same_file(input, o)) {
        Some(o) => Err(Error::OutputIsInput { path: o.to_path_buf() }),
        None => Ok(()),
    }
}

/// Whether the file at `path` can be written (opened for writing, nothing
/// changed): what an in-place run checks before it does any work. A file
/// whose mode gives no one write permission (0444) is refused even to root,
/// whom modes do not stop: a read-only firmware is one someone wants kept
/// as it is (a release download, shared test data).
///
/// Errors: [`Error::Write`] with the reason (permission denied, the file is
/// read-only, a read-only file system).
pub fn check_writable(path: &Path) -> Result<(), Error> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.is_file() && meta.permissions().mode() & 0o222 == 0 {
                let source = std::io::Error::other(format!(
                    "the file is read-only (mode {:04o}); make it writable first (chmod u+w) to change it in place",
                    meta.permissions().mode() & 0o7777
                ));
                return Err(Error::Write { path: path.into(), source });
            }
        }
    }
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map(drop)
        .map_err(|source| Error::Write { path: path.into(), source })
}

/// Explain a file that does not start with an image header.
fn not_an_image(data: &[u8]) -> Error {
    if data.iter().all(|&b| b == 0xFF) {
        return Error::Erased;
    }
    // A dump of flash from offset 0 of an esp32/esp32s2 has the bootloader at 0x1000.
    for off in [0x1000usize, 0x2000] {
        if data.get(off) == Some(&IMAGE_MAGIC) {
            return Error::WrongStart { found_at: off as u32 };
        }
    }
    Error::NotAnImage { first: data[..4].iter().map(|b| format!("{b:02x}")).collect() }
}

/// The recipe in the build's `flasher_args.json` at `json` (files relative to its directory).
///
/// Errors: [`Error::Read`], [`Error::FlasherArgs`] for a json that cannot be
/// used, [`Error::Assemble`] ([`AssembleError::Encrypted`](crate::ops::assemble::AssembleError::Encrypted)).
pub fn read_recipe(json: &Path) -> Result<Recipe, Error> {
    let text = std::fs::read_to_string(json).map_err(|source| Error::Read { path: json.into(), source })?;
    let args = FlasherArgs::parse(&text).map_err(|source| Error::FlasherArgs { path: json.into(), source })?;
    Ok(Recipe::from_flasher_args(&args, json.parent().unwrap_or(Path::new("")))?)
}

/// [`assemble`](crate::ops::assemble::assemble) with the files read from this computer.
///
/// Errors: [`Error::Assemble`].
pub fn assemble_files(recipe: &Recipe) -> Result<Assembled, Error> {
    Ok(assemble(recipe, &mut |p: &Path| std::fs::read(p))?)
}

impl Firmware<FileFlash> {
    /// Open a MicroPython firmware file (`.bin`: flash from the bootloader
    /// offset on). Changes stay in memory until [`Firmware::save`].
    ///
    /// Errors: those of [`open_bytes`], and [`Error::AppImageOnly`] for an app image (`.app-bin`).
    pub fn open_file(path: impl AsRef<Path>) -> Result<Self, Error> {
        match open_path(path.as_ref())? {
            Opened::Firmware(fw) => Ok(*fw),
            Opened::App(_) => Err(Error::AppImageOnly { what: "open".into() }),
        }
    }

    /// Write the firmware, with its changes, to `path` (atomically: a
    /// temporary file renamed into place). Returns its length in bytes.
    ///
    /// Errors: [`Error::InputChanged`] when the file the firmware came from
    /// changed since it was opened (nothing is written), [`Error::Write`].
    pub fn save(&self, path: impl AsRef<Path>) -> Result<usize, Error> {
        let path = path.as_ref();
        self.check_source()?;
        write_atomically(path, self.flash.bytes()).map_err(|source| Error::Write { path: path.into(), source })?;
        Ok(self.flash.bytes().len())
    }

    /// Write only the changes back into `path`, the file the firmware came
    /// from (see [`FileFlash::save_in_place`]). Returns the bytes written.
    ///
    /// Errors: [`Error::InputChanged`] when another program changed the
    /// file since it was opened (nothing is written), [`Error::Write`].
    pub fn save_in_place(&self, path: impl AsRef<Path>) -> Result<usize, Error> {
        let path = path.as_ref();
        self.check_source()?;
        self.flash.save_in_place(path).map_err(|source| Error::Write { path: path.into(), source })
    }

    fn check_source(&self) -> Result<(), Error> {
        match self.flash.changed_source() {
            Some(p) => Err(Error::InputChanged { path: p.to_path_buf() }),
            None => Ok(()),
        }
    }

    /// The firmware file's contents in `format`: the raw image, or Intel HEX
    /// or UF2 carrying the regions the partition table (with the implicit
    /// `vfs`) says mean something (see [`crate::ops::file_format`]).
    pub fn encode(&mut self, format: FileFormat) -> Vec<u8> {
        if format == FileFormat::Bin {
            return self.flash.bytes().to_vec();
        }
        let mut parts = self.table.entries.clone();
        parts.extend(self.implicit_vfs());
        encode(format, self.chip, self.bootloader_offset(), self.flash.bytes(), &parts)
    }

    /// Write the firmware to `path` in `format` (atomically, as [`Firmware::save`]).
    /// Returns the file's length in bytes.
    ///
    /// Errors: [`Error::InputChanged`], [`Error::Write`].
    pub fn save_as(&mut self, path: impl AsRef<Path>, format: FileFormat) -> Result<usize, Error> {
        if format == FileFormat::Bin {
            return self.save(path);
        }
        let path = path.as_ref();
        self.check_source()?;
        let data = self.encode(format);
        write_atomically(path, &data).map_err(|source| Error::Write { path: path.into(), source })?;
        Ok(data.len())
    }
}

#[cfg(feature = "device")]
impl Firmware<crate::flash::DeviceFlash> {
    /// Connect to the device on `port` (`/dev/ttyUSB0`, `COM3`) and open the
    /// firmware in its flash. Changes are written to the device as they are made.
    ///
    /// Errors: [`Error::Device`] when the connection fails; [`Error::NoBootloader`]
    /// for erased flash and [`Error::NotABootloader`] for foreign contents at the
    /// bootloader offset (a device that needs a firmware flashed).
    pub fn open_device(port: &str, options: crate::flash::DeviceOptions) -> Result<Self, Error> {
        let flash = crate::flash::DeviceFlash::open(port, options)?;
        let chip = flash.chip();
        let offset = chip.bootloader_offset;
        match Firmware::open(flash, chip) {
            Err(Error::Image(source)) => Err(Error::NotABootloader { offset, source }),
            other => other,
        }
    }
}

impl<F: Flash> Firmware<F> {
    /// Read the bootloader header and table of a firmware on `flash`, for `chip`.
    ///
    /// Errors: [`Error::NoBootloader`] for erased flash at the bootloader
    /// offset, [`Error::Image`] for a header that is not an image, [`Error::Table`]
    /// for a sector that holds no table, and flash errors.
    pub fn open(mut flash: F, chip: &'static Chip) -> Result<Self, Error> {
        let start = chip.bootloader_offset;
        let head = flash.read_vec(start, HEADER_LEN as u32)?;
        if head.iter().all(|&b| b == 0xFF) {
            return Err(Error::NoBootloader { offset: start });
        }
        let header = ImageHeader::parse(&head)?;
        // Most tables (up to six entries) fit in their first 256 bytes: on a
        // device that is all that goes over the wire.
        let head = flash.read_vec(TABLE_OFFSET, 0x100)?;
        let table = match PartitionTable::parse(&head) {
            Ok(t) => t,
            Err(_) => PartitionTable::parse(&flash.read_vec(TABLE_OFFSET, TABLE_SIZE as u32)?)?,
        };
        let flash_size = header.flash_size().unwrap_or(MAX_FLASH);
        let (table_warnings, table_error) = match table.check(flash_size) {
            Ok(w) => (w, None),
            Err(e) => (Vec::new(), Some(e)),
        };
        Ok(Self { flash, chip, header, table, table_error, table_warnings, banner: None })
    }

    /// Flash offset of the bootloader (where a firmware file starts).
    pub fn bootloader_offset(&self) -> u32 {
        self.chip.bootloader_offset
    }

    /// Flash size from the bootloader header, in bytes.
    pub fn flash_size(&self) -> u32 {
        self.header.flash_size().unwrap_or(MAX_FLASH)
    }

    /// The flash size of the board this firmware runs on, in bytes, for a
    /// table meant for a flash of `table_flash_size`: what a device detects,
    /// else (a file) the size the table is meant for.
    pub fn board_flash_size(&self, table_flash_size: u32) -> u32 {
        self.flash.detected_size().unwrap_or(table_flash_size)
    }

    /// Whether the table has the data partition MicroPython mounts (`vfs`, or
    /// TinyUF2 builds' `ffat`).
    pub fn has_vfs(&self) -> bool {
        has_vfs(&self.table)
    }

    /// MicroPython's banner (version and build date) in the first app, read
    /// once: the whole app from a file, the start of it from a device.
    pub fn micropython(&mut self) -> Option<&Banner> {
        if self.banner.is_none() {
            self.banner = Some(self.read_banner());
        }
        self.banner.as_ref().and_then(Option::as_ref)
    }

    /// Say that the first app partition was written: its banner is read again when next asked.
    pub fn app_changed(&mut self) {
        self.banner = None;
    }

    fn read_banner(&mut self) -> Option<Banner> {
        let app = self.table.first_app()?.clone();
        let mut len = self.flash.stored_len(app.offset, app.size);
        if self.flash.reads_are_slow() {
            len = len.min(BANNER_WINDOW);
        }
        if let Some(data) = self.flash.peek(app.offset, len) {
            return find_banner(data);
        }
        // An image is data from its start: no need to ask a device which parts are erased.
        let image = self.flash.read_vec(app.offset, 1).ok()?.first() == Some(&IMAGE_MAGIC);
        let data =
            if image { self.flash.read_vec_dense(app.offset, len) } else { self.flash.read_vec(app.offset, len) };
        find_banner(&data.ok()?)
    }

    /// The `vfs` MicroPython ≥ v1.26 creates at boot when `table` has no
    /// `vfs` or `ffat` data partition: from the end of the table to the end of
    /// the board's flash (see [`Firmware::board_flash_size`]; `flash_size` is
    /// the size the table is meant for). `None` when the table has one, the
    /// app is older, or nothing is left.
    pub fn implicit_vfs_of(&mut self, table: &PartitionTable, flash_size: u32) -> Option<Partition> {
        if has_vfs(table) || !self.micropython().is_some_and(creates_implicit_vfs) {
            return None;
        }
        let end = table.end();
        let flash_size = self.board_flash_size(flash_size);
        (end < flash_size).then(|| Partition::new("vfs", TYPE_DATA, SUBTYPE_FAT, end, flash_size - end, 0))
    }

    /// The implicit `vfs` of this firmware's table (see [`Firmware::implicit_vfs_of`]).
    pub fn implicit_vfs(&mut self) -> Option<Partition> {
        let table = self.table.clone();
        self.implicit_vfs_of(&table, self.flash_size())
    }

    /// The partitions of `table` as the board will have them: the table's
    /// entries, then MicroPython ≥ 1.26's implicit `vfs` when it makes one
    /// (marked `implicit`).
    pub fn partitions_of(&mut self, table: &PartitionTable, flash_size: u32) -> Vec<PartitionView> {
        let mut parts: Vec<PartitionView> = table.entries.iter().map(PartitionView::from).collect();
        if let Some(v) = self.implicit_vfs_of(table, flash_size) {
            parts.push(PartitionView { implicit: true, ..PartitionView::from(&v) });
        }
        parts
    }

    /// The partitions as the board will have them, the implicit `vfs` included.
    ///
    /// ```
    /// # fn main() -> Result<(), mpimg::Error> {
    /// # let Some(path) = mpimg::doc_support::firmware("ESP32_GENERIC_C3-20251209-v1.27.0.bin") else { return Ok(()) };
    /// // MicroPython v1.27's table has no vfs: the board makes one at boot.
    /// let mut fw = mpimg::Firmware::open_file(&path)?;
    /// let vfs = fw.partitions().pop().unwrap();
    /// assert_eq!((vfs.name.as_str(), vfs.offset, vfs.size, vfs.implicit), ("vfs", 0x200000, 0x200000, true));
    /// # Ok(())
    /// # }
    /// ```
    pub fn partitions(&mut self) -> Vec<PartitionView> {
        let table = self.table.clone();
        self.partitions_of(&table, self.flash_size())
    }

    /// The partitions a filesystem may be in: every data partition of the
    /// table, and the implicit `vfs` where the board makes one.
    pub fn fs_partitions(&mut self) -> Vec<FsPartition> {
        let mut parts: Vec<FsPartition> = self
            .table
            .entries
            .iter()
            .filter(|p| p.ptype == TYPE_DATA)
            .map(|p| FsPartition { name: p.name(), offset: p.offset, size: p.size, implicit: false })
            .collect();
        if let Some(v) = self.implicit_vfs() {
            parts.push(FsPartition { name: v.name(), offset: v.offset, size: v.size, implicit: true });
        }
        parts
    }

    /// The filesystem in partition `name` (a data partition, or the implicit
    /// `vfs`), to read and change files. Changes reach the flash only with
    /// [`Filesystem::commit`]; on a file they then wait for [`Firmware::save`].
    ///
    /// ```
    /// # fn main() -> Result<(), mpimg::Error> {
    /// # let Some(path) = mpimg::doc_support::firmware("ESP32_GENERIC_C3-20251209-v1.27.0.bin") else { return Ok(()) };
    /// let mut fw = mpimg::Firmware::open_file(&path)?;
    /// let mut vfs = fw.filesystem("vfs")?;
    /// vfs.format(mpimg::FsKind::Littlefs)?; // the release image has none yet
    /// vfs.write("/main.py", b"print('hello')\n")?;
    /// vfs.commit()?;
    /// assert_eq!(fw.filesystem("vfs")?.read("/main.py")?, b"print('hello')\n");
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Errors: [`Error::Fs`] ([`crate::fs::FsError::NoPartition`]) when there is no such partition.
    pub fn filesystem(&mut self, name: &str) -> Result<Filesystem<'_>, Error> {
        let part = self
            .fs_partitions()
            .into_iter()
            .find(|p| p.name == name)
            .ok_or_else(|| crate::fs::FsError::NoPartition(name.to_owned()))?;
        Ok(Filesystem::new(&mut self.flash, part))
    }
}

/// Whether `table` has the data partition MicroPython mounts (`vfs`, or TinyUF2 builds' `ffat`).
fn has_vfs(table: &PartitionTable) -> bool {
    table.entries.iter().any(|p| p.ptype == TYPE_DATA && matches!(p.name().as_str(), "vfs" | "ffat"))
}

/// Whether a MicroPython version creates the implicit `vfs` (v1.26 and later;
/// custom builds without a release number are assumed recent).
pub fn creates_implicit_vfs(banner: &Banner) -> bool {
    banner.release().is_none_or(|v| v >= (1, 26))
}
