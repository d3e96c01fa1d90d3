//! The reference AuroraView's config format (`[package]`, `[backend.python]`, `[bundle]`, ...), read
//! as a second dialect of `auroraview.pack.toml`.
//!
//! A file in that format is rewritten into ours (comments kept where they can be) and then parsed
//! by the one parser, so `build`, `dev`, `inspect` and `migrate` see the same [`Config`]. Every key
//! is either mapped, accepted because its value is what this packer does anyway, or refused with
//! its line and column: nothing is silently dropped. The README's "The reference AuroraView's
//! format" lists the mapping.
//!
//! [`Config`]: crate::config::Config

use crate::config::{ConfigError, Source};
use toml_edit::{ArrayOfTables, DocumentMut, Item, Key, Table, Value};

/// Whether `text` is in the reference format: it has a `[package]` or a `[backend]` table.
pub fn is_reference(text: &str) -> bool {
    let Ok(doc) = toml::de::DeTable::parse(text) else { return false };
    doc.get_ref().iter().any(|(k, _)| matches!(k.get_ref().as_ref(), "package" | "backend"))
}

/// A reference-format file rewritten into ours.
#[derive(Debug)]
pub struct Migration {
    /// The file in our format.
    pub text: String,
    /// Our dotted key and the reference key it came from, to point errors at the original.
    origins: Vec<(String, Vec<String>)>,
}

impl Migration {
    /// An error about [`Migration::text`], pointed at the key and line of the original file.
    pub fn remap(&self, src: &Source, e: ConfigError) -> ConfigError {
        let Some(key) = e.key.as_deref() else { return ConfigError { line: None, ..e } };
        let best = self
            .origins
            .iter()
            .filter(|(ours, _)| key == ours || key.starts_with(&format!("{ours}.")))
            .max_by_key(|(ours, _)| ours.len());
        match best {
            Some((ours, theirs)) => {
                let mut path = theirs.clone();
                path.extend(key[ours.len()..].split('.').filter(|s| !s.is_empty()).map(String::from));
                let refs: Vec<&str> = path.iter().map(String::as_str).collect();
                let line = src.span_of(&refs).map(|s| src.line_col(s.start));
                ConfigError { line, key: Some(path.join(".")), ..e }
            }
            None => ConfigError { line: None, ..e },
        }
    }
}

/// Our tables, in the order they are written.
const ORDER: [&str; 7] = ["app", "window", "frontend", "python", "hooks", "env", "license"];

struct Out<'a> {
    src: &'a Source<'a>,
    tables: Vec<Table>,
    origins: Vec<(String, Vec<String>)>,
    /// Comments above a reference table that has no counterpart, for the first key moved out of it.
    pending: String,
}

fn path_of(path: &[&str]) -> Vec<String> {
    path.iter().map(|s| s.to_string()).collect()
}

fn comments(decor: &toml_edit::Decor) -> String {
    decor.prefix().and_then(|p| p.as_str()).unwrap_or("").to_string()
}

impl<'a> Out<'a> {
    fn new(src: &'a Source<'a>) -> Self {
        let tables = ORDER
            .iter()
            .map(|_| {
                let mut t = Table::new();
                t.set_implicit(true);
                t
            })
            .collect();
        Out { src, tables, origins: Vec::new(), pending: String::new() }
    }

    fn table(&mut self, name: &str) -> &mut Table {
        let i = ORDER.iter().position(|n| *n == name).expect("one of our tables");
        &mut self.tables[i]
    }

    /// Comments above a reference table go onto our table `name`.
    fn table_comments(&mut self, name: &str, decor: &str) {
        if decor.trim().is_empty() {
            return;
        }
        let t = self.table(name);
        let before = comments(t.decor());
        t.decor_mut().set_prefix(format!("{before}{decor}"));
    }

    /// Writes `ours_table.ours_key = item`, keeping the comments of `key`, and remembers where it came from.
    fn put(&mut self, ours: (&str, &str), key: Option<&Key>, item: Item, origin: &[&str]) {
        let mut k = Key::new(ours.1);
        if let Some(src_key) = key {
            k = k.with_leaf_decor(src_key.leaf_decor().clone());
        }
        let pending = std::mem::take(&mut self.pending);
        if !pending.trim().is_empty() {
            let own = comments(k.leaf_decor());
            k.leaf_decor_mut().set_prefix(format!("{pending}{own}"));
        }
        let mut item = item;
        tidy(&mut k, &mut item);
        self.table(ours.0).insert_formatted(&k, item);
        self.origins.push((format!("{}.{}", ours.0, ours.1), path_of(origin)));
    }

