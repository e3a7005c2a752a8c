//! The option value syntax shared by `--table`, `--add`, `--resize`, `--delete`,
//! `--rename`, `--erase`, `--read` and `--write`: items separated by `,`, fields
//! within an item by `=` or `:`, spaces around delimiters ignored.
//!
//! Also renders each list back the way mp-image-tool-esp32 does, because its
//! output file names embed them (`-resize=vfs`, `-add=vfs2=fat=3145728=1048576`).

use mpimg::format::size::{parse_int, parse_size, SizeError};
use mpimg::ops::assemble::Piece;
use mpimg::ops::layout::PartSpec;

/// A malformed option value.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ArgError {
    /// A size that does not parse.
    #[error(transparent)]
    Size(#[from] SizeError),
    /// A size that does not fit 32 bits.
    #[error("'{text}' is larger than 4 GB")]
    TooLarge {
        /// The size as written.
        text: String,
    },
    /// A partition item of none of the forms.
    #[error("invalid partition '{item}': use NAME, NAME=SIZE, NAME=SUBTYPE:SIZE or NAME:SUBTYPE:OFFSET:SIZE")]
    BadPartSpec {
        /// The item, fields joined by `:`.
        item: String,
    },
    /// An `--assemble` item whose offset is not a number.
    #[error("invalid --assemble item '{item}': use OFFSET=FILE[,OFFSET=FILE...] with a hex or decimal flash offset")]
    BadPiece {
        /// The item.
        item: String,
    },
    /// A `NAME=VALUE` item without both.
    #[error("invalid {option} item '{item}': use NAME=VALUE[,NAME=VALUE...]")]
    BadPair {
        /// The option (`--read`).
        option: &'static str,
        /// The item.
        item: String,
    },
}

/// `a=b:c, d` → `[["a","b","c"],["d"]]`.
pub fn split_items(arg: &str) -> Vec<Vec<String>> {
    arg.trim().split(',').map(|item| item.split(['=', ':']).map(|f| f.trim().to_string()).collect()).collect()
}

/// Render an argument list as the Python tool does: fields joined by `=`,
/// empty fields dropped, items joined by `,`.
pub fn render_items(items: &[Vec<String>]) -> String {
    items
        .iter()
        .map(|x| x.iter().filter(|s| !s.is_empty()).cloned().collect::<Vec<_>>().join("="))
        .collect::<Vec<_>>()
        .join(",")
}

/// Parse `NAME`, `NAME=SIZE`, `NAME=SUBTYPE:SIZE` or `NAME=SUBTYPE:OFFSET:SIZE`
/// items: `NAME[=SUBTYPE][:OFFSET][:SIZE]`, fields not given 0 or empty.
pub fn parse_part_list(arg: &str) -> Result<Vec<PartSpec>, ArgError> {
    split_items(arg)
        .into_iter()
        .map(|fields| {
            let bad = || ArgError::BadPartSpec { item: fields.join(":") };
            let (name, rest) = fields.split_first().ok_or_else(bad)?;
            if name.is_empty() || rest.len() > 3 {
                return Err(bad());
            }
            let size_of = |s: &str| -> Result<u32, ArgError> {
                let v = parse_size(s)?;
                u32::try_from(v).map_err(|_| ArgError::TooLarge { text: s.to_string() })
            };
            Ok(PartSpec {
                name: name.clone(),
                subtype: if rest.len() >= 2 { rest[0].clone() } else { String::new() },
                offset: if rest.len() >= 3 { size_of(&rest[1])? } else { 0 },
                size: match rest.last() {
                    Some(s) => size_of(s)?,
                    None => 0,
                },
            })
        })
        .collect()
}

/// Render partition specs as the Python tool names them in output files:
/// name, subtype, offset, size joined by `=`, dropping empty and zero fields.
pub fn render_part_list(specs: &[PartSpec]) -> String {
    let items: Vec<Vec<String>> = specs
        .iter()
        .map(|p| {
            let num = |v: u32| if v == 0 { String::new() } else { v.to_string() };
            vec![p.name.clone(), p.subtype.clone(), num(p.offset), num(p.size)]
        })
        .collect();
    render_items(&items)
}

