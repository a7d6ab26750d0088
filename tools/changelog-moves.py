#!/usr/bin/env python3
"""Prints the CHANGELOG's "Moved and renamed" list from docs/module-map.json: every name
that left the crate root, old path → new path, by new path (renames marked)."""
import json
import sys

mapping = json.load(open(sys.argv[1] if len(sys.argv) > 1 else 'docs/module-map.json'))
for old, new in sorted(mapping.items(), key=lambda kv: (kv[1].lower(), kv[0])):
    renamed = ' (renamed)' if new.rsplit('::', 1)[1] != old else ''
    print(f"- `caseledger::{old}` → `caseledger::{new}`{renamed}")
