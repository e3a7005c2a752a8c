//! Each fault kind, through the pty: dropped and corrupted frames in both
//! directions, a stall, and the port closing after N bytes.

mod common;

use std::time::Duration;

use common::{status, words, RawClient};
use esp_sim::command::{checksum, op};
use esp_sim::{fault, Chip, Ended, SimConfig, Simulator};

fn start(spec: &str, seed: u64) -> (tempfile::TempDir, std::path::PathBuf, Simulator) {
    let dir = tempfile::tempdir().unwrap();
    let flash = dir.path().join("flash.bin");
    let mut cfg = SimConfig::new(Chip::Esp32s3, 4 << 20, &flash);
    cfg.faults = fault::parse(spec).unwrap();
    cfg.seed = seed;
    (dir, flash, Simulator::start(cfg).unwrap())
}

fn read_reg(c: &mut RawClient) {
    c.send(op::READ_REG, &words(&[0x4000_1000]), 0);
}

fn no_reply(c: &mut RawClient) {
    assert_eq!(c.recv(Duration::from_millis(300)).unwrap(), None);
}

#[test]
fn dropped_host_frame_gets_no_answer() {
    let (_d, _f, sim) = start("drop:2", 0);
    let mut c = RawClient::open(sim.pty_path());
    c.sync(); // frame 1
    read_reg(&mut c); // frame 2: lost
    no_reply(&mut c);
    let f = c.command(op::READ_REG, &words(&[0x4000_1000]), 0);
    assert_eq!(status(&f, true), [0, 0]);
    assert_eq!(sim.stats().faults_fired, vec!["drop host frame 2".to_string()]);
}

#[test]
fn dropped_device_frame_never_arrives() {
    let (_d, _f, sim) = start("drop:tx:9", 0);
    let mut c = RawClient::open(sim.pty_path());
    c.sync(); // device frames 1..8
    read_reg(&mut c); // its answer is device frame 9
    no_reply(&mut c);
    let f = c.command(op::READ_REG, &words(&[0x4000_1000]), 0);
    assert_eq!(u32::from_le_bytes(f[4..8].try_into().unwrap()), 9);
    assert_eq!(sim.stats().faults_fired, vec!["drop device frame 9".to_string()]);
}

/// Write one 4 KB block with the stub; the block is host frame 6
/// (SYNC, MEM_BEGIN, MEM_DATA, MEM_END, FLASH_BEGIN, FLASH_DATA).
fn stub_write_block(c: &mut RawClient, data: &[u8]) -> [u8; 2] {
    c.sync();
    c.start_stub();
    assert_eq!(status(&c.command(op::FLASH_BEGIN, &words(&[data.len() as u32, 1, 0x4000, 0x10000]), 0), false), [0, 0]);
    let mut d = words(&[data.len() as u32, 0, 0, 0]);
    d.extend_from_slice(data);
    status(&c.command(op::FLASH_DATA, &d, u32::from(checksum(data))), false)
}

#[test]
fn corrupted_host_frame_is_deterministic_per_seed() {
    let data = common::noise(0x1000, 5);
    let run = |seed: u64| {
        let (_d, flash, sim) = start("corrupt:6", seed);
        let mut c = RawClient::open(sim.pty_path());
        let st = stub_write_block(&mut c, &data);
        let bytes = common::read_file(&flash)[0x10000..0x11000].to_vec();
        (st, bytes, sim.stats().faults_fired)
    };
    let a = run(42);
    assert_eq!(a, run(42));
    let (st, bytes, fired) = &a;
    assert_eq!(fired.len(), 1);
    assert!(fired[0].starts_with("corrupt host frame 6 byte "), "{fired:?}");
    // A flipped data byte fails the checksum and nothing is written; a
    // flipped header byte is refused too: either way the block did not land.
    assert_ne!(*st, [0, 0]);
    assert_ne!(*bytes, data);
}

#[test]
fn corrupted_device_frame_spoils_the_read_digest() {
    // Device frames: 8 SYNC, MEM_BEGIN, MEM_DATA, MEM_END, OHAI, READ_FLASH
    // response = 13, first data packet = 14.
    let (_d, flash, sim) = start("corrupt:tx:14", 3);
    let mut c = RawClient::open(sim.pty_path());
    c.sync();
    c.start_stub();
    assert_eq!(status(&c.command(op::READ_FLASH, &words(&[0, 0x1000, 0x1000, 1]), 0), false), [0, 0]);
    let p = c.recv(Duration::from_secs(2)).unwrap().unwrap();
    c.send_frame(&(p.len() as u32).to_le_bytes());
    let digest = c.recv(Duration::from_secs(2)).unwrap().unwrap();
    use md5::{Digest, Md5};
    let clean = common::read_file(&flash)[..0x1000].to_vec();
    assert_eq!(digest, Md5::digest(&clean).to_vec());
    assert_ne!(p, clean);
    assert_eq!(p.iter().zip(&clean).filter(|(a, b)| a != b).count(), 1);
}

#[test]
fn stall_delays_the_answer() {
    let (_d, _f, sim) = start("stall:2:1200", 0);
    let mut c = RawClient::open(sim.pty_path());
    c.sync();
    read_reg(&mut c);
    no_reply(&mut c);
    let f = c.recv(Duration::from_secs(5)).unwrap().expect("answer after the stall");
    assert_eq!(&f[..2], &[1, op::READ_REG]);
    assert_eq!(sim.stats().faults_fired, vec!["stall 1200 ms before host frame 2".to_string()]);
}

