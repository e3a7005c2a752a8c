//! Partition table edits with mp-image-tool-esp32's semantics, so the same
//! command line gives the same table: presets (`ota`, `default`, `original`),
//! layouts from the command line, add, resize (later partitions shift, and are
//! cut at the flash end), delete, rename and app-size.
//!
//! Where the Python tool would write an invalid table (overlaps, misaligned
//! apps, names too long) these functions refuse instead; `docs/compat.md` lists
//! every such difference.

use crate::flash::align_up;
use crate::format::partition::{
    check_name, type_and_subtype, Partition, PartitionTable, APP_ALIGN, FIRST_PART_OFFSET, OTADATA_SIZE,
};

use super::EditError;

/// One partition as an edit describes it (`--table`, `--add`, `--resize`):
/// the fields not given are 0 or empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartSpec {
    /// Its name.
    pub name: String,
    /// Its subtype name (`fat`, `ota_0`, ...); empty: inferred from the name.
    pub subtype: String,
    /// Its flash offset; 0: after the previous partition.
    pub offset: u32,
    /// Its size in bytes; 0: fill the free space.
    pub size: u32,
}

impl PartSpec {
    /// A partition named `name` of `size` bytes (0: fill the free space),
    /// subtype inferred from the name, placed after the previous one.
    pub fn sized(name: &str, size: u32) -> Self {
        PartSpec { name: name.into(), subtype: String::new(), offset: 0, size }
    }
}

/// The preset tables of `--table`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// nvs, otadata, ota_0, ota_1, vfs.
    Ota,
    /// nvs 0x7000, factory 0x1f0000, vfs (no phy_init).
    Default,
    /// nvs 0x6000, phy_init, factory 0x1f0000, vfs: MicroPython's original table.
    Original,
}

impl Preset {
    /// The preset called `name` (`ota`, `default`, `original`).
    pub fn from_name(name: &str) -> Option<Self> {
        match name.trim() {
            "ota" => Some(Self::Ota),
            "default" => Some(Self::Default),
            "original" => Some(Self::Original),
            _ => None,
        }
    }
}

/// OTA app partition size MicroPython's `partitions-*-ota.csv` use for a flash size.
pub fn ota_app_size(flash_size: u32) -> u32 {
    const MB: u32 = 0x10_0000;
    if flash_size > 8 * MB {
        0x27_0000
    } else if flash_size > 4 * MB {
        0x20_0000
    } else {
        0x18_0000
    }
}

/// The layout of a preset. `first_app` is where the current table's first app
/// starts (the OTA preset fits nvs and otadata below it); `app_part_size` of 0
/// picks the OTA size for the flash size.
pub fn preset_layout(preset: Preset, flash_size: u32, first_app: u32, app_part_size: u32) -> Vec<PartSpec> {
    let spec =
        |name: &str, subtype: &str, size: u32| PartSpec { name: name.into(), subtype: subtype.into(), offset: 0, size };
    match preset {
        Preset::Ota => {
            let app = if app_part_size == 0 { ota_app_size(flash_size) } else { app_part_size };
            let nvs = first_app.saturating_sub(FIRST_PART_OFFSET + OTADATA_SIZE);
            vec![
                spec("nvs", "nvs", nvs),
                spec("otadata", "ota", OTADATA_SIZE),
                spec("ota_0", "ota_0", app),
                spec("ota_1", "ota_1", app),
                spec("vfs", "fat", 0),
            ]
        }
        Preset::Default => {
            vec![spec("nvs", "nvs", 0x7000), spec("factory", "factory", 0x1f_0000), spec("vfs", "fat", 0)]
        }
        Preset::Original => vec![
            spec("nvs", "nvs", 0x6000),
            spec("phy_init", "phy", 0x1000),
            spec("factory", "factory", 0x1f_0000),
            spec("vfs", "fat", 0),
        ],
    }
}

/// The subtype a partition gets when none is given: from its name, as the
/// Python tool infers it (`vfs` → fat, `otadata` → ota, `phy_init` → phy,
/// otherwise the name itself, e.g. `nvs`, `factory`, `ota_1`).
pub fn infer_subtype<'a>(name: &'a str, subtype: &'a str) -> &'a str {
    if !subtype.is_empty() {
        return subtype;
    }
    match name {
        "otadata" => "ota",
        "vfs" => "fat",
        "phy_init" => "phy",
        other => other,
    }
}

/// Build a new table from a layout (`--table`), checking the app fits.
pub fn build_table(specs: &[PartSpec], flash_size: u32, app_image_size: u32) -> Result<PartitionTable, EditError> {
    let mut table = PartitionTable { entries: Vec::new(), had_md5: true };
    for s in specs {
        add_part(&mut table, flash_size, &s.name, &s.subtype, s.offset, s.size, 0)?;
    }
    if let Some(app) = table.first_app() {
        if app.size < app_image_size {
            return Err(EditError::AppTooBig { name: app.name(), size: app.size, app: app_image_size });
        }
    }
    Ok(table)
}

