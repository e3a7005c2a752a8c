//! A run on several boards at once: `mpimg u0,u1,u2 ...` (the same run on
//! each), `mpimg fw.bin --flash u0,u1` (the same firmware to each), or `all`
//! for every serial port whose ESP loader answers. One thread per board, one
//! progress bar each; a board that fails does not stop the others. Each
//! board's own output is kept and shown as a block on stderr once all are
//! done; the product is the summary (port, MAC, OK or error, bytes on the
//! wire, time), and the run fails if any board failed.

use std::borrow::Cow;
use std::io::Write;
use std::time::Instant;

use mpimg::flash::device::{serial_ports, BarGroup};
use mpimg::flash::DeviceFlash;
use mpimg::format::chip::Chip;
use mpimg::format::image::ImageHeader;
use mpimg::format::size::flash_label;
use mpimg::fs::time::with_time_source;
use mpimg::ops::fit::{fit_image, Fit, FitGoal};
use mpimg::ops::flash_image::{check_board, write_image, FlashReport};
use mpimg::Error;

use super::device::run_device;
use super::error::{shown, CliError};
use super::fix::fitted_line;
use super::outcome::{BoardResult, ErrorView, Gathered};
use super::port::Boards;
use super::report::Reporter;
use super::request::{FitMode, Request, Target};

/// What one board's thread brings back.
struct Board {
    port: String,
    mac: Option<String>,
    /// The error, as shown (None: the board did what was asked), and as one line.
    error: Option<(ErrorView, String)>,
    /// Nothing answered (a port `all` looked at that has no board).
    absent: bool,
    wire: u64,
    seconds: f64,
    flashed: Option<FlashReport>,
    /// The board's own output (its run's stdout and stderr), or its JSON document.
    out: Vec<u8>,
    err: Vec<u8>,
}

impl Board {
    fn new(port: &str) -> Board {
        Board {
            port: port.to_string(),
            mac: None,
            error: None,
            absent: false,
            wire: 0,
            seconds: 0.0,
            flashed: None,
            out: Vec::new(),
            err: Vec::new(),
        }
    }

    fn failed(&mut self, e: &CliError, looking: bool) {
        self.absent = looking && matches!(e, CliError::Lib(Error::Device(d)) if d.is_not_a_board());
        let s = shown(e);
        let line = s.to_string();
        self.error = Some((ErrorView { message: s.message, fix: s.fix }, line));
    }
}

/// The ports to try: those named, or for `all` those in `$MPIMG_PORTS`
/// (comma or space separated), else every serial port of this computer.
fn ports_of(boards: &Boards) -> Vec<String> {
    match boards {
        Boards::Ports(p) => p.clone(),
        Boards::All => match std::env::var("MPIMG_PORTS") {
            Ok(list) if !list.trim().is_empty() => {
                list.split([',', ' ', '\n']).filter(|p| !p.is_empty()).map(str::to_string).collect()
            }
            _ => serial_ports(),
        },
    }
}

/// Run `f` on each port in a thread of its own, timed; results in port order.
fn on_each(ports: &[String], f: impl Fn(&mut Board) + Sync) -> Vec<Board> {
    std::thread::scope(|s| {
        let handles: Vec<_> = ports
            .iter()
            .map(|port| {
                let f = &f;
                s.spawn(move || {
                    let t = Instant::now();
                    let mut b = Board::new(port);
                    f(&mut b);
                    b.seconds = t.elapsed().as_secs_f64();
                    b
                })
            })
            .collect();
        handles
            .into_iter()
            .zip(ports)
            .map(|(h, port)| {
                h.join().unwrap_or_else(|_| {
                    let mut b = Board::new(port);
                    let message = "internal error: the board's thread panicked".to_string();
                    b.error = Some((ErrorView { message: message.clone(), fix: None }, message));
                    b
                })
            })
            .collect()
    })
}

/// `mpimg PORTS ...`: the request's run on each board.
pub fn run_boards(req: &Request, boards: &Boards, rep: &mut Reporter, g: &mut Gathered) -> Result<(), CliError> {
    let ports = ports_of(boards);
    let looking = *boards == Boards::All;
    let bars = req.device.progress.then(BarGroup::new);
    let results = on_each(&ports, |b| {
        let mut one = req.clone();
        one.target = Target::Device(b.port.clone());
        one.source = b.port.clone();
        one.device.bars = bars.clone();
        let mut bg = Gathered::default();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let mut brep = Reporter::new(&mut out, &mut err, req.show, one.product());
        let run = with_time_source(req.time, || run_device(&one, &b.port, &mut brep, &mut bg));
        let done = run.and_then(|()| {
            brep.finish(&mut bg)?;
            match bg.failed {
                true => Err(CliError::CheckFailed),
                false => Ok(()),
            }
        });
        if let Err(e) = &done {
            b.failed(e, looking);
            if !matches!(e, CliError::CheckFailed) {
                let _ = brep.fail(e, &mut bg);
            }
        }
        drop(brep);
        b.mac = bg.result.device.as_ref().and_then(|d| d.mac.clone());
        b.wire = bg.wire.as_ref().map_or(0, |w| w.bytes_sent + w.bytes_received);
        (b.out, b.err) = (out, err);
    });
    finish(results, ports, rep, g)
}

