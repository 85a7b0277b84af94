//! A progress bar (bytes of input read, throughput, time left) on standard error, only when standard
//! error is a terminal and the input is a file of at least [`THRESHOLD`] bytes: short runs and pipes
//! (scripts, CI logs) stay silent. Input of unknown length (standard input) gets no bar.

use std::io::{IsTerminal, Read};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Below this a run is over before a bar would tell anything.
const THRESHOLD: u64 = 8 << 20;

/// The bar of one file, or nothing. Cleared when dropped, so an error message that follows starts on
/// a clean line and a directory run does not leave one finished bar per file.
pub(super) struct Progress(Option<ProgressBar>);

impl Progress {
    pub(super) fn new(length: Option<u64>, label: &str) -> Self {
        let Some(len) = length.filter(|&l| l >= THRESHOLD) else { return Self(None) };
        if !std::io::stderr().is_terminal() {
            return Self(None);
        }
        let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
        // The template is a constant; should it ever fail to parse, the plain default bar is still useful.
        let style = ProgressStyle::with_template(
            "{msg} [{bar:30}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style.progress_chars("=> "));
        bar.set_message(label.to_owned());
        Self(Some(bar))
    }

    /// `input`, counting the bytes read through it on the bar.
    pub(super) fn wrap<R: Read>(&self, input: R) -> Counting<R> {
        Counting { input, bar: self.0.clone() }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

pub(super) struct Counting<R> {
    input: R,
    bar: Option<ProgressBar>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.input.read(buf)?;
        if let Some(bar) = &self.bar {
            bar.inc(n as u64);
        }
        Ok(n)
    }
}