/// Add a partition. Offset 0: after the last partition (64 KB aligned for an
/// app); size 0: up to the flash end.
pub fn add_part(
    table: &mut PartitionTable,
    flash_size: u32,
    name: &str,
    subtype: &str,
    offset: u32,
    size: u32,
    flags: u32,
) -> Result<(), EditError> {
    check_name(name)?;
    if table.find(name).is_some() {
        return Err(EditError::Exists { name: name.into() });
    }
    let sub = infer_subtype(name, subtype);
    let (ptype, subtype) =
        type_and_subtype(sub).ok_or_else(|| EditError::UnknownSubtype { name: name.into(), subtype: sub.into() })?;
    let offset = match offset {
        0 if ptype == crate::format::partition::TYPE_APP => align_up(table.end(), APP_ALIGN),
        0 => table.end(),
        o => o,
    };
    if u64::from(offset) + u64::from(size) > u64::from(flash_size) || offset >= flash_size {
        return Err(EditError::NoRoom { name: name.into(), offset, size, flash_size });
    }
    let size = if size == 0 { flash_size - offset } else { size };
    table.entries.push(Partition::new(name, ptype, subtype, offset, size, flags));
    table.sort();
    Ok(())
}

fn index(table: &PartitionTable, name: &str) -> Result<usize, EditError> {
    table.index_of(name).ok_or_else(|| EditError::NotFound {
        name: name.into(),
        have: table.entries.iter().map(Partition::name).collect::<Vec<_>>().join(", "),
    })
}

/// Resize a partition; 0 fills up to the next partition (or the flash end).
/// Later partitions that would overlap shift up, and any that then pass the
/// flash end are cut at it. Returns the new size.
pub fn resize_part(table: &mut PartitionTable, flash_size: u32, name: &str, new_size: u32) -> Result<u32, EditError> {
    let i = index(table, name)?;
    let e = &mut table.entries;
    let new_size = if new_size == 0 {
        let limit = e.get(i + 1).map_or(flash_size, |n| n.offset);
        limit.checked_sub(e[i].offset).ok_or(EditError::NoRoom {
            name: name.into(),
            offset: e[i].offset,
            size: 0,
            flash_size,
        })?
    } else {
        new_size
    };
    e[i].size = new_size;
    for j in i + 1..e.len() {
        let prev_end = e[j - 1].end();
        if prev_end > e[j].offset {
            e[j].offset = prev_end;
        }
        if e[j].end() > flash_size {
            if e[j].offset >= flash_size {
                return Err(EditError::ShiftedOut { name: e[j].name(), offset: e[j].offset, flash_size });
            }
            e[j].size = flash_size - e[j].offset;
        }
    }
    Ok(new_size)
}

/// Delete a partition.
pub fn delete_part(table: &mut PartitionTable, name: &str) -> Result<(), EditError> {
    let i = index(table, name)?;
    table.entries.remove(i);
    Ok(())
}

/// Rename a partition.
pub fn rename_part(table: &mut PartitionTable, name: &str, new_name: &str) -> Result<(), EditError> {
    let i = index(table, name)?;
    check_name(new_name)?;
    if table.find(new_name).is_some() {
        return Err(EditError::Exists { name: new_name.into() });
    }
    table.entries[i].set_name(new_name);
    Ok(())
}

