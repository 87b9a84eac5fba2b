"""Checks a real response against what /api/schema/ says it is."""

import jsonschema


def response_schema(doc: dict, path: str, method: str, status: int) -> dict:
    operation = doc["paths"][path][method.lower()]
    content = operation["responses"][str(status)]["content"]["application/json"]
    return content["schema"]


def _openapi_to_jsonschema(node):
    """OpenAPI 3.0's `nullable` is not JSON Schema: turn it into a type union."""
    if isinstance(node, dict):
        node = {key: _openapi_to_jsonschema(value) for key, value in node.items()}
        if node.pop("nullable", False):
            node = {"anyOf": [node, {"type": "null"}]}
        return node
    if isinstance(node, list):
        return [_openapi_to_jsonschema(value) for value in node]
    return node


def assert_matches(doc: dict, path: str, method: str, status: int, body) -> None:
    schema = dict(response_schema(doc, path, method, status))
    schema["components"] = doc["components"]
    jsonschema.validate(body, _openapi_to_jsonschema(schema))
