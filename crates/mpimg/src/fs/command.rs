//! The filesystem commands (what `--fs` runs): parsed from words, checked
//! before anything runs.

use std::path::PathBuf;

use super::sync::SyncOptions;
use super::FsError;

/// Which filesystem `mkfs` makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsKind {
    /// littlefs v2 (on-disk version 2.0), as MicroPython's `VfsLfs2`.
    Littlefs,
    /// FAT, as MicroPython's `VfsFat.mkfs`.
    Fat,
}

/// One filesystem command with its arguments. Paths are `[PART:]PATH`
/// (`vfs2:/lib`; the partition defaults to `vfs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FsCommand {
    /// `ls [-l] [PATH...]`: list recursively; directories end in `/`.
    Ls {
        /// With sizes and modification times.
        long: bool,
        /// What to list (none: the root of `vfs`).
        paths: Vec<String>,
    },
    /// `cat FILE...`: file contents to the output.
    Cat {
        /// The files.
        paths: Vec<String>,
    },
    /// `get SRC... [DEST]`: copy out to this computer (DEST defaults to `.`).
    Get {
        /// Files and directories in the filesystem.
        sources: Vec<String>,
        /// Where on this computer.
        dest: PathBuf,
    },
    /// `put SRC... DEST`: copy in from this computer (DEST defaults to `/`).
    Put {
        /// Files and directories on this computer.
        sources: Vec<PathBuf>,
        /// Where in the filesystem.
        dest: String,
    },
    /// `mkdir PATH...`: make directories (and missing parents).
    Mkdir {
        /// The directories.
        paths: Vec<String>,
    },
    /// `rm PATH...`: remove files and directory trees.
    Rm {
        /// What to remove.
        paths: Vec<String>,
    },
    /// `rename OLD NEW`: within one partition.
    Rename {
        /// The path renamed.
        from: String,
        /// The new path.
        to: String,
    },
    /// `mkfs [PART...] [fat|littlefs]`: new filesystem (default `vfs`, littlefs).
    Mkfs {
        /// The partitions (none: `vfs`).
        parts: Vec<String>,
        /// Which filesystem.
        kind: FsKind,
    },
    /// `df [PART...]`: usage (default: every partition with a filesystem).
    Df {
        /// The partitions.
        parts: Vec<String>,
    },
    /// `info [PART...]`: details (default: every partition with a filesystem).
    Info {
        /// The partitions.
        parts: Vec<String>,
    },
    /// `grow [PART [BLOCKS]]`: make littlefs fill its partition (or BLOCKS).
    Grow {
        /// The partition (none: `vfs`).
        part: Option<String>,
        /// The new block count (none: the partition's).
        blocks: Option<u32>,
    },
    /// `sync [--delete] [--checksum] [--exclude GLOB]... SRC [DEST]`: make
    /// DEST (default `/`) hold what the directory SRC on this computer holds,
    /// writing only the files that differ (see [`super::sync`]).
    Sync {
        /// The directory on this computer (its contents are synced).
        src: PathBuf,
        /// The directory in the filesystem.
        dest: String,
        /// `--delete`, `--checksum`, `--exclude`.
        options: SyncOptions,
    },
}

fn need_args(cmd: &'static str, args: &[String], what: &str) -> Result<(), FsError> {
    if args.is_empty() {
        return Err(FsError::usage(cmd, format!("needs {what}")));
    }
    Ok(())
}

fn parse_count(s: &str) -> Option<u32> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