/// Parse `NAME=VALUE` pairs (`--rename`, `--read`, `--write`). Only the first
/// `=` or `:` separates, so a file name may contain `:` (e.g. `C:\fw.bin`).
pub fn parse_pairs(arg: &str, option: &'static str) -> Result<Vec<(String, String)>, ArgError> {
    arg.trim()
        .split(',')
        .map(|item| {
            let item = item.trim();
            match item.split_once(['=', ':']) {
                Some((k, v)) if !k.trim().is_empty() && !v.trim().is_empty() => {
                    Ok((k.trim().to_string(), v.trim().to_string()))
                }
                _ => Err(ArgError::BadPair { option, item: item.to_string() }),
            }
        })
        .collect()
}

/// Parse `OFFSET=FILE` items (`--assemble`): flash offsets (hex or decimal)
/// and file names as given (relative to the current directory).
pub fn parse_pieces(arg: &str) -> Result<Vec<Piece>, ArgError> {
    parse_pairs(arg, "--assemble")
        .map_err(|e| match e {
            ArgError::BadPair { item, .. } => ArgError::BadPiece { item },
            other => other,
        })?
        .into_iter()
        .map(|(offset, file)| {
            let bad = || ArgError::BadPiece { item: format!("{offset}={file}") };
            let offset = parse_int(&offset).and_then(|v| u32::try_from(v).ok()).ok_or_else(bad)?;
            Ok(Piece { offset, path: file.into() })
        })
        .collect()
}

/// Parse a list of names (`--delete`, `--erase`).
pub fn parse_names(arg: &str) -> Vec<String> {
    split_items(arg).into_iter().filter_map(|f| f.into_iter().next()).filter(|s| !s.is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_lists_parse_and_render_like_the_python_tool() {
        let specs = parse_part_list("factory=factory:7B:2M, vfs=1M,nvs").unwrap();
        assert_eq!(
            specs,
            vec![
                PartSpec { name: "factory".into(), subtype: "factory".into(), offset: 0x7000, size: 0x200000 },
                PartSpec { name: "vfs".into(), subtype: "".into(), offset: 0, size: 0x100000 },
                PartSpec { name: "nvs".into(), subtype: "".into(), offset: 0, size: 0 },
            ]
        );
        assert_eq!(render_part_list(&specs), "factory=factory=28672=2097152,vfs=1048576,nvs");
        assert_eq!(render_part_list(&parse_part_list("vfs=0").unwrap()), "vfs");
        assert_eq!(render_part_list(&parse_part_list("vfs2:fat:0x300000:1M").unwrap()), "vfs2=fat=3145728=1048576");
        assert_eq!(render_part_list(&parse_part_list("app=ota_0:1.5M").unwrap()), "app=ota_0=1572864");
    }

    #[test]
    fn bad_part_specs() {
        assert_eq!(parse_part_list("a:b:c:d:e"), Err(ArgError::BadPartSpec { item: "a:b:c:d:e".into() }));
        assert_eq!(parse_part_list("=1M"), Err(ArgError::BadPartSpec { item: ":1M".into() }));
        assert!(matches!(parse_part_list("vfs=lots"), Err(ArgError::Size(_))));
    }

    #[test]
    fn pairs_and_names() {
        assert_eq!(
            parse_pairs("factory=fw.app-bin, nvs:C:\\x.bin", "--write").unwrap(),
            vec![("factory".into(), "fw.app-bin".into()), ("nvs".into(), "C:\\x.bin".into())]
        );
        assert_eq!(parse_pairs("vfs", "--rename"), Err(ArgError::BadPair { option: "--rename", item: "vfs".into() }));
        assert_eq!(parse_names("phy_init, nvs"), vec!["phy_init", "nvs"]);
        let piece = |offset: u32, f: &str| Piece { offset, path: f.into() };
        assert_eq!(
            parse_pieces("0x1000=bootloader/bootloader.bin, 32768:pt.bin,0x10000=C:\\mp.bin").unwrap(),
            vec![piece(0x1000, "bootloader/bootloader.bin"), piece(0x8000, "pt.bin"), piece(0x10000, "C:\\mp.bin")]
        );
        assert_eq!(parse_pieces("boot=b.bin"), Err(ArgError::BadPiece { item: "boot=b.bin".into() }));
        assert_eq!(parse_pieces("0x0"), Err(ArgError::BadPiece { item: "0x0".into() }));
        assert_eq!(
            ArgError::BadPiece { item: "x=y".into() }.to_string(),
            "invalid --assemble item 'x=y': use OFFSET=FILE[,OFFSET=FILE...] with a hex or decimal flash offset"
        );
        assert_eq!(render_items(&split_items("phy_init,nvs")), "phy_init,nvs");
        assert_eq!(render_items(&split_items("factory=fw.bin")), "factory=fw.bin");
    }
}
