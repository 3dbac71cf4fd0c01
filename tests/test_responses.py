"""The API's JSON: orjson's speed, json's answers."""

from __future__ import annotations

import json
from collections import namedtuple

import pytest
from starlette.responses import JSONResponse as StarletteJSONResponse

from chat.responses import JSONResponse

Row = namedtuple("Row", "seq body")


@pytest.mark.parametrize(
    "content",
    [
        # what orjson encodes itself: it must give json's bytes
        {"messages": [{"seq": 1, "body": "Gevel <b> & 'ü' 🏠", "edited_at": None}], 1: "key"},
        # what orjson refuses (a named tuple, an integer past 64 bits): json encodes it
        {"row": Row(2, "een rij"), "large": 2**70},
    ],
)
def test_the_api_answers_the_bytes_json_would(content: dict) -> None:
    ours = JSONResponse(content)
    assert ours.body == StarletteJSONResponse(content).body
    assert ours.headers["content-type"] == "application/json"
    assert json.loads(ours.body)
