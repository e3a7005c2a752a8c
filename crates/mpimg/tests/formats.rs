//! The image formats over the real MicroPython firmware in `../shared/firmware`:
//! header fields, segments, checksums, digests, descriptors and banners against
//! values obtained independently (esptool and the firmware MANIFEST), and the
//! flash-size edit against mp-image-tool-esp32's output bytes.
//!
//! Without `../shared/firmware` (or a venv, for the tests that run Python
//! tools) a test prints a note and passes, unless `CI=true`: then it fails.

use std::path::Path;
use std::process::Command;

use crate::util::{firmware_dir, python_tool, venv_python};

use mpimg::format::app_desc::AppDesc;
use mpimg::format::banner::find_banner;
use mpimg::format::bootloader_desc::BootloaderDesc;
use mpimg::format::chip::Chip;
use mpimg::format::image::{parse_image, rehash, ImageError, ImageHeader, ImageInfo, ImagePart, HEADER_LEN};

const MB: u32 = 1024 * 1024;
/// Flash offset of the first app partition in every full image here.
const APP_FLASH_OFFSET: usize = 0x10000;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Expected facts about one image (bootloader or app).
struct Img {
    entry: u32,
    flash_mb: u32,
    min_rev_full: u16,
    max_rev_full: u16,
    checksum: u8,
    sha256: &'static str,
    /// (length, load address) of each segment.
    segments: &'static [(u32, u32)],
}

struct AppExpect {
    date: &'static str,
    time: &'static str,
    idf_ver: &'static str,
    elf_sha256: &'static str,
    min_efuse_blk_rev_full: u16,
    max_efuse_blk_rev_full: u16,
    mmu_page_kb: Option<u32>,
    secure_version: u32,
}

struct Expect {
    file: &'static str,
    chip: &'static str,
    chip_id: u16,
    /// From the MANIFEST; None for an app image on its own.
    bootloader_offset: Option<u32>,
    /// (version, date, is_release), from the MANIFEST.
    banner: (&'static str, &'static str, bool),
    boot: Option<Img>,
    /// (version, idf_ver, date_time) of the bootloader descriptor.
    boot_desc: Option<(u32, &'static str, &'static str)>,
    app: Img,
    app_desc: AppExpect,
}