    fn has(&mut self, ours: (&str, &str)) -> bool {
        self.table(ours.0).contains_key(ours.1)
    }

    fn error(&self, path: &[&str], message: impl Into<String>, hint: impl Into<String>) -> ConfigError {
        self.src.error(path, message, Some(hint.into()))
    }

    fn unsupported(&self, path: &[&str]) -> ConfigError {
        self.error(
            path,
            "this key of the reference AuroraView's format is not supported yet".to_string(),
            "remove it; the README's \"The reference AuroraView's format\" lists every key that maps".to_string(),
        )
    }

    /// `key` is accepted only with the value this packer's behaviour already has.
    fn only(&self, path: &[&str], item: &Item, ok: fn(&Item) -> bool, what: &str) -> Result<(), ConfigError> {
        if ok(item) {
            Ok(())
        } else {
            Err(self.error(
                path,
                format!(
                    "`{}` is not supported yet: only {what}, what this packer does anyway, is accepted",
                    item.to_string().trim()
                ),
                format!(
                    "write {what} or remove the key; the README's \"The reference AuroraView's format\" lists what maps"
                ),
            ))
        }
    }

    fn finish(mut self, trailing: &str) -> Migration {
        let mut doc = DocumentMut::new();
        let mut pos = 0isize;
        for (name, mut table) in ORDER.iter().zip(std::mem::take(&mut self.tables)) {
            if table.is_empty() {
                continue;
            }
            table.set_position(Some(pos));
            pos += 1;
            // `[hooks]` holds only `[[hooks.collect]]`: no header of its own.
            if *name == "hooks" {
                table.set_implicit(true);
                if let Some(Item::ArrayOfTables(arr)) = table.get_mut("collect") {
                    for t in arr.iter_mut() {
                        t.set_position(Some(pos));
                        pos += 1;
                    }
                }
            } else {
                table.set_implicit(false);
            }
            doc.insert(name, Item::Table(table));
        }
        doc.set_trailing(trailing);
        let mut text = doc.to_string();
        if text.starts_with('\n') {
            text = text.trim_start_matches('\n').to_string();
        }
        Migration { text, origins: self.origins }
    }
}

/// Whitespace-only decor (as in an inline table, `{ A = "1" }`) becomes the default layout.
fn tidy(key: &mut Key, item: &mut Item) {
    if comments(key.leaf_decor()).trim().is_empty() {
        key.leaf_decor_mut().set_prefix("");
        key.leaf_decor_mut().set_suffix(" ");
    }
    if let Some(v) = item.as_value_mut() {
        let suffix = v.decor().suffix().and_then(|s| s.as_str()).unwrap_or("").to_string();
        if suffix.trim().is_empty() {
            v.decor_mut().set_suffix("");
        }
        v.decor_mut().set_prefix(" ");
    }
}

fn is_false(i: &Item) -> bool {
    i.as_bool() == Some(false)
}

fn is_empty(i: &Item) -> bool {
    i.as_array().is_some_and(|a| a.is_empty()) || i.as_table_like().is_some_and(|t| t.is_empty())
}

/// The entries of a table (`[t]`, inline or dotted), keys with their comments.
fn entries(item: &Item) -> Vec<(String, Key, Item)> {
    let Some(t) = item.as_table_like() else { return Vec::new() };
    t.iter()
        .filter_map(|(name, _)| t.get_key_value(name).map(|(k, v)| (name.to_string(), k.clone(), v.clone())))
        .collect()
}

fn decor_of(item: &Item) -> String {
    item.as_table().map(|t| comments(t.decor())).unwrap_or_default()
}

/// A plain value with the formatting it had, for a key that moves as it is.
fn moved(item: &Item) -> Item {
    match item {
        // An inline table written as `[table]` in the reference stays a table.
        Item::Table(t) => Item::Table(t.clone()),
        other => other.clone(),
    }
}

