//! Planning the table and header edits of one run, in mp-image-tool-esp32's
//! order (flash size; table from CSV; new table; app size; delete; resize;
//! rename; add), on a copy: nothing is written until the plan is committed
//! ([`super::update`]).

use crate::error::Error;
use crate::flash::Flash;
use crate::format::image::ImageHeader;
use crate::format::partition::{PartitionTable, APP_PART_OFFSET, SUBTYPE_NVS, TYPE_DATA};

use super::firmware::Firmware;
use super::layout::{
    add_part, build_table, delete_part, preset_layout, rename_part, resize_part, set_app_size, PartSpec, Preset,
};
use super::EditError;

/// A new table's layout (`--table`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// One of MicroPython's tables.
    Preset(Preset),
    /// Partitions one after the other.
    Parts(Vec<PartSpec>),
}

/// The table and header edits of one run. Empty fields edit nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableEdits {
    /// New flash size for the bootloader header and the table's limit, in bytes.
    pub flash_size: Option<u32>,
    /// A whole table loaded from a file (`--from-csv`), and the file's name.
    pub from_csv: Option<(PartitionTable, String)>,
    /// A new layout (`--table`), and the text that asked for it.
    pub layout: Option<(Layout, String)>,
    /// Size of every app partition, in bytes.
    pub app_size: Option<u32>,
    /// Partitions to delete.
    pub delete: Vec<String>,
    /// Partitions to resize (name and size; size 0 fills the free space).
    pub resize: Vec<PartSpec>,
    /// Partitions to rename: old name, new name.
    pub rename: Vec<(String, String)>,
    /// Partitions to add.
    pub add: Vec<PartSpec>,
}

impl TableEdits {
    /// Whether no edit is asked for.
    pub fn is_empty(&self) -> bool {
        *self == TableEdits::default()
    }
}

/// One edit as it was made.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Edit {
    /// The header's flash size changed to `size` bytes.
    FlashSize {
        /// The new flash size.
        size: u32,
    },
    /// The table was replaced by the one in `source`.
    Loaded {
        /// The file it came from.
        source: String,
    },
    /// The table was replaced by a new layout.
    NewTable {
        /// What asked for it.
        spec: String,
    },
    /// Every app partition was set to `size` bytes.
    AppSize {
        /// The new size.
        size: u32,
    },
    /// A partition was deleted.
    Deleted {
        /// Its name.
        name: String,
    },
    /// A partition was resized to `size` bytes.
    Resized {
        /// Its name.
        name: String,
        /// Its new size.
        size: u32,
    },
    /// A partition was renamed.
    Renamed {
        /// Its old name.
        from: String,
        /// Its new name.
        to: String,
    },
    /// A partition was added.
    Added {
        /// Its name.
        name: String,
    },
    /// An edit that changed nothing, and why.
    Unchanged {
        /// The edit asked for.
        edit: EditKind,
        /// Why nothing changed.
        reason: NoChange,
    },
}

/// The kinds of table edit, to name one that changed nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EditKind {
    /// The flash size.
    FlashSize,
    /// A table from a file.
    FromCsv,
    /// A new layout.
    Layout,
    /// The app partitions' size.
    AppSize,
    /// A resize.
    Resize,
}

/// Why an edit changed nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoChange {
    /// A partition to fill the free space after it has none: the next partition starts where it ends.
    #[error("'{name}' cannot grow: '{next}' follows it at {at:#x}")]
    Followed {
        /// The partition.
        name: String,
        /// The partition after it.
        next: String,
        /// Where that one starts.
        at: u32,
    },
    /// A partition to fill the free space after it ends at the end of flash.
    #[error("'{name}' cannot grow: it ends at the end of flash ({end:#x})")]
    AtFlashEnd {
        /// The partition.
        name: String,
        /// Where it (and the flash) ends.
        end: u32,
    },
    /// A partition resized to the size it has.
    #[error("'{name}' is {size:#x} bytes already")]
    SameSize {
        /// The partition.
        name: String,
        /// Its size in bytes.
        size: u32,
    },
    /// The flash size the header has already.
    #[error("the flash size is {} already", crate::format::size::flash_label(*size))]
    SameFlashSize {
        /// The size in bytes.
        size: u32,
    },
    /// App partitions that have the size already.
    #[error("the app partitions are {size:#x} bytes already")]
    SameAppSize {
        /// The size in bytes.
        size: u32,
    },
    /// A new table equal to the one it replaces.
    #[error("the new table is the same as the old one")]
    SameTable,
}

