#!/usr/bin/env python3
"""Rewrites `caseledger::Name` imports and paths for the public module map.

Usage: reimport.py [--crate] [--rewrap] MAP.json FILE...

MAP (docs/module-map.json) is {"OldRootName": "module::path::NewName", ...}: the full new
path of every name that left the crate root. When the last segment differs from the key,
the item was renamed too, and the old name is also replaced where a rewritten import had
brought it into scope (word for word, in that file only).

Rewrites `use caseledger::{...};` groups and single `use caseledger::Name;` imports (also
inside `//!`, `///` and hidden `#` doctest lines, and in Markdown), and bare
`caseledger::Name` paths (`caseledger::Status::Open`, intra-doc links). With `--crate`,
`crate::` paths are rewritten as well, for the crate's own sources. Groups in doc
comments and Markdown that grow past 100 columns are wrapped as rustfmt would wrap code
(rustfmt leaves doc examples alone); `--rewrap` also wraps such groups the map did not
change.

Idempotent: a name already under its module is left alone.
"""
import json
import re
import sys

args = sys.argv[1:]
prefixes = ['caseledger']
REWRAP = False
while args and args[0].startswith('--'):
    if args[0] == '--crate':
        prefixes.append('crate')
    elif args[0] == '--rewrap':
        REWRAP = True
    else:
        sys.exit(__doc__)
    args = args[1:]
if len(args) < 1:
    sys.exit(__doc__)

mapping = json.load(open(args[0]))
WIDTH = 100
markdown = False
PREFIX = '(?:' + '|'.join(prefixes) + ')'


def new_path(name):
    """The new path of `name` relative to the crate root, and its new last segment."""
    path = mapping[name]
    return path, path.rsplit('::', 1)[-1]


def split_top(s):
    out, depth, cur = [], 0, ''
    for ch in s:
        if ch == '{':
            depth += 1
        if ch == '}':
            depth -= 1
        if ch == ',' and depth == 0:
            out.append(cur.strip())
            cur = ''
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


def rewrite_item(item, renamed):
    """One item of a group: `Name` or `Name as Alias`, rewritten to its new path."""
    base, _, alias = item.partition(' as ')
    base = base.strip()
    if base not in mapping:
        return item
    path, last = new_path(base)
    if alias:
        return f"{path} as {alias.strip()}"
    if last != base:
        renamed[base] = last
    return path


def fix_text(text):
    renamed = {}

    # Groups may span doc-comment lines: strip the prefixes, rewrite, and put them back
    # on one line in code (rustfmt rewraps it) or wrapped under the prefix in docs.
    group_re = re.compile(r'use ' + PREFIX + r'::\{((?:[^{}]|\{[^{}]*\})*)\};', re.S)

    def group(m):
        root = m.group(0)[4:m.group(0).index('::')]
        flat = re.sub(r'\n\s*(?://[/!]|#)?\s?', ' ', m.group(1))
        items = split_top(flat)
        new = [rewrite_item(it, renamed) for it in items]
        if new == items:
            if REWRAP and '\n' not in m.group(0):
                return wrap(m, root, items)
            return m.group(0)
        return wrap(m, root, arrange(new))

    def arrange(new):
        # Moved names gather under their module (`error::{DecodeError, LogError}`), module
        # paths first, then the root's names in their order, as rustfmt would leave them.
        modules, kept = {}, []
        for it in new:
            head, sep, tail = it.rpartition('::')
            if sep and '{' not in it:
                modules.setdefault(head, []).append(tail)
            else:
                kept.append(it)
        paths = []
        for head, tails in sorted(modules.items()):
            tails = sorted(set(tails), key=lambda t: (t.lower() != t, t))
            paths.append(f"{head}::{tails[0]}" if len(tails) == 1 else f"{head}::{{{', '.join(tails)}}}")
        return paths + kept

    def wrap(m, root, new):
        if len(new) == 1:
            return f"use {root}::{new[0]};"
        one_line = f"use {root}::{{{', '.join(new)}}};"
        # rustfmt wraps code, but not doc comments or Markdown: wrap those at WIDTH the
        # way rustfmt would, four spaces in, under the line's own prefix.
        start = text.rfind('\n', 0, m.start()) + 1
        prefix = text[start:m.start()]
        if prefix.strip() == '' and not markdown or len(prefix) + len(one_line) <= WIDTH:
            return one_line
        lead = re.match(r'\s*(?://[/!]\s?|#\s)?', prefix).group(0)
        lines, cur = [], ''
        for it in new:
            piece = it + ','
            if cur and len(lead) + 4 + len(cur) + 1 + len(piece) > WIDTH:
                lines.append(cur)
                cur = piece
            else:
                cur = f"{cur} {piece}" if cur else piece
        lines.append(cur)
        body = ''.join(f"\n{lead}    {line}" for line in lines)
        return f"use {root}::{{{body}\n{lead}}};"

    text = group_re.sub(group, text)

    # A glob import of the root no longer brings the moved names: import the ones the
    # file mentions by name beside it.
    glob_re = re.compile(r'use (' + PREFIX + r')::\*;')

    def glob(m):
        used = [n for n in mapping if re.search(r'(?<![\w:])' + re.escape(n) + r'\b', text)]
        if not used:
            return m.group(0)
        inner = ', '.join(['*'] + used)
        return group(group_re.match(f"use {m.group(1)}::{{{inner}}};"))

    text = glob_re.sub(glob, text)

    single_re = re.compile(r'use (' + PREFIX + r')::([A-Za-z_][A-Za-z0-9_]*)( as [A-Za-z_][A-Za-z0-9_]*)?;')

    def single(m):
        root, name, alias = m.group(1), m.group(2), m.group(3) or ''
        if name not in mapping:
            return m.group(0)
        path, last = new_path(name)
        if not alias and last != name:
            renamed[name] = last
        return f"use {root}::{path}{alias};"

    text = single_re.sub(single, text)

    # Bare paths: `caseledger::Name` right after the crate name (a name already under a
    # module has a module segment first and is not matched).
    bare_re = re.compile(r'(?<![\w:])(' + PREFIX + r')::([A-Za-z_][A-Za-z0-9_]*)\b')

    def bare(m):
        root, name = m.group(1), m.group(2)
        if name not in mapping:
            return m.group(0)
        return f"{root}::{new_path(name)[0]}"

    text = bare_re.sub(bare, text)

    # A renamed item imported by its old name: the file's other mentions follow, except
    # in the paths just written.
    for old, new in renamed.items():
        text = re.sub(r'(?<![\w:])' + re.escape(old) + r'\b', new, text)
    return text


for path in args[1:]:
    markdown = path.endswith('.md')
    s = open(path).read()
    t = fix_text(s)
    if t != s:
        open(path, 'w').write(t)
        print("rewrote", path)
