//! `clipboard`: the system clipboard's text.

use crate::{Failure, Outcome, lock, parse};
use serde::Deserialize;
use serde_json::Value;
use std::sync::Mutex;

/// Opened on first use and kept: on X11 the text this app copied is served from it for as long as
/// it lives.
#[derive(Default)]
pub struct Clipboard(Mutex<Option<arboard::Clipboard>>);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Text {
    text: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Nothing {}

pub fn run(clipboard: &Clipboard, method: &str, params: Value) -> Outcome {
    let mut slot = lock(&clipboard.0);
    if slot.is_none() {
        *slot = Some(arboard::Clipboard::new().map_err(|e| Failure::plugin(format!("{method}: no clipboard: {e}")))?);
    }
    let Some(cb) = slot.as_mut() else { unreachable!("set above") };
    let failed = |e: arboard::Error| Failure::plugin(format!("{method}: {e}"));
    match method {
        "clipboard.read_text" => {
            let Nothing {} = parse(method, params)?;
            match cb.get_text() {
                Ok(text) => Ok(text.into()),
                Err(arboard::Error::ContentNotAvailable) => Ok(Value::Null),
                Err(e) => Err(failed(e)),
            }
        }
        "clipboard.write_text" => {
            let Text { text } = parse(method, params)?;
            cb.set_text(text).map_err(failed)?;
            Ok(Value::Null)
        }
        _ => {
            let Nothing {} = parse(method, params)?;
            cb.clear().map_err(failed)?;
            Ok(Value::Null)
        }
    }
}
