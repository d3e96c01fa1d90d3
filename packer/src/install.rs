//! Installing `python.packages` into a staging `site-packages` for the bundled interpreter: with
//! `uv` when it is there (`$AURORAVIEW_UV`, else `uv` on `PATH`), which installs from its cache in
//! well under a second, else with the interpreter's own pip. Either way nothing is compiled (the
//! packer precompiles with its own flags) and packages come from the indexes pip is configured
//! with: pip's index settings (`index-url`, `extra-index-url`, `find-links`, `no-index`, `cert`,
//! from its config files and `PIP_*` variables) are handed to uv, and uv's own config files are
//! not read.

use crate::python::Interpreter;
use crate::report::Reporter;
use anyhow::{Context, Result, bail};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Which installer runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Installer {
    Uv(PathBuf),
    Pip,
}

impl Installer {
    /// `$AURORAVIEW_UV` (a path, or `pip` to force pip), else the first `uv` that runs of the one
    /// on `PATH` and the one beside `interp` (`pip install uv` put it there), else pip.
    pub fn find(interp: &Interpreter, report: &Reporter) -> Installer {
        let chosen = std::env::var_os("AURORAVIEW_UV").filter(|v| !v.is_empty());
        if chosen.as_deref() == Some("pip".as_ref()) {
            report.note("installer: pip (AURORAVIEW_UV=pip)".into());
            return Installer::Pip;
        }
        let candidates: Vec<(PathBuf, &str)> = match chosen {
            Some(p) => vec![(PathBuf::from(p), "AURORAVIEW_UV")],
            None => {
                let beside = interp.executable.parent().map(|d| d.join("uv")).filter(|p| p.is_file());
                crate::python::which("uv")
                    .map(|p| (p, "PATH"))
                    .into_iter()
                    .chain(beside.map(|p| (p, "beside the interpreter")))
                    .collect()
            }
        };
        if candidates.is_empty() {
            report.note(
                "installer: pip, as no uv was found ($AURORAVIEW_UV, PATH, beside the interpreter); `pip install uv` makes packing faster".into(),
            );
            return Installer::Pip;
        }
        for (uv, from) in candidates {
            match Command::new(&uv).arg("--version").output() {
                Ok(out) if out.status.success() => {
                    report.note(format!(
                        "installer: {} ({}, from {from})",
                        String::from_utf8_lossy(&out.stdout).trim(),
                        uv.display()
                    ));
                    return Installer::Uv(uv);
                }
                Ok(out) => report.note(format!(
                    "{} (from {from}) does not run: {}",
                    uv.display(),
                    String::from_utf8_lossy(&out.stderr).trim()
                )),
                Err(e) => report.note(format!("{} (from {from}) does not run: {e}", uv.display())),
            }
        }
        report.note("installer: pip, as no uv runs; `pip install uv` makes packing faster".into());
        Installer::Pip
    }

    pub fn name(&self) -> &'static str {
        match self {
            Installer::Uv(_) => "uv",
            Installer::Pip => "pip",
        }
    }

    /// Installs `packages` for `interp` into `target`, uncompiled, in directory `cwd` (local path
    /// requirements are relative to the project).
    pub fn install(&self, interp: &Interpreter, target: &Path, packages: &[String], cwd: &Path) -> Result<()> {
        match self {
            Installer::Pip => {
                let mut args: Vec<&std::ffi::OsStr> =
                    ["pip", "install", "--target"].iter().map(|s| s.as_ref()).collect();
                args.push(target.as_os_str());
                for a in ["--no-compile", "--no-warn-script-location", "--disable-pip-version-check", "--quiet"] {
                    args.push(a.as_ref());
                }
                args.extend(packages.iter().map(|p| p.as_ref() as &std::ffi::OsStr));
                interp.run_module_in(&args, cwd, "pip install")
            }
            Installer::Uv(uv) => {
                let pip = pip_index_settings(interp);
                let mut cmd = Command::new(uv);
                cmd.current_dir(cwd)
                    .args(["pip", "install", "--no-config", "--quiet", "--no-compile-bytecode", "--python"])
                    .arg(&interp.executable)
                    .arg("--target")
                    .arg(target)
                    .args(pip.args())
                    .args(packages)
                    .env_remove("PYTHONPATH")
                    .env_remove("PYTHONHOME")
                    .env_remove("UV_COMPILE_BYTECODE");
                if let Some(cert) = pip.cert.filter(|_| std::env::var_os("SSL_CERT_FILE").is_none()) {
                    cmd.env("SSL_CERT_FILE", cert);
                }
                let out = cmd.output().with_context(|| format!("running {}", uv.display()))?;
                if !out.status.success() {
                    bail!(
                        "uv pip install failed ({}):\n{}{}\nhint: AURORAVIEW_UV=pip installs with pip instead",
                        out.status,
                        String::from_utf8_lossy(&out.stdout),
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
                Ok(())
            }
        }
    }
}

/// pip's settings that decide where packages are downloaded from.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PipIndex {
    pub index_url: Option<String>,
    pub extra_index_urls: Vec<String>,
    pub find_links: Vec<String>,
    pub no_index: bool,
    pub cert: Option<OsString>,
}

