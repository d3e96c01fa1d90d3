//! `[license]`: keys and tokens made with the real `auroraview-pack license`, and packed apps that
//! refuse to start (exit 3) without a valid token or after their build's `expires_at`.

mod common;

use common::{Project, bin, headless_command};
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

const MAIN: &str = "import sys\nimport auroraview\nfrom auroraview import WebView\n\ndef run():\n    v = WebView()\n    v.bind_call('api.license', auroraview.license)\n    v.bind_call('api.argv', lambda: sys.argv[1:])\n    v.show()\n";
const CALLS: [&str; 2] = [r#"{"id":1,"method":"api.license"}"#, r#"{"id":2,"method":"api.argv"}"#];

fn license_cmd(args: &[&str]) -> String {
    let out = Command::new(bin("auroraview-pack")).arg("license").args(args).output().unwrap();
    assert!(out.status.success(), "license {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

struct Keys {
    dir: tempfile::TempDir,
    public: String,
}

impl Keys {
    fn new() -> Keys {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("keys");
        let public = license_cmd(&["keygen", "--out", out.to_str().unwrap()]);
        Keys { dir, public }
    }

    fn file(&self) -> PathBuf {
        self.dir.path().join("keys/license.key")
    }

    fn sign(&self, app: &str, extra: &[&str]) -> String {
        let key = self.file();
        let mut args = vec!["sign", "--key", key.to_str().unwrap(), "--app", app, "--licensee", "Ada Lovelace"];
        args.extend_from_slice(extra);
        license_cmd(&args)
    }
}

fn pack(name: &str, license: &str) -> (Project, PathBuf) {
    let p = Project::new();
    p.write("main.py", MAIN);
    p.config(&format!("[app]\nname = \"{name}\"\n\n[license]\n{license}\n"));
    let exe = p.pack();
    (p, exe)
}

/// The app's run with a fresh config directory (holding `config_token` as its token file when
/// given), `AURORAVIEW_LICENSE` = `env_token` when given, and `args`.
struct Run {
    code: i32,
    lines: Vec<Value>,
    stderr: String,
}

fn run(exe: &Path, env_token: Option<&str>, config_token: Option<&str>, args: &[&str]) -> Run {
    let cache = tempfile::tempdir().unwrap();
    let config = tempfile::tempdir().unwrap();
    let app = exe.file_name().unwrap().to_str().unwrap();
    if let Some(token) = config_token {
        let dir = config.path().join("AuroraView/licenses");
        fs_err::create_dir_all(&dir).unwrap();
        fs_err::write(dir.join(format!("{app}.token")), format!("{token}\n")).unwrap();
    }
    let mut cmd = headless_command(exe, cache.path());
    cmd.env("XDG_CONFIG_HOME", config.path()).env_remove("AURORAVIEW_LICENSE").args(args);
    if let Some(token) = env_token {
        cmd.env("AURORAVIEW_LICENSE", token);
    }
    let mut child = cmd.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    for l in CALLS {
        let _ = writeln!(stdin, "{l}");
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let lines = String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    Run { code: out.status.code().unwrap_or(-1), lines, stderr: String::from_utf8_lossy(&out.stderr).into_owned() }
}

fn assert_refused(r: &Run, why: &str) {
    assert_eq!(r.code, 3, "exit code; stderr:\n{}", r.stderr);
    assert!(r.lines.is_empty(), "no call is answered: {:?}", r.lines);
    assert!(r.stderr.contains(why), "stderr should say {why:?}:\n{}", r.stderr);
    assert!(r.stderr.contains("looked in:") && r.stderr.contains("AURORAVIEW_LICENSE"), "{}", r.stderr);
}

fn assert_runs(r: &Run) -> &Value {
    assert_eq!(r.code, 0, "stderr:\n{}", r.stderr);
    assert_eq!(r.lines.len(), 2, "{:?}\n{}", r.lines, r.stderr);
    &r.lines[0]["result"]
}

#[test]
fn keygen_writes_a_private_key_and_sign_prints_a_token() {
    use std::os::unix::fs::PermissionsExt;
    let keys = Keys::new();
    assert!(keys.public.starts_with("ed25519:"), "{}", keys.public);
    let mode = fs_err::metadata(keys.file()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // Never over an existing key.
    let out = Command::new(bin("auroraview-pack"))
        .args(["license", "keygen", "--out"])
        .arg(keys.dir.path().join("keys"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already"), "{}", String::from_utf8_lossy(&out.stderr));

    let token = keys.sign("app", &["--expires", "2030-01-31", "--feature", "pro", "--feature", "export"]);
    assert!(token.starts_with("avl1.") && token.split('.').count() == 3, "{token}");
    let key = auroraview_overlay::license::parse_public_key(&keys.public).unwrap();
    let v = auroraview_overlay::license::verify(&token, &key).unwrap();
    assert_eq!(v.payload.app, "app");
    assert_eq!(v.payload.licensee, "Ada Lovelace");
    assert_eq!(v.payload.expires.as_deref(), Some("2030-01-31"));
    assert_eq!(v.payload.features, ["pro", "export"]);

    let bad = Command::new(bin("auroraview-pack"))
        .args(["license", "sign", "--app", "a", "--licensee", "b", "--expires", "2030-02-30", "--key"])
        .arg(keys.file())
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
}

#[test]
fn a_token_app_runs_only_with_a_valid_token() {
    let keys = Keys::new();
    let other_keys = Keys::new();
    let (_p, exe) = pack("licensed", &format!("type = \"token\"\npublic_key = \"{}\"", keys.public));
    let good = keys.sign("licensed", &["--feature", "pro"]);

    // Valid, from the environment: the call is answered and Python sees the payload.
    let r = run(&exe, Some(&good), None, &[]);
    let payload = assert_runs(&r);
    assert_eq!(payload["licensee"], "Ada Lovelace");
    assert_eq!(payload["app"], "licensed");
    assert_eq!(payload["features"], serde_json::json!(["pro"]));
    assert!(payload["issued_at"].as_u64().unwrap() > 1_700_000_000);

    // `--license FILE`, which Python's sys.argv never sees.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("my.token");
    fs_err::write(&file, format!("{good}\n")).unwrap();
    let r = run(&exe, None, None, &["--license", file.to_str().unwrap(), "--", "x"]);
    assert_runs(&r);
    assert_eq!(r.lines[1]["result"], serde_json::json!(["x"]));

    // The user's config directory.
    let r = run(&exe, None, Some(&good), &[]);
    assert_eq!(assert_runs(&r)["licensee"], "Ada Lovelace");

    // Missing everywhere.
    let r = run(&exe, None, None, &[]);
    assert_refused(&r, "no license token found");
    assert!(r.stderr.contains("AuroraView/licenses/licensed.token: not found"), "{}", r.stderr);

    // Signed by another key.
    assert_refused(&run(&exe, Some(&other_keys.sign("licensed", &[])), None, &[]), "bad signature");

    // The payload edited (another licensee), the real signature kept.
    let other =
        auroraview_overlay::license::parse_private_key(&fs_err::read_to_string(other_keys.file()).unwrap()).unwrap();
    let edited = auroraview_overlay::license::sign(
        &other,
        &auroraview_overlay::license::Payload {
            v: 1,
            app: "licensed".into(),
            licensee: "Mallory".into(),
            expires: None,
            features: vec!["pro".into(), "admin".into()],
            issued_at: 1,
        },
    );
    let forged = format!("{}.{}", edited.rsplit_once('.').unwrap().0, good.rsplit_once('.').unwrap().1);
    assert_refused(&run(&exe, Some(&forged), None, &[]), "bad signature");

    // Expired, and for another app.
    let expired = keys.sign("licensed", &["--expires", "2020-01-01"]);
    assert_refused(&run(&exe, Some(&expired), None, &[]), "expired on 2020-01-01");
    assert_refused(&run(&exe, Some(&keys.sign("other", &[])), None, &[]), "is for the app `other`, not `licensed`");

    // Garbage in the file named by --license: refused, naming the file.
    fs_err::write(&file, "not a token").unwrap();
    let r = run(&exe, None, None, &["--license", file.to_str().unwrap()]);
    assert_refused(&r, "not a valid license token");
    assert!(r.stderr.contains(&format!("--license {}", file.display())), "{}", r.stderr);

    // One bad place does not hide a good one.
    let r = run(&exe, Some(&expired), Some(&good), &[]);
    assert_runs(&r);
}

#[test]
fn grace_days_let_an_expired_token_through_with_a_warning() {
    let keys = Keys::new();
    let (_p, exe) =
        pack("graced", &format!("type = \"token\"\npublic_key = \"{}\"\ngrace_period_days = 36500", keys.public));
    let expired = keys.sign("graced", &["--expires", "2020-01-01"]);
    let r = run(&exe, Some(&expired), None, &[]);
    assert_eq!(assert_runs(&r)["expires"], "2020-01-01");
    assert!(r.stderr.contains("warning:") && r.stderr.contains("expired on 2020-01-01"), "{}", r.stderr);
    assert_eq!(r.stderr.matches("warning:").count(), 1, "{}", r.stderr);
    let long_ago = keys.sign("graced", &["--expires", "1900-01-01"]);
    assert_refused(&run(&exe, Some(&long_ago), None, &[]), "expired on 1900-01-01");
}

#[test]
fn a_token_app_in_a_child_process_checks_in_the_child_too() {
    let keys = Keys::new();
    let p = Project::new();
    p.write("main.py", MAIN);
    p.config(&format!(
        "[app]\nname = \"licensed-child\"\n[python]\nisolation = \"process\"\n[license]\ntype = \"token\"\npublic_key = \"{}\"\n",
        keys.public
    ));
    let exe = p.pack();
    let good = keys.sign("licensed-child", &[]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t");
    fs_err::write(&file, &good).unwrap();
    let r = run(&exe, None, None, &["--license", file.to_str().unwrap()]);
    assert_eq!(assert_runs(&r)["licensee"], "Ada Lovelace");
    assert_refused(&run(&exe, None, None, &[]), "no license token found");
    // The child itself, started by hand without a token, refuses too.
    let cache = tempfile::tempdir().unwrap();
    let out = Command::new(&exe)
        .args(["--python-child", "--"])
        .env("AURORAVIEW_CACHE_DIR", cache.path())
        .env("XDG_CONFIG_HOME", dir.path())
        .env_remove("AURORAVIEW_LICENSE")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn expires_at_alone_makes_a_time_limited_build() {
    let (_p, past) = pack("limited-past", "expires_at = \"2020-01-01\"");
    let r = run(&past, None, None, &[]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.lines.is_empty());
    assert!(r.stderr.contains("this build expired on 2020-01-01"), "{}", r.stderr);

    let (_p, future) = pack("limited-future", "expires_at = \"2999-12-31\"");
    let r = run(&future, None, None, &[]);
    assert_eq!(*assert_runs(&r), Value::Null, "no token: auroraview.license() is None");
    assert!(!r.stderr.contains("warning"), "{}", r.stderr);

    let (_p, graced) = pack("limited-graced", "expires_at = \"2020-01-01\"\ngrace_period_days = 36500");
    let r = run(&graced, None, None, &[]);
    assert_runs(&r);
    assert!(r.stderr.contains("warning:") && r.stderr.contains("expired on 2020-01-01"), "{}", r.stderr);
}

#[test]
fn the_packer_refuses_a_bad_license_table() {
    for (table, says) in [
        ("type = \"token\"", "needs `public_key`"),
        ("type = \"token\"\npublic_key = \"abc\"", "is not a license public key"),
        ("expires_at = \"2020-02-30\"", "is not a date"),
        ("public_key = \"x\"", "needs `type`"),
    ] {
        let p = Project::new();
        p.write("main.py", MAIN);
        p.config(&format!("[app]\nname = \"bad\"\n[license]\n{table}\n"));
        let out = p.pack_output(&[]);
        assert_eq!(out.status.code(), Some(1), "{table}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{table}: {stderr}");
    }
}
