#!/usr/bin/env python3
"""Fails when the modules of a crate import each other in a cycle.

    scripts/module-cycles.py [SRC_DIR ...]      # default: obs-runtime/src obs-macros/src

A module is a file (`foo.rs` or `foo/mod.rs`). An edge `a -> b` means that `a`
names an item of `b` in a `use` (re-exports included) or in an inline path
(`crate::b::item`, `super::b::item`). `mod b;` declarations are ownership, not
use, so a parent that only declares and re-exports its children is fine; a child
that imports what its parent re-exports closes a cycle (import from the module
that defines the item instead). Paths through the crate root's re-exports
(`crate::Item`) count as uses of the root, which uses everything: name the
defining module (`crate::error::ErrorKind`).

Test modules (`#[cfg(test)] mod tests { ... }` at the end of a file) are left
out: a test may import whatever it checks.
"""

import re
import sys
from pathlib import Path

USE_RE = re.compile(r"\buse\s+([^;]+);", re.S)
INLINE_RE = re.compile(r"\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)+)")


def module_of(src: Path, file: Path) -> tuple:
    rel = file.relative_to(src).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return tuple(parts)


def strip(text: str) -> str:
    """Source without comments, strings and trailing test modules."""
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r'r#+".*?"#+', '""', text, flags=re.S)
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text, flags=re.S)
    cut = re.search(r"#\[cfg\(test\)\]\s*(pub(\([^)]*\))?\s+)?mod\s+\w+\s*\{", text)
    return text[: cut.start()] if cut else text


def expand_use_tree(tree: str) -> list:
    """`a::{b, c::{d, e}}` -> ['a::b', 'a::c::d', 'a::c::e']."""
    tree = re.sub(r"\s+", "", tree)
    out = []

    def walk(prefix: str, rest: str):
        brace = rest.find("{")
        if brace < 0:
            for item in rest.split(","):
                if item:
                    out.append(prefix + item.split(" as ")[0])
            return
        head = rest[:brace]
        body = rest[brace + 1 : rest.rfind("}")]
        depth, start, items = 0, 0, []
        for i, ch in enumerate(body):
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            elif ch == "," and depth == 0:
                items.append(body[start:i])
                start = i + 1
        items.append(body[start:])
        for item in items:
            if item:
                walk(prefix + head, item)

    walk("", tree.replace(" as ", " as "))
    return [p.split("as")[0] if "::" not in p.split("as")[-1] and False else p for p in out]


def resolve(path: list, here: tuple, modules: set):
    """The module a `crate::`/`super::`/`self::` path lands in, or None."""
    if not path:
        return None
    head, rest = path[0], path[1:]
    if head == "crate":
        base = ()
    elif head == "self":
        base = here
    elif head == "super":
        base = here[:-1]
        while rest and rest[0] == "super":
            base, rest = base[:-1], rest[1:]
    else:
        return None
    target = base
    for seg in rest:
        seg = seg.split("as")[0] if False else seg
        if target + (seg,) in modules:
            target = target + (seg,)
        else:
            break
    return target


def edges_of(src: Path) -> dict:
    files = [f for f in src.rglob("*.rs")]
    modules = {module_of(src, f): f for f in files}
    graph = {m: set() for m in modules}
    for mod, file in modules.items():
        text = strip(file.read_text())
        paths = []
        for tree in USE_RE.findall(text):
            for p in expand_use_tree(tree):
                p = re.sub(r"as[A-Za-z_0-9]+$", "", p) if p.endswith(tuple()) else p
                paths.append(p)
        for head, rest in INLINE_RE.findall(text):
            paths.append(head + rest)
        for p in paths:
            segs = [s for s in p.split("::") if s]
            # `use x as y` leaves "xasy" glued after whitespace removal; cut at the glue.
            segs = [re.split(r"(?<=[a-z0-9_])as(?=[A-Z_a-z])", s)[0] if "as" in s and s not in modules else s for s in segs]
            target = resolve(segs, mod, set(modules))
            if target is None or target == mod:
                continue
            # A module naming its own descendants is ownership.
            if target[: len(mod)] == mod:
                continue
            graph[mod].add(target)
    return graph


def cycles(graph: dict) -> list:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
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
    for v in graph:
        if v not in index:
            visit(v)
    return out


def name(mod: tuple) -> str:
    return "crate" if not mod else "::".join(mod)


def main(argv):
    repo = Path(__file__).resolve().parent.parent
    dirs = [Path(a) for a in argv] or [repo / "obs-runtime/src", repo / "obs-macros/src"]
    failed = False
    for src in dirs:
        graph = edges_of(src)
        found = cycles(graph)
        n_edges = sum(len(v) for v in graph.values())
        if not found:
            print(f"{src}: {len(graph)} modules, {n_edges} import edges, no cycles")
            continue
        failed = True
        print(f"{src}: {len(found)} import cycle(s):")
        for comp in found:
            members = set(comp)
            print("  cycle among: " + ", ".join(sorted(name(m) for m in comp)))
            for m in sorted(comp):
                for t in sorted(graph[m] & members):
                    print(f"    {name(m)} -> {name(t)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
