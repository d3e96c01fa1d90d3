//! The license check at start, before anything is extracted or any Python runs: a build with
//! `[license] expires_at` stops after that day, and one with `type = "token"` needs a token signed
//! with the key whose public half the manifest carries (`auroraview_overlay::license` has the
//! format). A refused start exits with [`EXIT_CODE`], window or not: the message goes to stderr.

use auroraview_overlay::Manifest;
use auroraview_overlay::license::{self, MAX_TOKEN_LEN};
use std::io::Read;
use std::path::Path;

/// The token itself (not a path). Also set for the app's child processes, which check it again.
pub const TOKEN_ENV: &str = "AURORAVIEW_LICENSE";
/// The accepted token's payload (JSON), what `auroraview.license()` returns.
pub const PAYLOAD_ENV: &str = "AURORAVIEW_LICENSE_PAYLOAD";
/// The exit code of a start refused for its license.
pub const EXIT_CODE: u8 = 3;
/// `license.type` that requires a token.
pub const TOKEN: &str = "token";

/// A start refused: the whole message, shown as it is.
#[derive(Debug)]
pub struct Refused(pub String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// Checks the app's license; returns the variables to set for Python (none for an app without a
/// token). `license_file`: the `--license FILE` argument. `quiet`: no grace-period warning (a
/// child of a run that already warned).
pub fn check(manifest: &Manifest, license_file: Option<&Path>, quiet: bool) -> Result<Vec<(String, String)>, Refused> {
    let Some(info) = &manifest.license else { return Ok(Vec::new()) };
    let app = &manifest.app.name;
    let grace = info.grace_period_days.unwrap_or(0);
    let today = license::today();
    if let Some(date) = &info.expires_at {
        let day = license::parse_date(date)
            .ok_or_else(|| Refused(format!("{app}: the build's license.expires_at `{date}` is not a date")))?;
        match license::check_date(day, grace, today) {
            Ok(None) => {}
            Ok(Some(left)) => {
                if !quiet {
                    eprintln!(
                        "auroraview: warning: this build of {app} expired on {date}; it keeps working for {left} more day(s) (grace period)"
                    );
                }
            }
            Err(refusal) => {
                return Err(Refused(format!(
                    "{app}: this build {refusal}; it no longer runs\nhint: ask its vendor for a newer build"
                )));
            }
        }
    }
    if info.kind != TOKEN {
        return Ok(Vec::new());
    }
    let key = info
        .public_key
        .as_deref()
        .ok_or_else(|| "no public key".to_string())
        .and_then(license::parse_public_key)
        .map_err(|e| Refused(format!("{app}: the app's license public key is unusable ({e}); repack it")))?;

    // Every place a token may be, in order; the first valid one wins.
    let mut looked = Vec::new();
    let mut candidates: Vec<(String, String)> = Vec::new();
    if let Some(file) = license_file {
        let place = format!("--license {}", file.display());
        match read_token(file) {
            Ok(token) => candidates.push((place, token)),
            Err(e) => looked.push(format!("{place}: {e}")),
        }
    }
    match std::env::var(TOKEN_ENV) {
        Ok(token) if !token.trim().is_empty() => candidates.push((TOKEN_ENV.to_string(), token)),
        _ => looked.push(format!("{TOKEN_ENV}: not set")),
    }
    match license::token_file(app) {
        Some(file) if file.exists() => {
            let place = file.display().to_string();
            match read_token(&file) {
                Ok(token) => candidates.push((place, token)),
                Err(e) => looked.push(format!("{place}: {e}")),
            }
        }
        Some(file) => looked.push(format!("{}: not found", file.display())),
        None => looked.push("the user's config directory: unknown (no HOME)".into()),
    }
    let mut refused = Vec::new();
    for (place, token) in &candidates {
        match license::check_token(token, &key, app, grace, today) {
            Ok(accepted) => {
                if let Some(warning) = &accepted.warning
                    && !quiet
                {
                    eprintln!("auroraview: warning: {warning} (token from {place})");
                }
                tracing::debug!("license of {} accepted, from {place}", accepted.verified.payload.licensee);
                return Ok(vec![
                    (TOKEN_ENV.to_string(), token.trim().to_string()),
                    (PAYLOAD_ENV.to_string(), accepted.verified.json),
                ]);
            }
            Err(refusal) => refused.push(format!("{place}: {refusal}")),
        }
    }
    let headline = match refused.as_slice() {
        [] => format!("{app}: no license token found; this app needs one to run"),
        [one] => format!("{app}: license refused: {}", one.split_once(": ").map_or(one.as_str(), |(_, why)| why)),
        _ => format!("{app}: no valid license token; every one found was refused"),
    };
    let mut message = headline;
    message.push_str("\nlooked in:");
    for line in refused.iter().chain(&looked) {
        message.push_str("\n  ");
        message.push_str(line);
    }
    let home =
        license::token_file(app).map_or_else(|| "<config dir>/AuroraView/licenses".into(), |f| f.display().to_string());
    message.push_str(&format!(
        "\nhint: get a token from the app's vendor and put it in {home}, set {TOKEN_ENV} to it, or pass --license FILE"
    ));
    Err(Refused(message))
}

fn read_token(file: &Path) -> Result<String, String> {
    let mut text = String::new();
    std::fs::File::open(file)
        .and_then(|f| f.take(MAX_TOKEN_LEN as u64 + 1).read_to_string(&mut text))
        .map_err(|e| format!("cannot read it: {e}"))?;
    if text.trim().is_empty() {
        return Err("the file is empty".into());
    }
    Ok(text)
}
