"""A second module, imported by main."""


def describe():
    return "helper module"
