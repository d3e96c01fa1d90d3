/// Read by `auroraview-pack` to refuse pairing this stub with a runtime of another Python version.
#[used]
static STUB_INFO: &str = concat!("AURORAVIEW-STUB-INFO:python=", env!("AURORAVIEW_PYTHON_VERSION"), ";end");

fn main() {
    let exe = std::env::current_exe().expect("current exe");
    match auroraview_overlay::Overlay::open(&exe) {
        Ok(o) => println!("overlay found: {}", o.manifest().app.name),
        Err(e) => eprintln!("{e}"),
    }
}