/// Rewrites a reference-format file into ours. Fails on the first key that cannot be mapped.
pub fn translate(src: &Source) -> Result<Migration, ConfigError> {
    let doc: DocumentMut = src.text.parse().map_err(|e: toml_edit::TomlError| ConfigError {
        file: src.file.to_path_buf(),
        line: e.span().map(|s| src.line_col(s.start)),
        key: None,
        message: e.message().trim().to_string(),
        hint: Some("fix the TOML syntax".into()),
    })?;
    let mut out = Out::new(src);
    let root = doc.as_table();

    if root.get("backend").is_none() {
        let line = src.span_of(&["package"]).map(|s| src.line_col(s.start));
        return Err(ConfigError {
            file: src.file.to_path_buf(),
            line,
            key: Some("backend".into()),
            message: "without `[backend]` the reference format packs a frontend-only app, which is not supported yet"
                .into(),
            hint: Some("add `[backend]` with `type = \"python\"` and `[backend.python]` `entry_point`".into()),
        });
    }
    if root.get("package").and_then(|p| p.as_table_like()).and_then(|p| p.get("name")).is_none() {
        let line = src.span_of(&["package"]).map(|s| src.line_col(s.start));
        return Err(ConfigError {
            file: src.file.to_path_buf(),
            line,
            key: Some("package.name".into()),
            message: "missing `name` in `[package]`".into(),
            hint: Some("add:\n[package]\nname = \"my-app\"".into()),
        });
    }

    let mut env_origin: Vec<(String, Vec<String>)> = Vec::new();
    for (table, _) in root.iter() {
        let item = root.get(table).expect("present");
        let decor = decor_of(item);
        let t = table;
        if item.as_table_like().is_none() {
            return Err(out.error(
                &[t],
                format!("`{t}` is not a table of the reference AuroraView's format"),
                "the reference format has [package], [frontend], [backend], [window], [bundle], [build], [hooks], [runtime], [debug], [license] and [inject]",
            ));
        }
        match t {
            "package" => {
                out.table_comments("app", &decor);
                for (name, key, value) in entries(item) {
                    let p = ["package", name.as_str()];
                    match name.as_str() {
                        "name" | "version" | "title" => out.put(("app", &name), Some(&key), moved(&value), &p),
                        _ => return Err(out.unsupported(&p)),
                    }
                }
            }
            "frontend" => {
                out.table_comments("frontend", &decor);
                for (name, key, value) in entries(item) {
                    let p = ["frontend", name.as_str()];
                    match name.as_str() {
                        "path" => out.put(("frontend", "path"), Some(&key), moved(&value), &p),
                        _ => return Err(out.unsupported(&p)),
                    }
                }
            }
            "backend" => {
                out.table_comments("python", &decor);
                let kind = item.as_table_like().and_then(|b| b.get("type"));
                match kind {
                    Some(k) if k.as_str() == Some("python") => {}
                    Some(_) => {
                        return Err(out.error(
                            &["backend", "type"],
                            "only the `python` backend is supported yet",
                            "write `type = \"python\"` with `[backend.python]`",
                        ));
                    }
                    None if item.as_table_like().is_some_and(|b| b.contains_key("python")) => {}
                    None => {
                        return Err(out.error(
                            &["backend"],
                            "`[backend]` without `type = \"python\"` is not supported yet",
                            "write `type = \"python\"` with `[backend.python]`",
                        ));
                    }
                }
                for (name, _key, value) in entries(item) {
                    match name.as_str() {
                        "type" => {}
                        "python" => backend_python(&mut out, &value)?,
                        "process" => backend_process(&mut out, &value, &mut env_origin)?,
                        _ => return Err(out.unsupported(&["backend", &name])),
                    }
                }
            }
            "window" => {
                out.table_comments("window", &decor);
                for (name, key, value) in entries(item) {
                    let p = ["window", name.as_str()];
                    match name.as_str() {
                        "width" | "height" | "resizable" => out.put(("window", &name), Some(&key), moved(&value), &p),
                        "title" => {
                            if let Some(existing) = out.table("app").get("title").cloned() {
                                if existing.as_str() != value.as_str() {
                                    return Err(out.error(
                                        &p,
                                        "differs from `package.title`; this packer has one title",
                                        "keep one of the two",
                                    ));
                                }
                            } else {
                                out.put(("app", "title"), Some(&key), moved(&value), &p);
                            }
                        }
                        "always_on_top" | "fullscreen" | "maximized" | "min_width" | "min_height" | "max_width"
                        | "max_height" => out.put(("window", &name), Some(&key), moved(&value), &p),
                        // Our `decorations` says the opposite of the reference's `frameless`.
                        "frameless" => match value.as_bool() {
                            Some(frameless) => {
                                let mut v = Value::from(!frameless);
                                if let Some(old) = value.as_value() {
                                    *v.decor_mut() = old.decor().clone();
                                }
                                out.put(("window", "decorations"), Some(&key), Item::Value(v), &p)
                            }
                            None => return Err(out.error(&p, "expected a boolean", "write `true` or `false`")),
                        },
                        "transparent" => out.only(&p, &value, is_false, "`false`")?,
                        _ => return Err(out.unsupported(&p)),
                    }
                }
            }
            "bundle" => {
                out.pending.push_str(&decor);
                for (name, key, value) in entries(item) {
                    let p = ["bundle", name.as_str()];
                    match name.as_str() {
                        "resources" | "external_bin" => {
                            if is_empty(&value) {
                                continue;
                            }
                            if out.has(("python", &name)) {
                                return Err(out.error(&p, "given twice", "keep one list"));
                            }
                            out.put(("python", &name), Some(&key), moved(&value), &p)
                        }
                        "icon" => out.put(("app", "icon"), Some(&key), moved(&value), &p),
                        _ => return Err(out.unsupported(&p)),
                    }
                }
            }
            "build" => {
                out.pending.push_str(&decor);
                for (name, key, value) in entries(item) {
                    let p = ["build", name.as_str()];
                    match name.as_str() {
                        "before" => {
                            let command = match &value {
                                Item::Value(Value::String(s)) => Some(s.value().clone()),
                                Item::Value(Value::Array(a)) => {
                                    let parts: Option<Vec<String>> =
                                        a.iter().map(|v| v.as_str().map(String::from)).collect();
                                    let Some(parts) = parts else {
                                        return Err(out.error(
                                            &p,
                                            "expected a command or an array of commands",
                                            "write e.g. `before = [\"npm run build\"]`",
                                        ));
                                    };
                                    (!parts.is_empty()).then(|| parts.join(" && "))
                                }
                                _ => {
                                    return Err(out.error(
                                        &p,
                                        "expected a command or an array of commands",
                                        "write e.g. `before = [\"npm run build\"]`",
                                    ));
                                }
                            };
                            if let Some(command) = command {
                                let mut v = Value::from(command);
                                if let Some(old) = value.as_value() {
                                    *v.decor_mut() = old.decor().clone();
                                }
                                out.put(("frontend", "build"), Some(&key), Item::Value(v), &p);
                            }
                        }
                        "out_dir" => {
                            if value.as_str().is_none() {
                                return Err(out.error(
                                    &p,
                                    "expected a directory",
                                    "write e.g. `out_dir = \"release\"`",
                                ));
                            }
                            out.put(("app", "out_dir"), Some(&key), value.clone(), &p);
                        }
                        "after" => out.only(&p, &value, is_empty, "an empty list")?,
                        _ => return Err(out.unsupported(&p)),
                    }
                }
            }
            "hooks" => {
                out.table_comments("hooks", &decor);
                for (name, _key, value) in entries(item) {
                    let p = ["hooks", name.as_str()];
                    match name.as_str() {
                        "collect" => hooks_collect(&mut out, &value)?,
                        "before_collect" | "after_pack" => out.only(&p, &value, is_empty, "an empty list")?,
                        _ => return Err(out.unsupported(&p)),
                    }
                }
            }
            "runtime" => {
                out.table_comments("env", &decor);
                for (name, _key, value) in entries(item) {
                    match name.as_str() {
                        "env" => {
                            out.table_comments("env", &decor_of(&value));
                            put_env(&mut out, &value, &["runtime", "env"], &mut env_origin)?
                        }
                        _ => return Err(out.unsupported(&["runtime", &name])),
                    }
                }
            }
            "debug" => {
                out.pending.push_str(&decor);
                let mut seen: Option<(String, bool)> = None;
                for (name, key, value) in entries(item) {
                    let p = ["debug", name.as_str()];
                    match name.as_str() {
                        "enabled" | "devtools" => {
                            let Some(on) = value.as_bool() else {
                                return Err(out.error(&p, "expected a boolean", "write `true` or `false`"));
                            };
                            match &seen {
                                Some((first, was)) if *was != on => {
                                    return Err(out.error(
                                        &p,
                                        format!("a value other than `debug.{first}`'s is not supported yet: this packer's `window.debug` turns devtools and the debug log on together"),
                                        "give both the same value",
                                    ));
                                }
                                Some(_) => {}
                                None => {
                                    seen = Some((name.clone(), on));
                                    out.put(("window", "debug"), Some(&key), moved(&value), &p);
                                }
                            }
                        }
                        "verbose" => out.only(&p, &value, is_false, "`false`")?,
                        _ => return Err(out.unsupported(&p)),
                    }
                }
            }
            "license" => {
                out.table_comments("license", &decor);
                for (name, key, value) in entries(item) {
                    let p = ["license", name.as_str()];
                    match name.as_str() {
                        "type" | "public_key" | "expires_at" | "grace_period_days" => {
                            out.put(("license", &name), Some(&key), moved(&value), &p)
                        }
                        "enabled" => out.only(&p, &value, is_false, "`false` (no license check)")?,
                        _ => return Err(out.unsupported(&p)),
                    }
                }
            }
            "inject" => {
                if let Some((name, _, _)) = entries(item).into_iter().next() {
                    return Err(out.unsupported(&["inject", &name]));
                }
            }
            _ => {
                return Err(out.error(
                    &[t],
                    format!("`[{t}]` is not a table of the reference AuroraView's format"),
                    "a file with `[package]` or `[backend]` is read in the reference format; do not mix in this packer's tables (or run `auroraview-pack migrate` first)",
                ));
            }
        }
    }
    out.origins.extend(env_origin);
    // `[backend]` with `type` only: our `[python]` defaults.
    Ok(out.finish(doc.trailing().as_str().unwrap_or("")))
}

