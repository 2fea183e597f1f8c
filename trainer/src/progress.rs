//! indicatif progress: epoch, loss and validation accuracy.

use indicatif::{ProgressBar, ProgressStyle};

use crate::train::EpochStat;

pub fn bar(name: &str, epochs: u64) -> ProgressBar {
    let bar = ProgressBar::new(epochs);
    let style =
        ProgressStyle::with_template("{prefix:>28} [{bar:20}] epoch {pos}/{len} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(name.to_string());
    bar
}

pub fn epoch(bar: &ProgressBar, s: &EpochStat) {
    if bar.is_hidden() {
        // Not a terminal (a log file): one line per epoch instead of a bar.
        eprintln!(
            "{}: epoch {}/{} loss {:.4} val acc {:.4} ({:.0} s)",
            bar.prefix(),
            s.epoch,
            bar.length().unwrap_or(0),
            s.train_loss,
            s.val_accuracy,
            bar.elapsed().as_secs_f64()
        );
    }
    bar.set_position(s.epoch as u64);
    bar.set_message(format!(
        "loss {:.4} val acc {:.4}",
        s.train_loss, s.val_accuracy
    ));
}