/// Serialized as its text.
impl serde::Serialize for NoChange {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The table and header a run will write.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The new table.
    pub table: PartitionTable,
    /// The new bootloader header.
    pub header: ImageHeader,
    /// The new flash size, in bytes.
    pub flash_size: u32,
    /// The edits made, in order.
    pub edits: Vec<Edit>,
    /// What is legal but odd about the new table.
    pub warnings: Vec<String>,
    /// Write the bootloader header even if it is unchanged, renewing its
    /// SHA-256 (a fit of a header changed without renewing it).
    pub renew_digest: bool,
    /// Filesystems the board cannot mount, made again when the plan is
    /// committed (a fit: a littlefs newer than MicroPython up to v1.21
    /// reads, a filesystem larger than its partition).
    pub repairs: crate::ops::carry::Repairs,
}

/// Plan `edits` on `fw`, whose first app image is `app_image_size` bytes long.
///
/// Errors: [`Error::Edit`] and [`Error::Table`] for an edit that cannot be
/// made or leaves an invalid table; [`Error::ImplicitVfs`] for an edit of
/// MicroPython ≥ 1.26's implicit `vfs`; [`Error::AppMoved`] when the first app
/// partition would move; [`Error::Image`] for an invalid flash size.
pub fn plan<F: Flash>(fw: &mut Firmware<F>, edits: &TableEdits, app_image_size: u32) -> Result<Plan, Error> {
    let mut p = Plan {
        table: fw.table.clone(),
        header: fw.header.clone(),
        flash_size: fw.flash_size(),
        edits: Vec::new(),
        warnings: Vec::new(),
        renew_digest: false,
        repairs: crate::ops::carry::Repairs::default(),
    };
    if let Some(size) = edits.flash_size {
        p.header.set_flash_size(size)?;
        if size != p.flash_size {
            p.edits.push(Edit::FlashSize { size });
        } else {
            p.edits.push(Edit::Unchanged { edit: EditKind::FlashSize, reason: NoChange::SameFlashSize { size } });
        }
        p.flash_size = size;
    }
    if let Some((table, source)) = &edits.from_csv {
        let same = same_layout(table, &p.table);
        p.table = table.clone();
        p.table.check(p.flash_size)?;
        p.edits.push(if same {
            Edit::Unchanged { edit: EditKind::FromCsv, reason: NoChange::SameTable }
        } else {
            Edit::Loaded { source: source.clone() }
        });
    }
    if let Some((layout, spec)) = &edits.layout {
        let first_app = p.table.first_app().map_or(APP_PART_OFFSET, |a| a.offset);
        let specs = match layout {
            Layout::Preset(preset) => preset_layout(*preset, p.flash_size, first_app, edits.app_size.unwrap_or(0)),
            Layout::Parts(parts) => parts.clone(),
        };
        let table = build_table(&specs, p.flash_size, app_image_size)?;
        table.check(p.flash_size)?;
        let same = same_layout(&table, &p.table);
        p.table = table;
        p.edits.push(if same {
            Edit::Unchanged { edit: EditKind::Layout, reason: NoChange::SameTable }
        } else {
            Edit::NewTable { spec: spec.clone() }
        });
    }
    if let Some(size) = edits.app_size {
        let before = p.table.clone();
        set_app_size(&mut p.table, p.flash_size, size)?;
        p.edits.push(if p.table == before {
            Edit::Unchanged { edit: EditKind::AppSize, reason: NoChange::SameAppSize { size } }
        } else {
            Edit::AppSize { size }
        });
    }
    apply_named_edits(fw, edits, &mut p)?;
    // Whatever the Python tool lets through, the table written must be valid.
    p.warnings = p.table.check(p.flash_size)?;
    let has_nvs = |t: &PartitionTable| t.entries.iter().any(|e| e.ptype == TYPE_DATA && e.subtype == SUBTYPE_NVS);
    if has_nvs(&fw.table) && !has_nvs(&p.table) {
        // A table that drops nvs breaks what MicroPython keeps there; one that never had it is the user's design.
        p.warnings.push(
            "the new table has no nvs partition: ESP-IDF's nvs_flash_init at boot finds none, and MicroPython's esp32.NVS and WiFi use it"
                .into(),
        );
    }
    if let (Some(old), Some(new)) = (fw.table.first_app(), p.table.first_app()) {
        if old.offset != new.offset {
            return Err(Error::AppMoved { old: old.offset, new: new.offset });
        }
        if new.size < app_image_size {
            return Err(EditError::AppTooBig { name: new.name(), size: new.size, app: app_image_size }.into());
        }
    }
    Ok(p)
}

