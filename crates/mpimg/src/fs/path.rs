//! Paths on a partition's filesystem: `[PART:]PATH`, normalised.
//!
//! A path may start with a partition name and a colon (`vfs2:/data`). As in
//! mp-image-tool-esp32, a partition named in one argument stays the default
//! for the following arguments of the same command; the first default is `vfs`.

use std::fmt;

use super::FsError;

/// The longest name (one path component) littlefs and FAT store, in bytes.
pub const NAME_MAX: usize = 255;

/// A normalised path inside the filesystem of partition `part`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsPath {
    /// The partition.
    pub part: String,
    /// Components from the root; empty for the root itself.
    pub names: Vec<String>,
}

impl FsPath {
    /// The root directory of `part`.
    pub fn root(part: &str) -> Self {
        FsPath { part: part.to_owned(), names: Vec::new() }
    }

    /// Parse `path` (no partition prefix) on `part`: `/` separated, `.` and
    /// empty components dropped, `..` goes up (never above the root).
    pub fn parse(part: &str, path: &str) -> Self {
        let mut names: Vec<String> = Vec::new();
        for c in path.split('/') {
            match c {
                "" | "." => {}
                ".." => {
                    names.pop();
                }
                c => names.push(c.to_owned()),
            }
        }
        FsPath { part: part.to_owned(), names }
    }

    /// Whether it is the root directory.
    pub fn is_root(&self) -> bool {
        self.names.is_empty()
    }

    /// `name` inside this directory.
    pub fn join(&self, name: &str) -> Self {
        let mut p = self.clone();
        p.names.push(name.to_owned());
        p
    }

    /// The directory it is in (`None` for the root).
    pub fn parent(&self) -> Option<Self> {
        let mut p = self.clone();
        p.names.pop().map(|_| p)
    }

    /// The last component (`None` for the root).
    pub fn name(&self) -> Option<&str> {
        self.names.last().map(String::as_str)
    }

    /// Absolute path inside the filesystem: `/a/b`, `/` for the root.
    pub fn abs(&self) -> String {
        format!("/{}", self.names.join("/"))
    }

    /// Path relative to the root: `a/b`, empty for the root.
    pub fn rel(&self) -> String {
        self.names.join("/")
    }

    /// Refuse components longer than the filesystems can store.
    pub fn check_names(&self) -> Result<(), FsError> {
        match self.names.iter().find(|n| n.len() > NAME_MAX) {
            Some(n) => Err(FsError::NameTooLong { name: n.clone(), len: n.len() }),
            None => Ok(()),
        }
    }
}

impl fmt::Display for FsPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.part, self.abs())
    }
}

/// Split `vfs2:/data` into (`Some("vfs2")`, `/data`); a colon after a `/`
/// belongs to the path.
pub fn split_partition(arg: &str) -> (Option<&str>, &str) {
    match arg.split_once(':') {
        Some((part, rest)) if !part.is_empty() && !part.contains('/') => (Some(part), rest),
        _ => (None, arg),
    }
}

/// Parse the path arguments of one command, the partition carried forward.
pub fn parse_paths(args: &[String], default_part: &str) -> Vec<FsPath> {
    let mut part = default_part.to_owned();
    args.iter()
        .map(|a| {
            let (p, path) = split_partition(a);
            if let Some(p) = p {
                part = p.to_owned();
            }
            FsPath::parse(&part, path)
        })
        .collect()
}

/// Whether a path argument (`[PART:]PATH`) is written as a directory: it
/// ends in `/` (or `/.`, `/..`), as in `put main.py /lib/`. Such a path must
/// name a directory: a file there is [`FsError::NotADirectory`], nothing
/// there (where the command needs something) [`FsError::NoSuchDirectory`].
pub fn names_directory(arg: &str) -> bool {
    let (_, path) = split_partition(arg);
    matches!(path.rsplit('/').next(), Some("" | "." | "..")) && !path.is_empty()
}

/// Whether a name read from an image is safe to create on this computer
/// inside a destination directory: one plain component that cannot climb out.
pub fn is_safe_host_name(name: &str) -> bool {
    let bad_char = |c: char| c == '/' || c == '\0' || (cfg!(windows) && (c == '\\' || c == ':'));
    !name.is_empty() && name != "." && name != ".." && !name.chars().any(bad_char)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_normalises() {
        assert_eq!(FsPath::parse("vfs", "/a//./b/../c/").names, vec!["a", "c"]);
        assert_eq!(FsPath::parse("vfs", "../../x").abs(), "/x");
        assert!(FsPath::parse("vfs", "/").is_root());
        assert_eq!(FsPath::parse("vfs", "").to_string(), "vfs:/");
        let p = FsPath::parse("vfs", "lib/a.py");
        assert_eq!(
            (p.rel(), p.name(), p.parent().map(|q| q.abs())),
            ("lib/a.py".into(), Some("a.py"), Some("/lib".into()))
        );
        assert_eq!(FsPath::root("vfs").parent(), None);
    }

    #[test]
    fn partition_prefix_is_sticky_within_a_command() {
        let args: Vec<String> = ["a", "vfs2:/b", "c", "vfs:d", "x/y:z"].iter().map(|s| s.to_string()).collect();
        let got: Vec<String> = parse_paths(&args, "vfs").iter().map(|p| p.to_string()).collect();
        assert_eq!(got, vec!["vfs:/a", "vfs2:/b", "vfs2:/c", "vfs:/d", "vfs:/x/y:z"]);
        assert_eq!(split_partition(":x"), (None, ":x"));
    }

    #[test]
    fn a_trailing_slash_names_a_directory() {
        for dir in ["/", "//", "/.", "lib/", "vfs2:/lib/", "a/..", ".", "..", "vfs:/"] {
            assert!(names_directory(dir), "{dir:?}");
        }
        for not in ["", "lib", "/lib", "vfs2:lib", "a/.b", "vfs:"] {
            assert!(!names_directory(not), "{not:?}");
        }
    }

    #[test]
    fn long_names_and_unsafe_host_names() {
        let p = FsPath::parse("vfs", &format!("d/{}", "n".repeat(256)));
        assert_eq!(
            p.check_names().unwrap_err().to_string(),
            format!("name '{}' is 256 bytes long; littlefs and FAT allow at most 255", "n".repeat(256))
        );
        assert!(FsPath::parse("vfs", &"n".repeat(255)).check_names().is_ok());
        for bad in ["", ".", "..", "../x", "/etc", "a/b", "a\0b"] {
            assert!(!is_safe_host_name(bad), "{bad:?}");
        }
        for good in ["boot.py", "..hidden", "a b", "ü.txt"] {
            assert!(is_safe_host_name(good), "{good:?}");
        }
    }
}
