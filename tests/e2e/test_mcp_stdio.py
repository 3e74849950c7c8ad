"""pantry-mcp over stdio, launched as a subprocess by the official client, as Claude
Desktop would launch it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters

from tests.support import SERVICE_TOKEN, RunningServer, text_of, unique

pytestmark = pytest.mark.anyio


def stdio_server(pantry_url: str, user: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=str(Path(sys.executable).parent / "pantry-mcp"),
        args=["stdio"],
        env={
            "PATH": os.environ.get("PATH", ""),
            "PANTRY_MCP_PANTRY_URL": pantry_url,
            "PANTRY_MCP_PANTRY_TOKEN": SERVICE_TOKEN,
            "PANTRY_MCP_USER": user,
        },
    )


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28", "auto"])
async def test_the_user_requests_over_stdio(pantry_server: RunningServer, mode: str) -> None:
    user = unique("stdio-user")
    async with Client(stdio_server(pantry_server.base_url, user), mode=mode) as client:
        tools = await client.list_tools()
        assert len(tools.tools) == 11  # nine for the model, and two for the views only
        bought = await client.call_tool(
            "update_pantry",
            {"changes": [{"action": "add", "ingredient": "eggs", "quantity": 6, "unit": "piece"}]},
        )
        assert bought.structured_content["applied"] == 1
        plan = await client.call_tool("plan_week_meals", {"start_date": "2026-11-30", "days": 2})
        assert not plan.is_error
        pantry = await client.read_resource("pantry://current")
        assert "egg: 6" in text_of(pantry.contents[0])
        bad = await client.call_tool("plan_week_meals", {"start_date": "2026-02-30"})
        assert bad.is_error
        assert "start_date" in text_of(bad.content[0])
        # A desktop host on stdio renders the same views (one line of JSON each, however big).
        week = (await client.read_resource("ui://pantry/week-plan")).contents[0]
        assert week.mime_type == "text/html;profile=mcp-app"
        assert '<body data-view="week-plan">' in text_of(week)


# Lines a client may send that JSON allows but Unicode and numbers do not, and lines that
# are not JSON at all: each is answered at once (the SDK alone drops unparseable lines and
# keeps the last of repeated keys), with the request's id where it has a usable one.
BELOW_THE_SCHEMA: list[tuple[bytes, object, int, str]] = [
    (
        b'{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"search_recipes",'
        b'"arguments":{"query":"\\ud800"}}}',
        2,
        -32602,
        "params.arguments.query",
    ),
    (
        b'{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"search_recipes",'
        b'"arguments":{"query":"a","query":"b"}}}',
        3,
        -32602,
        "'query' twice",
    ),
    (
        b'{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"update_pantry",'
        b'"arguments":{"changes":[{"action":"add","ingredient":"milk","quantity":NaN,'
        b'"unit":"l"}]}}}',
        4,
        -32602,
        "params.arguments.changes.0.quantity is NaN",
    ),
    (
        b'{"jsonrpc":"2.0","id":5,"method":"ping","params":{"_meta":{"x":1e400}}}',
        5,
        -32602,
        "1e400",
    ),
    (b'{"jsonrpc":"2.0","id":"\\udc00","method":"ping"}', None, -32600, "id"),
    (b"{not json", None, -32700, "Parse error"),
    (b'{"jsonrpc":"2.0","id":6,"method":"ping","params":{"q":"\xff"}}', None, -32700, "UTF-8"),
]


async def test_stdio_answers_every_line_it_refuses(pantry_server: RunningServer) -> None:
    user = unique("stdio-below")
    params = stdio_server(pantry_server.base_url, user)
    process = await anyio.open_process([params.command, *params.args], env=params.env)
    assert process.stdin is not None and process.stdout is not None
    lines = [
        b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":'
        b'"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}',
        b'{"jsonrpc":"2.0","method":"notifications/initialized"}',
        b'{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"x":NaN}}',  # unanswered
        *(line for line, *_ in BELOW_THE_SCHEMA),
        b'{"jsonrpc":"2.0","id":9,"method":"ping"}',
    ]
    answers: list[dict[str, object]] = []
    try:
        with anyio.fail_after(30):
            await process.stdin.send(b"\n".join(lines) + b"\n")
            buffer = b""
            while len(answers) < len(BELOW_THE_SCHEMA) + 2:
                buffer += await process.stdout.receive()
                *complete, buffer = buffer.split(b"\n")
                answers += [json.loads(line) for line in complete if line.strip()]
    finally:
        process.kill()
        await process.wait()
    # answers come as each is ready: match them by id (those without one keep their order)
    by_id = {answer["id"]: answer for answer in answers if answer["id"] is not None}
    unnamed = iter(answer for answer in answers if answer["id"] is None)
    assert "result" in by_id[1]
    assert by_id[9] == {"jsonrpc": "2.0", "id": 9, "result": {}}  # still serving
    for line, request_id, code, words in BELOW_THE_SCHEMA:
        answer = by_id[request_id] if request_id is not None else next(unnamed)
        error = answer.get("error")
        assert isinstance(error, dict), (line, answer)
        assert error["code"] == code, (line, answer)
        assert words in str(error["message"]), (line, answer)
    assert len(answers) == len(BELOW_THE_SCHEMA) + 2  # the refused notification: no answer


def test_stdio_starts_quietly_without_a_request_state_key(pantry_server: RunningServer) -> None:
    """One process serves one client on stdio, so the key it generates is all it needs: no
    warning meant for replicas lands in a desktop client's log."""
    params = stdio_server(pantry_server.base_url, unique("stdio-user"))
    done = subprocess.run(
        [params.command, *params.args],
        input=b"",  # the client hangs up at once
        env=params.env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    assert b"request_state_key_generated" not in done.stderr
    assert b"Traceback" not in done.stderr