// Chip, bootloader offset, flash size and banner: ../shared/firmware/MANIFEST.md.
// Everything else was printed by esptool v5.6.0 (`.venv/bin/esptool image-info`)
// for the bootloader (file bytes 0..0x10000) and the app (file bytes from
// 0x10000 - bootloader offset) of each file, and copied here by a script; all
// those checksums and hashes esptool reported "(valid)".
// `esptool_agrees_live` re-runs esptool when the venv is there.
const EXPECT: &[Expect] = &[
    Expect {
        file: "ESP32_GENERIC-20240602-v1.23.0.bin",
        chip: "esp32",
        chip_id: 0,
        bootloader_offset: Some(0x1000),
        banner: ("v1.23.0", "2024-06-02", true),
        boot: Some(Img {
            entry: 0x400805cc,
            flash_mb: 4,
            min_rev_full: 0,
            max_rev_full: 399,
            checksum: 0xe6,
            sha256: "a5f6048ca6623db4f37776be099a75e45a0fef904564c8e9083a6cb8b5b81d7d",
            segments: &[(0x1278, 0x3fff0030), (0x3a28, 0x40078000), (0xd28, 0x40080400)],
        }),
        boot_desc: None,
        app: Img {
            entry: 0x40081528,
            flash_mb: 4,
            min_rev_full: 0,
            max_rev_full: 399,
            checksum: 0x00,
            sha256: "07333551415cde6c37dc0e190b4f0b4e23c26680b0e229f4a8e9858c31117c98",
            segments: &[
                (0x3ee40, 0x3f400020),
                (0x8, 0x3ff80063),
                (0x11a0, 0x3ffbdb60),
                (0x134f7c, 0x400d0020),
                (0x4104, 0x3ffbed00),
                (0x1f520, 0x40080000),
                (0x64, 0x400c0000),
            ],
        },
        app_desc: AppExpect {
            date: "Jun  2 2024",
            time: "06:51:35",
            idf_ver: "v5.0.4",
            elf_sha256: "9c4248e4297d02ec0ebf0578047e6303e741850b2b354f0116b8f18882849660",
            min_efuse_blk_rev_full: 0,
            max_efuse_blk_rev_full: 0,
            mmu_page_kb: None,
            secure_version: 0,
        },
    },
    Expect {
        file: "ESP32_GENERIC-20250415-v1.25.0.bin",
        chip: "esp32",
        chip_id: 0,
        bootloader_offset: Some(0x1000),
        banner: ("v1.25.0", "2025-04-15", true),
        boot: Some(Img {
            entry: 0x400805b0,
            flash_mb: 4,
            min_rev_full: 0,
            max_rev_full: 399,
            checksum: 0x50,
            sha256: "1710d7e815f298ba04cc1d0c26b56869e758d750fbd95832132c58145ec0e086",
            segments: &[(0x131c, 0x3fff0030), (0x3a30, 0x40078000), (0x4, 0x40080400), (0xd2c, 0x40080404)],
        }),
        boot_desc: Some((1, "v5.2.2", "Apr 15 2025 14:49:36")),
        app: Img {
            entry: 0x400812c4,
            flash_mb: 4,
            min_rev_full: 0,
            max_rev_full: 399,
            checksum: 0xab,
            sha256: "1979078c79fd60c518832451b425b99fc1736ab97660ddf235f7188c75023297",
            segments: &[
                (0x40b00, 0x3f400020),
                (0x8, 0x3ff80063),
                (0x5a4c, 0x3ffbdb60),
                (0x9a8c, 0x40080000),
                (0x12dd70, 0x400d0020),
                (0x12b30, 0x40089a8c),
                (0x64, 0x400c0000),
            ],
        },
        app_desc: AppExpect {
            date: "Apr 15 2025",
            time: "14:50:29",
            idf_ver: "v5.2.2",
            elf_sha256: "b9350934733c0780efbbe04a02722bcb11a4d644df14e3cd20df7b0272bdd4b3",
            min_efuse_blk_rev_full: 0,
            max_efuse_blk_rev_full: 0,
            mmu_page_kb: None,
            secure_version: 0,
        },
    },
    Expect {
        file: "ESP32_GENERIC-OTA-20250415-v1.25.0.bin",
        chip: "esp32",
        chip_id: 0,
        bootloader_offset: Some(0x1000),
        banner: ("v1.25.0", "2025-04-15", true),
        boot: Some(Img {
            entry: 0x400805b0,
            flash_mb: 4,
            min_rev_full: 0,
            max_rev_full: 399,
            checksum: 0x54,
            sha256: "f5c25a88f5dbc7c323e28841ce476d83baea8291e634e4de23adece3e559e4a5",
            segments: &[(0x131c, 0x3fff0030), (0x3a30, 0x40078000), (0x4, 0x40080400), (0xd2c, 0x40080404)],
        }),
        boot_desc: Some((1, "v5.2.2", "Apr 15 2025 15:00:58")),
        app: Img {
            entry: 0x400810f4,
            flash_mb: 4,
            min_rev_full: 0,
            max_rev_full: 399,
            checksum: 0xdd,
            sha256: "e78ff60f6e24b5c8aaeba4b76e49730975168e452e49be8d6c21f289b8a607cf",
            segments: &[
                (0x34078, 0x3f400020),
                (0x8, 0x3ff8005f),
                (0x5744, 0x3ffbdb60),
                (0x681c, 0x40080000),
                (0x108a70, 0x400d0020),
                (0x145c4, 0x4008681c),
                (0x60, 0x400c0000),
            ],
        },
        app_desc: AppExpect {
            date: "Apr 15 2025",
            time: "15:01:47",
            idf_ver: "v5.2.2",
            elf_sha256: "b9190bef047e76403b4f5a5cb88df76cd64461a6a0016ff018ffc5bc18006bc1",
            min_efuse_blk_rev_full: 0,
            max_efuse_blk_rev_full: 0,
            mmu_page_kb: None,
            secure_version: 0,
        },
    },
    Expect {
        file: "ESP32_GENERIC_C3-20240602-v1.23.0.bin",
        chip: "esp32c3",
        chip_id: 5,
        bootloader_offset: Some(0x0),
        banner: ("v1.23.0", "2024-06-02", true),
        boot: Some(Img {
            entry: 0x403cc710,
            flash_mb: 4,
            min_rev_full: 3,
            max_rev_full: 99,
            checksum: 0x37,
            sha256: "8612a06c1c835c9b5bf56cd3465d83363c7cfc9ba26b5dfc25bee9a6eb6cc923",
            segments: &[(0xe8c, 0x3fcd5820), (0x6ec, 0x403cc710), (0x2b24, 0x403ce710)],
        }),
        boot_desc: None,
        app: Img {
            entry: 0x40380442,
            flash_mb: 4,
            min_rev_full: 3,
            max_rev_full: 99,
            checksum: 0x2f,
            sha256: "8a7b45cacaad34ef17a00eabea4e39d0dea3db4b0358706065547a27cb3ba1c2",
            segments: &[
                (0x3b000, 0x3c140020),
                (0x2d60, 0x3fc97600),
                (0x2288, 0x40380000),
                (0x132014, 0x42000020),
                (0x1518c, 0x40382288),
                (0x18, 0x50000000),
            ],
        },
        app_desc: AppExpect {
            date: "Jun  2 2024",
            time: "07:11:05",
            idf_ver: "v5.0.4",
            elf_sha256: "04e0092a8eea4b0209a7725a6fe56185eed49d4d8b9ee4149b77ea0466b15b24",
            min_efuse_blk_rev_full: 0,
            max_efuse_blk_rev_full: 0,
            mmu_page_kb: None,
            secure_version: 0,
        },
    },
    Expect {
        file: "ESP32_GENERIC_C3-20251209-v1.27.0.bin",
        chip: "esp32c3",
        chip_id: 5,
        bootloader_offset: Some(0x0),
        banner: ("v1.27.0", "2025-12-09", true),
        boot: Some(Img {
            entry: 0x403cbf10,
            flash_mb: 4,
            min_rev_full: 3,
            max_rev_full: 199,
            checksum: 0xde,
            sha256: "a54ec731853f069423c181462ac3e5a296d39b4c9e82be96d63ec93bdc4e26bb",
            segments: &[(0xddc, 0x3fcd5820), (0x9ac, 0x403cbf10), (0x2cb8, 0x403ce710)],
        }),
        boot_desc: Some((1, "v5.5.1", "Dec  9 2025 15:10:51")),
        app: Img {
            entry: 0x403802e8,
            flash_mb: 4,
            min_rev_full: 3,
            max_rev_full: 199,
            checksum: 0x90,
            sha256: "4a05f1adc38ffe9d0fc6bc50d3e34dedb79a039379526d495fcc5ffe72ddf992",
            segments: &[
                (0x3dd5c, 0x3c140020),
                (0x2294, 0x3fc96e00),
                (0x13d680, 0x42000020),
                (0xd04, 0x3fc99094),
                (0x16d0c, 0x40380000),
                (0x14, 0x50000000),
                (0x20, 0x5000081c),
            ],
        },
        app_desc: AppExpect {
            date: "Dec  9 2025",
            time: "15:12:00",
            idf_ver: "v5.5.1",
            elf_sha256: "427d8e36adf64b8845ba7263aa9cc55df2ca3199eb7e58b425bb1d83e6aca92c",
            min_efuse_blk_rev_full: 0,
            max_efuse_blk_rev_full: 199,
            mmu_page_kb: Some(64),
            secure_version: 0,
        },
    },
    Expect {
        file: "ESP32_GENERIC_S2-20240602-v1.23.0.bin",
        chip: "esp32s2",
        chip_id: 2,
        bootloader_offset: Some(0x1000),
        banner: ("v1.23.0", "2024-06-02", true),
        boot: Some(Img {
            entry: 0x4004c13c,
            flash_mb: 4,
            min_rev_full: 0,
            max_rev_full: 199,
            checksum: 0x0d,
            sha256: "f490e244e3058f670003a03675debcf7db3fa5358f32909eeedd194076095808",
            segments: &[(0xf34, 0x3ffe6108), (0x8ec, 0x4004c000), (0x2f24, 0x40050000)],
        }),
        boot_desc: None,
        app: Img {
            entry: 0x400252b4,
            flash_mb: 4,
            min_rev_full: 0,
            max_rev_full: 199,
            checksum: 0xf6,
            sha256: "5c9852e0b837261b358c9c01c395eb6fbf5429ca7a9ef9e6fce29fe2d7dc045c",
            segments: &[
                (0x3b5b0, 0x3f000020),
                (0x4, 0x3ff9e02c),
                (0x3180, 0x3ffc9320),
                (0x18ac, 0x40024000),
                (0xf88f4, 0x40080020),
                (0x13a6c, 0x400258ac),
                (0x2c, 0x40070000),
            ],
        },
        app_desc: AppExpect {
            date: "Jun  2 2024",
            time: "07:14:40",
            idf_ver: "v5.0.4",
            elf_sha256: "4d000e1bd44402bd4cbf16623f242d50a84bdfc5243ad80516e5bd5946949981",
            min_efuse_blk_rev_full: 0,
            max_efuse_blk_rev_full: 0,
            mmu_page_kb: None,
            secure_version: 0,
        },
    },
    Expect {
        file: "ESP32_GENERIC_S3-20241129-v1.24.1.bin",
        chip: "esp32s3",
        chip_id: 9,
        bootloader_offset: Some(0x0),
        banner: ("v1.24.1", "2024-11-29", true),
        boot: Some(Img {
            entry: 0x403c989c,
            flash_mb: 8,
            min_rev_full: 0,
            max_rev_full: 99,
            checksum: 0x83,
            sha256: "a86a175096a4ffaecf62a081cae7e7ed76a5ef7b17292e3d513c9b4368a02be0",
            segments: &[(0x105c, 0x3fce3820), (0x4, 0x403c9700), (0xbd8, 0x403c9704), (0x2e34, 0x403cc700)],
        }),
        boot_desc: Some((1, "v5.2.2", "Nov 29 2024 13:24:37")),
        app: Img {
            entry: 0x4037536c,
            flash_mb: 8,
            min_rev_full: 0,
            max_rev_full: 99,
            checksum: 0x27,
            sha256: "7071624c29263515d36fe54911318780c37522dbf2aac2a630ab2eb38a92f051",
            segments: &[
                (0x4215c, 0x3c130020),
                (0x4d10, 0x3fc9d600),
                (0x917c, 0x40374000),
                (0x124bb8, 0x42000020),
                (0x10468, 0x4037d17c),
                (0x3c, 0x600fe000),
            ],
        },
        app_desc: AppExpect {
            date: "Nov 29 2024",
            time: "13:25:25",
            idf_ver: "v5.2.2",
            elf_sha256: "bd97f3b4ee9580141818c8df23a483cabff20bbb95b31d22aec7b7ee909ef261",
            min_efuse_blk_rev_full: 0,
            max_efuse_blk_rev_full: 0,
            mmu_page_kb: None,
            secure_version: 0,
        },
    },
    Expect {
        file: "ESP32_GENERIC_S3-FLASH_4M-20240602-v1.23.0.bin",
        chip: "esp32s3",
        chip_id: 9,
        bootloader_offset: Some(0x0),
        banner: ("v1.23.0", "2024-06-02", true),
        boot: Some(Img {
            entry: 0x403c989c,
            flash_mb: 4,
            min_rev_full: 0,
            max_rev_full: 99,
            checksum: 0x3d,
            sha256: "2aa7a6e666276c5e883d1857335d26b255b8084d17eb005758125e5a09cccfe0",
            segments: &[(0xf8c, 0x3fce3810), (0xb3c, 0x403c9700), (0x2dd4, 0x403cc700)],
        }),
        boot_desc: None,
        app: Img {
            entry: 0x4037565c,
            flash_mb: 4,
            min_rev_full: 0,
            max_rev_full: 99,
            checksum: 0x80,
            sha256: "b110f42ded021e0ab8aa8061dbc246ca7dba60827b67036514c3eacbb04f0586",
            segments: &[
                (0x40960, 0x3c120020),
                (0x48c8, 0x3fc9e900),
                (0xadc0, 0x40374000),
                (0x11dc98, 0x42000020),
                (0xfac4, 0x4037edc0),
                (0x3c, 0x600fe000),
            ],
        },
        app_desc: AppExpect {
            date: "Jun  2 2024",
            time: "07:26:48",
            idf_ver: "v5.0.4",
            elf_sha256: "e724b4e22211087731f99eec67f0937750fb0bb7b615481bfb0d32ba2e04af30",
            min_efuse_blk_rev_full: 0,
            max_efuse_blk_rev_full: 0,
            mmu_page_kb: None,
            secure_version: 0,
        },
    },
    Expect {
        file: "ESP32_GENERIC_S3-SPIRAM_OCT-20250415-v1.25.0.bin",
        chip: "esp32s3",
        chip_id: 9,
        bootloader_offset: Some(0x0),
        banner: ("v1.25.0", "2025-04-15", true),
        boot: Some(Img {
            entry: 0x403c989c,
            flash_mb: 8,
            min_rev_full: 0,
            max_rev_full: 99,
            checksum: 0x9d,
            sha256: "11fb84bb49d94c356aa112dfe7a77ac515bba6279e884ceec7aeac5848bbfacd",
            segments: &[(0x105c, 0x3fce3820), (0x4, 0x403c9700), (0xbd8, 0x403c9704), (0x2e34, 0x403cc700)],
        }),
        boot_desc: Some((1, "v5.2.2", "Apr 15 2025 15:14:50")),
        app: Img {
            entry: 0x40375478,
            flash_mb: 8,
            min_rev_full: 0,
            max_rev_full: 99,
            checksum: 0xe8,
            sha256: "6e09fba9578e2dca6f5fdc93a404d4cd191cd7ad9d1567f6426f3b519cc40f6b",
            segments: &[
                (0x428dc, 0x3c130020),
                (0x50a4, 0x3fc9e100),
                (0x8668, 0x40374000),
                (0x127ad8, 0x42000020),
                (0x119d8, 0x4037c668),
                (0x34, 0x600fe000),
                (0x8, 0x600fe034),
            ],
        },
        app_desc: AppExpect {
            date: "Apr 15 2025",
            time: "15:15:47",
            idf_ver: "v5.2.2",
            elf_sha256: "034864016ec304b7071359498fe3aeb8158f9e2aee48b52da6caf31dc72e01e6",
            min_efuse_blk_rev_full: 0,
            max_efuse_blk_rev_full: 0,
            mmu_page_kb: None,
            secure_version: 0,
        },
    },
    Expect {
        file: "esp32-20210902-v1.17.bin",
        chip: "esp32",
        chip_id: 0,
        bootloader_offset: Some(0x1000),
        banner: ("v1.17", "2021-09-02", true),
        boot: Some(Img {
            entry: 0x400806b0,
            flash_mb: 4,
            min_rev_full: 0,
            max_rev_full: 0,
            checksum: 0x44,
            sha256: "dbece055778228fde92e55ee767ff36eb65c1be1a4482ba4d794c8f1cb3331b0",
            segments: &[(0x1618, 0x3fff0030), (0x3198, 0x40078000), (0x10c4, 0x40080400)],
        }),
        boot_desc: None,
        app: Img {
            entry: 0x40081c8c,
            flash_mb: 4,
            min_rev_full: 0,
            max_rev_full: 0,
            checksum: 0xd1,
            sha256: "da215e5285928dd5d969beaadedcdd8859b2df632dcb9ee355b637b0595390cd",
            segments: &[
                (0x41644, 0x3f400020),
                (0x4144, 0x3ffbdb60),
                (0xa860, 0x40080000),
                (0x1062dc, 0x400d0020),
                (0xf32c, 0x4008a860),
                (0x64, 0x400c0000),
                (0x808, 0x50000200),
            ],
        },
        app_desc: AppExpect {
            date: "Sep  2 2021",
            time: "01:06:23",
            idf_ver: "v4.2.2",
            elf_sha256: "1cf8b3226081b288a6607492eccdacc1cbede0e1588a36a8e2f41d1e85c0a987",
            min_efuse_blk_rev_full: 0,
            max_efuse_blk_rev_full: 0,
            mmu_page_kb: None,
            secure_version: 0,
        },
    },
    Expect {
        file: "micropython.bin",
        chip: "esp32s3",
        chip_id: 9,
        bootloader_offset: None,
        banner: ("b4f53a0", "2025-01-22", false),
        boot: None,
        boot_desc: None,
        app: Img {
            entry: 0x40375388,
            flash_mb: 4,
            min_rev_full: 0,
            max_rev_full: 99,
            checksum: 0x16,
            sha256: "b19ee7e3be7e84db543b3382bb5396f411390164ae72442611eeef111b7210dd",
            segments: &[
                (0x36440, 0x3c100020),
                (0x4664, 0x3fc9a000),
                (0x5544, 0x40374000),
                (0xfaea8, 0x42000020),
                (0x10a18, 0x40379544),
                (0x100, 0x600fe000),
                (0x8, 0x600fe100),
            ],
        },
        app_desc: AppExpect {
            date: "Jan 22 2025",
            time: "08:17:38",
            idf_ver: "v5.3.2",
            elf_sha256: "dabd9d8c8e5c61c5e598eeedec58b37bf667a92dbd4e4fa396a47c1dda21b2d4",
            min_efuse_blk_rev_full: 0,
            max_efuse_blk_rev_full: 199,
            mmu_page_kb: None,
            secure_version: 0,
        },
    },
];

