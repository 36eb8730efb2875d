"""Validation of exported packages against the official QTI 3.0 XSDs, when configured.

The XSDs are not shipped with us (their licence forbids redistribution): pass
the folder that holds `imsqti_asiv3p0p1_v1p0.xsd` and
`imsqtiv3p0_imscpv1p2_v1p0.xsd` (with their imports), e.g. from the
`QTI_XSD_DIR` setting. Without one, nothing is validated.
"""

from __future__ import annotations

import zipfile
from functools import lru_cache
from io import BytesIO
from pathlib import Path

from lxml import etree

from .safety import parse_xml

ITEM_XSD = "imsqti_asiv3p0p1_v1p0.xsd"
MANIFEST_XSD = "imsqtiv3p0_imscpv1p2_v1p0.xsd"


@lru_cache(maxsize=8)
def load_schema(path: str) -> etree.XMLSchema:
    """Compile (once per process) the XSD at `path`; imports resolve beside it, never over the network."""
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    return etree.XMLSchema(etree.parse(path, parser))


def validate_document(root: etree._Element, schema: etree.XMLSchema) -> list[str]:
    """Schema errors of one document ("line: message"), empty when valid."""
    if schema.validate(root):
        return []
    return [f"{e.line}: {e.message}" for e in schema.error_log]


def validate_package(data: bytes, xsd_dir: str | Path) -> list[str]:
    """Every schema error of an exported package, as "path:line: message"; empty when valid."""
    xsd_dir = Path(xsd_dir)
    item_schema = load_schema(str(xsd_dir / ITEM_XSD))
    manifest_schema = load_schema(str(xsd_dir / MANIFEST_XSD))
    errors: list[str] = []
    with zipfile.ZipFile(BytesIO(data)) as zf:
        for name in zf.namelist():
            if not name.endswith(".xml"):
                continue
            root = parse_xml(zf.read(name), name)
            schema = manifest_schema if name == "imsmanifest.xml" else item_schema
            errors.extend(f"{name}:{e}" for e in validate_document(root, schema))
    return errors
