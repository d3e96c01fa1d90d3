//! Progress on stderr: a spinner on a terminal, plain lines otherwise (and nothing with `-q`).

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

#[derive(Clone, Copy)]
pub struct Reporter {
    pub quiet: bool,
    pub verbose: bool,
    tty: bool,
}

pub struct Step {
    bar: Option<ProgressBar>,
    started: Instant,
    label: String,
    reporter: Reporter,
}

impl Reporter {
    pub fn new(quiet: bool, verbose: bool) -> Reporter {
        Reporter { quiet, verbose, tty: std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none() }
    }

    /// A long step: on a terminal a spinner with the step's phase and the time elapsed, else a line
    /// per phase.
    pub fn step(&self, label: String) -> Step {
        self.start(label, self.tty)
    }

    /// A step whose child process writes to the terminal itself: a line, no spinner to garble it.
    pub fn step_with_output(&self, label: String) -> Step {
        self.start(label, false)
    }

    fn start(&self, label: String, spinner: bool) -> Step {
        let bar = if spinner && !self.quiet {
            let bar = ProgressBar::new_spinner();
            bar.set_style(ProgressStyle::with_template("{spinner} {msg} ({elapsed})").expect("valid template"));
            bar.enable_steady_tick(Duration::from_millis(120));
            bar.set_message(label.clone());
            Some(bar)
        } else {
            if !self.quiet {
                eprintln!("{label}...");
            }
            None
        };
        Step { bar, started: Instant::now(), label, reporter: *self }
    }

    /// A line shown with `-v`.
    pub fn note(&self, line: String) {
        if self.verbose && !self.quiet {
            eprintln!("{line}");
        }
    }
}

impl Step {
    pub fn message(&self, msg: &str) {
        match &self.bar {
            Some(bar) => bar.set_message(msg.to_string()),
            None if !self.reporter.quiet => eprintln!("  {msg}... ({:.1} s)", self.started.elapsed().as_secs_f64()),
            None => {}
        }
    }

    pub fn finish(self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        if !self.reporter.quiet {
            eprintln!("{} ({:.1} s)", self.label, self.started.elapsed().as_secs_f64());
        }
    }
}
