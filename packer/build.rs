//! The `auroraview` Python package is embedded with `include_dir!`; rebuild when any of its files
//! changes (a directory's own mtime does not change when a file in it is edited).
fn main() {
    println!("cargo:rerun-if-changed=../python/auroraview");
    if let Ok(entries) = std::fs::read_dir("../python/auroraview") {
        for entry in entries.flatten() {
            println!("cargo:rerun-if-changed={}", entry.path().display());
        }
    }
}
