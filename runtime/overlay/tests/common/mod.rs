//! What the overlay's tests share.
#![allow(dead_code)]

use auroraview_overlay::*;

/// A manifest for an app named `name`, as the writer completes it.
pub fn manifest(name: &str) -> Manifest {
    Manifest {
        app: AppInfo { name: name.into(), version: "1".into(), title: "T".into() },
        window: WindowInfo {
            width: 10,
            height: 10,
            resizable: true,
            debug: false,
            csp: None,
            options: Default::default(),
        },
        python: PythonInfo {
            entry_point: "main:run".into(),
            strategy: Strategy::Standalone,
            isolation: Isolation::Thread,
            version: "3.11".into(),
            module_search_paths: vec![],
            filesystem_importer: true,
            interpreter: None,
            max_restarts: 1,
            heartbeat_timeout_ms: 5000,
            home: None,
            embedded_fallback: false,
            system_site_packages: false,
        },
        env: Default::default(),
        license: None,
        plugins: Default::default(),
        runtime: None,
        gui: None,
        content_hash: String::new(),
        entry_count: 0,
        unpacked_size: 0,
        packer_version: "0".into(),
    }
}
