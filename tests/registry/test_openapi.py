import pytest
from drf_spectacular.validation import validate_schema

from tests.api_client import call, make_key
from tests.openapi import assert_matches


@pytest.fixture
def schema(client, db):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def test_the_schema_is_valid_openapi_3(schema):
    validate_schema(schema)
    assert schema["openapi"].startswith("3.")
    assert schema["components"]["securitySchemes"]["ApiKey"]["name"] == "Authorization"


def test_every_carrier_endpoint_is_described(schema):
    assert set(schema["paths"]["/api/v1/carrier/staff/{employee_code}/"]) >= {"put", "delete"}
    assert "post" in schema["paths"]["/api/v1/carrier/assignments/"]
    assert "post" in schema["paths"]["/api/v1/carrier/call-intents/"]
    assert "post" in schema["paths"]["/api/v1/carrier/labels/"]


def test_the_carrier_endpoints_answer_what_the_schema_says(client, schema, carrier_a, staff_a):
    key = make_key(carrier_a)
    staff_path = "/api/v1/carrier/staff/{employee_code}/"
    created = call(
        client,
        "PUT",
        "/api/v1/carrier/staff/A100/",
        key,
        {"full_name": "Lê C", "phones": ["0977 000 111"], "status": "active"},
    )
    assert_matches(schema, staff_path, "put", 201, created.json())
    updated = call(
        client,
        "PUT",
        "/api/v1/carrier/staff/A100/",
        key,
        {"full_name": "Lê C", "phones": [], "status": "active"},
    )
    assert_matches(schema, staff_path, "put", 200, updated.json())
    bad = call(
        client,
        "PUT",
        "/api/v1/carrier/staff/A100/",
        key,
        {"full_name": "Lê C", "phones": ["1"], "status": "active"},
    )
    assert_matches(schema, staff_path, "put", 400, bad.json())
    batch = call(
        client,
        "POST",
        "/api/v1/carrier/assignments/",
        key,
        {
            "assignments": [
                {"tracking_code": "T1", "employee_code": "A001"},
                {"tracking_code": "T2"},
            ]
        },
    )
    assert batch.json()["errors"]
    assert_matches(schema, "/api/v1/carrier/assignments/", "post", 200, batch.json())
    intent = call(
        client,
        "POST",
        "/api/v1/carrier/call-intents/",
        key,
        {"employee_code": "A001", "phone": "0912345678", "recipient_phone": "0901234567"},
    )
    assert_matches(schema, "/api/v1/carrier/call-intents/", "post", 201, intent.json())
    missing = call(client, "DELETE", "/api/v1/carrier/staff/NOPE/", key)
    assert_matches(schema, staff_path, "delete", 404, missing.json())


def test_a_schema_mismatch_would_be_caught(schema):
    import jsonschema

    with pytest.raises(jsonschema.ValidationError):
        assert_matches(schema, "/api/v1/carrier/call-intents/", "post", 201, {"phone": 1})


def test_the_docs_are_served_without_any_cdn(client, db):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
    assert "cdn" not in html.lower() and "unpkg" not in html.lower()


def test_the_label_endpoint_declares_its_binary_answers_and_errors(client, schema, staff_a):
    operation = schema["paths"]["/api/v1/carrier/labels/"]["post"]
    ok = operation["responses"]["200"]
    assert ok["content"] == {
        "application/pdf": {"schema": {"type": "string", "format": "binary"}},
        "application/x-zpl": {"schema": {"type": "string", "format": "binary"}},
    }
    assert "X-Parcel-Url" in ok["headers"]
    assert {"400", "403", "404"} <= set(operation["responses"])
    body = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    fields = schema["components"]["schemas"][body.rsplit("/", 1)[1]]
    assert fields["properties"]["address_lines"]["maxItems"] == 4
    # What the endpoint answers is what the schema says.
    from registry import services

    services.assignment_upsert(carrier=staff_a.carrier, tracking_code="T1", staff=staff_a)
    key = make_key(staff_a.carrier)
    unknown = call(
        client,
        "POST",
        "/api/v1/carrier/labels/",
        key,
        {
            "tracking_code": "NOPE",
            "recipient_name": "Lê C",
            "recipient_phone": "0901234567",
            "address_lines": ["1 Phố Huế"],
        },
    )
    assert_matches(schema, "/api/v1/carrier/labels/", "post", 404, unknown.json())
