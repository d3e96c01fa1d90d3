//! The `pyoxidizer` strategy's importer: a `sys.meta_path` finder and loader over the module
//! tables the packer wrote (`modules.avm`), mapped into memory. Pure-Python modules are executed
//! from their marshalled code without touching the file system; extension modules are loaded from
//! their extracted files. `__file__`, `__spec__`, `get_data`, `get_source` and
//! `importlib.resources` behave as for files, so packages that read their own data files work.

use auroraview_overlay::modules::{self, Kind, Located};
use memmap2::Mmap;
use pyo3::exceptions::PyImportError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The tables of a `pyoxidizer` app, in the order they are read: later ones win.
pub const TABLES: [&str; 3] = ["runtime/modules.avm", "python/site-packages/modules.avm", "python/modules.avm"];
/// The one table of a `standalone` app: its stdlib (site-packages and app code are files).
pub const STDLIB_TABLE: [&str; 1] = ["runtime/modules.avm"];

#[pyclass(module = "_auroraview_runtime", name = "InMemoryImporter", frozen)]
pub struct Importer {
    tables: Vec<Mmap>,
    index: HashMap<String, (usize, Located)>,
    root: PathBuf,
    by_origin: OnceLock<HashMap<PathBuf, String>>,
    module_spec: Py<PyAny>,
    spec_from_file_location: Py<PyAny>,
    loads: Py<PyAny>,
    exec: Py<PyAny>,
    fix_co_filename: Py<PyAny>,
}

impl Importer {
    fn entry(&self, name: &str) -> PyResult<(&Mmap, &Located)> {
        let (t, loc) =
            self.index.get(name).ok_or_else(|| PyImportError::new_err(format!("no module named {name:?}")))?;
        Ok((&self.tables[*t], loc))
    }

    fn origin(&self, loc: &Located) -> PathBuf {
        self.root.join(&loc.origin)
    }
}

#[pymethods]
impl Importer {
    #[pyo3(signature = (fullname, path=None, target=None))]
    fn find_spec(
        slf: &Bound<'_, Self>,
        fullname: &str,
        path: Option<&Bound<'_, PyAny>>,
        target: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Option<Py<PyAny>>> {
        let _ = (path, target);
        let py = slf.py();
        let me = slf.get();
        let Some((_, loc)) = me.index.get(fullname) else { return Ok(None) };
        let origin = me.origin(loc);
        if loc.kind == Kind::Extension {
            return Ok(Some(me.spec_from_file_location.call1(py, (fullname, origin.as_os_str()))?));
        }
        let kwargs = PyDict::new(py);
        kwargs.set_item("origin", origin.as_os_str())?;
        kwargs.set_item("is_package", loc.kind == Kind::Package)?;
        let spec = me.module_spec.bind(py).call((fullname, slf), Some(&kwargs))?;
        spec.setattr("has_location", true)?;
        if loc.kind == Kind::Package {
            let dir = origin.parent().unwrap_or(&me.root).as_os_str().to_owned();
            spec.setattr("submodule_search_locations", PyList::new(py, [dir])?)?;
        }
        Ok(Some(spec.unbind()))
    }

    fn create_module(&self, _spec: &Bound<'_, PyAny>) -> Option<Py<PyAny>> {
        None
    }

    fn exec_module(&self, py: Python<'_>, module: &Bound<'_, PyAny>) -> PyResult<()> {
        let name: String = module.getattr("__spec__")?.getattr("name")?.extract()?;
        let code = self.get_code(py, &name)?;
        self.exec.call1(py, (code, module.getattr("__dict__")?))?;
        Ok(())
    }

    fn get_code(&self, py: Python<'_>, fullname: &str) -> PyResult<Py<PyAny>> {
        let (table, loc) = self.entry(fullname)?;
        let bytes = PyBytes::new(py, &table[loc.code.clone()]);
        let code = self.loads.call1(py, (bytes,))?;
        // As importlib's own loaders do: code objects name the file the module is at now, so
        // tracebacks and linecache find it.
        self.fix_co_filename.call1(py, (&code, self.origin(loc).as_os_str()))?;
        Ok(code)
    }

    fn get_source(&self, fullname: &str) -> PyResult<Option<String>> {
        let (table, loc) = self.entry(fullname)?;
        Ok(loc.source.clone().map(|r| String::from_utf8_lossy(&table[r]).into_owned()))
    }

    fn is_package(&self, fullname: &str) -> PyResult<bool> {
        Ok(self.entry(fullname)?.1.kind == Kind::Package)
    }

    fn get_filename(&self, fullname: &str) -> PyResult<PathBuf> {
        Ok(self.origin(self.entry(fullname)?.1))
    }

    /// A module's source if `path` is an in-memory module's file, else the file's bytes.
    fn get_data<'py>(&self, py: Python<'py>, path: PathBuf) -> PyResult<Bound<'py, PyBytes>> {
        let by_origin = self
            .by_origin
            .get_or_init(|| self.index.iter().map(|(name, (_, loc))| (self.origin(loc), name.clone())).collect());
        if let Some(name) = by_origin.get(&path)
            && let Ok((table, loc)) = self.entry(name)
            && let Some(src) = loc.source.clone()
        {
            return Ok(PyBytes::new(py, &table[src]));
        }
        Ok(PyBytes::new(py, &std::fs::read(&path)?))
    }

    /// `importlib.resources` for packages: their data files are extracted beside `__file__`.
    fn get_resource_reader(&self, py: Python<'_>, fullname: &str) -> PyResult<Option<Py<PyAny>>> {
        let (_, loc) = self.entry(fullname)?;
        // 3.9 has no `importlib.readers`: without a reader, `importlib.resources` reads the files
        // beside the spec's origin (`has_location`), which is the same directory.
        if loc.kind != Kind::Package || cfg!(not(Py_3_10)) {
            return Ok(None);
        }
        let ns = py.import("types")?.getattr("SimpleNamespace")?;
        let kwargs = PyDict::new(py);
        kwargs.set_item("path", self.origin(loc).as_os_str())?;
        let holder = ns.call((), Some(&kwargs))?;
        Ok(Some(py.import("importlib.readers")?.getattr("FileReader")?.call1((holder,))?.unbind()))
    }
}

