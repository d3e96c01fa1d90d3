//! The `auroraview` Python package is embedded with `include_dir!`; rebuild when any of its files
//! changes (a directory's own mtime does not change when a file in it is edited). `init`'s templates too.
fn main() {
    println!("cargo:rerun-if-changed=../python/auroraview");
    if let Ok(entries) = std::fs::read_dir("../python/auroraview") {
        for entry in entries.flatten() {
            println!("cargo:rerun-if-changed={}", entry.path().display());
        }
    }
    // `init`'s templates, embedded the same way.
    fn watch(dir: &std::path::Path) {
        println!("cargo:rerun-if-changed={}", dir.display());
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                watch(&path);
            } else {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
    }
    watch(std::path::Path::new("templates"));
}
