#!/usr/bin/env python3
"""Find import cycles between the modules of each crate in the workspace.

    scripts/module-cycles.py [CRATE_DIR ...]     (default: every crates/*/)

For every crate root (src/lib.rs, and src/main.rs as its own crate), the
script follows `mod NAME;` declarations to the module files (NAME.rs or
NAME/mod.rs; `#[cfg(test)]` modules are left out), then reads each module's
code with comments, strings and its `#[cfg(test)]` blocks removed, and draws
an edge A -> B whenever A names B:
  - `crate::b::...`, `super::...`, `self::...` paths (also globs,
    `use super::*`), in `use` lines (also grouped, `use crate::{a, b::c}`)
    and inline in code;
  - `crate::Item` where Item is defined in the crate root: an edge to the root;
  - `child::...` paths to the module's own declared submodules.
A path resolves to the longest module prefix it names (`crate::a::b::f` is
module a::b if that module exists, else a), and through re-exports to where
the item lives (`crate::fs::FsError` is fs::error when fs has `pub use
error::FsError`). Declaring a submodule (`mod x;`) and re-exporting from it
(`pub use x::Y;`, a facade) are not edges.

It prints each crate's module and edge counts, then every cycle (strongly
connected component of more than one module) with the line that makes each
edge, and exits 1 if it found any, 0 otherwise.
"""

import os
import re
import sys

MOD_DECL = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+([A-Za-z_][A-Za-z0-9_]*)\s*;", re.M)
PATH = re.compile(r"\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)*)(?:::\*)?")
USE_GROUP = re.compile(r"\buse\s+(crate|super|self)::\{")
PUB_USE = re.compile(r"^\s*pub(?:\([^)]*\))?\s+use\s+([^;]*);", re.M)


