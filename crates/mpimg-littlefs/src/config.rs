//! Filesystem geometry and buffer sizes, checked before littlefs sees them.

use crate::Error;

/// On-disk version 2.0: what littlefs before v2.6 (and MicroPython up to v1.21) reads.
pub const DISK_VERSION_2_0: u32 = 0x0002_0000;
/// On-disk version 2.1 (littlefs v2.6 and later).
pub const DISK_VERSION_2_1: u32 = 0x0002_0001;

/// The parameters littlefs needs to format or mount a filesystem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Bytes per erase block.
    pub block_size: u32,
    /// Number of blocks; 0 on mount means "take it from the superblock".
    pub block_count: u32,
    /// Minimum read unit.
    pub read_size: u32,
    /// Minimum program unit.
    pub prog_size: u32,
    /// Size of the read, program and per-file caches.
    pub cache_size: u32,
    /// Bytes of the block-allocation lookahead bitmap (8 blocks per byte).
    pub lookahead_size: u32,
    /// Erase cycles before metadata is moved for wear levelling (-1: never).
    pub block_cycles: i32,
    /// On-disk version to write and to accept (0: the newest this littlefs knows).
    pub disk_version: u32,
}

impl Config {
    /// The configuration MicroPython's `VfsLfs2` uses on ESP32 flash:
    /// 4096-byte blocks, read/prog 32, lookahead 32, cache 128, block_cycles 100.
    pub fn micropython(block_count: u32) -> Self {
        Config {
            block_size: 4096,
            block_count,
            read_size: 32,
            prog_size: 32,
            cache_size: 128,
            lookahead_size: 32,
            block_cycles: 100,
            disk_version: 0,
        }
    }

    /// The same configuration pinned to an on-disk version.
    pub fn with_disk_version(mut self, disk_version: u32) -> Self {
        self.disk_version = disk_version;
        self
    }

    /// The same configuration with another block count.
    pub fn with_block_count(mut self, block_count: u32) -> Self {
        self.block_count = block_count;
        self
    }

    /// Check the rules littlefs states for its configuration. This build of the
    /// C library compiles its own assertions out, so breaking one of these rules
    /// would be undefined behaviour there: the wrapper refuses instead.
    pub fn validate(&self) -> Result<(), Error> {
        let nonzero = self.read_size != 0 && self.prog_size != 0 && self.cache_size != 0;
        if !nonzero {
            return Err(Error::Config("read, prog and cache sizes must not be 0"));
        }
        if !self.cache_size.is_multiple_of(self.read_size) || !self.cache_size.is_multiple_of(self.prog_size) {
            return Err(Error::Config("cache size must be a multiple of the read and prog sizes"));
        }
        if self.block_size < 128 || !self.block_size.is_multiple_of(self.cache_size) {
            return Err(Error::Config("block size must be at least 128 and a multiple of the cache size"));
        }
        if self.lookahead_size == 0 || !self.lookahead_size.is_multiple_of(8) {
            return Err(Error::Config("lookahead size must be a non-zero multiple of 8"));
        }
        if self.block_cycles == 0 {
            return Err(Error::Config("block_cycles must not be 0 (use -1 to disable wear levelling)"));
        }
        let major = self.disk_version >> 16;
        let minor = self.disk_version & 0xFFFF;
        let newest_minor = mpimg_littlefs_sys::LFS_DISK_VERSION_MINOR;
        if self.disk_version != 0 && (major != mpimg_littlefs_sys::LFS_DISK_VERSION_MAJOR || minor > newest_minor) {
            return Err(Error::Config("unsupported on-disk version (this littlefs writes 2.0 and 2.1)"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn micropython_config_is_valid_and_bad_ones_are_refused() {
        let c = Config::micropython(512);
        assert_eq!((c.read_size, c.prog_size, c.cache_size, c.lookahead_size, c.block_cycles), (32, 32, 128, 32, 100));
        assert_eq!(c.validate(), Ok(()));
        assert_eq!(c.with_disk_version(DISK_VERSION_2_0).validate(), Ok(()));
        assert!(matches!(c.with_disk_version(0x0003_0000).validate(), Err(Error::Config(_))));
        assert!(matches!(c.with_disk_version(0x0002_0002).validate(), Err(Error::Config(_))));
        assert!(matches!(Config { cache_size: 100, ..c }.validate(), Err(Error::Config(_))));
        assert!(matches!(Config { block_size: 64, ..c }.validate(), Err(Error::Config(_))));
        assert!(matches!(Config { block_cycles: 0, ..c }.validate(), Err(Error::Config(_))));
        assert!(matches!(Config { lookahead_size: 12, ..c }.validate(), Err(Error::Config(_))));
    }
}
