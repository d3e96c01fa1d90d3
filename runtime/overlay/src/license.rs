//! License tokens: their format, signing (the packer's `license sign`) and verification (the
//! runtime, before anything is extracted). No wry, no PyO3: both sides link this module.
//!
//! A token is three parts joined by `.`, all ASCII:
//!
//! ```text
//! avl1.<base64url(payload JSON)>.<base64url(Ed25519 signature)>
//! ```
//!
//! base64url is RFC 4648 §5 without padding. The signature is Ed25519 (RFC 8032, verified strictly)
//! over the ASCII text `avl1.<base64url(payload JSON)>`, that is everything before the last `.`, so
//! the version prefix is signed too. The payload is a JSON object: `v` (1), `app` (the app's
//! `app.name`), `licensee`, `issued_at` (Unix seconds), `expires` (`YYYY-MM-DD`, optional: the last
//! day the token is valid, in UTC) and `features` (strings). Unknown fields are kept and passed
//! on to Python as they are.
//!
//! Keys: the public key is `ed25519:<base64url(32 bytes)>` (what `[license] public_key` holds);
//! the private key file holds one line, `auroraview-license-key:ed25519:<base64url(32-byte seed)>`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The prefix of every token of this format.
pub const TOKEN_PREFIX: &str = "avl1";
/// The prefix of a public key string.
pub const PUBLIC_KEY_PREFIX: &str = "ed25519:";
/// The prefix of the private key file's line.
pub const PRIVATE_KEY_PREFIX: &str = "auroraview-license-key:ed25519:";
/// The largest token read (a file, the environment): far above any real one.
pub const MAX_TOKEN_LEN: usize = 64 * 1024;

/// What a token says, signed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Payload {
    pub v: u32,
    pub app: String,
    pub licensee: String,
    /// `YYYY-MM-DD`: the last day (UTC) the token is valid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    #[serde(default)]
    pub features: Vec<String>,
    /// Unix seconds.
    pub issued_at: u64,
}

/// A token whose signature checked out.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    pub payload: Payload,
    /// The payload's JSON exactly as signed.
    pub json: String,
}

/// Why a token or a build is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not a token of this format (its reason).
    Malformed(String),
    BadSignature,
    WrongApp {
        token_app: String,
        app: String,
    },
    /// Expired on this day (`YYYY-MM-DD`), past any grace period.
    Expired {
        on: String,
        grace_days: u32,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Malformed(why) => write!(f, "not a valid license token ({why})"),
            Refusal::BadSignature => {
                write!(f, "bad signature (the token was not signed with this app's key, or it was changed)")
            }
            Refusal::WrongApp { token_app, app } => write!(f, "the token is for the app `{token_app}`, not `{app}`"),
            Refusal::Expired { on, grace_days: 0 } => write!(f, "expired on {on}"),
            Refusal::Expired { on, grace_days } => {
                write!(f, "expired on {on} (and its grace period of {grace_days} days is over)")
            }
        }
    }
}

pub fn format_public_key(key: &VerifyingKey) -> String {
    format!("{PUBLIC_KEY_PREFIX}{}", B64.encode(key.as_bytes()))
}

pub fn parse_public_key(text: &str) -> Result<VerifyingKey, String> {
    let body = text
        .trim()
        .strip_prefix(PUBLIC_KEY_PREFIX)
        .ok_or_else(|| format!("a public key starts with `{PUBLIC_KEY_PREFIX}`"))?;
    let bytes: [u8; 32] = B64
        .decode(body)
        .map_err(|e| format!("the key is not base64url: {e}"))?
        .try_into()
        .map_err(|_| "an Ed25519 public key is 32 bytes".to_string())?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| "not an Ed25519 public key".to_string())
}

/// The private key file's text (one line).
pub fn format_private_key(key: &SigningKey) -> String {
    format!("{PRIVATE_KEY_PREFIX}{}\n", B64.encode(key.to_bytes()))
}

pub fn parse_private_key(text: &str) -> Result<SigningKey, String> {
    let body = text
        .trim()
        .strip_prefix(PRIVATE_KEY_PREFIX)
        .ok_or_else(|| format!("a private key file holds one line starting with `{PRIVATE_KEY_PREFIX}`"))?;
    let bytes: [u8; 32] = B64
        .decode(body)
        .map_err(|e| format!("the key is not base64url: {e}"))?
        .try_into()
        .map_err(|_| "an Ed25519 private key is 32 bytes".to_string())?;
    Ok(SigningKey::from_bytes(&bytes))
}

