//! Records which Python the runtime links, so the packer can refuse a runtime of another version,
//! and exports the Python symbols so extension modules loaded at run time resolve against them.

fn main() {
    let config = pyo3_build_config::get();
    println!("cargo:rustc-env=AURORAVIEW_PYTHON_VERSION={}.{}", config.version().major, config.version().minor);
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bins=-Wl,--export-dynamic");
    }
    println!("cargo:rerun-if-env-changed=PYO3_CONFIG_FILE");
}
