//! Seeded mutation fuzzing of the reader and the extractor: byte flips and truncations of a valid
//! packed file, and payloads of crafted tar entries (link chains, `..`, absolute paths, hard links,
//! devices, oversized and duplicate entries) that carry a valid hash. Every case must end in `Ok` or
//! a clear error naming the file, never a panic, and nothing may be written outside the
//! destination. The seed is fixed, so a failure reproduces; `OVERLAY_FUZZ_CASES` runs more.

mod common;

use auroraview_overlay::*;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

fn manifest() -> Manifest {
    common::manifest("fuzz")
}

fn write(stub: &Path, out: &Path, frames: Vec<Frame>, m: Manifest) {
    write_executable(stub, out, OverlayParts { manifest: m, frames, manifest_only: false }).unwrap();
}

/// A valid file to mutate: a few entries in two frames.
fn valid(dir: &Path, stub: &Path) -> Vec<u8> {
    let mut a = FrameBuilder::new(3);
    a.add(SourceFile::from_bytes("python/main.py", b"def run():\n    pass\n".to_vec()));
    a.add(SourceFile::from_bytes("python/pkg/__init__.py", vec![b'x'; 3000]));
    let mut b = FrameBuilder::new(3);
    b.add(SourceFile::from_bytes("frontend/index.html", b"<!doctype html><p>hi".to_vec()));
    let out = dir.join("valid");
    write(stub, &out, vec![a.finish().unwrap(), b.finish().unwrap()], manifest());
    fs_err::read(out).unwrap()
}

const NAMES: &[&str] = &[
    "x",
    "x/x",
    "x/x/x/L",
    "L",
    "L/etc/passwd",
    "python",
    "python/a",
    "python/a/b",
    "../evil",
    "/abs",
    "a/../b",
    "a/./b",
    "a//b",
    "python/main.py",
    "frontend",
    "frontend/index.html",
    "a\\b",
    "",
];
const TARGETS: &[&str] = &[".", "..", "../..", "../../..", "/", "/tmp", "x", "python", "frontend/index.html", ""];

/// A payload of crafted entries, packed with a hash that matches it.
fn crafted(rng: &mut fastrand::Rng, dir: &Path, stub: &Path, outside: &Path) -> PathBuf {
    let mut t = tar::Builder::new(Vec::new());
    let mut files = 0u64;
    let mut bytes = 0u64;
    for _ in 0..rng.usize(1..8) {
        let mut name = NAMES[rng.usize(..NAMES.len())].to_string();
        if rng.u8(..8) == 0 {
            name = format!("L{}/planted", outside.display()).trim_start_matches('/').to_string();
        }
        let mut h = tar::Header::new_gnu();
        h.set_mode(if rng.bool() { 0o644 } else { 0o4777 });
        let kind = rng.u8(..8);
        let size = if rng.u8(..4) == 0 { rng.u64(..1 << 20) } else { rng.u64(..64) };
        let result = match kind {
            0 | 1 => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_size(0);
                t.append_link(&mut h, &name, TARGETS[rng.usize(..TARGETS.len())])
            }
            2 => {
                h.set_entry_type(tar::EntryType::Link);
                h.set_size(0);
                t.append_link(&mut h, &name, TARGETS[rng.usize(..TARGETS.len())])
            }
            3 => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
                t.append_data(&mut h, &name, std::io::empty())
            }
            4 => {
                h.set_entry_type(if rng.bool() { tar::EntryType::Char } else { tar::EntryType::Fifo });
                h.set_size(0);
                t.append_data(&mut h, &name, std::io::empty())
            }
            _ => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(size);
                files += 1;
                bytes += size;
                t.append_data(&mut h, &name, std::io::repeat(b'z').take_bytes(size))
            }
        };
        // The tar writer refuses some names itself (`..`, absolute): write those raw.
        if result.is_err() {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(4);
            h.set_mode(0o644);
            let gnu = h.as_gnu_mut().unwrap();
            let raw = name.as_bytes();
            gnu.name[..raw.len().min(100)].copy_from_slice(&raw[..raw.len().min(100)]);
            h.set_cksum();
            t.append(&h, &b"evil"[..]).unwrap();
            files += 1;
            bytes += 4;
        }
    }
    let data = t.into_inner().unwrap();
    // Sometimes the index (and so the manifest's counts) tells the truth about the payload,
    // sometimes it undercounts.
    let index = if rng.bool() {
        vec![IndexEntry { path: "python/x".into(), size: bytes, kind: EntryKind::File }; files as usize]
            .into_iter()
            .enumerate()
            .map(|(i, mut e)| {
                e.size = if i == 0 { bytes } else { 0 };
                e
            })
            .collect()
    } else {
        vec![]
    };
    let frame = Frame { compressed: zstd::encode_all(data.as_slice(), 1).unwrap(), index };
    let out = dir.join("crafted");
    write(stub, &out, vec![frame], manifest());
    out
}

