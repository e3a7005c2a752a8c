//! Image header, segment walk, checksum and SHA-256 (bootloader and app
//! images alike), and the header's round trip.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mpimg::format::image::{parse_image, parse_image_layout, rehash, ImageHeader, HEADER_LEN};

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = ImageHeader::parse(data) {
        // Every header byte is kept: writing it back gives the bytes read.
        assert_eq!(h.to_bytes()[..], data[..HEADER_LEN]);
        let _ = (h.flash_size(), h.chip(), h.spi_mode_name());
    }
    let full = parse_image(data);
    let layout = parse_image_layout(data);
    match (&full, &layout) {
        (Ok(f), Ok(l)) => {
            // The layout walk is the full walk without the SHA-256.
            assert_eq!(l.sha_calc, None);
            assert_eq!((&f.segments, f.total_len, f.checksum_calc), (&l.segments, l.total_len, l.checksum_calc));
            assert!(f.total_len <= data.len());
            let _ = (f.is_valid(), f.checksum_ok(), f.hash_ok());
            // Renewing the digest makes a digest-carrying image's hash valid.
            let mut copy = data.to_vec();
            rehash(&mut copy).expect("rehash of an image that walks");
            let again = parse_image(&copy).expect("rehashed image walks");
            assert_ne!(again.hash_ok(), Some(false));
        }
        (Err(a), Err(b)) => assert_eq!(a, b),
        _ => panic!("parse_image and parse_image_layout disagree: {full:?} vs {layout:?}"),
    }
});