fn backend_python(out: &mut Out, item: &Item) -> Result<(), ConfigError> {
    out.table_comments("python", &decor_of(item));
    for (name, key, value) in entries(item) {
        let p = ["backend", "python", name.as_str()];
        match name.as_str() {
            "version"
            | "entry_point"
            | "packages"
            | "include_paths"
            | "exclude"
            | "strategy"
            | "module_search_paths"
            | "filesystem_importer" => out.put(("python", &name), Some(&key), moved(&value), &p),
            "optimize" => out.only(&p, &value, |v| v.as_integer() == Some(0), "`0`")?,
            _ => return Err(out.unsupported(&p)),
        }
    }
    Ok(())
}

fn backend_process(out: &mut Out, item: &Item, env_origin: &mut Vec<(String, Vec<String>)>) -> Result<(), ConfigError> {
    out.pending.push_str(&decor_of(item));
    let t = item.as_table_like().expect("a table");
    let restart = t.get("restart_on_crash");
    for (name, key, value) in entries(item) {
        let p = ["backend", "process", name.as_str()];
        match name.as_str() {
            "max_restarts" => {
                if restart.is_some_and(is_false) {
                    return Err(out.error(&p, "conflicts with `restart_on_crash = false`", "remove one of the two"));
                }
                out.put(("python", "max_restarts"), Some(&key), moved(&value), &p)
            }
            "restart_on_crash" => match value.as_bool() {
                // A crash-safe child process that is restarted: our `isolation = "process"`.
                Some(true) => {
                    let mut v = Value::from("process");
                    if let Some(old) = value.as_value() {
                        *v.decor_mut() = old.decor().clone();
                    }
                    out.put(("python", "isolation"), Some(&key), Item::Value(v), &p)
                }
                // Nothing restarts the backend: in a child process (`system`) no restarts either.
                Some(false) => {
                    let mut v = Value::from(0i64);
                    if let Some(old) = value.as_value() {
                        *v.decor_mut() = old.decor().clone();
                    }
                    out.put(("python", "max_restarts"), Some(&key), Item::Value(v), &p)
                }
                None => return Err(out.error(&p, "expected a boolean", "write `true` or `false`")),
            },
            "env" => put_env(out, &value, &p, env_origin)?,
            "args" => out.only(&p, &value, is_empty, "an empty list")?,
            "console" => out.only(&p, &value, is_false, "`false`")?,
            _ => return Err(out.unsupported(&p)),
        }
    }
    Ok(())
}

