//! The `auroraview://` scheme: serves the app's `frontend/` tree and nothing else. Knows nothing of
//! windows, so its path handling is tested on its own.

use std::path::{Component, Path, PathBuf};

pub const SCHEME: &str = "auroraview";
pub const START_URL: &str = "auroraview://localhost/";

pub struct Reply {
    pub status: u16,
    pub mime: &'static str,
    pub body: Vec<u8>,
}

/// Answers a request for `uri_path` (the URL's path, still percent-encoded) from `root`.
pub fn serve(root: &Path, uri_path: &str) -> Reply {
    match resolve(root, uri_path) {
        Some(path) => match std::fs::read(&path) {
            Ok(body) => Reply { status: 200, mime: mime_type(&path), body },
            Err(_) => not_found(),
        },
        None => not_found(),
    }
}

fn not_found() -> Reply {
    Reply { status: 404, mime: "text/plain", body: b"not found".to_vec() }
}

/// The file under `root` that `uri_path` names, or None if it names anything outside `root`.
pub fn resolve(root: &Path, uri_path: &str) -> Option<PathBuf> {
    let decoded = percent_decode(uri_path.split(['?', '#']).next().unwrap_or(""))?;
    let mut rel = PathBuf::new();
    for part in decoded.split('/') {
        match part {
            "" | "." => continue,
            ".." => return None,
            p if p.contains('\\') || p.contains('\0') || p.contains(':') => return None,
            p => rel.push(p),
        }
    }
    if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return None;
    }
    let mut path = root.join(&rel);
    if rel.as_os_str().is_empty() || path.is_dir() {
        path = path.join("index.html");
    }
    // A symlink inside the tree must not lead out of it.
    let real = path.canonicalize().ok()?;
    let real_root = root.canonicalize().ok()?;
    (real.starts_with(&real_root) && real.is_file()).then_some(real)
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

pub fn mime_type(path: &Path) -> &'static str {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" | "cjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "wasm" => "application/wasm",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "ttf" => "font/ttf",
        "otf" => "font/otf",
        "txt" => "text/plain; charset=utf-8",
        "xml" => "application/xml",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        "mp3" => "audio/mpeg",
        "wav" => "audio/wav",
        "pdf" => "application/pdf",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("frontend/assets")).unwrap();
        std::fs::create_dir_all(d.path().join("python")).unwrap();
        std::fs::write(d.path().join("frontend/index.html"), "<p>hi").unwrap();
        std::fs::write(d.path().join("frontend/assets/app.js"), "1").unwrap();
        std::fs::write(d.path().join("frontend/a b.css"), "x").unwrap();
        std::fs::write(d.path().join("python/main.py"), "secret").unwrap();
        d
    }

    #[test]
    fn serves_files_with_types_and_index_for_root() {
        let d = tree();
        let root = d.path().join("frontend");
        let r = serve(&root, "/");
        assert_eq!((r.status, r.mime, r.body.as_slice()), (200, "text/html; charset=utf-8", &b"<p>hi"[..]));
        assert_eq!(serve(&root, "/assets/app.js").mime, "text/javascript; charset=utf-8");
        assert_eq!(serve(&root, "/a%20b.css?v=1").status, 200);
        assert_eq!(serve(&root, "/missing.js").status, 404);
    }

    #[test]
    fn never_serves_outside_the_frontend() {
        let d = tree();
        let root = d.path().join("frontend");
        for p in [
            "/../python/main.py",
            "/%2e%2e/python/main.py",
            "/%2E%2E%2Fpython%2Fmain.py",
            "/assets/../../python/main.py",
            "//etc/passwd",
            "/..%5cpython%5cmain.py",
            "/%00",
        ] {
            let r = serve(&root, p);
            assert_eq!(r.status, 404, "{p}");
            assert_ne!(r.body, b"secret");
        }
        std::os::unix::fs::symlink(d.path().join("python"), root.join("escape")).unwrap();
        assert_eq!(serve(&root, "/escape/main.py").status, 404);
    }
}
