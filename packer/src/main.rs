//! `auroraview-pack`: builds one executable from `auroraview.pack.toml`, and looks inside one.

mod archive;
mod cache;
mod collect;
mod commands;
mod config;
mod dialect;
mod entry;
mod frames;
mod inmemory;
mod install;
mod pypkg;
mod python;
mod report;
mod sharedlibs;
mod sitepackages;
mod stub;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Bundle a web frontend, Python code, its dependencies and a Python runtime into one executable.
#[derive(Parser)]
#[command(name = "auroraview-pack", version)]
struct Cli {
    /// Print nothing but errors, warnings and the result.
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
    /// Make license keys and sign tokens for apps packed with `[license] type = "token"`.
    License(commands::license::Args),
    Migrate(commands::migrate::Args),
    Init(commands::init::Args),
    Info(commands::info::Args),
}

/// Exit codes: 0 ok, 1 for every reported error (bad input, missing tools, I/O), 2 for a bug in the
/// packer itself (a panic).
fn main() -> ExitCode {
    std::panic::set_hook(Box::new(|info| {
        eprintln!("error: internal error in auroraview-pack: {info}\nhint: this is a bug; please report it");
        std::process::exit(2);
    }));
    let cli = Cli::parse();
    let reporter = report::Reporter::new(cli.quiet, cli.verbose);
    let result = match cli.command {
        Command::Build(args) => commands::build::run(args, reporter),
        Command::Inspect(args) => commands::inspect::run(args),
        Command::Extract(args) => commands::extract::run(args, reporter),
        Command::Dev(args) => commands::dev::run(args),
        Command::License(args) => commands::license::run(args),
        Command::Migrate(args) => commands::migrate::run(args),
        Command::Init(args) => commands::init::run(args, reporter),
        Command::Info(args) => commands::info::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
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
            ExitCode::from(1)
        }
    }
}
