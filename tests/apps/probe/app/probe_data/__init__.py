"""A package that reads its own data file three ways."""

import os


def read_all():
    import importlib.resources

    here = os.path.dirname(__file__)
    with open(os.path.join(here, "data.txt"), encoding="utf-8") as f:
        by_file = f.read().strip()
    by_resources = importlib.resources.files(__name__).joinpath("data.txt").read_text(encoding="utf-8").strip()
    by_loader = __spec__.loader.get_data(os.path.join(here, "data.txt")).decode().strip()
    return {"file": by_file, "resources": by_resources, "loader": by_loader, "spec": __spec__.name}