struct Loaded {
    e: &'static Expect,
    data: Vec<u8>,
    /// File offset of the app image.
    app_at: usize,
}

fn load_all() -> Option<Vec<Loaded>> {
    let dir = firmware_dir()?;
    let mut out = Vec::new();
    for e in EXPECT {
        let data = std::fs::read(dir.join(e.file)).unwrap_or_else(|err| panic!("{}: {err}", e.file));
        let app_at = e.bootloader_offset.map_or(0, |off| APP_FLASH_OFFSET - off as usize);
        out.push(Loaded { e, data, app_at });
    }
    Some(out)
}

fn check_img(name: &str, data: &[u8], want: &Img, chip_id: u16) -> ImageInfo {
    let info = parse_image(data).unwrap_or_else(|err| panic!("{name}: {err}"));
    let h = &info.header;
    assert_eq!(h.chip_id, chip_id, "{name}");
    assert_eq!(h.entry_point, want.entry, "{name}");
    assert_eq!(h.flash_size(), Some(want.flash_mb * MB), "{name}");
    assert_eq!((h.min_rev_full, h.max_rev_full), (want.min_rev_full, want.max_rev_full), "{name}");
    assert_eq!(h.hash_appended, 1, "{name}");
    assert_eq!(h.segment_count as usize, want.segments.len(), "{name}");
    let segs: Vec<(u32, u32)> = info.segments.iter().map(|s| (s.len, s.load_addr)).collect();
    assert_eq!(segs, want.segments, "{name}");
    // Segments follow each other, each after its 8-byte header.
    let mut pos = HEADER_LEN;
    for s in &info.segments {
        assert_eq!(s.data_offset, pos + 8, "{name}");
        pos = s.data_offset + s.len as usize;
    }
    assert_eq!(info.checksum_stored, want.checksum, "{name}");
    assert!(info.checksum_ok(), "{name}: checksum");
    assert_eq!(info.hash_ok(), Some(true), "{name}: SHA-256");
    assert!(info.is_valid(), "{name}");
    assert_eq!(hex(&info.sha_stored.unwrap()), want.sha256, "{name}");
    assert_eq!(info.hashed_len % 16, 0, "{name}");
    assert_eq!(info.total_len, info.hashed_len + 32, "{name}");
    // The header survives a round trip byte for byte.
    assert_eq!(h.to_bytes(), data[..HEADER_LEN], "{name}");
    info
}

