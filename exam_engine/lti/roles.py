"""LTI / LIS role URIs to our roles (pure)."""

from __future__ import annotations

from typing import Iterable

#: Our roles from least to most privileged: a user holding several gets the highest.
RANK = {"learner": 0, "examiner": 1, "instructor": 2, "admin": 3}

#: Short LIS role names (membership, institution and system vocabularies) -> our role.
ROLE_MAP = {
    "Learner": "learner", "Student": "learner", "Member": "learner", "Guest": "learner", "Observer": "learner",
    "Mentor": "learner", "Alumni": "learner", "ProspectiveStudent": "learner", "User": "learner",
    "TeachingAssistant": "examiner", "Grader": "examiner", "Proctor": "examiner",
    "Instructor": "instructor", "ContentDeveloper": "instructor", "Faculty": "instructor", "Manager": "instructor",
    "Administrator": "admin", "SysAdmin": "admin", "AccountAdmin": "admin",
}


def short_name(uri: str) -> str:
    """`http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant` -> `TeachingAssistant`."""
    uri = uri.strip()
    if "#" in uri:
        return uri.rsplit("#", 1)[1]
    return uri.rstrip("/").rsplit("/", 1)[-1]


def is_context_role(uri: str) -> bool:
    """Membership (course) roles, including the short forms LTI allows for them."""
    return "/vocab/lis/v2/membership" in uri or ("/" not in uri and "#" not in uri)


def map_roles(roles: Iterable[str], *, allow_admin: bool = False) -> str:
    """Our role for an LTI role list: course roles decide, else institution/system ones; unknown -> learner."""
    roles = [r for r in roles if isinstance(r, str) and r.strip()]
    context = [r for r in roles if is_context_role(r)]
    chosen = context or roles
    best = "learner"
    for uri in chosen:
        mapped = ROLE_MAP.get(short_name(uri))
        if mapped == "admin" and not allow_admin:
            mapped = "instructor"
        if mapped and RANK[mapped] > RANK[best]:
            best = mapped
    return best
