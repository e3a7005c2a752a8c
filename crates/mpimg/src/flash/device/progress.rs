//! Progress bars for long transfers: shown on stderr for reads and writes over
//! 64 KB when allowed (not `-q`, stderr is a terminal). Boards worked on at
//! once share a [`BarGroup`]: one line per board, labelled with its port.

use std::io::IsTerminal;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Bars of several boards drawn together on stderr, one line per board.
#[derive(Debug, Clone)]
pub struct BarGroup(MultiProgress);

impl BarGroup {
    /// A group drawing to stderr.
    pub fn new() -> BarGroup {
        BarGroup(MultiProgress::with_draw_target(ProgressDrawTarget::stderr()))
    }
}

impl Default for BarGroup {
    fn default() -> Self {
        BarGroup::new()
    }
}

/// Transfers at least this long get a bar.
pub const MIN_BAR: u64 = 64 * 1024;

/// Whether bars may be drawn: stderr is a terminal and the user did not ask for quiet.
pub fn bars_allowed(quiet: bool) -> bool {
    !quiet && std::io::stderr().is_terminal()
}

/// A bar, or nothing.
pub struct Progress(Option<ProgressBar>, u64);

impl Progress {
    /// No bar.
    pub fn none() -> Progress {
        Progress(None, 0)
    }

    /// A bar for `total` bytes labelled `what` when `allowed` and the
    /// transfer is long; in `group` (labelled `port`) when boards share the screen.
    pub fn new(allowed: bool, group: Option<&BarGroup>, port: &str, what: &str, total: u64) -> Progress {
        if !allowed || total < MIN_BAR {
            return Progress(None, 0);
        }
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        let template = if group.is_some() {
            "{prefix} {msg:>8} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} {eta} left"
        } else {
            "{msg:>8} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} {eta} left"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(what.to_string());
        let bar = match group {
            Some(g) => {
                bar.set_prefix(port.to_string());
                g.0.add(bar)
            }
            None => bar,
        };
        Progress(Some(bar), 0)
    }

    /// Positions given to [`Progress::set`] count from `base` (a transfer made of parts).
    pub fn set_base(&mut self, base: u64) {
        self.1 = base;
    }

    /// Bytes done, counted from the base.
    pub fn set(&mut self, done: u64) {
        if let Some(b) = &self.0 {
            b.set_position(self.1 + done);
        }
    }

    /// Remove the bar.
    pub fn finish(self) {
        if let Some(b) = self.0.as_ref() {
            b.finish_and_clear();
        }
    }
}
