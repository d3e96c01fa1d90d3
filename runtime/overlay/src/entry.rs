//! The app's entry point as the config writes it: `module:function`, or a `file.py` script run as
//! `__main__`. The packer checks it with [`EntryPoint::parse`] when it reads the config, and the
//! runtime parses the manifest's copy with the same function when it starts the app.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryPoint {
    /// `module:function`: the function is called with no arguments.
    Function { module: String, function: String },
    /// A script, relative to the app's `python/` directory (absolute when run from sources).
    Script(PathBuf),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is neither `module:function` nor a `file.py` script")]
pub struct EntryPointError {
    pub text: String,
}

impl EntryPoint {
    pub fn parse(text: &str) -> Result<EntryPoint, EntryPointError> {
        if text.ends_with(".py") && !text.contains(':') {
            return Ok(EntryPoint::Script(PathBuf::from(text)));
        }
        let is_ident = |s: &str| {
            !s.is_empty()
                && !s.starts_with(|c: char| c.is_ascii_digit())
                && s.chars().all(|c| c.is_alphanumeric() || c == '_')
        };
        match text.split_once(':') {
            Some((module, function)) if module.split('.').all(is_ident) && is_ident(function) => {
                Ok(EntryPoint::Function { module: module.to_string(), function: function.to_string() })
            }
            _ => Err(EntryPointError { text: text.to_string() }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn functions_and_scripts() {
        assert_eq!(
            EntryPoint::parse("app.main:run"),
            Ok(EntryPoint::Function { module: "app.main".into(), function: "run".into() })
        );
        assert_eq!(EntryPoint::parse("main.py"), Ok(EntryPoint::Script("main.py".into())));
        assert_eq!(EntryPoint::parse("/src/app/main.py"), Ok(EntryPoint::Script("/src/app/main.py".into())));
        for bad in ["main", "main:", ":run", "1main:run", "main:run.py", "a..b:run", "main:run:x", "main-x:run", ""] {
            assert!(EntryPoint::parse(bad).is_err(), "{bad}");
        }
    }
}
