//! Reading, writing and erasing whole regions over the flash abstraction.
//!
//! On a firmware file a region may lie partly or wholly past the end of the
//! file. mp-image-tool-esp32 treats such a file as ending where its data ends,
//! and so do we (byte-for-byte the same outputs): a read stops at the end of
//! the file, and writing or erasing the last region leaves the file ending where
//! the written data ends rather than padding it out with 0xFF.

use crate::flash::{align_up, Flash, SECTOR_SIZE};

use super::region::Region;
use crate::error::Error;

/// The bytes of a region; on a file, only what the file holds.
pub fn read_region(flash: &mut dyn Flash, r: &Region) -> Result<Vec<u8>, Error> {
    let len = flash.stored_len(r.offset, r.size);
    if let (0, Some(file_end)) = (len, flash.stored_end()) {
        return Err(Error::NotInFile { name: r.name.clone(), offset: r.offset, file_end });
    }
    Ok(flash.read_vec(r.offset, len)?)
}

/// Write `data` at the start of a region, then erase the rest of the region.
/// Returns the number of bytes of `data` written.
pub fn write_region(flash: &mut dyn Flash, r: &Region, data: &[u8]) -> Result<u32, Error> {
    let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
    if len > r.size {
        return Err(Error::TooBig { name: r.name.clone(), len: data.len() as u64, size: r.size });
    }
    flash.write(r.offset, data)?;
    clear_from(flash, r, len)?;
    Ok(len)
}

/// Erase a whole region (`--erase`). On a file, a region past its end
/// already reads as erased, and the file is left as it is.
pub fn erase_region(flash: &mut dyn Flash, r: &Region) -> Result<(), Error> {
    clear_from(flash, r, 0)
}

/// Erase a region from `pos` (relative to its start) to its end. On a file
/// whose data ends inside the region, the file is cut at `pos` instead.
fn clear_from(flash: &mut dyn Flash, r: &Region, pos: u32) -> Result<(), Error> {
    let at = r.offset + pos;
    if flash.stored_len(r.offset, r.size) < r.size && flash.trim_end(at) {
        return Ok(());
    }
    let aligned = align_up(at, SECTOR_SIZE).min(r.end());
    if aligned > at {
        flash.write(at, &vec![0xFF; (aligned - at) as usize])?;
    }
    if r.end() > aligned {
        flash.erase(aligned, r.end() - aligned)?;
    }
    Ok(())
}

/// Trailing 0xFF bytes removed, then rounded up to a multiple of `block`
/// (never past the data): `--trimblocks` (4096) and `--trim` (16).
pub fn trim_blocks(data: &[u8], block: usize) -> &[u8] {
    let n = data.iter().rposition(|&b| b != 0xFF).map_or(0, |i| i + 1);
    &data[..n.div_ceil(block).saturating_mul(block).min(data.len())]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flash::FileFlash;
    use crate::format::partition::Partition;

    fn region(offset: u32, size: u32) -> Region {
        Region::of(&Partition::new("p", 1, 2, offset, size, 0))
    }

    #[test]
    fn write_inside_the_file_pads_and_erases_the_rest() {
        let mut f = FileFlash::new(vec![0u8; 0x4000], 0x1000, 0x400000);
        write_region(&mut f, &region(0x2000, 0x2000), &[1, 2, 3]).unwrap();
        let b = f.bytes();
        assert_eq!(b.len(), 0x4000);
        assert_eq!(&b[0x1000..0x1003], &[1, 2, 3]);
        assert!(b[0x1003..0x3000].iter().all(|&x| x == 0xFF));
        assert_eq!(b[0x3000], 0);
    }

    #[test]
    fn write_to_the_last_region_ends_the_file_with_the_data() {
        let mut f = FileFlash::new(vec![0u8; 0x3000], 0x1000, 0x400000);
        write_region(&mut f, &region(0x2000, 0x10000), &[7; 5]).unwrap();
        assert_eq!(f.bytes().len(), 0x1005);
        erase_region(&mut f, &region(0x2000, 0x10000)).unwrap();
        assert_eq!(f.bytes().len(), 0x1000);
        erase_region(&mut f, &region(0x8000, 0x1000)).unwrap();
        assert_eq!(f.bytes().len(), 0x1000, "erasing past the end leaves the file as it is");
        assert!(matches!(
            read_region(&mut f, &region(0x2000, 0x1000)),
            Err(Error::NotInFile { offset: 0x2000, file_end: 0x2000, .. })
        ));
        assert!(matches!(write_region(&mut f, &region(0x2000, 0x1000), &[0; 0x1001]), Err(Error::TooBig { .. })));
    }

    #[test]
    fn trims() {
        let d = [1u8, 0xFF, 2, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
        assert_eq!(trim_blocks(&d, 4), &d[..4]);
        assert_eq!(trim_blocks(&d, 16), &d[..]);
        assert_eq!(trim_blocks(&[0xFF; 8], 4), &[] as &[u8]);
    }
}