fn put_env(
    out: &mut Out,
    item: &Item,
    path: &[&str],
    env_origin: &mut Vec<(String, Vec<String>)>,
) -> Result<(), ConfigError> {
    if item.as_table_like().is_none() {
        return Err(out.error(path, "expected a table of strings", "write e.g. `[runtime.env]` `KEY = \"value\"`"));
    }
    for (name, key, value) in entries(item) {
        let mut p: Vec<&str> = path.to_vec();
        p.push(&name);
        if let Some(existing) = out.table("env").get(&name).cloned() {
            if existing.as_str() != value.as_str() {
                return Err(out.error(&p, "set twice with different values", "keep one"));
            }
            continue;
        }
        let mut k = key.clone();
        let pending = std::mem::take(&mut out.pending);
        if !pending.trim().is_empty() {
            let own = comments(k.leaf_decor());
            k.leaf_decor_mut().set_prefix(format!("{pending}{own}"));
        }
        let mut item = moved(&value);
        tidy(&mut k, &mut item);
        out.table("env").insert_formatted(&k, item);
        env_origin.push((format!("env.{name}"), path_of(&p)));
    }
    Ok(())
}

fn hooks_collect(out: &mut Out, item: &Item) -> Result<(), ConfigError> {
    let entries_of: Vec<(Item, String)> = match item {
        Item::ArrayOfTables(arr) => arr.iter().map(|t| (Item::Table(t.clone()), comments(t.decor()))).collect(),
        Item::Value(Value::Array(arr)) => arr.iter().map(|v| (Item::Value(v.clone()), String::new())).collect(),
        _ => {
            return Err(out.error(
                &["hooks", "collect"],
                "expected `[[hooks.collect]]` entries",
                "write `[[hooks.collect]]` with `source` and `dest`",
            ));
        }
    };
    let mut arr = ArrayOfTables::new();
    for (i, (entry, decor)) in entries_of.iter().enumerate() {
        let idx = i.to_string();
        let at = |k: &'static str| ["hooks", "collect", idx.as_str(), k];
        let base = ["hooks", "collect", idx.as_str()];
        if entry.as_table_like().is_none() {
            return Err(out.error(&base, "expected a table with `source` and `dest`", "write `[[hooks.collect]]`"));
        }
        let mut table = Table::new();
        let mut prefix = decor.clone();
        let t = entry.as_table_like().expect("a table");
        let Some(source) = t.get("source").and_then(|s| s.as_str()).map(String::from) else {
            return Err(out.error(&base, "needs `source` (a string)", "write `source = \"./data/*.json\"`"));
        };
        if !t.contains_key("dest") {
            return Err(out.error(
                &base,
                "needs `dest`: this packer does not assume the reference's default",
                "write e.g. `dest = \"resources/data\"`",
            ));
        }
        let from = source.strip_prefix("./").unwrap_or(&source).to_string();
        for (name, key, value) in entries(entry) {
            let p = at_name(&base, &name);
            match name.as_str() {
                "source" => {
                    let mut v = Value::from(from.clone());
                    if let Some(old) = value.as_value() {
                        *v.decor_mut() = old.decor().clone();
                    }
                    table.insert_formatted(&Key::new("from").with_leaf_decor(key.leaf_decor().clone()), Item::Value(v));
                }
                "dest" => {
                    let to = value.as_str().map(|s| s.strip_prefix("./").unwrap_or(s).to_string());
                    let mut v = match to {
                        Some(to) => Value::from(to),
                        None => value.as_value().cloned().unwrap_or_else(|| Value::from("")),
                    };
                    if let Some(old) = value.as_value() {
                        *v.decor_mut() = old.decor().clone();
                    }
                    table.insert_formatted(&Key::new("to").with_leaf_decor(key.leaf_decor().clone()), Item::Value(v));
                }
                // Matches land flat below `dest`; ours keeps the path below the glob's fixed
                // prefix, which is the same while only the file name has wildcards.
                "preserve_structure" => out.only(&p, &value, is_false, "`false`")?,
                // A label with no effect: kept as a comment.
                "description" => {
                    if let Some(d) = value.as_str() {
                        prefix.push_str(&format!("# {}\n", d.replace('\n', " ")));
                    }
                }
                _ => return Err(out.unsupported(&p)),
            }
        }
        let dir = from.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
        if dir.contains(['*', '?', '[', '{']) {
            return Err(out.error(
                &at("source"),
                "a wildcard in a directory: the reference format lands every match flat in `dest` (`preserve_structure = false`), which is not supported yet",
                "use wildcards in the file name only, one entry per directory",
            ));
        }
        table.decor_mut().set_prefix(prefix);
        arr.push(table);
        for (ours, theirs) in [("", ""), (".from", "source"), (".to", "dest")] {
            let mut origin = path_of(&base);
            if !theirs.is_empty() {
                origin.push(theirs.to_string());
            }
            out.origins.push((format!("hooks.collect.{i}{ours}"), origin));
        }
    }
    if !arr.is_empty() {
        out.table("hooks").insert("collect", Item::ArrayOfTables(arr));
    }
    Ok(())
}

