//! The glibc floor: a bundled runtime's extension modules and shared libraries were linked on the
//! packing machine and need its glibc's symbol versions (`GLIBC_2.34`, ...). The packer records the
//! highest one (`RuntimeInfo::glibc_floor`); on an older glibc the app would fail later, at an
//! `import ssl`, with the loader's message. This check says so at start, in one line.

use anyhow::{Result, bail};

/// The running glibc's version (`2.36`); `None` where there is no glibc (musl) or it says nothing.
pub fn running() -> Option<String> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: gnu_get_libc_version returns a pointer to a static NUL-terminated string.
        let v = unsafe { std::ffi::CStr::from_ptr(libc::gnu_get_libc_version()) };
        Some(v.to_string_lossy().into_owned())
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        None
    }
}

fn parse(version: &str) -> Option<Vec<u32>> {
    let v: Option<Vec<u32>> = version.trim().split('.').map(|p| p.parse().ok()).collect();
    v.filter(|v| !v.is_empty())
}

/// Refuses to run when the app needs a newer glibc than `running` (`None`: not a glibc system, or
/// an unreadable version, which the loader will judge by itself).
pub fn check(floor: Option<&str>, running: Option<&str>) -> Result<()> {
    let (Some(floor), Some(running)) = (floor, running) else { return Ok(()) };
    let (Some(need), Some(have)) = (parse(floor), parse(running)) else { return Ok(()) };
    if have < need {
        bail!(
            "this app needs glibc {floor} or newer, but this machine has glibc {running}: its bundled Python runtime was packed on a newer system\nhint: run it on a distribution with glibc {floor} or newer, or repack it on a machine with glibc {running} or older"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_floor_above_the_running_glibc_is_refused_naming_both() {
        let err = format!("{:#}", check(Some("2.99"), Some("2.36")).unwrap_err());
        assert!(err.contains("needs glibc 2.99 or newer") && err.contains("has glibc 2.36"), "{err}");
        // Compared as numbers, not text.
        assert!(check(Some("2.4"), Some("2.36")).is_ok());
        assert!(check(Some("2.36"), Some("2.36")).is_ok());
        assert!(check(Some("2.10"), Some("2.9")).is_err());
        assert!(check(None, Some("2.36")).is_ok());
        assert!(check(Some("2.99"), None).is_ok());
    }

    #[test]
    fn the_running_glibc_passes_its_own_floor_and_fails_a_higher_one() {
        let Some(have) = running() else { return };
        let v = parse(&have).expect("glibc says MAJOR.MINOR");
        assert!(check(Some(&have), Some(&have)).is_ok());
        let above = format!("{}.{}", v[0], v.get(1).copied().unwrap_or(0) + 1);
        let err = format!("{:#}", check(Some(&above), running().as_deref()).unwrap_err());
        assert!(err.contains(&above) && err.contains(&have), "{err}");
    }
}
