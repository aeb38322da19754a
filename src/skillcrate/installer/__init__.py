"""Installing skills into a project: the pipeline is in :mod:`.pipeline`.

``plan`` (pure) → ``prepare`` (fetch, or prove from records) → ``trust`` → ``apply``
(``materialise``, ``links``, ``gitignore``, ``state``). This package imports nothing on
its own, so the no-op check can read :mod:`.state` without loading the pipeline.
"""