/// Set every app partition to `size` (`-a`), in table order, shifting as resize does.
pub fn set_app_size(table: &mut PartitionTable, flash_size: u32, size: u32) -> Result<(), EditError> {
    let apps: Vec<String> = table.entries.iter().filter(|p| p.is_app()).map(Partition::name).collect();
    for name in apps {
        resize_part(table, flash_size, &name, size)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(t: &PartitionTable) -> Vec<(String, u8, u8, u32, u32)> {
        t.entries.iter().map(|p| (p.name(), p.ptype, p.subtype, p.offset, p.size)).collect()
    }

    fn generic(flash: u32) -> PartitionTable {
        build_table(&preset_layout(Preset::Original, flash, 0x10000, 0), flash, 0).unwrap()
    }

    #[test]
    fn presets_match_micropython_tables() {
        let t = generic(0x400000);
        assert_eq!(
            rows(&t),
            vec![
                ("nvs".into(), 1, 2, 0x9000, 0x6000),
                ("phy_init".into(), 1, 1, 0xf000, 0x1000),
                ("factory".into(), 0, 0, 0x10000, 0x1f0000),
                ("vfs".into(), 1, 0x81, 0x200000, 0x200000),
            ]
        );
        let ota = build_table(&preset_layout(Preset::Ota, 0x800000, 0x10000, 0), 0x800000, 0).unwrap();
        assert_eq!(
            rows(&ota),
            vec![
                ("nvs".into(), 1, 2, 0x9000, 0x5000),
                ("otadata".into(), 1, 0, 0xe000, 0x2000),
                ("ota_0".into(), 0, 0x10, 0x10000, 0x200000),
                ("ota_1".into(), 0, 0x11, 0x210000, 0x200000),
                ("vfs".into(), 1, 0x81, 0x410000, 0x3f0000),
            ]
        );
        assert_eq!(ota_app_size(0x400000), 0x180000);
        assert_eq!(ota_app_size(0x1000000), 0x270000);
        let def = build_table(&preset_layout(Preset::Default, 0x400000, 0x10000, 0), 0x400000, 0).unwrap();
        assert_eq!(rows(&def)[0], ("nvs".into(), 1, 2, 0x9000, 0x7000));
        assert_eq!(
            build_table(&preset_layout(Preset::Ota, 0x400000, 0x10000, 0), 0x400000, 1672800),
            Err(EditError::AppTooBig { name: "ota_0".into(), size: 0x180000, app: 1672800 })
        );
    }

    #[test]
    fn resize_shifts_and_cuts_at_flash_end() {
        let mut t = generic(0x400000);
        assert_eq!(resize_part(&mut t, 0x400000, "factory", 0x200000), Ok(0x200000));
        assert_eq!(rows(&t)[3], ("vfs".into(), 1, 0x81, 0x210000, 0x1f0000));
        let mut t = generic(0x800000);
        assert_eq!(resize_part(&mut t, 0x800000, "vfs", 0), Ok(0x600000));
        assert_eq!(resize_part(&mut t, 0x800000, "nvs", 0), Ok(0x6000));
        assert_eq!(
            resize_part(&mut t, 0x800000, "nope", 0),
            Err(EditError::NotFound { name: "nope".into(), have: "nvs, phy_init, factory, vfs".into() })
        );
        let mut t = generic(0x400000);
        assert!(matches!(resize_part(&mut t, 0x400000, "factory", 0x400000), Err(EditError::ShiftedOut { .. })));
    }

    #[test]
    fn add_delete_rename_app_size() {
        let mut t = generic(0x400000);
        resize_part(&mut t, 0x400000, "vfs", 0x100000).unwrap();
        add_part(&mut t, 0x400000, "vfs2", "fat", 0, 0, 0).unwrap();
        assert_eq!(rows(&t)[4], ("vfs2".into(), 1, 0x81, 0x300000, 0x100000));
        assert_eq!(add_part(&mut t, 0x400000, "vfs2", "fat", 0, 0, 0), Err(EditError::Exists { name: "vfs2".into() }));
        assert!(matches!(add_part(&mut t, 0x400000, "x", "fat", 0, 0x1000, 0), Err(EditError::NoRoom { .. })));
        assert_eq!(
            add_part(&mut t, 0x800000, "weird", "", 0, 0, 0),
            Err(EditError::UnknownSubtype { name: "weird".into(), subtype: "weird".into() })
        );
        delete_part(&mut t, "phy_init").unwrap();
        rename_part(&mut t, "vfs", "data").unwrap();
        assert_eq!(rename_part(&mut t, "data", "vfs2"), Err(EditError::Exists { name: "vfs2".into() }));
        assert_eq!(t.entries.iter().map(Partition::name).collect::<Vec<_>>(), vec!["nvs", "factory", "data", "vfs2"]);
        let mut o = build_table(&preset_layout(Preset::Ota, 0x800000, 0x10000, 0), 0x800000, 0).unwrap();
        set_app_size(&mut o, 0x800000, 0x180000).unwrap();
        // Shrinking leaves later partitions where they are (the Python tool never moves them down).
        assert_eq!(rows(&o)[3], ("ota_1".into(), 0, 0x11, 0x210000, 0x180000));
        assert_eq!(rows(&o)[4], ("vfs".into(), 1, 0x81, 0x410000, 0x3f0000));
    }

    #[test]
    fn custom_layout_from_command_line() {
        // `--table nvs=7B,factory=2M,vfs=0` (cli::arglist parses it).
        let specs = [PartSpec::sized("nvs", 0x7000), PartSpec::sized("factory", 0x200000), PartSpec::sized("vfs", 0)];
        let t = build_table(&specs, 0x400000, 0).unwrap();
        assert_eq!(
            rows(&t),
            vec![
                ("nvs".into(), 1, 2, 0x9000, 0x7000),
                ("factory".into(), 0, 0, 0x10000, 0x200000),
                ("vfs".into(), 1, 0x81, 0x210000, 0x1f0000),
            ]
        );
    }
}