/// Delete, resize, rename, add: the edits that name partitions.
fn apply_named_edits<F: Flash>(fw: &mut Firmware<F>, edits: &TableEdits, p: &mut Plan) -> Result<(), Error> {
    let mut named = |e: EditError| not_found_or_implicit(fw, e);
    for name in &edits.delete {
        delete_part(&mut p.table, name).map_err(&mut named)?;
        p.edits.push(Edit::Deleted { name: name.clone() });
    }
    for s in &edits.resize {
        let old = p.table.find(&s.name).map(|e| e.size);
        let size = resize_part(&mut p.table, p.flash_size, &s.name, s.size).map_err(&mut named)?;
        p.edits.push(match old {
            Some(old) if old == size => Edit::Unchanged {
                edit: EditKind::Resize,
                reason: why_same_size(&p.table, &s.name, s.size, p.flash_size),
            },
            _ => Edit::Resized { name: s.name.clone(), size },
        });
    }
    if !edits.resize.is_empty() {
        p.table.check(p.flash_size)?;
    }
    for (old, new) in &edits.rename {
        rename_part(&mut p.table, old, new).map_err(&mut named)?;
        p.edits.push(Edit::Renamed { from: old.clone(), to: new.clone() });
    }
    if !edits.rename.is_empty() {
        p.table.check(p.flash_size)?;
    }
    for s in &edits.add {
        add_part(&mut p.table, p.flash_size, &s.name, &s.subtype, s.offset, s.size, 0)?;
        p.edits.push(Edit::Added { name: s.name.clone() });
    }
    Ok(())
}

/// Why resizing `name` to `asked` bytes (0: fill the free space) left it as it was.
fn why_same_size(table: &PartitionTable, name: &str, asked: u32, flash_size: u32) -> NoChange {
    let Some(i) = table.index_of(name) else { return NoChange::SameSize { name: name.into(), size: asked } };
    let part = &table.entries[i];
    match (asked, table.entries.get(i + 1)) {
        (0, Some(next)) => NoChange::Followed { name: name.into(), next: next.name(), at: next.offset },
        (0, None) => NoChange::AtFlashEnd { name: name.into(), end: part.end().min(flash_size) },
        _ => NoChange::SameSize { name: name.into(), size: part.size },
    }
}

/// Whether two tables have the same partitions (names, types, places, flags),
/// whatever their MD5 entries.
fn same_layout(a: &PartitionTable, b: &PartitionTable) -> bool {
    a.entries == b.entries
}

/// An edit naming `vfs` where the table has none but MicroPython makes one
/// at boot: say that, rather than that there is no such partition.
fn not_found_or_implicit<F: Flash>(fw: &mut Firmware<F>, e: EditError) -> Error {
    if let EditError::NotFound { name, .. } = &e {
        if name == "vfs" {
            if let Some(v) = fw.implicit_vfs() {
                let version = fw.micropython().map(|b| b.version.clone()).unwrap_or_default();
                return Error::ImplicitVfs { name: name.clone(), version, start: v.offset };
            }
        }
    }
    Error::Edit(e)
}

impl Plan {
    /// Refuse a plan a device cannot hold: a flash size larger than the
    /// device's (`detected`, in bytes) or, when the table is written
    /// (`writes_table`), a table that ends past its flash. Files (`detected`
    /// None) hold anything.
    pub fn check_fits(&self, detected: Option<u32>, asked: Option<u32>, writes_table: bool) -> Result<(), Error> {
        let Some(device) = detected else { return Ok(()) };
        if let Some(asked) = asked.filter(|&s| s > device) {
            return Err(Error::LargerThanDevice { asked, device });
        }
        if writes_table && self.table.end() > device {
            return Err(Error::TablePastDevice { end: self.table.end(), device });
        }
        Ok(())
    }
}
