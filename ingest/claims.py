"""What a file may claim about its atoms, given who ingests it (``kg.access.Writer``).

Front matter (团队, 负责人, 可见范围, 状态) and the fields of structured records say who owns an
atom, who sees it and whether it is approved. From the operator (the CLI, an ``admin`` key)
they are taken as written. From any other ``ingest`` key they are checked here, after parsing
and before anything is written:

- a team or an owner other than the key's own refuses the file (it would plant knowledge in
  another team's name, or pass it off as a colleague's);
- ``team`` visibility needs a key with a team, ``private`` a key with a user;
- an approval (已审核) is lowered to a draft, with a warning: only curators and admins approve.

Every atom of an accepted file is then stamped with the key's team and user, so ownership
never comes from the file.
"""

from __future__ import annotations

from kg.access import Writer
from kg.errors import IngestError
from kg.models import Atom, CurationStatus, Visibility


def enforce_claims(atoms: list[Atom], writer: Writer, name: str) -> list[str]:
    """Check and stamp ``atoms`` of the file ``name``; returns warnings for the report.

    Raises:
        IngestError: the file claims a team, an owner or a visibility the key cannot grant.
    """
    if writer.trusted:
        return []
    warnings: list[str] = []
    lowered = 0
    for atom in atoms:
        if atom.team not in (None, writer.team):
            raise IngestError(
                f"{name}: 文件声明团队「{atom.team}」，但该密钥属于"
                f"「{writer.team or '（无团队）'}」；只能导入本团队的知识 "
                "(the file claims another team)"
            )
        if atom.owner not in (None, writer.user):
            raise IngestError(
                f"{name}: 文件声明负责人「{atom.owner}」，该密钥不能代表他人导入；"
                "请删除「负责人」或用本人的密钥 (the file claims another owner)"
            )
        if atom.visibility is Visibility.TEAM and not writer.team:
            raise IngestError(
                f"{name}: 团队可见需要绑定团队的密钥 (team visibility needs a key with a team)"
            )
        if atom.visibility is Visibility.PRIVATE and not writer.user:
            raise IngestError(
                f"{name}: 个人可见需要绑定个人的密钥 (private visibility needs a key with a user)"
            )
        if atom.status is CurationStatus.APPROVED:
            atom.status = CurationStatus.DRAFT
            lowered += 1
        atom.team, atom.owner = writer.team, writer.user
        atom.rehash()
    if lowered:
        warnings.append(
            f"{name}: {lowered} 条声明「已审核」的知识按草稿导入：只有知识运营（管理员）可以审核 "
            "(approval is for curators and admins; imported as drafts)"
        )
    return warnings