/// The token for `payload`, signed with `key`.
pub fn sign(key: &SigningKey, payload: &Payload) -> String {
    let json = serde_json::to_string(payload).expect("a payload serialises");
    let signed = format!("{TOKEN_PREFIX}.{}", B64.encode(json.as_bytes()));
    let signature = key.sign(signed.as_bytes());
    format!("{signed}.{}", B64.encode(signature.to_bytes()))
}

/// Checks the token's form and signature (not its app or dates: [`check_token`]).
pub fn verify(token: &str, key: &VerifyingKey) -> Result<Verified, Refusal> {
    let token = token.trim();
    if token.len() > MAX_TOKEN_LEN {
        return Err(Refusal::Malformed(format!("longer than {MAX_TOKEN_LEN} bytes")));
    }
    let (signed, signature) = token.rsplit_once('.').ok_or_else(|| Refusal::Malformed("no signature part".into()))?;
    let body = signed
        .strip_prefix(TOKEN_PREFIX)
        .and_then(|b| b.strip_prefix('.'))
        .ok_or_else(|| Refusal::Malformed(format!("it does not start with `{TOKEN_PREFIX}.`")))?;
    let signature: [u8; 64] = B64
        .decode(signature)
        .ok()
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| Refusal::Malformed("the signature is not 64 base64url-encoded bytes".into()))?;
    key.verify_strict(signed.as_bytes(), &Signature::from_bytes(&signature)).map_err(|_| Refusal::BadSignature)?;
    // Signed by the key's owner from here on; still checked, as any input.
    let json = B64
        .decode(body)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| Refusal::Malformed("the payload is not base64url-encoded UTF-8".into()))?;
    let payload: Payload =
        serde_json::from_str(&json).map_err(|e| Refusal::Malformed(format!("the payload is not a license: {e}")))?;
    if payload.v != 1 {
        return Err(Refusal::Malformed(format!("payload version {} (this runtime reads version 1)", payload.v)));
    }
    Ok(Verified { payload, json })
}

/// A token accepted, with a warning when it is in its grace period.
#[derive(Debug, Clone, PartialEq)]
pub struct Accepted {
    pub verified: Verified,
    pub warning: Option<String>,
}

/// Everything checked: signature, app, expiry (with `grace_days`) against `today` (days since
/// 1970-01-01, [`today`]).
pub fn check_token(
    token: &str,
    key: &VerifyingKey,
    app: &str,
    grace_days: u32,
    today: i64,
) -> Result<Accepted, Refusal> {
    let verified = verify(token, key)?;
    if verified.payload.app != app {
        return Err(Refusal::WrongApp { token_app: verified.payload.app.clone(), app: app.to_string() });
    }
    let warning = match &verified.payload.expires {
        None => None,
        Some(date) => {
            let day = parse_date(date).ok_or_else(|| Refusal::Malformed(format!("expires `{date}` is not a date")))?;
            check_date(day, grace_days, today)?.map(|left| {
                format!(
                    "the license of {} expired on {date}; it keeps working for {left} more day(s) (grace period)",
                    verified.payload.licensee
                )
            })
        }
    };
    Ok(Accepted { verified, warning })
}

/// Whether `today` is at most `last_day` + `grace_days`: `Ok(None)` within the validity,
/// `Ok(Some(days left))` in the grace period.
pub fn check_date(last_day: i64, grace_days: u32, today: i64) -> Result<Option<i64>, Refusal> {
    if today <= last_day {
        Ok(None)
    } else if today <= last_day + i64::from(grace_days) {
        Ok(Some(last_day + i64::from(grace_days) - today + 1))
    } else {
        Err(Refusal::Expired { on: format_date(last_day), grace_days })
    }
}

/// `YYYY-MM-DD` (a real day of the proleptic Gregorian calendar) as days since 1970-01-01.
pub fn parse_date(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = &text[r];
        s.bytes().all(|c| c.is_ascii_digit()).then(|| s.parse().ok()).flatten()
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days_in_month = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    (1..=days_in_month).contains(&d).then(|| days_from_civil(y, m, d))
}

