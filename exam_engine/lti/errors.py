"""LTI and roster errors: domain errors with stable codes (docs/lti.md lists them)."""

from __future__ import annotations

from item_bank.errors import DomainError


class LaunchRefused(DomainError):
    """A login initiation or launch that fails a check of LTI 1.3 (its code says which)."""

    code = "lti_launch_refused"
    status = 400


class LtiServiceFailed(DomainError):
    """The platform's AGS or NRPS service refused or could not be reached."""

    code = "lti_service_failed"
    status = 502
