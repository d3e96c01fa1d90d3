//! Every malformed overlay is refused with an error that names the file; none panics.

mod common;

use auroraview_overlay::*;
use std::path::{Path, PathBuf};

fn manifest() -> Manifest {
    common::manifest("t")
}

fn frame(files: &[(&str, &[u8])]) -> Frame {
    let mut b = FrameBuilder::new(3);
    for (p, c) in files {
        b.add(SourceFile::from_bytes(*p, c.to_vec()));
    }
    b.finish().unwrap()
}

/// Writes `stub + overlay` and returns the path.
fn packed(dir: &Path, frames: Vec<Frame>) -> PathBuf {
    let stub = dir.join("stub");
    fs_err::write(&stub, b"#!/bin/sh\necho stub\n").unwrap();
    let out = dir.join("app");
    write_executable(&stub, &out, OverlayParts { manifest: manifest(), frames, manifest_only: false }).unwrap();
    out
}

fn sample(dir: &Path) -> PathBuf {
    packed(dir, vec![frame(&[("python/main.py", b"print(1)"), ("frontend/index.html", b"<html>")])])
}

fn rewrite(path: &Path, f: impl FnOnce(&mut Vec<u8>)) {
    let mut b = fs_err::read(path).unwrap();
    f(&mut b);
    fs_err::write(path, b).unwrap();
}

#[test]
fn round_trip_and_index() {
    let dir = tempfile::tempdir().unwrap();
    let exe = sample(dir.path());
    let o = Overlay::open(&exe).unwrap();
    assert_eq!(o.manifest().entry_count, 2);
    assert!(o.manifest().content_hash.starts_with("blake3:"));
    let paths: Vec<_> = o.index().unwrap().into_iter().map(|e| e.path).collect();
    assert_eq!(paths, ["frontend/index.html", "python/main.py"]);
    let dest = dir.path().join("x");
    fs_err::create_dir(&dest).unwrap();
    let stats = o.extract_to(&dest).unwrap();
    assert_eq!(stats.files, 2);
    assert_eq!(fs_err::read(dest.join("python/main.py")).unwrap(), b"print(1)");
    // The stub is untouched at the front.
    assert!(fs_err::read(&exe).unwrap().starts_with(b"#!/bin/sh\necho stub\n"));
}

#[test]
fn same_inputs_give_identical_bytes() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    assert_eq!(fs_err::read(sample(a.path())).unwrap(), fs_err::read(sample(b.path())).unwrap());
}

#[test]
fn bytes_appended_after_the_overlay_are_tolerated() {
    let dir = tempfile::tempdir().unwrap();
    let exe = sample(dir.path());
    // A signature-like blob that even contains the trailer magic.
    rewrite(&exe, |b| {
        b.extend_from_slice(b"SIGNATURE AVPKTAIL garbage");
        b.extend(std::iter::repeat_n(0xAB, 5000));
    });
    let o = Overlay::open(&exe).unwrap();
    let dest = dir.path().join("x");
    fs_err::create_dir(&dest).unwrap();
    o.extract_to(&dest).unwrap();
}

#[test]
fn a_plain_file_has_no_overlay() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("plain");
    fs_err::write(&p, b"just bytes").unwrap();
    assert!(matches!(Overlay::open(&p), Err(Error::NotFound { .. })));
    let empty = dir.path().join("empty");
    fs_err::write(&empty, b"").unwrap();
    let e = Overlay::open(&empty).unwrap_err();
    assert!(e.to_string().contains("empty"), "{e}");
}

#[test]
fn truncated_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let exe = sample(dir.path());
    rewrite(&exe, |b| b.truncate(b.len() - 10));
    assert!(matches!(Overlay::open(&exe), Err(Error::NotFound { .. })));
}

#[test]
fn truncated_payload_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let exe = sample(dir.path());
    let o = Overlay::open(&exe).unwrap();
    // Cut the middle of the payload out and keep the trailer: lengths no longer add up.
    let start = (o.header_offset() + HEADER_LEN + o.header().manifest_len + o.header().index_len) as usize;
    rewrite(&exe, |b| {
        b.drain(start + 5..start + 25);
    });
    let e = Overlay::open(&exe).unwrap_err();
    assert!(matches!(e, Error::Corrupt { .. } | Error::NotFound { .. }), "{e}");
}

