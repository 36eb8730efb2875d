"""Errors of QTI import and export, each with a stable `code` for the CLI and REST layers."""

from __future__ import annotations


class QtiError(Exception):
    """Base of the QTI errors: a stable machine `code` and a human `message`."""

    code = "qti_error"
    http_status = 400

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class QtiImportError(QtiError):
    """The input was refused as a whole (unsafe, malformed, too large, not QTI).

    Codes: ``qti_malformed_xml``, ``qti_unsafe_path``, ``qti_too_large``,
    ``qti_external_entity``, ``qti_not_qti``, ``qti_unsupported_version`` (QTI 1.2),
    ``qti_bad_zip``.
    Problems with single items are not errors: they go to the import report.
    """

    http_status = 400


class QtiExportError(QtiError):
    """An item or exam could not be written as QTI (``qti_export_invalid_item``, ``qti_export_invalid``)."""

    http_status = 422