fn at_name<'b>(base: &[&'b str; 3], name: &'b str) -> [&'b str; 4] {
    [base[0], base[1], base[2], name]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, DEFAULT_FILE, EntryPoint};
    use auroraview_overlay::{Isolation, Strategy};
    use std::path::Path;

    fn project() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (rel, text) in [
            ("dist/index.html", "<html></html>"),
            ("backend/main.py", "def run(): pass\n"),
            ("assets/logo.txt", "logo"),
            ("data/a.json", "{}"),
        ] {
            let p = dir.path().join(rel);
            fs_err::create_dir_all(p.parent().unwrap()).unwrap();
            fs_err::write(p, text).unwrap();
        }
        dir
    }

    fn parse(dir: &Path, text: &str) -> Result<Config, ConfigError> {
        Config::parse(&dir.join(DEFAULT_FILE), text)
    }

    const FULL: &str = r#"# My app, in the reference format
[package]
name = "fullstack"   # the executable
version = "2.1.0"
title = "Full Stack"

[frontend]
path = "./dist"

# The Python side
[backend]
type = "python"

[backend.python]
version = "3.11"
entry_point = "main:run"
packages = ["markupsafe"]
include_paths = ["./backend"]
exclude = ["*.pyc", "tests"]
optimize = 0
strategy = "standalone"