#[test]
fn real_images_match_manifest_and_esptool() {
    let Some(all) = load_all() else { return };
    for Loaded { e, data, app_at } in &all {
        let name = e.file;
        let chip = Chip::by_name(e.chip).unwrap();
        assert_eq!(chip.image_id, e.chip_id, "{name}");

        if let Some(boot) = &e.boot {
            let off = e.bootloader_offset.unwrap();
            assert_eq!(chip.bootloader_offset, off, "{name}: chip table vs MANIFEST");
            let info = check_img(&format!("{name} bootloader"), data, boot, e.chip_id);
            assert_eq!(info.header.chip().map(|c| c.name), Some(e.chip), "{name}");
            assert!(info.total_len <= 0x8000 - off as usize, "{name}: bootloader overlaps the table");
            let desc = BootloaderDesc::parse(data);
            let got = desc.as_ref().map(|d| (d.version, d.idf_ver.as_str(), d.date_time.as_str()));
            assert_eq!(got, e.boot_desc, "{name}: bootloader descriptor");
            if let Some(d) = desc {
                assert_eq!((d.magic_byte, d.secure_version), (0x50, 0), "{name}");
            }
            assert_eq!(AppDesc::parse(data), None, "{name}: a bootloader has no app descriptor");
        } else {
            assert_eq!(BootloaderDesc::parse(data), None, "{name}: an app has no bootloader descriptor");
        }

        let app = &data[*app_at..];
        let info = check_img(&format!("{name} app"), app, &e.app, e.chip_id);
        // Every file ends exactly where its app image ends (MANIFEST).
        assert_eq!(app_at + info.total_len, data.len(), "{name}");

        let d = AppDesc::parse(app).unwrap_or_else(|| panic!("{name}: no app descriptor"));
        let w = &e.app_desc;
        assert_eq!((d.version.as_str(), d.project_name.as_str()), ("", ""), "{name}: MicroPython leaves these empty");
        assert_eq!((d.date.as_str(), d.time.as_str()), (w.date, w.time), "{name}");
        assert_eq!(d.idf_ver, w.idf_ver, "{name}");
        assert_eq!(hex(&d.app_elf_sha256), w.elf_sha256, "{name}");
        assert_eq!(
            (d.min_efuse_blk_rev_full, d.max_efuse_blk_rev_full),
            (w.min_efuse_blk_rev_full, w.max_efuse_blk_rev_full),
            "{name}"
        );
        assert_eq!(d.mmu_page_bytes(), w.mmu_page_kb.map(|kb| kb * 1024), "{name}");
        assert_eq!(d.secure_version, w.secure_version, "{name}");

        let b = find_banner(&app[..info.total_len]).unwrap_or_else(|| panic!("{name}: no banner"));
        assert_eq!((b.version.as_str(), b.date.as_str(), b.is_release), e.banner, "{name}");
    }
}

