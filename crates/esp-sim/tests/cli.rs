//! The `esp-sim` binary: its PTY line, --image/--offset, --once, --stats on
//! SIGTERM, the baud model's accounting, argument errors, and the
//! child-process API.

mod common;

use std::path::Path;
use std::process::Command;

use common::RawClient;
use esp_sim::process::SimProcess;
use esp_sim::{Chip, SimConfig};

const EXE: &str = env!("CARGO_BIN_EXE_esp-sim");

#[test]
fn once_exits_when_the_client_closes_and_writes_stats() {
    let dir = tempfile::tempdir().unwrap();
    let flash = dir.path().join("flash.bin");
    let img = dir.path().join("img.bin");
    let image = common::noise(5000, 4);
    std::fs::write(&img, &image).unwrap();
    let mut cfg = SimConfig::new(Chip::Esp32, 2 << 20, &flash);
    cfg.image = Some(img);
    cfg.image_offset = 0x1000;
    cfg.once = true;
    cfg.stats_file = Some(dir.path().join("stats.json"));
    let p = SimProcess::spawn(Path::new(EXE), &cfg).unwrap();
    assert!(p.pty_path().starts_with("/dev/pts/"));
    let bytes = common::read_file(&flash);
    assert_eq!(bytes.len(), 2 << 20);
    assert_eq!(&bytes[0x1000..0x1000 + image.len()], &image[..]);
    assert!(bytes[..0x1000].iter().chain(&bytes[0x1000 + image.len()..]).all(|&b| b == 0xFF));

    let mut c = RawClient::open(p.pty_path());
    assert_eq!(c.sync(), 0x2012_0707);
    drop(c);
    let stats = p.wait().unwrap().unwrap();
    assert_eq!(stats.connections, 1);
    assert_eq!(stats.commands.get("SYNC"), Some(&1));
    assert_eq!(stats.frames_to_host, 8);
    // SYNC request: 8 + 36 bytes + 2 delimiters; each reply 12 + 2.
    assert_eq!((stats.bytes_from_host, stats.bytes_to_host), (46, 8 * 14));
}

#[test]
fn sigterm_writes_stats_and_baud_model_accounts_wire_time() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = SimConfig::new(Chip::Esp32c6, 4 << 20, dir.path().join("flash.bin"));
    cfg.baud_model = true;
    cfg.stats_file = Some(dir.path().join("stats.json"));
    let p = SimProcess::spawn(Path::new(EXE), &cfg).unwrap();
    let mut c = RawClient::open(p.pty_path());
    c.sync();
    let stats = p.stop().unwrap().unwrap();
    drop(c);
    let bytes = stats.bytes_from_host + stats.bytes_to_host;
    assert_eq!(bytes, 46 + 8 * 14);
    let expect = bytes as f64 * 10.0 / 115_200.0;
    assert!((stats.wire_seconds - expect).abs() < 1e-9, "{} vs {expect}", stats.wire_seconds);
    assert_eq!(stats.chip, "esp32c6");
}

#[test]
fn bad_arguments_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("flash.bin");
    let run = |args: &[&str]| {
        let out = Command::new(EXE).args(args).output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (code, err) = run(&["--chip", "esp32", "--flash-size", "3M", "--flash-file", f.to_str().unwrap()]);
    assert_eq!(code, Some(2));
    assert_eq!(err, "esp-sim: flash size 0x300000 is not a power of two between 256 KB and 128 MB\n");
    let (code, err) = run(&["--chip", "esp8266", "--flash-file", f.to_str().unwrap()]);
    assert_eq!(code, Some(2));
    assert!(err.contains("unknown chip 'esp8266': use one of esp32, esp32s2, esp32s3, esp32c3, esp32c6, esp32c2, esp32c5, esp32c61, esp32h2, esp32p4\n"), "{err}");
    let (code, err) = run(&["--chip", "esp32", "--flash-file", f.to_str().unwrap(), "--fault", "explode:1"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("bad fault spec 'explode:1'"), "{err}");
    std::fs::write(&f, vec![0u8; 5 << 20]).unwrap();
    let (code, err) = run(&["--chip", "esp32", "--flash-size", "4M", "--flash-file", f.to_str().unwrap()]);
    assert_eq!(code, Some(2));
    assert!(err.contains("is 5242880 bytes, larger than the 4194304-byte flash"), "{err}");
}