impl PipIndex {
    /// The same settings as uv's arguments.
    pub fn args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if let Some(url) = &self.index_url {
            args.extend(["--index-url".to_string(), url.clone()]);
        }
        for url in &self.extra_index_urls {
            args.extend(["--extra-index-url".to_string(), url.clone()]);
        }
        if !self.extra_index_urls.is_empty() {
            // pip takes the best match over all indexes; uv's default stops at the first index.
            args.extend(["--index-strategy".to_string(), "unsafe-best-match".to_string()]);
        }
        for link in &self.find_links {
            args.extend(["--find-links".to_string(), link.clone()]);
        }
        if self.no_index {
            args.push("--no-index".to_string());
        }
        args
    }
}

/// Asks `interp`'s pip what it is configured with (`pip config list`: its files and `PIP_*`).
/// A pip that cannot say is taken as unconfigured: uv then uses the default index, as pip would.
fn pip_index_settings(interp: &Interpreter) -> PipIndex {
    let out = Command::new(&interp.executable)
        .args(["-m", "pip", "config", "list", "--disable-pip-version-check"])
        .env_remove("PYTHONPATH")
        .env_remove("PYTHONHOME")
        .output();
    match out {
        Ok(out) if out.status.success() => parse_pip_config(&String::from_utf8_lossy(&out.stdout)),
        _ => PipIndex::default(),
    }
}

/// Parses `pip config list` lines (`global.index-url='https://…'`, `:env:.find-links='/opt/w'`).
/// As in pip, a `PIP_*` variable wins over the `install` section, which wins over `global`.
pub fn parse_pip_config(text: &str) -> PipIndex {
    let rank = |section: &str| match section {
        ":env:" => 0,
        "install" => 1,
        "global" => 2,
        _ => 3,
    };
    let mut best: std::collections::BTreeMap<String, (u8, String)> = Default::default();
    for line in text.lines() {
        let Some((name, value)) = line.split_once('=') else { continue };
        let Some((section, key)) = name.rsplit_once('.') else { continue };
        let r = rank(section);
        if r == 3 {
            continue;
        }
        let value = value.trim().trim_matches('\'').trim_matches('"').to_string();
        if best.get(key).is_none_or(|(have, _)| r < *have) {
            best.insert(key.to_string(), (r, value));
        }
    }
    let get = |key: &str| best.get(key).map(|(_, v)| v.clone());
    let list = |key: &str| get(key).map(|v| v.split_whitespace().map(String::from).collect()).unwrap_or_default();
    let truthy =
        |v: Option<String>| v.is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"));
    PipIndex {
        index_url: get("index-url").filter(|v| !v.is_empty()),
        extra_index_urls: list("extra-index-url"),
        find_links: list("find-links"),
        no_index: truthy(get("no-index")),
        cert: get("cert").filter(|v| !v.is_empty()).map(OsString::from),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pip_settings_become_uv_arguments() {
        let text = "global.cert='/etc/ssl/certs/ca.crt'\n\
                    global.index-url='https://global.example/simple'\n\
                    install.index-url='https://install.example/simple'\n\
                    :env:.find-links='/opt/wheels /opt/more'\n\
                    global.extra-index-url='https://a.example/simple https://b.example/simple'\n\
                    global.timeout='60'\n";
        let pip = parse_pip_config(text);
        assert_eq!(pip.index_url.as_deref(), Some("https://install.example/simple"));
        assert_eq!(pip.cert, Some(OsString::from("/etc/ssl/certs/ca.crt")));
        assert_eq!(
            pip.args(),
            [
                "--index-url",
                "https://install.example/simple",
                "--extra-index-url",
                "https://a.example/simple",
                "--extra-index-url",
                "https://b.example/simple",
                "--index-strategy",
                "unsafe-best-match",
                "--find-links",
                "/opt/wheels",
                "--find-links",
                "/opt/more",
            ]
        );
        let env_wins =
            parse_pip_config(":env:.index-url='https://env.example'\nglobal.index-url='https://g.example'\n");
        assert_eq!(env_wins.index_url.as_deref(), Some("https://env.example"));
        assert!(parse_pip_config(":env:.no-index='true'\n").no_index);
        assert_eq!(parse_pip_config("").args(), Vec::<String>::new());
    }
}