#[test]
fn truncated_real_apps_name_the_missing_part() {
    let Some(all) = load_all() else { return };
    for Loaded { e, data, app_at } in &all {
        let app = &data[*app_at..];
        let info = parse_image(app).unwrap();
        let last = info.segments.len() - 1;
        let seg = &info.segments[last];
        let end = seg.data_offset + seg.len as usize;
        let cases = [
            (
                info.total_len - 1,
                ImageError::Truncated { part: ImagePart::Hash, offset: info.hashed_len, needed: 32, available: 31 },
            ),
            (
                info.hashed_len - 1,
                ImageError::Truncated {
                    part: ImagePart::Checksum,
                    offset: end,
                    needed: info.hashed_len - end,
                    available: info.hashed_len - end - 1,
                },
            ),
            (
                end - 1,
                ImageError::Truncated {
                    part: ImagePart::SegmentData(last),
                    offset: seg.data_offset,
                    needed: seg.len as usize,
                    available: seg.len as usize - 1,
                },
            ),
            (
                seg.data_offset - 1,
                ImageError::Truncated {
                    part: ImagePart::SegmentHeader(last),
                    offset: seg.data_offset - 8,
                    needed: 8,
                    available: 7,
                },
            ),
            (10, ImageError::Truncated { part: ImagePart::Header, offset: 0, needed: 24, available: 10 }),
        ];
        for (cut, want) in cases {
            assert_eq!(parse_image(&app[..cut]), Err(want), "{} app cut at {cut:#x}", e.file);
        }
    }
}

