//! Records which Python the runtime links, so the packer can refuse a runtime of another version,
//! and exports the Python symbols so extension modules loaded at run time resolve against them.
//! Without the `python` feature the runtime links no Python at all.

fn main() {
    let embeds_python = std::env::var_os("CARGO_FEATURE_PYTHON").is_some();
    let version = if embeds_python {
        let config = pyo3_build_config::get();
        format!("{}.{}", config.version().major, config.version().minor)
    } else {
        "none".to_string()
    };
    println!("cargo:rustc-env=AURORAVIEW_PYTHON_VERSION={version}");
    if embeds_python && std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bins=-Wl,--export-dynamic");
    }
    println!("cargo:rerun-if-env-changed=PYO3_CONFIG_FILE");
}