trait TakeBytes: std::io::Read + Sized {
    fn take_bytes(self, n: u64) -> std::io::Take<Self> {
        self.take(n)
    }
}
impl<R: std::io::Read> TakeBytes for R {}

/// Everything below `root` except `dest`'s own tree.
fn written_outside(root: &Path, dest: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in fs_err::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            if p == dest || p.ends_with("stub") || p.ends_with("valid") || p.ends_with("crafted") || p.ends_with("case")
            {
                continue;
            }
            if e.file_type().unwrap().is_dir() {
                stack.push(p.clone());
                if p.ends_with("outside") {
                    continue;
                }
            }
            found.push(p);
        }
    }
    found
}

#[derive(Default, Debug)]
struct Tally {
    opened: usize,
    extracted: usize,
    refused_entries: usize,
}

fn check(exe: &Path, root: &Path, case: usize, tally: &mut Tally) {
    let dest = root.join("dest");
    let _ = std::fs::remove_dir_all(&dest);
    fs_err::create_dir(&dest).unwrap();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let o = Overlay::open(exe)?;
        tally.opened += 1;
        let _ = o.index();
        let _ = o.verify();
        o.extract_to(&dest)
    }));
    match outcome {
        Err(_) => panic!("case {case}: the reader panicked"),
        Ok(Ok(_)) => tally.extracted += 1,
        Ok(Err(e)) => {
            if matches!(e, Error::UnsafeEntry { .. }) {
                tally.refused_entries += 1;
            }
            let msg = e.to_string();
            assert!(msg.contains(&exe.display().to_string()) || matches!(e, Error::Io(_)), "case {case}: {msg}");
        }
    }
    let outside = written_outside(root, &dest);
    assert!(outside.is_empty(), "case {case}: wrote outside the destination: {outside:?}");
}

#[test]
fn mutated_and_crafted_overlays_never_panic_or_write_outside() {
    let cases: usize = std::env::var("OVERLAY_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    // tmpfs when there is one: creating files is much slower on this disk.
    let base = if Path::new("/dev/shm").is_dir() { tempfile::tempdir_in("/dev/shm") } else { tempfile::tempdir() };
    let base = base.unwrap();
    let root = base.path();
    let stub = root.join("stub");
    fs_err::write(&stub, b"#!/bin/sh\necho stub\n").unwrap();
    fs_err::create_dir(root.join("outside")).unwrap();
    let good = valid(root, &stub);
    let exe = root.join("case");
    let mut rng = fastrand::Rng::with_seed(0x0a_0e_0a_0e);
    let mut tally = Tally::default();
    for case in 0..cases {
        if case % 4 == 3 {
            let crafted = crafted(&mut rng, root, &stub, &root.join("outside"));
            check(&crafted, root, case, &mut tally);
            continue;
        }
        let mut bytes = good.clone();
        match rng.u8(..3) {
            0 => bytes.truncate(rng.usize(..bytes.len())),
            _ => {
                for _ in 0..rng.usize(1..4) {
                    // Mostly in the overlay (after the stub), where the reader looks.
                    let at = rng.usize(20..bytes.len());
                    bytes[at] ^= 1 << rng.u8(..8);
                }
            }
        }
        fs_err::write(&exe, &bytes).unwrap();
        check(&exe, root, case, &mut tally);
    }
    assert!(fs_err::read_dir(root.join("outside")).unwrap().next().is_none());
    eprintln!("{cases} cases: {tally:?}");
    // The cases reach every stage: opened, refused for an entry, and extracted whole.
    assert!(tally.opened > cases / 4 && tally.refused_entries > cases / 20 && tally.extracted > 0, "{tally:?}");
}
