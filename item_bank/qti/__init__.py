"""QTI 3.0 and 2.1/2.2 import and export, independent of the database.

- `import_package(source, progress=None)` -> `ImportResult` (items in our
  format, tests as exam drafts, media, a per-item report);
- `export_package(items, exam=None, progress=None)` -> zip bytes of a QTI 3.0
  content package;
- `validate_package(data, xsd_dir)` checks an exported package against the
  official XSDs when they are available.

docs/qti.md says what maps to what and what is reported.
"""

from .errors import QtiError, QtiExportError, QtiImportError
from .exporter import export_package
from .importer import import_package
from .model import ImportedItem, ImportedSection, ImportedTest, ImportResult, ReportEntry
from .safety import ImportLimits
from .validate import validate_package

__all__ = [
    "ImportLimits",
    "ImportResult",
    "ImportedItem",
    "ImportedSection",
    "ImportedTest",
    "QtiError",
    "QtiExportError",
    "QtiImportError",
    "ReportEntry",
    "export_package",
    "import_package",
    "validate_package",
]
