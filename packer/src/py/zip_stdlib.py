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
    """{name in the zip: path on disk} of everything to move."""
    suffix = "." + tag + ".pyc"
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        if dirpath == root:
            dirnames[:] = [d for d in dirnames if d != KEEP_AS_FILES]
        rel_dir = os.path.relpath(dirpath, root).replace(os.sep, "/")
        base = "" if rel_dir == "." else rel_dir + "/"
        in_cache = os.path.basename(dirpath) == "__pycache__"
        for name in filenames:
            full = os.path.join(dirpath, name)
            if in_cache:
                # `json/__pycache__/decoder.cpython-311.pyc` is `json/decoder.pyc` in the zip.
                if name.endswith(suffix):
                    out[base[: -len("__pycache__/")] + name[: -len(suffix)] + ".pyc"] = full
            else:
                out[base + name] = full
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
        path = os.path.join(root, top)
        if top == KEEP_AS_FILES:
            continue
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.remove(path)


main()
