//! The `auroraview` Python package of this repository, built into the packer so every packed app
//! carries the version that matches its runtime.

use include_dir::{Dir, include_dir};

static PACKAGE: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/../python/auroraview");

/// `(path relative to the package, content)` for every file of the package, sorted.
pub fn files() -> Vec<(String, &'static [u8])> {
    let mut out = Vec::new();
    collect(&PACKAGE, &mut out);
    out.sort();
    out
}

fn collect(dir: &'static Dir<'static>, out: &mut Vec<(String, &'static [u8])>) {
    for f in dir.files() {
        let path = f.path().to_string_lossy().replace('\\', "/");
        if !path.ends_with(".pyc") {
            out.push((path, f.contents()));
        }
    }
    for d in dir.dirs() {
        if d.path().file_name().is_some_and(|n| n != "__pycache__") {
            collect(d, out);
        }
    }
}
