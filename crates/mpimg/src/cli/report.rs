//! All output of a run: the [`Reporter`] is told what happened, step by step,
//! and prints it for people as it happens (the text is in [`text`]), or, with
//! `--json`, prints one JSON document of the same values at the end.
//!
//! Streams: the report goes to stdout, warnings and logs to stderr; `-q`
//! leaves out everything but errors and what commands print (`--fs cat`).

mod text;

use std::io::{IsTerminal, Write};

use serde::Serialize;

use mpimg::flash::device::{DeviceFacts, SectorCounts, WireStats};
use mpimg::format::partition::PartitionView;
use mpimg::fs::CacheStats;
use mpimg::ops::flash_image::FlashReport;
use mpimg::ops::ota::{OtaReport, OtaStatus};
use mpimg::ops::plan::Edit;
use mpimg::ops::summary::Summary;

use super::error::{shown, shown_warning, CliError};
use super::outcome::{Gathered, RunResult};
use super::request::Show;

/// Where and how a run's output goes.
pub struct Reporter<'w> {
    out: &'w mut dyn Write,
    err: &'w mut dyn Write,
    show: Show,
    /// Tables get box drawing (stdout is a terminal and NO_COLOR is unset).
    fancy: bool,
}

#[derive(Serialize)]
struct JsonDoc<'a> {
    #[serde(flatten)]
    summary: Option<&'a Summary>,
    result: &'a RunResult,
}

type Io = std::io::Result<()>;

impl<'w> Reporter<'w> {
    /// A reporter writing to `out` (stdout) and `err` (stderr).
    pub fn new(out: &'w mut dyn Write, err: &'w mut dyn Write, show: Show) -> Self {
        let fancy = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        Reporter { out, err, show, fancy }
    }

    fn human(&self) -> bool {
        !self.show.json && !self.show.quiet
    }

    /// A warning, on stderr (not with `-q`).
    pub fn warning(&mut self, text: &str) -> Io {
        if self.show.quiet {
            return Ok(());
        }
        writeln!(self.err, "warning: {text}")
    }

    /// The device connected to.
    pub fn device(&mut self, facts: &DeviceFacts) -> Io {
        if !self.human() {
            return Ok(());
        }
        text::print_facts(self.out, facts)
    }

    /// The facts about the firmware, and the problems found with it.
    pub fn summary(&mut self, s: &Summary) -> Io {
        if self.human() {
            text::print_summary(self.out, s, self.fancy)?;
            if self.show.debug {
                text::print_segments(self.out, s)?;
            }
        }
        for w in &s.warnings {
            self.warning(&shown_warning(w))?;
        }
        Ok(())
    }

    /// `-x` wrote the app image.
    pub fn extracted(&mut self, name: &str, len: usize) -> Io {
        if !self.human() {
            return Ok(());
        }
        writeln!(self.out, "Wrote app image ({len} bytes) to {name}")
    }

    /// The edits made and the table they give.
    pub fn planned(&mut self, edits: &[Edit], table: &[PartitionView], flash_size: u32, warnings: &[String]) -> Io {
        if self.human() {
            for e in edits {
                writeln!(self.out, "{}", note(e))?;
            }
            text::print_table(self.out, table, flash_size, self.fancy)?;
        }
        for w in warnings {
            self.warning(w)?;
        }
        Ok(())
    }

    /// Filesystem partitions that grew and were kept.
    pub fn grown(&mut self, names: &[String]) -> Io {
        for g in names {
            self.warning(&format!(
                "filesystem partition '{g}' grew and was kept: MicroPython will not mount it until it fills the partition; run --fs grow {g}"
            ))?;
        }
        Ok(())
    }

    /// App partitions left without an app by an edit (devices).
    pub fn apps_without_image(&mut self, names: &[String]) -> Io {
        for name in names {
            self.warning(&format!(
                "app partition '{name}' holds no app image: write one with --write {name}=FILE (or --ota-update FILE)"
            ))?;
        }
        Ok(())
    }

    /// What `--ota-update` did.
    pub fn ota_update(&mut self, r: &OtaReport) -> Io {
        if !self.human() {
            return Ok(());
        }
        writeln!(
            self.out,
            "Wrote {} bytes to '{}' at {:#x}; otadata: boots '{}' next (seq {}, state {})",
            r.bytes, r.partition, r.offset, r.partition, r.seq, r.state
        )
    }

    /// What otadata says.
    pub fn ota_status(&mut self, st: &OtaStatus) -> Io {
        if !self.human() {
            return Ok(());
        }
        writeln!(self.out, "OTA: boots '{}' next; an update goes to '{}'", st.boots, st.next)
    }