#[test]
fn port_closes_after_n_host_bytes_mid_write() {
    let dir = tempfile::tempdir().unwrap();
    let flash = dir.path().join("flash.bin");
    let old = common::noise(0x10000, 1);
    let img = dir.path().join("old.bin");
    std::fs::write(&img, &old).unwrap();
    let mut cfg = SimConfig::new(Chip::Esp32, 4 << 20, &flash);
    cfg.image = Some(img);
    cfg.image_offset = 0x20000;
    // Roughly the stub upload (~100 bytes) plus one and a half 16 KB blocks.
    cfg.faults = fault::parse("close:25000").unwrap();
    let sim = Simulator::start(cfg).unwrap();
    let mut c = RawClient::open(sim.pty_path());
    c.sync();
    c.start_stub();
    assert_eq!(status(&c.command(op::FLASH_BEGIN, &words(&[0x10000, 4, 0x4000, 0x20000]), 0), false), [0, 0]);
    let new = common::noise(0x10000, 2);
    let mut closed = false;
    for (seq, block) in new.chunks(0x4000).enumerate() {
        let mut d = words(&[block.len() as u32, seq as u32, 0, 0]);
        d.extend_from_slice(block);
        c.send(op::FLASH_DATA, &d, u32::from(checksum(block)));
        match c.recv(Duration::from_secs(2)) {
            Ok(Some(f)) => assert_eq!(status(&f, false), [0, 0]),
            Ok(None) | Err(_) => {
                closed = true;
                break;
            }
        }
    }
    assert!(closed, "the port should have closed");
    let (stats, ended) = sim.stop().unwrap();
    assert_eq!(ended, Ended::FaultClosed);
    assert_eq!(stats.bytes_from_host, 25000);
    assert_eq!(stats.faults_fired, vec!["close port after 25000 bytes from host".to_string()]);
    // The first block landed; the stub never reached the later sectors.
    let bytes = common::read_file(&flash);
    assert_eq!(&bytes[0x20000..0x24000], &new[..0x4000]);
    assert_eq!(&bytes[0x28000..0x30000], &old[0x8000..]);
}

#[test]
fn port_closes_after_n_device_bytes() {
    let (_d, _f, sim) = start("close:tx:30", 0);
    let mut c = RawClient::open(sim.pty_path());
    let mut data = vec![0x07, 0x07, 0x12, 0x20];
    data.extend([0x55; 32]);
    c.send(op::SYNC, &data, 0);
    // Each SYNC reply is 14 bytes on the wire: the port closes in the third.
    // What was still in the pty's buffer when it closed may be lost, as on
    // an unplugged adapter, so the client sees at most two, then the end.
    let mut frames = 0;
    let gone = loop {
        match c.recv(Duration::from_secs(2)) {
            Ok(Some(_)) => frames += 1,
            Ok(None) => break false,
            Err(_) => break true,
        }
    };
    assert!(gone && frames <= 2, "frames {frames}, port gone {gone}");
    let (stats, ended) = sim.stop().unwrap();
    assert_eq!((stats.bytes_to_host, ended), (30, Ended::FaultClosed));
}

/// The trace gives each request's end in the host's byte stream: a close at
/// that count lets the request through, one byte earlier it does not.
#[test]
fn a_traced_request_places_a_close_exactly() {
    let run = |spec: Option<String>| {
        let dir = tempfile::tempdir().unwrap();
        let flash = dir.path().join("flash.bin");
        let mut cfg = SimConfig::new(Chip::Esp32s3, 4 << 20, &flash);
        cfg.trace = true;
        cfg.faults = spec.map(|s| fault::parse(&s).unwrap()).unwrap_or_default();
        let sim = Simulator::start(cfg).unwrap();
        let mut c = RawClient::open(sim.pty_path());
        c.sync();
        c.start_stub();
        let mut answered = Vec::new();
        for at in [0x1000u32, 0x3000, 0x5000] {
            c.send(op::ERASE_REGION, &words(&[at, 0x1000]), 0);
            match c.recv(Duration::from_secs(2)) {
                Ok(Some(f)) => answered.push(status(&f, false) == [0, 0]),
                _ => break,
            }
        }
        let (stats, _) = sim.stop().unwrap();
        (stats, answered)
    };
    let (stats, answered) = run(None);
    assert_eq!(answered, [true, true, true]);
    let erases: Vec<_> = stats.trace.iter().filter(|t| t.op == "ERASE_REGION").collect();
    assert_eq!(
        erases.iter().map(|t| t.words.clone()).collect::<Vec<_>>(),
        [[0x1000, 0x1000], [0x3000, 0x1000], [0x5000, 0x1000]]
    );
    assert_eq!(stats.trace.last().unwrap().end, stats.bytes_from_host);
    assert!(stats.trace.windows(2).all(|w| w[0].end < w[1].end));
    // Each request's host frame number, and what it did to the flash.
    assert_eq!(
        stats.trace.iter().map(|t| t.frame).collect::<Vec<_>>(),
        (1..=stats.trace.len() as u64).collect::<Vec<_>>()
    );
    assert_eq!(
        erases.iter().map(|t| t.flash).collect::<Vec<_>>(),
        [Some((0x1000, 0x2000)), Some((0x3000, 0x4000)), Some((0x5000, 0x6000))]
    );
    assert!(stats.trace.iter().filter(|t| t.op != "ERASE_REGION").all(|t| t.flash.is_none()));
    // Through the second erase: it is done (and counted), the third never arrives.
    let (cut, _) = run(Some(format!("close:{}", erases[1].end)));
    assert_eq!(cut.commands.get("ERASE_REGION"), Some(&2));
    assert_eq!(cut.trace.last(), Some(erases[1]));
    // One byte earlier: the second is cut off.
    let (cut, _) = run(Some(format!("close:{}", erases[1].end - 1)));
    assert_eq!(cut.commands.get("ERASE_REGION"), Some(&1));
}