/// Puts the importer first on `sys.meta_path`; without `filesystem_importer`, removes the path
/// finder so nothing is imported from files by accident.
pub fn install(py: Python<'_>, root: &Path, filesystem_importer: bool, names: &[&str]) -> anyhow::Result<usize> {
    let mut tables = Vec::new();
    let mut index = HashMap::new();
    for rel in names {
        let path = root.join(rel);
        let Ok(file) = std::fs::File::open(&path) else { continue };
        // SAFETY: the table lives in the app's extracted tree, which no process modifies while a
        // version is in use (it is only ever removed when no process holds it).
        let map = unsafe { Mmap::map(&file) }.map_err(|e| anyhow::anyhow!("mapping {}: {e}", path.display()))?;
        let entries =
            modules::parse(&map).ok_or_else(|| anyhow::anyhow!("{} is not a valid module table", path.display()))?;
        let t = tables.len();
        index.extend(entries.into_iter().map(|(name, loc)| (name, (t, loc))));
        tables.push(map);
    }
    let count = index.len();
    // The frozen bootstrap modules: `importlib` itself is not importable yet (it is in a table).
    let bootstrap = py.import("_frozen_importlib")?;
    let external = py.import("_frozen_importlib_external")?;
    let importer = Importer {
        tables,
        index,
        root: root.to_path_buf(),
        by_origin: OnceLock::new(),
        module_spec: bootstrap.getattr("ModuleSpec")?.unbind(),
        spec_from_file_location: external.getattr("spec_from_file_location")?.unbind(),
        loads: py.import("marshal")?.getattr("loads")?.unbind(),
        exec: py.import("builtins")?.getattr("exec")?.unbind(),
        fix_co_filename: py.import("_imp")?.getattr("_fix_co_filename")?.unbind(),
    };
    let sys = py.import("sys")?;
    let meta_path = sys.getattr("meta_path")?;
    if !filesystem_importer {
        meta_path.call_method1("remove", (external.getattr("PathFinder")?,))?;
    }
    meta_path.call_method1("insert", (0, Py::new(py, importer)?))?;
    Ok(count)
}