#[test]
fn corrupting_a_real_app_breaks_checksum_and_hash() {
    let Some(all) = load_all() else { return };
    for Loaded { e, data, app_at } in &all {
        let mut app = data[*app_at..].to_vec();
        let seg = parse_image(&app).unwrap().segments[2].clone();
        app[seg.data_offset + seg.len as usize / 2] ^= 0x01;
        let info = parse_image(&app).unwrap();
        assert!(!info.checksum_ok(), "{}", e.file);
        assert_eq!(info.hash_ok(), Some(false), "{}", e.file);
    }
}

#[test]
fn flash_size_edit_then_rehash_keeps_images_valid() {
    let Some(all) = load_all() else { return };
    for Loaded { e, data, .. } in all.iter().filter(|l| l.e.boot.is_some()) {
        for mb in [1, 2, 4, 8, 16, 32, 64, 128] {
            let mut img = data.clone();
            let mut h = ImageHeader::parse(&img).unwrap();
            h.set_flash_size(mb * MB).unwrap();
            img[..HEADER_LEN].copy_from_slice(&h.to_bytes());
            rehash(&mut img).unwrap();
            let info = parse_image(&img).unwrap();
            assert!(info.is_valid(), "{} -> {mb}MB", e.file);
            assert_eq!(info.header.flash_size(), Some(mb * MB), "{}", e.file);
            assert_eq!(img[3] & 0x0F, data[3] & 0x0F, "{}: frequency nibble kept", e.file);
            // Nothing but byte 3 and the digest changed.
            let d = info.hashed_len;
            for (i, (a, b)) in data.iter().zip(&img).enumerate() {
                if a != b {
                    assert!(i == 3 || (d..d + 32).contains(&i), "{}: byte {i:#x} changed", e.file);
                }
            }
        }
    }
}

