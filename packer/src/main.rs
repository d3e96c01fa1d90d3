//! `auroraview-pack`: builds one executable from `auroraview.pack.toml`, and looks inside one.

mod archive;
mod cache;
mod collect;
mod commands;
mod config;
mod frames;
mod inmemory;
mod pypkg;
mod python;
mod report;
mod stub;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Bundle a web frontend, Python code, its dependencies and a Python runtime into one executable.
#[derive(Parser)]
#[command(name = "auroraview-pack", version)]
struct Cli {
    /// Print nothing but errors and the result.
    #[arg(short, long, global = true)]
    quiet: bool,
    /// Print what is reused and what is rebuilt.
    #[arg(short, long, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Build(commands::build::Args),
    Inspect(commands::inspect::Args),
    Extract(commands::extract::Args),
    Dev(commands::dev::Args),
}

/// A failure of the packer itself rather than of its input (exit code 2; input errors exit 1).
#[derive(Debug, thiserror::Error)]
#[error("internal error: {0}")]
pub struct Internal(pub String);

fn main() -> ExitCode {
    let cli = Cli::parse();
    let reporter = report::Reporter::new(cli.quiet, cli.verbose);
    let result = match cli.command {
        Command::Build(args) => commands::build::run(args, reporter),
        Command::Inspect(args) => commands::inspect::run(args),
        Command::Extract(args) => commands::extract::run(args, reporter),
        Command::Dev(args) => commands::dev::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let internal = err.downcast_ref::<Internal>().is_some();
            let text = format!("{err:#}");
            let (message, hint) = match text.split_once("\nhint: ") {
                Some((m, h)) => (m.to_string(), Some(h.to_string())),
                None => (text, None),
            };
            eprintln!("error: {message}");
            let hint = hint.or_else(|| err.downcast_ref::<config::ConfigError>().and_then(|e| e.hint.clone()));
            if let Some(hint) = hint {
                eprintln!("hint: {hint}");
            }
            ExitCode::from(if internal { 2 } else { 1 })
        }
    }
}
