"""Imports every model module so the metadata is complete (migrations, create_all)."""

from __future__ import annotations

import importlib

from item_bank.orm import Base

#: Every module that declares tables; a new one is added here and gets a migration.
MODEL_MODULES = ("exam_engine.auth.models", "item_bank.models", "exam_engine.exams.models",
                 "exam_engine.sessions.models", "exam_engine.lti.models",
                 "exam_engine.grading.models",
                 "exam_engine.proctoring.models",
                 "exam_engine.credentials_engine.models")

for _name in MODEL_MODULES:
    importlib.import_module(_name)

metadata = Base.metadata
