"""FastAPI dependencies: the objects built once in the lifespan, handed to routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from kg.neo4j_store import Neo4jGraphStore
from retrieval.index_bundle import IndexBundle
from retrieval.service import SearchService


def _service(request: Request) -> SearchService:
    return request.app.state.search


def _store(request: Request) -> Neo4jGraphStore:
    return request.app.state.store


def _index(request: Request) -> IndexBundle:
    return request.app.state.index


IndexDep = Annotated[IndexBundle, Depends(_index)]
SearchDep = Annotated[SearchService, Depends(_service)]
StoreDep = Annotated[Neo4jGraphStore, Depends(_store)]
