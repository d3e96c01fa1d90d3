//! The runtime frame extracted apart (into a shared runtime) or skipped, and a runtime frame whose
//! bytes or place do not match the manifest refused.

mod common;

use auroraview_overlay::*;
use std::path::{Path, PathBuf};

fn frame(files: &[(&str, &[u8])]) -> Frame {
    let mut b = FrameBuilder::new(3);
    for (p, c) in files {
        b.add(SourceFile::from_bytes(*p, c.to_vec()));
    }
    b.finish().unwrap()
}

/// An app frame, the runtime frame, another app frame; `tweak` may alter the runtime frame's record.
fn packed(dir: &Path, runtime_files: &[(&str, &[u8])], tweak: impl FnOnce(&mut RuntimeFrame)) -> PathBuf {
    let before = frame(&[("python/main.py", b"print(1)")]);
    let runtime = frame(runtime_files);
    let after = frame(&[("frontend/index.html", b"<html>")]);
    let mut record = RuntimeFrame {
        offset: before.compressed.len() as u64,
        len: runtime.compressed.len() as u64,
        hash: format!("blake3:{}", blake3::hash(&runtime.compressed).to_hex()),
        files: runtime.index.len() as u64,
        bytes: runtime.index.iter().map(|e| e.size).sum(),
    };
    tweak(&mut record);
    let mut manifest = common::manifest("shared");
    manifest.runtime = Some(RuntimeInfo {
        python_version: "3.11.7".into(),
        root: "runtime".into(),
        stdlib: "lib/python3.11".into(),
        stdlib_zip: None,
        target: "linux-x86_64".into(),
        glibc_floor: None,
        frame: Some(record),
    });
    let stub = dir.join("stub");
    fs_err::write(&stub, b"#!/bin/sh\n").unwrap();
    let out = dir.join("app");
    write_executable(
        &stub,
        &out,
        OverlayParts { manifest, frames: vec![before, runtime, after], manifest_only: false },
    )
    .unwrap();
    out
}

const RUNTIME: &[(&str, &[u8])] = &[("runtime/lib/python3.11/os.py", b"# os"), ("runtime/lib/libz.so.1", b"ELF")];

fn dirs(root: &Path) -> (PathBuf, PathBuf) {
    let (tree, shared) = (root.join("tree"), root.join("shared"));
    fs_err::create_dir(&tree).unwrap();
    fs_err::create_dir(&shared).unwrap();
    (tree, shared)
}

#[test]
fn the_runtime_frame_goes_to_the_shared_runtime_or_is_skipped() {
    let d = tempfile::tempdir().unwrap();
    let o = Overlay::open(&packed(d.path(), RUNTIME, |_| {})).unwrap();
    let (tree, shared) = dirs(d.path());
    let stats = o.extract_sharing(&tree, SharedRuntime::Into(&shared)).unwrap();
    assert_eq!(stats.files, 4);
    assert_eq!(fs_err::read(shared.join("lib/python3.11/os.py")).unwrap(), b"# os");
    assert!(shared.join("lib/libz.so.1").is_file());
    assert!(tree.join("python/main.py").is_file() && tree.join("frontend/index.html").is_file());
    assert!(!tree.join("runtime").exists(), "nothing of the runtime in the app's tree");

    let again = d.path().join("again");
    fs_err::create_dir(&again).unwrap();
    let stats = o.extract_sharing(&again, SharedRuntime::Present).unwrap();
    assert_eq!(stats.files, 4, "the skipped frame counts as the manifest says");
    assert!(again.join("python/main.py").is_file() && !again.join("runtime").exists());

    // Everything in the tree, as `extract` does it.
    let whole = d.path().join("whole");
    fs_err::create_dir(&whole).unwrap();
    o.extract_to(&whole).unwrap();
    assert!(whole.join("runtime/lib/python3.11/os.py").is_file());
}

#[test]
fn a_runtime_frame_that_is_not_the_one_named_is_refused() {
    let d = tempfile::tempdir().unwrap();
    // Another runtime's name on these bytes: a shared runtime of that name must never be made of them.
    let exe = packed(d.path(), RUNTIME, |f| f.hash = format!("blake3:{}", "0".repeat(64)));
    let o = Overlay::open(&exe).unwrap();
    let (tree, shared) = dirs(d.path());
    let e = o.extract_sharing(&tree, SharedRuntime::Into(&shared)).unwrap_err();
    assert!(matches!(e, Error::HashMismatch { .. }), "{e}");
    // Skipped, its bytes are still read and checked.
    let fresh = d.path().join("fresh");
    fs_err::create_dir(&fresh).unwrap();
    let e = o.extract_sharing(&fresh, SharedRuntime::Present).unwrap_err();
    assert!(matches!(e, Error::HashMismatch { .. }), "{e}");
}

#[test]
fn a_runtime_frame_out_of_place_is_refused() {
    let d = tempfile::tempdir().unwrap();
    for (i, tweak) in [
        (|f: &mut RuntimeFrame| f.offset = u64::MAX - 1) as fn(&mut RuntimeFrame),
        |f| f.len += 1_000_000,
        |f| f.files += 100,
        |f| f.hash = "md5:00".into(),
    ]
    .into_iter()
    .enumerate()
    {
        let sub = d.path().join(i.to_string());
        fs_err::create_dir(&sub).unwrap();
        let o = Overlay::open(&packed(&sub, RUNTIME, tweak)).unwrap();
        let (tree, shared) = dirs(&sub);
        let e = o.extract_sharing(&tree, SharedRuntime::Into(&shared)).unwrap_err();
        assert!(e.to_string().contains("runtime frame") || matches!(e, Error::HashMismatch { .. }), "case {i}: {e}");
        assert_eq!(fs_err::read_dir(&shared).unwrap().count(), 0, "case {i}: nothing written to the shared runtime");
    }
}

#[test]
fn an_entry_of_the_runtime_frame_outside_the_runtime_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let o = Overlay::open(&packed(d.path(), &[("runtime/lib/a.py", b"a"), ("python/evil.py", b"x")], |_| {})).unwrap();
    let (tree, shared) = dirs(d.path());
    let e = o.extract_sharing(&tree, SharedRuntime::Into(&shared)).unwrap_err();
    assert!(e.to_string().contains("outside the runtime"), "{e}");
    assert!(!tree.join("python/evil.py").exists());
}
