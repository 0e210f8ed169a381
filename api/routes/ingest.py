"""Ingest through the API: upload files, get a job id, read the job's state and report."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Path, Query, UploadFile, status

from api import assembly
from api.deps import IngestViewer, JobsDep, ServicesDep
from api.errors import responses
from api.schemas import MAX_OFFSET, IngestJobPage, IngestJobPublic, next_offset
from ingest.pipeline import IngestOptions
from kg.access import Writer
from kg.errors import IngestError, PermissionDeniedError
from kg.models import CurationStatus, Visibility

router = APIRouter(prefix="/v1/ingest", tags=["ingest"])
ERRORS = responses(401, 403, 413, 422, 503)
MAX_FILES = 100


@router.post(
    "", response_model=IngestJobPublic, status_code=status.HTTP_202_ACCEPTED, responses=ERRORS
)
def upload(
    viewer: IngestViewer,
    jobs: JobsDep,
    services: ServicesDep,
    files: Annotated[
        list[UploadFile],
        File(description="md, txt, docx, pdf, csv, tsv, xlsx, json or jsonl; up to 100"),
    ],
    collection: Annotated[
        str, Form(min_length=1, max_length=100, description="documents of one source")
    ] = "uploads",
    visibility: Annotated[
        Visibility | None,
        Form(description="for atoms whose file does not say; default: team if the key has one"),
    ] = None,
    curation_status: Annotated[CurationStatus, Form(alias="status")] = CurationStatus.DRAFT,
) -> IngestJobPublic:
    """Queue files for ingest. A file of an unsupported type refuses the request (nothing is
    kept); a file that turns out malformed is reported in the job and skipped while the rest
    lands. Re-uploading a file of the same name to the same collection updates it; the
    documents belong to the key's team (or, without one, its user), so another team's file
    of the same name is another document. Front matter may not claim another team or owner,
    and only admin keys import approved knowledge (drafts otherwise)."""
    if len(files) > MAX_FILES:
        raise IngestError(f"一次最多上传 {MAX_FILES} 个文件 (at most {MAX_FILES} files per job)")
    writer = Writer.for_key(viewer)
    if curation_status is CurationStatus.APPROVED and not writer.may_approve:
        raise PermissionDeniedError(
            "只有管理员密钥可以直接导入已审核的知识；请以草稿导入，由知识运营审核 "
            "(only admin keys may import approved knowledge)"
        )
    default = visibility or (Visibility.TEAM if viewer.team else Visibility.PUBLIC)
    if default is Visibility.TEAM and not viewer.team:
        raise IngestError("该密钥不属于任何团队，不能导入团队可见的知识 (the key has no team)")
    if default is Visibility.PRIVATE and not viewer.user:
        raise IngestError("该密钥未绑定个人，不能导入个人可见的知识 (the key has no user)")
    options = IngestOptions(
        collection=collection,
        sync_removed=False,
        default_status=curation_status,
        default_visibility=default,
        default_team=viewer.team,
        default_owner=viewer.user,
        writer=writer,
        limits=assembly.parse_limits(services.settings),
    )
    contents = [(f.filename or "", f.file.read()) for f in files]
    job_id = jobs.submit(viewer, contents, options)
    return IngestJobPublic(**jobs.get(job_id, viewer))


@router.get("/jobs", response_model=IngestJobPage, responses=ERRORS)
def list_jobs(
    viewer: IngestViewer,
    jobs: JobsDep,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> IngestJobPage:
    """This key's jobs, newest first (every job for an admin key)."""
    items, total = jobs.list(viewer, offset, limit)
    return IngestJobPage(
        items=[IngestJobPublic(**j) for j in items],
        total=total,
        next_offset=next_offset(offset, len(items), total),
    )


@router.get(
    "/jobs/{job_id}", response_model=IngestJobPublic, responses={**ERRORS, **responses(404)}
)
def read_job(
    job_id: Annotated[str, Path(max_length=64)], viewer: IngestViewer, jobs: JobsDep
) -> IngestJobPublic:
    """A job's state; once finished, its report (documents and atoms written, files skipped
    and why) or its error."""
    return IngestJobPublic(**jobs.get(job_id, viewer))