#[test]
fn bad_header_magic_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let exe = sample(dir.path());
    let at = Overlay::open(&exe).unwrap().header_offset() as usize;
    rewrite(&exe, |b| b[at] ^= 0xFF);
    let e = Overlay::open(&exe).unwrap_err();
    assert!(e.to_string().contains("bad header magic"), "{e}");
    assert!(e.to_string().contains(&exe.display().to_string()), "{e}");
}

#[test]
fn wrong_version_is_refused_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let exe = sample(dir.path());
    rewrite(&exe, |b| {
        let t = b.len() - TRAILER_LEN as usize;
        b[t + 8..t + 12].copy_from_slice(&99u32.to_le_bytes());
    });
    let e = Overlay::open(&exe).unwrap_err();
    assert!(matches!(e, Error::Version { found: 99, .. }), "{e}");
    assert!(e.to_string().contains("repack"), "{e}");
}

#[test]
fn bad_lengths_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let exe = sample(dir.path());
    let at = Overlay::open(&exe).unwrap().header_offset() as usize;
    rewrite(&exe, |b| b[at + 16..at + 24].copy_from_slice(&u64::MAX.to_le_bytes()));
    let e = Overlay::open(&exe).unwrap_err();
    assert!(matches!(e, Error::Corrupt { .. }), "{e}");
}

#[test]
fn corrupt_manifest_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let exe = sample(dir.path());
    let at = Overlay::open(&exe).unwrap().header_offset() as usize + HEADER_LEN as usize;
    rewrite(&exe, |b| b[at] = b'#');
    let e = Overlay::open(&exe).unwrap_err();
    assert!(e.to_string().contains("manifest"), "{e}");
}

#[test]
fn flipped_payload_byte_fails_the_hash_and_extraction() {
    let dir = tempfile::tempdir().unwrap();
    let exe = sample(dir.path());
    let o = Overlay::open(&exe).unwrap();
    let last_payload_byte =
        (o.header_offset() + HEADER_LEN + o.header().manifest_len + o.header().index_len + o.header().payload_len - 6)
            as usize;
    rewrite(&exe, |b| b[last_payload_byte] ^= 0x55);
    let o = Overlay::open(&exe).unwrap();
    assert!(matches!(o.verify(), Err(Error::HashMismatch { .. })));
    let dest = dir.path().join("x");
    fs_err::create_dir(&dest).unwrap();
    let e = o.extract_to(&dest).unwrap_err();
    assert!(matches!(e, Error::HashMismatch { .. } | Error::Corrupt { .. }), "{e}");
}