/// Run mp-image-tool-esp32 `FILE -f SIZE -o OUT` and compare the bootloader
/// region (first 0x7000 bytes) with mpimg's header edit + rehash.
#[test]
fn flash_size_edit_matches_mp_image_tool() {
    let Some(all) = load_all() else { return };
    let Some(tool) = python_tool() else { return };
    let dir = firmware_dir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    for Loaded { e, data, .. } in all.iter().filter(|l| l.e.boot.is_some()) {
        let current = ImageHeader::parse(data).unwrap().flash_size().unwrap();
        let (arg, mb) = if current == 8 * MB { ("4M", 4) } else { ("8M", 8) };
        let out = tmp.path().join(format!("{}-{arg}.bin", e.file));
        let run = Command::new(&tool).arg(dir.join(e.file)).args(["-q", "-f", arg, "-o"]).arg(&out).output().unwrap();
        assert!(
            run.status.success(),
            "{}: mp-image-tool-esp32 failed: {}",
            e.file,
            String::from_utf8_lossy(&run.stderr)
        );
        let theirs = std::fs::read(&out).unwrap();

        let mut ours = data.clone();
        let mut h = ImageHeader::parse(&ours).unwrap();
        h.set_flash_size(mb * MB).unwrap();
        ours[..HEADER_LEN].copy_from_slice(&h.to_bytes());
        rehash(&mut ours).unwrap();

        assert_ne!(ours[..0x7000], data[..0x7000], "{}: the edit changes something", e.file);
        assert!(ours[..0x7000] == theirs[..0x7000], "{}: bootloader region differs from mp-image-tool-esp32", e.file);
    }
}

