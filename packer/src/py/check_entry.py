# Finds what a module binds at top level by parsing it with `ast` (never importing it):
#   python -I -c THIS FILE [NAME]
# prints one JSON object: {"syntax_error": {...}} or {"found": LINE|null, "functions": [[name, line]],
# "open": bool} ("open": a `from x import *` or a module `__getattr__` may bind any name).
import ast
import json
import sys


def main():
    path = sys.argv[1]
    name = sys.argv[2] if len(sys.argv) > 2 else None
    with open(path, "rb") as f:
        source = f.read()
    try:
        tree = ast.parse(source, filename=path)
    except (SyntaxError, ValueError) as e:
        line = getattr(e, "lineno", None)
        text = (getattr(e, "text", None) or "").rstrip("\n")
        msg = getattr(e, "msg", None) or str(e)
        print(json.dumps({"syntax_error": {"line": line, "message": msg, "text": text}}))
        return
    bound = {}
    functions = []
    state = {"open": False}

    def bind(n, line):
        bound.setdefault(n, line)

    def target(t):
        if isinstance(t, ast.Name):
            bind(t.id, t.lineno)
        elif isinstance(t, (ast.Tuple, ast.List)):
            for e in t.elts:
                target(e)
        elif isinstance(t, ast.Starred):
            target(t.value)

    def block(body):
        # Module level, and the blocks that still run at module level (if, try, with, loops).
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                bind(node.name, node.lineno)
                functions.append([node.name, node.lineno])
                if node.name == "__getattr__":
                    state["open"] = True
            elif isinstance(node, ast.ClassDef):
                bind(node.name, node.lineno)
            elif isinstance(node, ast.Assign):
                for t in node.targets:
                    target(t)
            elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
                if getattr(node, "value", None) is not None or isinstance(node, ast.AugAssign):
                    target(node.target)
            elif isinstance(node, ast.Import):
                for a in node.names:
                    bind(a.asname or a.name.split(".")[0], node.lineno)
            elif isinstance(node, ast.ImportFrom):
                for a in node.names:
                    if a.name == "*":
                        state["open"] = True
                    else:
                        bind(a.asname or a.name, node.lineno)
            elif isinstance(node, ast.If):
                block(node.body)
                block(node.orelse)
            elif isinstance(node, (ast.For, ast.AsyncFor, ast.While)):
                if not isinstance(node, ast.While):
                    target(node.target)
                block(node.body)
                block(node.orelse)
            elif isinstance(node, (ast.With, ast.AsyncWith)):
                for item in node.items:
                    if item.optional_vars is not None:
                        target(item.optional_vars)
                block(node.body)
            elif isinstance(node, ast.Try) or type(node).__name__ == "TryStar":
                block(node.body)
                for h in node.handlers:
                    block(h.body)
                block(node.orelse)
                block(node.finalbody)
            elif type(node).__name__ == "Match":
                for case in node.cases:
                    block(case.body)

    block(tree.body)
    print(json.dumps({"found": bound.get(name) if name else None, "functions": functions, "open": state["open"]}))


main()