impl FsCommand {
    /// Parse `[cmd, args...]`.
    pub fn parse(words: &[String]) -> Result<Self, FsError> {
        let Some((cmd, args)) = words.split_first() else {
            return Err(FsError::usage("", "needs a command"));
        };
        let args = args.to_vec();
        Ok(match cmd.as_str() {
            "ls" => {
                let long = args.iter().any(|a| a == "-l");
                FsCommand::Ls { long, paths: args.into_iter().filter(|a| a != "-l").collect() }
            }
            "cat" => {
                need_args("cat", &args, "a file")?;
                FsCommand::Cat { paths: args }
            }
            "get" => {
                need_args("get", &args, "a source path")?;
                let mut sources = args;
                let dest = if sources.len() > 1 { sources.pop().unwrap_or_default() } else { ".".into() };
                FsCommand::Get { sources, dest: PathBuf::from(dest) }
            }
            "put" => {
                need_args("put", &args, "a file or directory to copy")?;
                let mut sources = args;
                let dest = if sources.len() > 1 { sources.pop().unwrap_or_default() } else { "/".into() };
                FsCommand::Put { sources: sources.into_iter().map(PathBuf::from).collect(), dest }
            }
            "mkdir" => {
                need_args("mkdir", &args, "a directory path")?;
                FsCommand::Mkdir { paths: args }
            }
            "rm" => {
                need_args("rm", &args, "a path")?;
                FsCommand::Rm { paths: args }
            }
            "rename" => match <[String; 2]>::try_from(args) {
                Ok([from, to]) => FsCommand::Rename { from, to },
                Err(_) => return Err(FsError::usage("rename", "needs exactly two paths: OLD NEW")),
            },
            "mkfs" => {
                let mut kind = FsKind::Littlefs;
                let mut parts = Vec::new();
                for a in args {
                    match a.as_str() {
                        "fat" => kind = FsKind::Fat,
                        "littlefs" | "lfs" => kind = FsKind::Littlefs,
                        _ => parts.push(a),
                    }
                }
                FsCommand::Mkfs { parts, kind }
            }
            "df" => FsCommand::Df { parts: args },
            "info" => FsCommand::Info { parts: args },
            "grow" => {
                if args.len() > 2 {
                    return Err(FsError::usage("grow", "takes at most a partition and a block count"));
                }
                let blocks = match args.get(1) {
                    Some(s) => Some(parse_count(s).ok_or_else(|| {
                        FsError::usage("grow", format!("'{s}' is not a block count (decimal or 0x hex)"))
                    })?),
                    None => None,
                };
                FsCommand::Grow { part: args.first().cloned(), blocks }
            }
            "sync" => parse_sync(args)?,
            other => return Err(FsError::UnknownCommand(other.to_owned())),
        })
    }

    /// The command's name, as typed.
    pub fn name(&self) -> &'static str {
        match self {
            FsCommand::Ls { .. } => "ls",
            FsCommand::Cat { .. } => "cat",
            FsCommand::Get { .. } => "get",
            FsCommand::Put { .. } => "put",
            FsCommand::Mkdir { .. } => "mkdir",
            FsCommand::Rm { .. } => "rm",
            FsCommand::Rename { .. } => "rename",
            FsCommand::Mkfs { .. } => "mkfs",
            FsCommand::Df { .. } => "df",
            FsCommand::Info { .. } => "info",
            FsCommand::Grow { .. } => "grow",
            FsCommand::Sync { .. } => "sync",
        }
    }

    /// Whether the command prints something (a listing, file contents, usage,
    /// details): what it prints is the product of the run.
    pub fn prints(&self) -> bool {
        matches!(self, FsCommand::Ls { .. } | FsCommand::Cat { .. } | FsCommand::Df { .. } | FsCommand::Info { .. })
    }

    /// Whether the command changes the flash (the others never write to it).
    pub fn modifies_flash(&self) -> bool {
        matches!(
            self,
            FsCommand::Put { .. }
                | FsCommand::Mkdir { .. }
                | FsCommand::Rm { .. }
                | FsCommand::Rename { .. }
                | FsCommand::Mkfs { .. }
                | FsCommand::Grow { .. }
                | FsCommand::Sync { .. }
        )
    }
}

/// The command names, in the order `--help` lists them.
pub const COMMANDS: &[&str] =
    &["ls", "cat", "get", "put", "mkdir", "rm", "rename", "mkfs", "df", "info", "grow", "sync"];

/// `sync`'s words after the command: options, then SRC and DEST.
fn parse_sync(args: Vec<String>) -> Result<FsCommand, FsError> {
    let mut options = SyncOptions::default();
    let mut paths = Vec::new();
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--delete" => options.delete = true,
            "--checksum" | "-c" => options.checksum = true,
            "--exclude" => match it.next() {
                Some(p) if !p.is_empty() => options.exclude.push(p),
                _ => return Err(FsError::usage("sync", "--exclude needs a pattern (--exclude '*.pyc')")),
            },
            _ if a.starts_with("--exclude=") => options.exclude.push(a["--exclude=".len()..].to_string()),
            _ if a.starts_with("--") => {
                return Err(FsError::usage(
                    "sync",
                    format!("unknown option '{a}' (it takes --delete, --checksum, --exclude GLOB)"),
                ))
            }
            _ => paths.push(a),
        }
    }
    let (src, dest) = match <[String; 2]>::try_from(paths) {
        Ok([src, dest]) => (src, dest),
        Err(p) if p.len() == 1 => (p[0].clone(), "/".to_string()),
        Err(_) => {
            return Err(FsError::usage(
                "sync",
                "needs a directory on this computer and one in the filesystem: SRC DEST",
            ))
        }
    };
    Ok(FsCommand::Sync { src: PathBuf::from(src), dest, options })
}

