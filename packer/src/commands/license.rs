//! `auroraview-pack license keygen|sign`: the vendor's side of `[license] type = "token"`, and the
//! validation of the `[license]` table. The token format is in `auroraview_overlay::license`.

use anyhow::{Context, Result, bail};
use auroraview_overlay::license::{self, Payload};
use std::io::Write;
use std::path::PathBuf;

/// The `license.type` that makes a packed app require a signed token.
pub const TOKEN: &str = "token";
/// The private key file `keygen` writes into its directory.
pub const KEY_FILE: &str = "license.key";

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Write a new Ed25519 private key (mode 0600) and print its public key, the value of
    /// `[license] public_key`.
    Keygen {
        /// Directory to write `license.key` into (created if missing).
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
    /// Print a license token for one licensee of one app.
    Sign {
        /// The private key file written by `keygen`.
        #[arg(long)]
        key: PathBuf,
        /// The app's `app.name`.
        #[arg(long)]
        app: String,
        /// Who the license is for (shown to the app as `licensee`).
        #[arg(long)]
        licensee: String,
        /// The last day (UTC) the token is valid, `YYYY-MM-DD`; without it the token never expires.
        #[arg(long)]
        expires: Option<String>,
        /// A feature the license grants (repeatable).
        #[arg(long = "feature")]
        features: Vec<String>,
    },
}

pub fn run(args: Args) -> Result<()> {
    match args.command {
        Command::Keygen { out } => keygen(out),
        Command::Sign { key, app, licensee, expires, features } => {
            let text = fs_err::read_to_string(&key)?;
            let signing = license::parse_private_key(&text).map_err(|e| {
                anyhow::anyhow!("{}: {e}\nhint: pass the file `auroraview-pack license keygen` wrote", key.display())
            })?;
            if let Some(date) = &expires
                && license::parse_date(date).is_none()
            {
                bail!("--expires `{date}` is not a date\nhint: write it as YYYY-MM-DD");
            }
            if app.is_empty() || licensee.is_empty() {
                bail!("--app and --licensee must not be empty");
            }
            let issued_at =
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
            let payload = Payload { v: 1, app, licensee, expires, features, issued_at };
            println!("{}", license::sign(&signing, &payload));
            Ok(())
        }
    }
}

fn keygen(out: PathBuf) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    fs_err::create_dir_all(&out)?;
    let path = out.join(KEY_FILE);
    let key = ed25519_dalek::SigningKey::generate(&mut rand_core::OsRng);
    // Never over an existing key: tokens signed with it would stop working.
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))
        .context(if path.exists() {
            "hint: a key is already there; keep it (tokens signed with it would stop working) or choose another --out"
        } else {
            "writing the private key"
        })?;
    file.write_all(license::format_private_key(&key).as_bytes())?;
    file.sync_all()?;
    eprintln!("wrote the private key to {} (keep it secret; it signs your tokens)", path.display());
    eprintln!("put the public key below in auroraview.pack.toml: [license] type = \"token\", public_key = \"...\"");
    println!("{}", license::format_public_key(&key.verifying_key()));
    Ok(())
}

/// The `[license]` table checked: `(key, message, hint)` on error.
pub fn resolve_config(
    kind: Option<String>,
    public_key: Option<String>,
    expires_at: Option<String>,
    grace_period_days: Option<u32>,
) -> Result<crate::config::License, (&'static str, String, Option<String>)> {
    let kind = match (kind, &expires_at) {
        (Some(k), _) => k,
        // `expires_at` alone: a time-limited build.
        (None, Some(_)) => "expiry".to_string(),
        (None, None) => {
            return Err((
                "type",
                "`[license]` needs `type` (or `expires_at` for a time-limited build)".into(),
                Some("type = \"token\" requires a signed token at start; see the README's Licenses section".into()),
            ));
        }
    };
    if kind == TOKEN {
        let Some(key) = &public_key else {
            return Err((
                "public_key",
                "`type = \"token\"` needs `public_key`".into(),
                Some("`auroraview-pack license keygen` prints one".into()),
            ));
        };
        if let Err(e) = license::parse_public_key(key) {
            return Err((
                "public_key",
                format!("`{key}` is not a license public key: {e}"),
                Some("use the line `auroraview-pack license keygen` printed".into()),
            ));
        }
    }
    if let Some(date) = &expires_at
        && license::parse_date(date).is_none()
    {
        return Err(("expires_at", format!("`{date}` is not a date"), Some("write it as YYYY-MM-DD".into())));
    }
    Ok(crate::config::License { kind, public_key, expires_at, grace_period_days })
}