/// Builds a payload frame from raw tar bytes, bypassing the writer's own path checks.
fn raw_tar_frame(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Frame {
    let mut t = tar::Builder::new(Vec::new());
    build(&mut t);
    let bytes = t.into_inner().unwrap();
    Frame { compressed: zstd::encode_all(bytes.as_slice(), 3).unwrap(), index: vec![] }
}

fn header(kind: tar::EntryType, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(0o644);
    h
}

fn set_raw_name(h: &mut tar::Header, name: &str) {
    let gnu = h.as_gnu_mut().unwrap();
    gnu.name = [0; 100];
    gnu.name[..name.len()].copy_from_slice(name.as_bytes());
    h.set_cksum();
}

fn extract_err(frame: Frame) -> Error {
    let dir = tempfile::tempdir().unwrap();
    let exe = packed(dir.path(), vec![frame]);
    let dest = dir.path().join("x");
    fs_err::create_dir(&dest).unwrap();
    let e = Overlay::open(&exe).unwrap().extract_to(&dest).unwrap_err();
    assert!(!dir.path().join("evil").exists());
    e
}

#[test]
fn dotdot_entry_is_refused() {
    let frame = raw_tar_frame(|t| {
        let mut h = header(tar::EntryType::Regular, 4);
        set_raw_name(&mut h, "python/../../evil");
        t.append(&h, &b"evil"[..]).unwrap();
    });
    let e = extract_err(frame);
    assert!(matches!(e, Error::UnsafeEntry { why, .. } if why.contains("..")), "{e}");
}

#[test]
fn absolute_entry_is_refused() {
    let frame = raw_tar_frame(|t| {
        let mut h = header(tar::EntryType::Regular, 4);
        set_raw_name(&mut h, "/tmp/evil");
        t.append(&h, &b"evil"[..]).unwrap();
    });
    let e = extract_err(frame);
    assert!(matches!(e, Error::UnsafeEntry { why: "absolute path", .. }), "{e}");
}

#[test]
fn links_are_refused_even_inside_the_tree() {
    for (name, target) in [("python/escape", "../../etc"), ("python/inside", "../frontend")] {
        let frame = raw_tar_frame(|t| {
            let mut h = header(tar::EntryType::Symlink, 0);
            t.append_link(&mut h, name, target).unwrap();
        });
        let e = extract_err(frame);
        assert!(matches!(e, Error::UnsafeEntry { why, .. } if why.contains("links")), "{e}");
    }
}

/// The chain that made every link look harmless alone: `x -> .`, then a link reached through
/// `x/x/...` that climbs out, then a file written through it.
#[test]
fn a_link_chain_writes_nothing_outside() {
    let dir = tempfile::tempdir().unwrap();
    let outside = dir.path().join("outside");
    fs_err::create_dir(&outside).unwrap();
    let frame = raw_tar_frame(|t| {
        let mut h = header(tar::EntryType::Symlink, 0);
        t.append_link(&mut h, "x", ".").unwrap();
        let mut h = header(tar::EntryType::Symlink, 0);
        t.append_link(&mut h, "x/x/x/L", "../..").unwrap();
        let mut h = header(tar::EntryType::Regular, 4);
        let target = format!("L{}/planted", outside.display());
        t.append_data(&mut h, target.trim_start_matches('/'), &b"evil"[..]).unwrap();
    });
    let exe = packed(dir.path(), vec![frame]);
    let dest = dir.path().join("x");
    fs_err::create_dir(&dest).unwrap();
    let e = Overlay::open(&exe).unwrap().extract_to(&dest).unwrap_err();
    assert!(matches!(e, Error::UnsafeEntry { .. }), "{e}");
    assert!(!outside.join("planted").exists());
    assert_eq!(fs_err::read_dir(&dest).unwrap().count(), 0, "nothing extracted");
}

/// `extract OUT` into a directory someone prepared: a link already there is never followed.
#[test]
fn a_link_planted_in_the_destination_is_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let exe = sample(dir.path());
    let outside = dir.path().join("outside");
    fs_err::create_dir(&outside).unwrap();
    for planted in ["python", "frontend/index.html"] {
        let dest = dir.path().join(format!("dest-{}", planted.replace('/', "-")));
        fs_err::create_dir_all(dest.join("frontend")).unwrap();
        std::os::unix::fs::symlink(&outside, dest.join(planted)).unwrap();
        let e = Overlay::open(&exe).unwrap().extract_to(&dest).unwrap_err();
        assert!(e.to_string().contains(planted.split('/').next().unwrap()), "{e}");
        assert_eq!(fs_err::read_dir(&outside).unwrap().count(), 0, "{planted}: wrote through the link");
    }
}

#[test]
fn a_payload_larger_than_the_manifest_says_is_refused() {
    let frame = raw_tar_frame(|t| {
        let mut h = header(tar::EntryType::Regular, 4);
        t.append_data(&mut h, "python/big", &b"1234"[..]).unwrap();
    });
    let e = extract_err(frame);
    assert!(e.to_string().contains("larger than the manifest"), "{e}");
}

#[test]
fn extracted_modes_ignore_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let exe = sample(dir.path());
    let dest = dir.path().join("x");
    fs_err::create_dir(&dest).unwrap();
    // SAFETY: umask only changes this process's file-creation mask; tests in this binary that
    // create files concurrently at most get narrower modes than they asked for, never wider.
    let old = unsafe { libc_umask(0) };
    let result = Overlay::open(&exe).unwrap().extract_to(&dest);
    unsafe { libc_umask(old) };
    result.unwrap();
    for entry in walkdir(&dest) {
        let mode = fs_err::symlink_metadata(&entry).unwrap().permissions().mode();
        assert_eq!(mode & 0o022, 0, "{} is writable by others: {mode:o}", entry.display());
    }
}