    /// What `--fs` commands printed (`output`) and logged (`log`), and the flash traffic.
    pub fn fs(&mut self, output: &[u8], log: &[u8], stats: Option<&CacheStats>) -> Io {
        if !self.show.quiet {
            self.err.write_all(log)?;
            if let (Some(stats), true) = (stats, self.show.debug) {
                writeln!(self.err, "fs: {stats}")?;
            }
        }
        if !self.show.json {
            self.out.write_all(output)?;
        }
        Ok(())
    }

    /// `--read` wrote a file.
    pub fn read(&mut self, file: &str, len: usize) -> Io {
        if !self.human() {
            return Ok(());
        }
        writeln!(self.out, "Wrote {len} bytes to {file}")
    }

    /// The output firmware was written: `bytes` long, or (`in_place`) `bytes` written into the input.
    pub fn saved(&mut self, path: &str, bytes: usize, in_place: bool) -> Io {
        if !self.human() {
            return Ok(());
        }
        if in_place {
            writeln!(self.out, "Updated {path} in place ({bytes} bytes written)")
        } else {
            writeln!(self.out, "Wrote {path} ({bytes} bytes)")
        }
    }

    /// `--flash` wrote the firmware to a device.
    pub fn flashed(&mut self, r: &FlashReport) -> Io {
        if let Some(m) = r.header_mismatch {
            self.warning(&format!(
                "the firmware's header says the flash is {}MB but the device has {}MB: change it with -f {}M",
                m.header >> 20,
                m.device >> 20,
                m.device >> 20
            ))?;
        }
        self.wire(&r.wire, &r.sectors)?;
        if !self.human() {
            return Ok(());
        }
        writeln!(
            self.out,
            "Flashed {} bytes to {} at {:#x}, erased to {:#x} ({} sectors written, {} unchanged, {} erased)",
            r.bytes, r.port, r.offset, r.erased_to, r.sectors.written, r.sectors.unchanged, r.sectors.erased
        )
    }

    /// The filesystem usage closing a device's inspection, or why there is none.
    pub fn fs_usage(&mut self, usage: Result<&[u8], String>) -> Io {
        if !self.human() {
            return Ok(());
        }
        match usage {
            Ok(text) => self.out.write_all(text),
            Err(e) => writeln!(self.out, "Filesystem: {e}"),
        }
    }

    /// What a device run put on the link (`-d`).
    pub fn wire(&mut self, w: &WireStats, c: &SectorCounts) -> Io {
        if !self.show.debug {
            return Ok(());
        }
        text::print_wire(self.err, w, c)
    }

    /// The end of a successful run: the check verdicts, or the JSON document.
    pub fn finish(&mut self, g: &Gathered) -> Io {
        if self.show.json {
            let doc = JsonDoc { summary: g.summary.as_ref(), result: &g.result };
            let text = serde_json::to_string_pretty(&doc).map_err(std::io::Error::other)?;
            writeln!(self.out, "{text}")?;
        } else if !self.show.quiet {
            if let Some(checks) = &g.result.checks {
                text::print_checks(self.out, checks)?;
            }
        }
        self.out.flush()
    }

    /// The end of a failed run: one line on stderr.
    pub fn fail(&mut self, e: &CliError, _g: &Gathered) -> Io {
        let _ = self.out.flush();
        writeln!(self.err, "error: {}", shown(e))
    }
}

/// A command line clap refuses (or `--help`, `--version`): clap prints it;
/// returns the exit code.
pub fn usage_error(e: &clap::Error) -> i32 {
    let _ = e.print();
    e.exit_code()
}

/// One edit as the report says it.
fn note(e: &Edit) -> String {
    match e {
        Edit::FlashSize { size } => format!("Setting flash size in the bootloader header to {}MB", size >> 20),
        Edit::Loaded { source } => format!("Loaded partition table from {source}"),
        Edit::NewTable { spec } => format!("New partition table ({spec})"),
        Edit::AppSize { size } => format!("Setting app partitions to {size:#x} bytes"),
        Edit::Deleted { name } => format!("Deleted partition '{name}'"),
        Edit::Resized { name, size } => format!("Resized '{name}' to {size:#x} bytes"),
        Edit::Renamed { from, to } => format!("Renamed '{from}' to '{to}'"),
        Edit::Added { name } => format!("Added partition '{name}'"),
        _ => format!("{e:?}"),
    }
}