pub fn format_date(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Where a user puts the token of `app`: `<config dir>/AuroraView/licenses/<app>.token`
/// (`~/.config/AuroraView/licenses/<app>.token` on Linux).
pub fn token_file(app: &str) -> Option<std::path::PathBuf> {
    dirs::config_dir().map(|d| d.join("AuroraView").join("licenses").join(format!("{app}.token")))
}

/// Today in UTC, as days since 1970-01-01.
pub fn today() -> i64 {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    (secs / 86_400) as i64
}

// Howard Hinnant's civil-calendar algorithms (public domain), days relative to 1970-01-01.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { yoe + era * 400 + 1 } else { yoe + era * 400 }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn payload(app: &str, expires: Option<&str>) -> Payload {
        Payload {
            v: 1,
            app: app.into(),
            licensee: "Ada".into(),
            expires: expires.map(Into::into),
            features: vec!["pro".into()],
            issued_at: 1_700_000_000,
        }
    }

    #[test]
    fn dates_round_trip_and_invalid_ones_are_refused() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2000-03-01"), Some(11_017));
        assert_eq!(parse_date("2024-02-29").map(format_date).as_deref(), Some("2024-02-29"));
        for day in [-1000, 0, 365, 11_016, 19_999, 50_000] {
            assert_eq!(parse_date(&format_date(day)), Some(day));
        }
        for bad in ["2023-02-29", "2024-13-01", "2024-00-10", "2024-1-01", "24-01-01", "2024-01-32", "+024-01-01", ""] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn keys_round_trip() {
        let k = key(7);
        let public = format_public_key(&k.verifying_key());
        assert!(public.starts_with("ed25519:"));
        assert_eq!(parse_public_key(&public).unwrap(), k.verifying_key());
        assert_eq!(parse_private_key(&format_private_key(&k)).unwrap().to_bytes(), k.to_bytes());
        assert!(parse_public_key("abc123").is_err());
        assert!(parse_public_key("ed25519:AAAA").is_err());
        assert!(parse_private_key(&public).is_err());
    }

    #[test]
    fn a_signed_token_verifies_and_carries_its_payload() {
        let k = key(1);
        let token = sign(&k, &payload("hello", None));
        assert!(token.starts_with("avl1.") && token.matches('.').count() == 2, "{token}");
        let v = verify(&token, &k.verifying_key()).unwrap();
        assert_eq!(v.payload, payload("hello", None));
        let json: serde_json::Value = serde_json::from_str(&v.json).unwrap();
        assert_eq!(json["licensee"], "Ada");
        assert_eq!(json["features"], serde_json::json!(["pro"]));
        // Surrounding whitespace (a file's newline) is ignored.
        assert!(verify(&format!("  {token}\n"), &k.verifying_key()).is_ok());
    }

    #[test]
    fn forged_and_foreign_tokens_are_refused() {
        let k = key(1);
        let token = sign(&k, &payload("hello", None));
        // Another key.
        assert_eq!(verify(&token, &key(2).verifying_key()), Err(Refusal::BadSignature));
        // The payload edited, the signature kept.
        let (_, sig) = token.rsplit_once('.').unwrap();
        let edited = serde_json::to_string(&Payload { licensee: "Mallory".into(), ..payload("hello", None) }).unwrap();
        let forged = format!("avl1.{}.{sig}", B64.encode(edited));
        assert_eq!(verify(&forged, &k.verifying_key()), Err(Refusal::BadSignature));
        // The prefix is signed too.
        let renamed = token.replacen("avl1.", "avl2.", 1);
        assert!(matches!(verify(&renamed, &k.verifying_key()), Err(Refusal::Malformed(_))));
        for bad in ["", "x", "avl1.", "avl1..", "avl1.e30.AAAA", &"a".repeat(MAX_TOKEN_LEN + 1)] {
            assert!(matches!(verify(bad, &k.verifying_key()), Err(Refusal::Malformed(_))), "{bad:?}");
        }
        let other_app = check_token(&token, &k.verifying_key(), "other", 0, 0);
        assert_eq!(other_app, Err(Refusal::WrongApp { token_app: "hello".into(), app: "other".into() }));
        assert!(other_app.unwrap_err().to_string().contains("`hello`, not `other`"));
    }

    #[test]
    fn expiry_and_grace() {
        let k = key(3);
        let token = sign(&k, &payload("hello", Some("2024-06-30")));
        let last = parse_date("2024-06-30").unwrap();
        let vk = k.verifying_key();
        assert_eq!(check_token(&token, &vk, "hello", 0, last).unwrap().warning, None);
        let refused = check_token(&token, &vk, "hello", 0, last + 1).unwrap_err();
        assert_eq!(refused.to_string(), "expired on 2024-06-30");
        let graced = check_token(&token, &vk, "hello", 10, last + 1).unwrap();
        assert!(graced.warning.unwrap().contains("expired on 2024-06-30"));
        assert!(check_token(&token, &vk, "hello", 10, last + 10).is_ok());
        assert!(check_token(&token, &vk, "hello", 10, last + 11).is_err());
        assert_eq!(check_date(last, 0, last - 5), Ok(None));
        assert_eq!(check_date(last, 3, last + 1), Ok(Some(3)));
    }
}
