//! `dialog`: native dialogs, shown by the window (GTK on Linux). This side checks the request and
//! hands the window a normalised one; the window answers with the chosen path(s), or null when the
//! user cancelled.

use crate::{Failure, parse};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    name: String,
    /// Without dots: `["png", "jpg"]`.
    extensions: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Files {
    title: Option<String>,
    #[serde(default)]
    filters: Vec<Filter>,
    #[serde(default)]
    multiple: bool,
    default_path: Option<String>,
    default_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Message {
    title: Option<String>,
    message: String,
    /// `info`, `warning` or `error`.
    level: Option<String>,
}

/// The request the window gets for `method`, without its token.
pub fn request(method: &str, params: Value) -> Result<Value, Failure> {
    let kind = method.strip_prefix("dialog.").unwrap_or(method);
    match kind {
        "open_file" | "open_folder" | "save_file" => {
            let f: Files = parse(method, params)?;
            for filter in &f.filters {
                if let Some(bad) = filter.extensions.iter().find(|e| e.is_empty() || e.contains(['/', '*', '.'])) {
                    return Err(Failure::params(format!(
                        "{method}: filter {:?} has extension {bad:?}; give extensions without dots or wildcards, e.g. \"png\"",
                        filter.name
                    )));
                }
            }
            if kind == "save_file" && f.multiple {
                return Err(Failure::params(format!("{method}: multiple is for open_file and open_folder")));
            }
            Ok(json!({
                "kind": kind,
                "title": f.title.unwrap_or_else(|| default_title(kind).into()),
                "filters": f.filters,
                "multiple": f.multiple,
                "default_path": f.default_path,
                "default_name": f.default_name,
            }))
        }
        "message" | "confirm" => {
            let m: Message = parse(method, params)?;
            let level = m.level.unwrap_or_else(|| "info".into());
            if !["info", "warning", "error"].contains(&level.as_str()) {
                return Err(Failure::params(format!("{method}: level {level:?} is not info, warning or error")));
            }
            Ok(json!({"kind": kind, "title": m.title.unwrap_or_default(), "message": m.message, "level": level}))
        }
        _ => Err(Failure::params(format!(
            "unknown plugin command {method:?}; dialog has open_file, open_folder, save_file, message, confirm"
        ))),
    }
}

fn default_title(kind: &str) -> &'static str {
    match kind {
        "open_folder" => "Open Folder",
        "save_file" => "Save File",
        _ => "Open File",
    }
}
