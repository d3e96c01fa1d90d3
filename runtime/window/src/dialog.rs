//! Native dialogs (GTK), shown for the `dialog` plugin without blocking the event loop. The plugin
//! host has checked the request; this shows it and answers `{"token", "result"}` (the chosen
//! path, a list of paths, a boolean for `confirm`, null when cancelled) or `{"token", "error"}`.

use gtk::prelude::*;
use serde_json::{Value, json};

/// Shows the dialog `request` asks for over `parent`; `done` gets the answer line when it closes.
pub fn show(parent: &gtk::Window, request: &str, done: impl FnOnce(String) + 'static) {
    let req: Value = serde_json::from_str(request).unwrap_or_default();
    let token = req["token"].clone();
    let text = |key: &str| req[key].as_str().unwrap_or_default().to_string();
    let answer = move |result: Result<Value, String>| {
        done(
            match result {
                Ok(v) => json!({"token": token, "result": v}),
                Err(e) => json!({"token": token, "error": e}),
            }
            .to_string(),
        )
    };
    match req["kind"].as_str().unwrap_or_default() {
        kind @ ("open_file" | "open_folder" | "save_file") => {
            let (action, accept) = match kind {
                "open_folder" => (gtk::FileChooserAction::SelectFolder, "_Open"),
                "save_file" => (gtk::FileChooserAction::Save, "_Save"),
                _ => (gtk::FileChooserAction::Open, "_Open"),
            };
            let title = text("title");
            let dialog = gtk::FileChooserDialog::with_buttons(
                Some(title.as_str()),
                Some(parent),
                action,
                &[("_Cancel", gtk::ResponseType::Cancel), (accept, gtk::ResponseType::Accept)],
            );
            dialog.set_modal(true);
            let multiple = req["multiple"].as_bool().unwrap_or(false);
            dialog.set_select_multiple(multiple);
            for f in req["filters"].as_array().into_iter().flatten() {
                let filter = gtk::FileFilter::new();
                filter.set_name(f["name"].as_str());
                for ext in f["extensions"].as_array().into_iter().flatten().filter_map(Value::as_str) {
                    filter.add_pattern(&format!("*.{ext}"));
                }
                dialog.add_filter(filter);
            }
            if let Some(path) = req["default_path"].as_str() {
                let path = std::path::Path::new(path);
                if path.is_dir() {
                    dialog.set_current_folder(path);
                } else {
                    dialog.set_filename(path);
                }
            }
            if kind == "save_file" {
                dialog.set_do_overwrite_confirmation(true);
                if let Some(name) = req["default_name"].as_str() {
                    dialog.set_current_name(name);
                }
            }
            let answer = std::cell::Cell::new(Some(answer));
            dialog.connect_response(move |d, response| {
                let chosen = (response == gtk::ResponseType::Accept).then(|| d.filenames());
                d.close();
                let result = match chosen {
                    None => Value::Null,
                    Some(paths) => {
                        let paths: Vec<Value> = paths.iter().map(|p| p.display().to_string().into()).collect();
                        if multiple { Value::Array(paths) } else { paths.into_iter().next().unwrap_or(Value::Null) }
                    }
                };
                if let Some(a) = answer.take() {
                    a(Ok(result));
                }
            });
            dialog.show_all();
        }
        kind @ ("message" | "confirm") => {
            let level = match req["level"].as_str() {
                Some("warning") => gtk::MessageType::Warning,
                Some("error") => gtk::MessageType::Error,
                _ if kind == "confirm" => gtk::MessageType::Question,
                _ => gtk::MessageType::Info,
            };
            let buttons = if kind == "confirm" { gtk::ButtonsType::OkCancel } else { gtk::ButtonsType::Ok };
            let message = text("message");
            let dialog =
                gtk::MessageDialog::new(Some(parent), gtk::DialogFlags::MODAL, level, buttons, message.as_str());
            let title = text("title");
            if !title.is_empty() {
                dialog.set_title(&title);
            }
            let confirm = kind == "confirm";
            let answer = std::cell::Cell::new(Some(answer));
            dialog.connect_response(move |d, response| {
                d.close();
                let result = if confirm { Value::Bool(response == gtk::ResponseType::Ok) } else { Value::Null };
                if let Some(a) = answer.take() {
                    a(Ok(result));
                }
            });
            dialog.show_all();
        }
        other => answer(Err(format!("the window cannot show a dialog of kind {other:?}"))),
    }
}
