"""Moves a precompiled stdlib tree into one zip on sys.path: bytecode only, stored uncompressed.

argv: the stdlib directory (`lib/pythonX.Y`, compiled with compileall), the zip to write, and the
cache tag (`cpython-311`). Every `__pycache__/NAME.TAG.pyc` becomes `NAME.pyc` beside where its
source was; a source that did not compile stays a source; data files stay as they are. Only
`lib-dynload/` (extension modules, which must be files) is left in the directory. Entries are
sorted and dated 1980-01-01, so the same stdlib always gives the same bytes.
"""

import os
import shutil
import sys
import zipfile

KEEP_AS_FILES = "lib-dynload"


def entries(root, tag):
    """(name in the zip, path on disk) of everything to move."""
    suffix = "." + tag + ".pyc"
    out = {}
    for top in sorted(os.listdir(root)):
        if top == KEEP_AS_FILES:
            continue
        path = os.path.join(root, top)
        if os.path.isfile(path):
            found = [(top, path)]
        else:
            found = []
            for dirpath, dirnames, filenames in os.walk(path):
                dirnames.sort()
                for name in filenames:
                    found.append((os.path.relpath(os.path.join(dirpath, name), root).replace(os.sep, "/"),
                                  os.path.join(dirpath, name)))
        for rel, full in found:
            parent, name = rel.rsplit("/", 1) if "/" in rel else ("", rel)
            if parent.endswith("__pycache__") and name.endswith(suffix):
                module = name[: -len(suffix)]
                base = parent[: -len("__pycache__")]
                out[base + module + ".pyc"] = full
            elif parent.endswith("__pycache__") or parent == "__pycache__":
                continue
            elif name.endswith(".py"):
                out.setdefault(rel, full)
            else:
                out[rel] = full
    # A compiled module leaves its source out.
    for rel in [r for r in out if r.endswith(".py") and r + "c" in out]:
        del out[rel]
    return out


def main():
    root, target, tag = sys.argv[1:4]
    files = entries(root, tag)
    dirs = set()
    for rel in files:
        parts = rel.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            dirs.add("/".join(parts[:i]) + "/")
    with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as z:
        for name in sorted(dirs | set(files)):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            if name in dirs:
                info.external_attr = (0o40755 << 16) | 0x10
                z.writestr(info, b"")
            else:
                info.external_attr = 0o100644 << 16
                with open(files[name], "rb") as f:
                    z.writestr(info, f.read())
    for top in os.listdir(root):
        if top != KEEP_AS_FILES:
            path = os.path.join(root, top)
            shutil.rmtree(path) if os.path.isdir(path) and not os.path.islink(path) else os.remove(path)


main()