/// `mpimg fw.bin --flash PORTS`: the firmware (`image`, for `chip`) to each board.
pub fn flash_boards(
    req: &Request,
    boards: &Boards,
    image: &[u8],
    chip: &'static Chip,
    rep: &mut Reporter,
    g: &mut Gathered,
) -> Result<(), CliError> {
    let ports = ports_of(boards);
    let looking = *boards == Boards::All;
    let bars = req.device.progress.then(BarGroup::new);
    let results = on_each(&ports, |b| {
        let mut opts = req.device.clone();
        opts.bars = bars.clone();
        let mut d = match DeviceFlash::open(&b.port, opts) {
            Ok(d) => d,
            Err(e) => return b.failed(&CliError::Lib(Error::Device(e)), looking),
        };
        b.mac = d.facts().mac.clone();
        match fitted(req, &d, image, chip).and_then(|(img, fit)| {
            match fit {
                Some(fit) => {
                    let _ = writeln!(b.err, "{}", fitted_line(&fit));
                }
                // Said per board: another board of the run may need a fit.
                None if req.fit == FitMode::Fit && !req.show.quiet => {
                    let _ = writeln!(
                        b.err,
                        "warning: --fit changed nothing: the firmware fits the {} flash as it is",
                        flash_label(d.facts().flash_size)
                    );
                }
                None => {}
            }
            write_image(&mut d, &img, chip, req.erase_rest)
        }) {
            Ok(r) => b.flashed = Some(r),
            Err(e) => b.failed(&CliError::Lib(e), false),
        }
        b.wire = d.wire().bytes_sent + d.wire().bytes_received;
        d.close();
    });
    finish(results, ports, rep, g)
}

/// `image` fitted to the board on `d`, as `--flash` to one board fits it
/// (unless `--no-fit`, or `-f` set the size; `--fit` also grows it), once the
/// board is known to start it; and what the fit changed, if anything.
fn fitted<'i>(
    req: &Request,
    d: &DeviceFlash,
    image: &'i [u8],
    chip: &'static Chip,
) -> Result<(Cow<'i, [u8]>, Option<Fit>), Error> {
    if let Ok(header) = ImageHeader::parse(image) {
        check_board(d, chip, &header)?;
    }
    let target = d.facts().flash_size;
    let goal = match req.fit {
        FitMode::Fit => FitGoal { target, grow: true, repair: false },
        FitMode::Auto if req.edits.flash_size.is_none() => FitGoal { target, grow: false, repair: false },
        _ => return Ok((Cow::Borrowed(image), None)),
    };
    let (img, fit) = fit_image(image, goal)?;
    Ok(if fit.is_empty() { (Cow::Borrowed(image), None) } else { (Cow::Owned(img), Some(fit)) })
}

/// Show each board's output and the summary; the run fails if a board did.
fn finish(results: Vec<Board>, ports: Vec<String>, rep: &mut Reporter, g: &mut Gathered) -> Result<(), CliError> {
    let (absent, boards): (Vec<Board>, Vec<Board>) = results.into_iter().partition(|b| b.absent);
    for b in &absent {
        rep.note(&format!("{}: no ESP loader answered; skipped", b.port))?;
    }
    if boards.is_empty() {
        return Err(CliError::NoBoards { looked: ports });
    }
    for b in &boards {
        rep.board_output(&b.port, &b.out, &b.err, b.flashed.as_ref())?;
    }
    let view: Vec<BoardResult> = boards
        .into_iter()
        .map(|b| BoardResult {
            run: (!b.out.is_empty() && rep.is_json()).then(|| serde_json::from_slice(&b.out).ok()).flatten(),
            port: b.port,
            mac: b.mac,
            ok: b.error.is_none(),
            error_line: b.error.as_ref().map(|e| e.1.clone()),
            error: b.error.map(|e| e.0),
            bytes: b.wire,
            seconds: b.seconds,
            flashed: b.flashed,
        })
        .collect();
    rep.boards(&view)?;
    let failed: Vec<String> = view.iter().filter(|b| !b.ok).map(|b| b.port.clone()).collect();
    let total = view.len();
    g.result.boards = view;
    if failed.is_empty() {
        Ok(())
    } else {
        Err(CliError::BoardsFailed { failed, total })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mpimg::flash::device::DeviceError;

    #[test]
    fn a_panicking_board_is_a_failed_board_and_the_others_finish() {
        let ports: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        let r = on_each(&ports, |b| {
            if b.port == "b" {
                panic!("boom");
            }
            b.wire = 7;
        });
        assert_eq!(r.iter().map(|b| b.port.as_str()).collect::<Vec<_>>(), ["a", "b", "c"]);
        assert_eq!((r[0].wire, r[2].wire), (7, 7));
        assert_eq!(
            r[1].error.as_ref().map(|e| e.0.message.as_str()),
            Some("internal error: the board's thread panicked")
        );
    }

    #[test]
    fn absent_ports_are_told_apart_from_failures() {
        let mut b = Board::new("/dev/ttyS0");
        b.failed(&CliError::Lib(Error::Device(DeviceError::NoLoader { port: "/dev/ttyS0".into() })), true);
        assert!(b.absent);
        b.failed(&CliError::Lib(Error::Device(DeviceError::NoLoader { port: "/dev/ttyS0".into() })), false);
        assert!(!b.absent, "a named port that does not answer is a failure");
    }
}
