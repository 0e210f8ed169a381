"""State files are their user's alone.

Atom texts in the index, uploaded documents, the feedback memory and Neo4j's auth file hold
private knowledge. Every process SalesKG starts (the CLI, serve workers, and the Neo4j it runs)
creates files 600 and folders 700; ``secure_tree`` mends state written before that.
"""

from __future__ import annotations

import os
from pathlib import Path


def restrict_new_files() -> None:
    """Files and folders this process (and what it starts) creates: owner only."""
    os.umask(0o077)


def secure_tree(root: Path) -> int:
    """Take group and other permissions off everything under ``root``; returns how many
    paths changed (executables keep their owner's execute bit)."""
    if not root.exists():
        return 0
    changed = 0
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            continue
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            path.chmod(mode & 0o700)
            changed += 1
    return changed
