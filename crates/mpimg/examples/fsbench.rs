//! Stand-in for `mpimg FILE --fs ...` until the CLI has `--fs`: runs `--fs`
//! commands on a firmware file through the library, for benchmarks.
//!
//! usage: fsbench FILE START FLASH_SIZE NAME:OFFSET:SIZE[,...] --fs CMD ARGS... [--fs CMD ARGS...]
//!
//! START is the flash offset of the file's first byte (the bootloader offset),
//! FLASH_SIZE bounds how far the file may grow. Like mp-image-tool-esp32's
//! `--fs`, a changed file is rewritten in place. The cache counters go to stderr.

use std::process::ExitCode;

use mpimg::flash::FileFlash;
use mpimg::fs::{run_fs_commands, FsPartition};

fn num(s: &str) -> Result<u32, String> {
    let r = match s.strip_prefix("0x") {
        Some(h) => u32::from_str_radix(h, 16),
        None => s.parse(),
    };
    r.map_err(|_| format!("'{s}' is not a number"))
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let split = args.iter().position(|a| a == "--fs").ok_or("no --fs command given")?;
    let [file, start, flash_size, parts] = <[String; 4]>::try_from(args[..split].to_vec())
        .map_err(|_| "usage: fsbench FILE START FLASH_SIZE NAME:OFFSET:SIZE[,...] --fs CMD ARGS... [--fs ...]")?;
    let parts = parts
        .split(',')
        .map(|p| match p.split(':').collect::<Vec<_>>()[..] {
            [name, offset, size] => {
                Ok(FsPartition { name: name.into(), offset: num(offset)?, size: num(size)?, implicit: false })
            }
            _ => Err(format!("partition '{p}' is not NAME:OFFSET:SIZE")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut commands: Vec<Vec<String>> = Vec::new();
    for a in &args[split..] {
        if a == "--fs" {
            commands.push(Vec::new());
        } else if let Some(c) = commands.last_mut() {
            c.push(a.clone());
        }
    }
    let t0 = std::time::Instant::now();
    let data = std::fs::read(&file).map_err(|e| format!("{file}: {e}"))?;
    let t1 = std::time::Instant::now();
    let mut flash = FileFlash::new(data, num(&start)?, num(&flash_size)?);
    let mut out = std::io::stdout().lock();
    let mut log = std::io::stderr().lock();
    let report = run_fs_commands(&mut flash, &parts, &commands, &mut out, &mut log).map_err(|e| e.to_string())?;
    let t2 = std::time::Instant::now();
    if report.changed {
        flash.save(std::path::Path::new(&file)).map_err(|e| format!("{file}: {e}"))?;
    }
    let t3 = std::time::Instant::now();
    eprintln!("mpimg: {}", report.stats);
    let ms = |a: std::time::Instant, b: std::time::Instant| (b - a).as_secs_f64() * 1000.0;
    eprintln!("fsbench: load {:.1} ms, commands {:.1} ms, save {:.1} ms", ms(t0, t1), ms(t1, t2), ms(t2, t3));
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fsbench: {e}");
            ExitCode::FAILURE
        }
    }
}