unsafe extern "C" {
    #[link_name = "umask"]
    fn libc_umask(mask: u32) -> u32;
}

fn walkdir(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in fs_err::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walkdir(&p));
        }
        out.push(p);
    }
    out
}

#[test]
fn hard_link_is_refused() {
    let frame = raw_tar_frame(|t| {
        let mut h = header(tar::EntryType::Link, 0);
        t.append_link(&mut h, "python/hard", "python/other").unwrap();
    });
    let e = extract_err(frame);
    assert!(matches!(e, Error::UnsafeEntry { why, .. } if why.contains("hard")), "{e}");
}

#[test]
fn writer_refuses_unsafe_paths() {
    let mut b = FrameBuilder::new(1);
    b.add(SourceFile::from_bytes("../x", vec![]));
    assert!(b.finish().is_err());
}

#[test]
fn a_packed_file_used_as_stub_is_not_packed_twice() {
    let dir = tempfile::tempdir().unwrap();
    let exe = sample(dir.path());
    let again = dir.path().join("again");
    write_executable(
        &exe,
        &again,
        OverlayParts { manifest: manifest(), frames: vec![frame(&[("a", b"b")])], manifest_only: false },
    )
    .unwrap();
    let o = Overlay::open(&again).unwrap();
    assert_eq!(o.header_offset(), b"#!/bin/sh\necho stub\n".len() as u64);
}

#[test]
fn an_edited_manifest_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let exe = sample(dir.path());
    rewrite(&exe, |b| {
        let at = b.windows(11).position(|w| w == br#""name": "t""#).expect("the app's name in the manifest");
        b[at + 9] = b'u';
    });
    let e = Overlay::open(&exe).unwrap_err();
    assert!(e.to_string().contains("does not match its hash"), "{e}");
}

/// A small index section that decompresses to far more than its entry count needs is cut off at
/// the bound instead of being read whole.
#[test]
fn an_index_that_decompresses_past_its_bound_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut f = frame(&[("python/main.py", b"print(1)")]);
    f.index[0].path = "a".repeat(1 << 20);
    let exe = packed(dir.path(), vec![f]);
    let o = Overlay::open(&exe).unwrap();
    assert!(o.header().index_len < 4096, "compressed, the index is small");
    let e = o.index().unwrap_err();
    assert!(e.to_string().contains("larger than"), "{e}");
}

fn many_files(n: usize) -> Vec<(String, Vec<u8>)> {
    (0..n).map(|i| (format!("python/d{}/f{i}.py", i % 7), format!("# {i}\n").repeat(i % 50 + 1).into_bytes())).collect()
}

/// A tree large enough for the writer threads comes out whole.
#[test]
fn a_large_tree_is_written_whole() {
    let dir = tempfile::tempdir().unwrap();
    let files = many_files(300);
    let refs: Vec<(&str, &[u8])> = files.iter().map(|(p, c)| (p.as_str(), c.as_slice())).collect();
    let exe = packed(dir.path(), vec![frame(&refs)]);
    let dest = dir.path().join("x");
    fs_err::create_dir(&dest).unwrap();
    let stats = Overlay::open(&exe).unwrap().extract_to(&dest).unwrap();
    assert_eq!(stats.files, 300);
    for (p, c) in &files {
        assert_eq!(&fs_err::read(dest.join(p)).unwrap(), c, "{p}");
    }
}

/// An error in a writer thread (a file already in the way) is the extraction's error.
#[test]
fn a_writer_threads_error_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let files = many_files(300);
    let refs: Vec<(&str, &[u8])> = files.iter().map(|(p, c)| (p.as_str(), c.as_slice())).collect();
    let exe = packed(dir.path(), vec![frame(&refs)]);
    let dest = dir.path().join("x");
    fs_err::create_dir_all(dest.join("python/d3")).unwrap();
    fs_err::write(dest.join("python/d3/f150.py"), "already here").unwrap();
    let e = Overlay::open(&exe).unwrap().extract_to(&dest).unwrap_err();
    assert!(e.to_string().contains("f150.py") && e.to_string().contains("already there"), "{e}");
    assert_eq!(fs_err::read_to_string(dest.join("python/d3/f150.py")).unwrap(), "already here");
}