/// Whether any of these commands would change the flash (for output
/// naming before running them). Unparseable commands count as not changing.
pub fn commands_modify_flash(commands: &[Vec<String>]) -> bool {
    commands.iter().any(|c| FsCommand::parse(c).is_ok_and(|c| c.modifies_flash()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<FsCommand, FsError> {
        FsCommand::parse(&s.split_whitespace().map(String::from).collect::<Vec<_>>())
    }

    #[test]
    fn parses_every_command() {
        assert_eq!(p("ls").unwrap(), FsCommand::Ls { long: false, paths: vec![] });
        assert_eq!(p("ls -l vfs2:/a").unwrap(), FsCommand::Ls { long: true, paths: vec!["vfs2:/a".into()] });
        assert_eq!(p("get a").unwrap(), FsCommand::Get { sources: vec!["a".into()], dest: ".".into() });
        assert_eq!(
            p("get a b out").unwrap(),
            FsCommand::Get { sources: vec!["a".into(), "b".into()], dest: "out".into() }
        );
        assert_eq!(p("put x").unwrap(), FsCommand::Put { sources: vec!["x".into()], dest: "/".into() });
        assert_eq!(
            p("put x y /lib").unwrap(),
            FsCommand::Put { sources: vec!["x".into(), "y".into()], dest: "/lib".into() }
        );
        assert_eq!(p("mkfs").unwrap(), FsCommand::Mkfs { parts: vec![], kind: FsKind::Littlefs });
        assert_eq!(p("mkfs fat").unwrap(), FsCommand::Mkfs { parts: vec![], kind: FsKind::Fat });
        assert_eq!(p("mkfs vfs2 fat").unwrap(), FsCommand::Mkfs { parts: vec!["vfs2".into()], kind: FsKind::Fat });
        assert_eq!(p("grow").unwrap(), FsCommand::Grow { part: None, blocks: None });
        assert_eq!(p("grow vfs 0x200").unwrap(), FsCommand::Grow { part: Some("vfs".into()), blocks: Some(512) });
        assert_eq!(p("rename a b").unwrap(), FsCommand::Rename { from: "a".into(), to: "b".into() });
        assert_eq!(p("df").unwrap(), FsCommand::Df { parts: vec![] });
        assert_eq!(p("info vfs").unwrap(), FsCommand::Info { parts: vec!["vfs".into()] });
        assert_eq!(
            p("sync --delete --exclude *.pyc --exclude=build/ -c src vfs2:/app").unwrap(),
            FsCommand::Sync {
                src: "src".into(),
                dest: "vfs2:/app".into(),
                options: SyncOptions { delete: true, checksum: true, exclude: vec!["*.pyc".into(), "build/".into()] }
            }
        );
        assert_eq!(
            p("sync src").unwrap(),
            FsCommand::Sync { src: "src".into(), dest: "/".into(), options: SyncOptions::default() }
        );
    }

    #[test]
    fn usage_errors_say_what_is_missing() {
        let e = |s: &str| p(s).unwrap_err().to_string();
        // The command line adds "--fs " and the list of commands (cli::error's tests).
        assert_eq!(e("cat"), "cat: needs a file");
        assert_eq!(e("rename a"), "rename: needs exactly two paths: OLD NEW");
        assert_eq!(e("grow vfs lots"), "grow: 'lots' is not a block count (decimal or 0x hex)");
        assert_eq!(e("grow a 1 2"), "grow: takes at most a partition and a block count");
        assert_eq!(e("format"), "unknown command 'format'");
        assert_eq!(e("sync"), "sync: needs a directory on this computer and one in the filesystem: SRC DEST");
        assert_eq!(e("sync a b c"), "sync: needs a directory on this computer and one in the filesystem: SRC DEST");
        assert_eq!(e("sync --exclude"), "sync: --exclude needs a pattern (--exclude '*.pyc')");
        assert_eq!(
            e("sync --dry-run a b"),
            "sync: unknown option '--dry-run' (it takes --delete, --checksum, --exclude GLOB)"
        );
    }

    #[test]
    fn which_commands_write() {
        let w = |s: &str| vec![s.split_whitespace().map(String::from).collect::<Vec<_>>()];
        for s in ["ls", "cat a", "get a", "df", "info"] {
            assert!(!commands_modify_flash(&w(s)), "{s}");
        }
        for s in ["put a", "mkdir a", "rm a", "rename a b", "mkfs", "grow", "sync a b"] {
            assert!(commands_modify_flash(&w(s)), "{s}");
        }
    }
}
