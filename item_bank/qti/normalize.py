"""Bring QTI 3.0 and 2.x documents to one shape: no namespaces, QTI 3 kebab-case names.

QTI 3 writes `qti-choice-interaction response-identifier=...`; QTI 2.x writes
`choiceInteraction responseIdentifier=...`. The importer reads only the first
form: this module rewrites a 2.x tree into it, and strips the namespaces of
both (MathML elements keep their local names, which is how HTML5 embeds them).
"""

from __future__ import annotations

import re

from lxml import etree

NS_QTI3 = "http://www.imsglobal.org/xsd/imsqtiasi_v3p0"
NS_QTI21 = "http://www.imsglobal.org/xsd/imsqti_v2p1"
NS_QTI22 = "http://www.imsglobal.org/xsd/imsqti_v2p2"
NS_QTI20 = "http://www.imsglobal.org/xsd/imsqti_v2p0"
NS_MATHML = "http://www.w3.org/1998/Math/MathML"
NS_XML = "http://www.w3.org/XML/1998/namespace"
NS_XI = "http://www.w3.org/2001/XInclude"

QTI_VERSIONS = {NS_QTI3: "3.0", NS_QTI22: "2.2", NS_QTI21: "2.1", NS_QTI20: "2.0"}

#: XHTML elements QTI 2.x embeds in its own namespace (everything else there is a QTI element).
HTML_TAGS = frozenset(
    "a abbr acronym address article aside audio b bdi bdo big blockquote br caption cite code col colgroup "
    "dd del details dfn div dl dt em figcaption figure footer h1 h2 h3 h4 h5 h6 header hr i img ins kbd label "
    "li mark nav object ol p param picture pre q rb rp rt rtc ruby s samp section small source span strong "
    "sub summary sup table tbody td tfoot th thead tr track tt u ul var video wbr".split()
)

_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")


def kebab(name: str) -> str:
    """`responseIdentifier` -> `response-identifier`."""
    return _CAMEL.sub(r"-\1", name).lower()


def qti_version(root: etree._Element) -> str | None:
    """The QTI version of a document from its root namespace, or None when it is not QTI."""
    ns = etree.QName(root).namespace
    return QTI_VERSIONS.get(ns) if ns else None


def normalize(root: etree._Element) -> etree._Element:
    """Rewrite `root` in place into namespace-free QTI 3 names and return it."""
    ns_root = etree.QName(root).namespace
    is_v2 = ns_root in (NS_QTI21, NS_QTI22, NS_QTI20)
    for el in root.iter():
        tag = el.tag
        if not isinstance(tag, str):
            continue
        if tag[0] == "{":
            ns, _, local = tag[1:].partition("}")
        else:
            ns, local = "", tag
        if ns in QTI_VERSIONS:
            if is_v2 and local not in HTML_TAGS:
                new = "qti-" + kebab(local)
                qti_element = True
            else:
                new = local
                qti_element = local.startswith("qti-")
        elif ns == NS_XI:
            new = "xi-" + local
            qti_element = True
        else:
            new = local
            qti_element = False
        el.tag = new
        attrib = el.attrib
        if attrib and ((is_v2 and qti_element) or any(k[0] == "{" for k in attrib.keys())):
            attrs = list(attrib.items())
            attrib.clear()
            for key, value in attrs:
                if key[0] == "{":
                    kns, _, klocal = key[1:].partition("}")
                    if kns != NS_XML:
                        continue  # xsi:schemaLocation and foreign attributes
                    name = "xml-" + klocal  # xml:lang -> xml-lang, xml:base -> xml-base
                elif is_v2 and qti_element:
                    name = kebab(key)
                else:
                    name = key
                el.set(name, value)
    etree.cleanup_namespaces(root)
    return root
