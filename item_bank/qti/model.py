"""Plain data returned by the importer: items in our format, tests as exam drafts, the report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

IMPORTED = "imported"
PARTIAL = "partial"
SKIPPED = "skipped"


@dataclass
class ImportedItem:
    """One QTI item converted to our item format (docs/items.md)."""

    identifier: str
    title: str
    language: str
    keywords: list[str]
    #: the item dict in our format: type, title, stem, interaction, scoring, metadata
    item: dict[str, Any]
    #: bank-relative media paths the stem and options refer to (keys of ImportResult.media)
    media: list[str] = field(default_factory=list)
    #: the package path of the item's XML (None for a single file)
    source_path: str | None = None
    #: the QTI version the item was written in: "3.0", "2.2", "2.1"
    qti_version: str = "3.0"
    #: exporter's version number, when the item came from our own export
    version: int | None = None


@dataclass
class ImportedSection:
    """A section of an assessment test, flattened: its own items and rules."""

    identifier: str
    title: str
    item_identifiers: list[str]
    #: number of items drawn (qti-selection select), None = all
    select: int | None = None
    with_replacement: bool = False
    #: qti-ordering shuffle
    shuffle: bool = False
    #: qti-time-limits max-time / min-time in seconds, when present
    max_time_s: float | None = None
    min_time_s: float | None = None


@dataclass
class ImportedTest:
    """A QTI assessment test, as the raw material of an exam draft."""

    identifier: str
    title: str
    sections: list[ImportedSection]
    max_time_s: float | None = None
    min_time_s: float | None = None
    source_path: str | None = None

    def as_exam(self) -> dict[str, Any]:
        """The exam dict shape `export_package` accepts (sections with selection and ordering)."""
        exam: dict[str, Any] = {
            "identifier": self.identifier,
            "title": self.title,
            "sections": [
                {
                    "identifier": s.identifier,
                    "title": s.title,
                    "item_identifiers": list(s.item_identifiers),
                    "select": s.select,
                    "shuffle": s.shuffle,
                }
                for s in self.sections
            ],
        }
        if self.max_time_s is not None:
            exam["time_limit_s"] = self.max_time_s
        return exam


@dataclass
class ReportEntry:
    """What happened to one item (or test) of the input, with every reason."""

    identifier: str
    status: str  # imported | partial | skipped
    reasons: list[str] = field(default_factory=list)
    kind: str = "item"  # item | test
    source_path: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form for the REST layer and the CLI."""
        return {
            "identifier": self.identifier,
            "kind": self.kind,
            "status": self.status,
            "reasons": list(self.reasons),
            "source_path": self.source_path,
        }


@dataclass
class ImportResult:
    """Everything an import produced; nothing is written anywhere."""

    items: list[ImportedItem] = field(default_factory=list)
    tests: list[ImportedTest] = field(default_factory=list)
    #: package-relative media path -> bytes (the bank stores them under the same path)
    media: dict[str, bytes] = field(default_factory=dict)
    report: list[ReportEntry] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Number of report entries by status (items only)."""
        out = {IMPORTED: 0, PARTIAL: 0, SKIPPED: 0}
        for entry in self.report:
            if entry.kind == "item":
                out[entry.status] = out.get(entry.status, 0) + 1
        return out