/// Parse `esptool image-info` output: segments as (length, load address, file
/// offset of the segment header), checksum byte, hash hex, IDF versions seen.
struct EsptoolInfo {
    segments: Vec<(u32, u32, usize)>,
    checksum: (u8, bool),
    hash: (String, bool),
    idf: Vec<String>,
}

fn esptool_image_info(python: &Path, file: &Path) -> EsptoolInfo {
    let run = |cmd: &str| Command::new(python).args(["-m", "esptool", cmd]).arg(file).output().unwrap();
    let mut out = run("image-info");
    if !out.status.success() {
        out = run("image_info"); // esptool < 5
    }
    assert!(out.status.success(), "esptool image-info {}: {}", file.display(), String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let num = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap();
    let mut info = EsptoolInfo { segments: vec![], checksum: (0, false), hash: (String::new(), false), idf: vec![] };
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.len() >= 4 && words[0].parse::<usize>().is_ok() && words[1..4].iter().all(|w| w.starts_with("0x")) {
            info.segments.push((num(words[1]) as u32, num(words[2]) as u32, num(words[3]) as usize));
        } else if let Some(rest) = line.strip_prefix("Checksum: ") {
            info.checksum = (num(words[1]) as u8, rest.contains("(valid)"));
        } else if let Some(rest) = line.strip_prefix("Validation hash: ") {
            info.hash = (words[2].to_string(), rest.contains("(valid)"));
        } else if let Some(v) = line.strip_prefix("ESP-IDF: ") {
            info.idf.push(v.trim().to_string());
        }
    }
    info
}

#[test]
fn esptool_agrees_live() {
    let Some(all) = load_all() else { return };
    let Some(python) = venv_python() else { return };
    let tmp = tempfile::tempdir().unwrap();
    for Loaded { e, data, app_at } in &all {
        let mut images = vec![("app", &data[*app_at..])];
        if e.boot.is_some() {
            images.push(("boot", &data[..*app_at]));
        }
        for (kind, bytes) in images {
            let path = tmp.path().join(format!("{}.{kind}", e.file));
            std::fs::write(&path, bytes).unwrap();
            let theirs = esptool_image_info(&python, &path);
            let ours = parse_image(bytes).unwrap();
            let name = format!("{} {kind}", e.file);
            let segs: Vec<(u32, u32, usize)> =
                ours.segments.iter().map(|s| (s.len, s.load_addr, s.data_offset - 8)).collect();
            assert_eq!(segs, theirs.segments, "{name}");
            assert_eq!(theirs.checksum, (ours.checksum_stored, ours.checksum_ok()), "{name}");
            assert_eq!(theirs.hash, (hex(&ours.sha_stored.unwrap()), true), "{name}");
            let desc_idf = match kind {
                "app" => AppDesc::parse(bytes).map(|d| d.idf_ver),
                _ => BootloaderDesc::parse(bytes).map(|d| d.idf_ver),
            };
            assert_eq!(theirs.idf, desc_idf.into_iter().collect::<Vec<_>>(), "{name}");
        }
    }
}
