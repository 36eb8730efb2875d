"""Open Badges 3.0 credentials: model, signing (Data Integrity + VC-JWT), verification, status lists, pathways.

Pure: no web framework, no database, no network. The names most callers need:

    from credentials import (KeyRing, build_credential, issue_credential, verify, ...)

``credentials.verify`` is the module ``credentials/verify.py``, and calling it
calls ``credentials.verify.verify``: ``credentials.verify(jwt_or_dict, ...)``.
"""

from credentials.contexts import ContextLoader, ContextUnavailable
from credentials.issue import IssuedCredential, IssuingError, issue_credential, issuer_profile
from credentials.keys import IssuerKey, KeyMaterialError, KeyRing
from credentials.model import (
    Achievement,
    Alignment,
    Evidence,
    Profile,
    build_credential,
    hash_identity,
    identity_matches,
    new_salt,
    status_list_entry,
)
from credentials.pathways import HeldCredential, PathwayAward, PathwayRule, newly_earned, revocation_cascade
from credentials.status_list import Bitstring, allocate_index, build_status_list_credential
from credentials import verify  # the module; callable (see credentials/verify.py)

__all__ = [
    "Achievement", "Alignment", "Bitstring", "ContextLoader", "ContextUnavailable", "Evidence", "HeldCredential",
    "IssuedCredential", "IssuerKey", "IssuingError", "KeyMaterialError", "KeyRing", "PathwayAward", "PathwayRule",
    "Profile", "allocate_index", "build_credential", "build_status_list_credential", "hash_identity",
    "identity_matches", "issue_credential", "issuer_profile", "newly_earned", "new_salt", "revocation_cascade",
    "status_list_entry", "verify",
]
