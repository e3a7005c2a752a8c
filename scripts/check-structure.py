#!/usr/bin/env python3
"""Check two structural rules of the workspace's Rust code and print what breaks them.

1. No import cycles between modules. A module is a file (`mod.rs` is its
   directory's module). A module depends on another when it names it in a
   `use` or in a path (`crate::`, `super::`, `self::`, `mpimg::` from the
   binary); names re-exported with `pub use` count as the module that defines
   them. Edges between a module and its own ancestors are the module tree,
   not imports, and are left out.
2. No function longer than 80 lines in the command line (crates/mpimg/src/cli).

Usage: scripts/check-structure.py [CRATE_SRC_DIR...] (default: every crate's src/).
Exit status 1 when a rule is broken.
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_CLI_FN_LINES = 80


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    out = []
    for line in text.splitlines():
        # Drop // comments outside strings (good enough: a `//` inside a string ends that line's scan).
        in_str = False
        cut = len(line)
        i = 0
        while i < len(line) - 1:
            c = line[i]
            if c == '"' and (i == 0 or line[i - 1] != "\\"):
                in_str = not in_str
            if not in_str and line[i : i + 2] == "//":
                cut = i
                break
            i += 1
        out.append(line[:cut])
    return "\n".join(out)


def strip_strings(text):
    return re.sub(r'"(?:\\.|[^"\\])*"', '""', text)


def module_path(src, file):
    rel = file.relative_to(src).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "mod":
        parts = parts[:-1]
    return tuple(parts)


def crate_of(src, file):
    """(crate name, module path) of a file: the binary's modules live under main.rs."""
    parts = module_path(src, file)
    if parts in (("lib",), ("main",)):
        return (parts[0], ())
    return ("main" if parts and parts[0] == "cli" and (src / "main.rs").exists() else "lib", parts)


def expand_use(body):
    """`a::{b, c::{d, e}}` -> ['a::b', 'a::c::d', 'a::c::e']."""
    body = body.strip()
    m = re.match(r"^(.*?)\{(.*)\}$", body, flags=re.S)
    if not m:
        return [re.sub(r"\s+as\s+\w+$", "", body).strip()]
    prefix, inner = m.group(1), m.group(2)
    items, depth, cur = [], 0, ""
    for ch in inner:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == "," and depth == 0:
            items.append(cur)
            cur = ""
        else:
            cur += ch
    items.append(cur)
    out = []
    for it in items:
        if it.strip():
            out += [prefix + x for x in expand_use(it)]
    return out


def analyse(src):
    files = sorted(p for p in src.rglob("*.rs") if "target" not in p.parts)
    mods = {}
    for f in files:
        mods[crate_of(src, f)] = f
    texts = {k: strip_strings(strip_comments(f.read_text())) for k, f in mods.items()}
    # Re-exports: (crate, module, name) -> full path segments.
    reexports = {}
    for key, text in texts.items():
        for m in re.finditer(r"\bpub\s+use\s+([^;]+);", text):
            for path in expand_use(m.group(1)):
                segs = [s for s in path.split("::") if s]
                if segs and segs[-1] not in ("*", "self"):
                    reexports[(key[0], key[1], segs[-1])] = (key, segs)
    def is_module(crate, path):
        return (crate, tuple(path)) in mods

    def resolve(key, segs):
        crate, here = key
        if not segs:
            return None
        if segs[0] == "crate":
            cur, rest = [], segs[1:]
        elif segs[0] == "mpimg" and crate == "main":
            crate, cur, rest = "lib", [], segs[1:]
        elif segs[0] in ("super", "self"):
            cur = list(here)
            rest = list(segs)
            while rest and rest[0] in ("super", "self"):
                if rest[0] == "super":
                    cur = cur[:-1]
                rest = rest[1:]
        elif is_module(crate, list(here) + [segs[0]]):
            cur, rest = list(here), list(segs)
        else:
            return None
        seen = 0
        while rest and seen < 50:
            seen += 1
            name = rest[0]
            if is_module(crate, cur + [name]):
                cur.append(name)
                rest = rest[1:]
                continue
            target = reexports.get((crate, tuple(cur), name))
            if target:
                (tcrate, tmod), tsegs = target
                inner = resolve((tcrate, tmod), tsegs)
                if inner:
                    crate, cur = inner[0], list(inner[1])
                rest = rest[1:]
                continue
            break
        return (crate, tuple(cur))

    edges = {k: set() for k in mods}
    for key, text in texts.items():
        paths = []
        for m in re.finditer(r"\buse\s+([^;]+);", text):
            paths += expand_use(m.group(1))
        # Inline paths, and mod-relative ones (`walk::walk_image`) where the name is a sibling module.
        paths += re.findall(r"\b(?:crate|super|self|mpimg)(?:::\w+)+", text)
        for p in paths:
            segs = [s for s in re.split(r"::", p.strip()) if s]
            r = resolve(key, segs)
            if not r or r == key or r not in mods:
                continue
            if r[0] != key[0]:
                continue  # the binary using the library is not a cycle risk
            a, b = key[1], r[1]
            if a[: len(b)] == b or b[: len(a)] == a:
                continue  # ancestor or descendant: the module tree
            edges[key].add(r)
    return mods, edges


def sccs(edges):
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
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
            if len(comp) > 1:
                out.append(comp)

    sys.setrecursionlimit(10000)
    for v in list(edges):
        if v not in index:
            visit(v)
    return out


def long_functions(src):
    found = []
    for f in sorted((src / "cli").rglob("*.rs")) if (src / "cli").is_dir() else []:
        lines = strip_strings(strip_comments(f.read_text())).splitlines()
        i = 0
        while i < len(lines):
            if re.match(r"\s*(pub(\([^)]*\))?\s+)?(const\s+)?(async\s+)?fn\s+\w+", lines[i]):
                depth, started, j = 0, False, i
                while j < len(lines):
                    depth += lines[j].count("{") - lines[j].count("}")
                    started = started or "{" in lines[j]
                    if started and depth <= 0:
                        break
                    if not started and lines[j].rstrip().endswith(";"):
                        break
                    j += 1
                length = j - i + 1
                if started and length > MAX_CLI_FN_LINES:
                    name = re.search(r"fn\s+(\w+)", lines[i]).group(1)
                    found.append(f"{f.relative_to(ROOT)}:{i + 1}: fn {name} is {length} lines (limit {MAX_CLI_FN_LINES})")
                i = j + 1 if started else i + 1
            else:
                i += 1
    return found


def main():
    srcs = [Path(a) for a in sys.argv[1:]] or sorted(ROOT.glob("crates/*/src"))
    bad = False
    for src in srcs:
        mods, edges = analyse(src.resolve())
        nedges = sum(len(v) for v in edges.values())
        cycles = sccs(edges)
        name = src.resolve().relative_to(ROOT)
        print(f"{name}: {len(mods)} modules, {nedges} import edges, {len(cycles)} cycles")
        for comp in cycles:
            bad = True
            print("  cycle: " + " <-> ".join("::".join(m[1]) or m[0] for m in sorted(comp)))
        for line in long_functions(src.resolve()):
            bad = True
            print("  " + line)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
