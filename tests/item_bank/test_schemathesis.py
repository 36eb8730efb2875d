"""Property-based fuzzing of the bank API from its own OpenAPI document: no 5xx, ever.

Schemathesis generates requests for every bank and item operation from
/api/v1/openapi.json; hypothesis draws a bounded number of cases per operation.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.conftest import PASSWORD
from tests.factories import item

MAX_EXAMPLES = 12


@pytest.mark.slow
def test_bank_api_never_5xx(app, make_user, client):
    user = make_user("instructor")
    token = client.post("/api/v1/auth/token", json={"email": user.email, "password": PASSWORD}).get_json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    bank_id = client.post("/api/v1/banks", headers=headers, json={"name": "fuzz"}).get_json()["id"]
    client.post(f"/api/v1/banks/{bank_id}/items", headers=headers, json=item())
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app).include(path_regex=r"^/api/v1/(banks|items)")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    failures = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case):  # noqa: ANN001
            response = case.call(headers=headers)
            if response.status_code >= 500:
                failures.append((case.method, case.formatted_path, response.status_code, response.text[:300]))
            elif response.status_code >= 400:
                body = response.json()
                assert set(body) == {"error"} and "code" in body["error"], body

        check()
    assert not failures, failures