[backend.process]
restart_on_crash = true
max_restarts = 3
env = { FROM_PROCESS = "p" }

[window]
width = 1024
height = 768
resizable = false
frameless = false

[bundle]
resources = ["./assets"]

[build]
before = ["mkdir -p dist", "touch dist/x"]
out_dir = "./dist"

[hooks]
before_collect = []

# data files
[[hooks.collect]]
source = "./data/*.json"
dest = "resources/data"
preserve_structure = false
description = "Application data"

[runtime.env]
APP_ENV = "production"

[debug]
enabled = true
devtools = true

[license]
type = "trial"
"#;

    #[test]
    fn full_reference_config_maps_onto_ours() {
        let dir = project();
        let c = parse(dir.path(), FULL).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (c.app.name.as_str(), c.app.version.as_str(), c.app.title.as_str()),
            ("fullstack", "2.1.0", "Full Stack")
        );
        assert_eq!(c.frontend.dir, dir.path().join("./dist"));
        assert_eq!(c.frontend.build.as_deref(), Some("mkdir -p dist && touch dist/x"));
        assert_eq!(c.python.version, "3.11");
        assert!(matches!(c.python.entry_point, EntryPoint::Function));
        assert_eq!(c.python.packages, ["markupsafe"]);
        assert_eq!(c.python.include_paths, [dir.path().join("./backend")]);
        assert_eq!(c.python.exclude, ["*.pyc", "tests"]);
        assert_eq!(c.python.strategy, Strategy::Standalone);
        assert_eq!(c.python.isolation, Isolation::Process);
        assert_eq!(c.python.max_restarts, 3);
        assert_eq!(c.python.resources, [dir.path().join("./assets")]);
        assert_eq!((c.window.width, c.window.height, c.window.resizable, c.window.debug), (1024, 768, false, true));
        assert_eq!(c.collect.len(), 1);
        assert_eq!((c.collect[0].from.as_str(), c.collect[0].to.as_str()), ("data/*.json", "resources/data"));
        assert_eq!(c.env.get("APP_ENV").map(String::as_str), Some("production"));
        assert_eq!(c.env.get("FROM_PROCESS").map(String::as_str), Some("p"));
        assert_eq!(c.license.as_ref().map(|l| l.kind.as_str()), Some("trial"));
    }

    #[test]
    fn migration_keeps_comments_and_loads_as_ours() {
        let dir = project();
        let file = dir.path().join(DEFAULT_FILE);
        let m = translate(&Source { file: &file, text: FULL }).unwrap();
        assert!(!is_reference(&m.text), "{}", m.text);
        for comment in [
            "# My app, in the reference format",
            "# the executable",
            "# The Python side",
            "# data files",
            "# Application data",
        ] {
            assert!(m.text.contains(comment), "lost {comment:?}:\n{}", m.text);
        }
        assert!(m.text.contains("[app]\nname = \"fullstack\""), "{}", m.text);
        assert!(m.text.contains("[[hooks.collect]]"), "{}", m.text);
        let ours = parse(dir.path(), &m.text).unwrap_or_else(|e| panic!("{e}\n{}", m.text));
        let theirs = parse(dir.path(), FULL).unwrap();
        assert_eq!(format!("{:?}", ours.python), format!("{:?}", theirs.python));
        assert_eq!(format!("{:?}", ours.collect), format!("{:?}", theirs.collect));
        assert_eq!(ours.env, theirs.env);
    }

    fn minimal(extra: &str) -> String {
        format!(
            "[package]\nname = \"demo\"\n\n[frontend]\npath = \"dist\"\n\n[backend]\ntype = \"python\"\n\n[backend.python]\ninclude_paths = [\"backend\"]\n{extra}"
        )
    }

    #[test]
    fn minimal_reference_config_gets_our_defaults() {
        let dir = project();
        let c = parse(dir.path(), &minimal("")).unwrap();
        assert_eq!(c.app.title, "demo");
        assert_eq!(c.python.entry_point_text, "main:run");
        assert_eq!(c.python.isolation, Isolation::Thread);
    }

    /// Each unsupported key, with the line and column where its value starts.
    #[test]
    fn unsupported_keys_name_key_line_and_column() {
        let dir = project();
        let cases = [
            ("[window]\ntransparent = true\n", "window.transparent", 13, 15),
            ("[window]\nstart_position = \"center\"\n", "window.start_position", 13, 18),
            ("[bundle]\ntargets = [\"deb\"]\n", "bundle.targets", 13, 11),
            ("[inject]\njs = \"./inject.js\"\n", "inject.js", 13, 6),
            ("optimize = 2\n", "backend.python.optimize", 12, 12),
            ("[backend.process]\nargs = [\"--x\"]\n", "backend.process.args", 13, 8),
            ("[debug]\nenabled = true\ndevtools = false\n", "debug.devtools", 14, 12),
            (
                "[[hooks.collect]]\nsource = \"a/*.json\"\ndest = \"r\"\npreserve_structure = true\n",
                "hooks.collect.0.preserve_structure",
                15,
                22,
            ),
            ("[[hooks.collect]]\nsource = \"data/**/*.json\"\ndest = \"r\"\n", "hooks.collect.0.source", 13, 10),
        ];
        for (extra, key, line, col) in cases {
            let text = minimal(extra);
            let e = parse(dir.path(), &text).unwrap_err();
            assert_eq!(e.key.as_deref(), Some(key), "{e}\n{text}");
            assert_eq!(e.line, Some((line, col)), "{e}\n{text}");
            assert!(e.message.contains("not supported yet"), "{e}");
        }
        let e = parse(dir.path(), "[package]\nname = \"x\"\nidentifier = \"com.x\"\n[backend]\ntype = \"python\"\n")
            .unwrap_err();
        assert_eq!((e.key.as_deref(), e.line), (Some("package.identifier"), Some((3, 14))), "{e}");
        let e = parse(
            dir.path(),
            "[package]\nname = \"x\"\n[frontend]\nurl = \"https://x\"\n[backend]\ntype = \"python\"\n",
        )
        .unwrap_err();
        assert_eq!((e.key.as_deref(), e.line), (Some("frontend.url"), Some((4, 7))), "{e}");
    }

    #[test]
    fn default_valued_keys_are_accepted() {
        let dir = project();
        let extra = "optimize = 0\n[backend.process]\nargs = []\nconsole = false\n[window]\nframeless = false\ntransparent = false\nalways_on_top = false\n[build]\nout_dir = \"dist/\"\nafter = []\n[debug]\nverbose = false\n[license]\nenabled = false\n[inject]\n";
        parse(dir.path(), &minimal(extra)).unwrap_or_else(|e| panic!("{e}"));
    }

    #[test]
    fn window_options_map_onto_ours() {
        let dir = project();
        let extra = "[window]\nframeless = true\nalways_on_top = true\nmin_width = 400\nmax_height = 900\n";
        let c = parse(dir.path(), &minimal(extra)).unwrap_or_else(|e| panic!("{e}"));
        let o = &c.window.options;
        assert_eq!(o.decorations, Some(false), "frameless is no decorations");
        assert!(o.always_on_top);
        assert_eq!((o.min_width, o.max_height), (Some(400), Some(900)));
        let e = parse(dir.path(), &minimal("[window]\nframeless = \"yes\"\n")).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("window.frameless"), "{e}");
    }

    #[test]
    fn errors_from_our_checks_point_into_the_original() {
        let dir = project();
        let e = parse(dir.path(), &minimal("entry_point = \"nowhere:run\"\n")).unwrap_err();
        assert_eq!((e.key.as_deref(), e.line), (Some("backend.python.entry_point"), Some((12, 15))), "{e}");
        let e = parse(
            dir.path(),
            &minimal("include_paths = [\"backend\", \"missing\"]\n").replacen("include_paths = [\"backend\"]\n", "", 1),
        )
        .unwrap_err();
        assert_eq!((e.key.as_deref(), e.line), (Some("backend.python.include_paths.1"), Some((11, 29))), "{e}");
        let e = parse(dir.path(), &minimal("[window]\nwidth = \"wide\"\n")).unwrap_err();
        assert_eq!((e.key.as_deref(), e.line.map(|l| l.0)), (Some("window.width"), Some(13)), "{e}");
        let e = parse(dir.path(), &minimal("[runtime.env]\n\"\" = \"x\"\n")).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("runtime.env."), "{e}");
    }

    #[test]
    fn frontend_only_and_mixed_files_are_refused() {
        let dir = project();
        let e = parse(dir.path(), "\n[package]\nname = \"x\"\n").unwrap_err();
        assert_eq!((e.key.as_deref(), e.line), (Some("backend"), Some((2, 1))), "{e}");
        let e = parse(dir.path(), &minimal("[app]\nname = \"y\"\n")).unwrap_err();
        assert_eq!((e.key.as_deref(), e.line.map(|l| l.0)), (Some("app"), Some(12)), "{e}");
        let e = parse(dir.path(), &minimal("").replace("type = \"python\"", "type = \"go\"")).unwrap_err();
        assert_eq!((e.key.as_deref(), e.line), (Some("backend.type"), Some((8, 8))), "{e}");
    }
}