def strip_code(text):
    """Remove comments, string and char literals (keeping line breaks)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    if text[i] == "\n":
                        out.append("\n")
                    i += 1
        elif c == "r" and re.match(r'r#*"', text[i:i + 10]) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            hashes = re.match(r'r(#*)"', text[i:]).group(1)
            end = text.find('"' + hashes, i + 2 + len(hashes))
            end = n if end < 0 else end + 1 + len(hashes)
            out.append("\n" * text.count("\n", i, end))
            i = end
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append("\n" * text.count("\n", i, j))
            i = j + 1
        elif c == "'" and re.match(r"'(\\.|[^\\'])'", text[i:i + 4]) or text.startswith("'\\u{", i):
            i = text.find("'", i + 1) + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def drop_cfg_test(code):
    """Remove `#[cfg(test)]` items: the attribute and the braced item after it."""
    out, pos = [], 0
    for m in re.finditer(r"#\[cfg\(test\)\]", code):
        if m.start() < pos:
            continue
        out.append(code[pos:m.start()])
        brace = code.find("{", m.end())
        semi = code.find(";", m.end())
        if semi >= 0 and (brace < 0 or semi < brace):
            pos = semi + 1
            continue
        depth, j = 0, brace
        while j < len(code):
            if code[j] == "{":
                depth += 1
            elif code[j] == "}":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        out.append("\n" * code.count("\n", m.start(), j))
        pos = j + 1
    out.append(code[pos:])
    return "".join(out)


def test_only_mods(text):
    return set(re.findall(r"#\[cfg\(test\)\]\s*(?:pub\s+)?mod\s+([A-Za-z_][A-Za-z0-9_]*)\s*;", text))


def load_crate(root_file):
    """Map module path (tuple) -> (file, code, children)."""
    modules = {}

    def visit(path, file, is_dir_owner):
        with open(file, encoding="utf-8") as f:
            text = f.read()
        skip = test_only_mods(text)
        code = drop_cfg_test(strip_code(text))
        children = []
        base = os.path.dirname(file) if is_dir_owner else os.path.splitext(file)[0]
        for name in MOD_DECL.findall(code):
            if name in skip:
                continue
            for cand, owner in ((os.path.join(base, name + ".rs"), False), (os.path.join(base, name, "mod.rs"), True)):
                if os.path.isfile(cand):
                    children.append(name)
                    visit(path + (name,), cand, owner)
                    break
        modules[path] = (file, code, children)

    visit((), root_file, True)
    return modules


def reexports(modules):
    """Map (module, exported name) -> module path the item comes from, for
    `pub use child::...::Name` (also grouped and renamed) facades."""
    out = {}
    for here, (_file, code, children) in modules.items():
        for m in PUB_USE.finditer(code):
            spec = re.sub(r"\s+", "", m.group(1))
            prefix, _, group = spec.partition("{")
            items = group.rstrip("}").split(",") if group else [prefix.rsplit("::", 1)[-1]]
            prefix = prefix.rstrip(":") if group else prefix.rsplit("::", 1)[0] if "::" in prefix else ""
            segs = [s for s in prefix.split("::") if s]
            if segs[:1] == ["self"]:
                segs = segs[1:]
            if not segs or segs[0] not in children:
                continue
            target = here + tuple(segs)
            while target not in modules:
                target = target[:-1]
            for item in items:
                if not item:
                    continue
                orig, _, alias = item.partition("as")
                exported = alias or orig.rsplit("::", 1)[-1]
                extra = tuple(s for s in orig.split("::")[:-1] if s)
                t = target + extra
                while t not in modules:
                    t = t[:-1]
                out[(here, exported)] = t
    return out


def resolve(modules, here, kind, segs, exports=None):
    if kind == "crate":
        base = ()
    elif kind == "self":
        base = here
    else:
        base = here
        while segs and segs[0] == "super":
            segs = segs[1:]
            base = base[:-1]
        base = base[:-1] if kind == "super" else base
    full = base + tuple(segs)
    for k in range(len(full), -1, -1):
        if full[:k] in modules:
            found = full[:k]
            seen = set()
            while exports and k < len(full) and (found, full[k]) in exports and (found, full[k]) not in seen:
                seen.add((found, full[k]))
                found = exports[(found, full[k])]
            return found
    return ()


def edges_of(modules):
    edges = {}
    exports = reexports(modules)
    for here, (file, code, children) in modules.items():
        # Facade lines are declarations, not uses: blank them (keeping lines).
        code = PUB_USE.sub(lambda m: "\n" * m.group(0).count("\n"), code)
        lines = code.split("\n")

        def add(target, lineno):
            if target != here:
                edges.setdefault((here, target), (file, lineno))

        for lineno, line in enumerate(lines, 1):
            for m in PATH.finditer(line):
                segs = [s for s in m.group(2).split("::") if s]
                if not segs and not m.group(0).endswith("*"):
                    continue  # a bare `crate`/`super` (e.g. `pub(crate)`), not a path
                add(resolve(modules, here, m.group(1), segs, exports), lineno)
            for child in children:
                if re.search(r"(?<![A-Za-z0-9_:])" + child + r"::", line):
                    add(here + (child,), lineno)
        # Grouped uses: `use crate::{a::X, b}` names a and b.
        for m in USE_GROUP.finditer(code):
            depth, j = 1, m.end()
            while j < len(code) and depth:
                depth += {"{": 1, "}": -1}.get(code[j], 0)
                j += 1
            body = code[m.end():j - 1]
            lineno = code.count("\n", 0, m.start()) + 1
            for item in re.split(r",(?![^{]*\})", body):
                segs = re.findall(r"[A-Za-z_][A-Za-z0-9_]*", item.split("{")[0])
                segs = [s for s in segs if s != "self" and s != "as"][:3]
                if segs:
                    add(resolve(modules, here, m.group(1), segs, exports), lineno)
    return edges


def sccs(nodes, edges):
    graph = {n: [] for n in nodes}
    for a, b in edges:
        graph[a].append(b)
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(comp)

    sys.setrecursionlimit(10000)
    for n in nodes:
        if n not in index:
            strong(n)
    return [c for c in out if len(c) > 1]


def name(crate, path):
    return crate + ("::" + "::".join(path) if path else " (root)")


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    workspace = os.path.dirname(here)
    dirs = argv or sorted(os.path.join(workspace, "crates", d) for d in os.listdir(os.path.join(workspace, "crates")))
    found = 0
    for d in dirs:
        for root in ("src/lib.rs", "src/main.rs"):
            root_file = os.path.join(d, root)
            if not os.path.isfile(root_file):
                continue
            crate = os.path.basename(os.path.normpath(d)) + ("" if root.endswith("lib.rs") else " [bin]")
            modules = load_crate(root_file)
            edges = edges_of(modules)
            cycles = sccs(list(modules), edges)
            print(f"{crate}: {len(modules)} modules, {len(edges)} edges, {len(cycles)} cycle(s)")
            for comp in cycles:
                found += 1
                members = set(comp)
                print("  cycle: " + ", ".join(sorted(name(crate, p) for p in comp)))
                for (a, b), (file, lineno) in sorted(edges.items()):
                    if a in members and b in members:
                        rel = os.path.relpath(file, workspace)
                        print(f"    {name(crate, a)} -> {name(crate, b)}   ({rel}:{lineno})")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
