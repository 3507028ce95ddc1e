"""`python mongoeco_server.py --host 127.0.0.1 --port 27017 [--data FILE]`: the mongoeco
MongoDB wire server (PyPI `mongoeco[wire]`) on one address, on SQLite (`--data`, kept
across restarts and SIGKILL) or in memory.

Fidelity shim, for the test harness only: mongoeco sends cursor ids as int32 and
refuses the int64 ids drivers send back in `getMore` and `killCursors`; it also
refuses a command's integer options (`limit`, `skip`, `batchSize`, ...) sent as int64,
as the Rust driver sends `limit`. A real server takes both widths. The patches below
make cursor ids int64 on the wire and take int64 cursor ids and options back as plain
integers; nothing else is changed.
"""

import argparse
import asyncio
import signal

from mongoeco.core.bson_scalars import BsonInt64
from mongoeco.wire import _executor_validation, cursors, executor
from mongoeco.wire.proxy import AsyncMongoEcoProxyServer


def _as_int(value):
    return value.value if isinstance(value, BsonInt64) else value


def _int64_cursor_id(result):
    cursor = result.get("cursor") if isinstance(result, dict) else None
    if isinstance(cursor, dict) and isinstance(cursor.get("id"), int) and not isinstance(cursor.get("id"), bool):
        cursor["id"] = BsonInt64(cursor["id"])
    return result


def _plain_ids(command_document):
    document = dict(command_document)
    if "getMore" in document:
        document["getMore"] = _as_int(document["getMore"])
    if isinstance(document.get("cursors"), list):
        document["cursors"] = [_as_int(cursor_id) for cursor_id in document["cursors"]]
    return document


# A command's own integer options (never user documents, which keep their types).
_INTEGER_OPTIONS = ("limit", "skip", "batchSize", "maxTimeMS", "ntoreturn", "maxAwaitTimeMS")


def _plain_options(body):
    if not isinstance(body, dict):
        return body
    return {key: _as_int(value) if key in _INTEGER_OPTIONS else value for key, value in body.items()}


def _patch():
    build = executor.WireCommandExecutor._build_request_context

    def build_plain(self, body, *args, **kwargs):
        return build(self, _plain_options(body), *args, **kwargs)

    executor.WireCommandExecutor._build_request_context = build_plain
    store = cursors.WireCursorStore
    materialize, get_more, kill = store.materialize_command_result, store.get_more, store.kill_cursors

    def materialize_int64(self, command_document, result, **kwargs):
        return _int64_cursor_id(materialize(self, command_document, result, **kwargs))

    def get_more_int64(self, command_document, **kwargs):
        return _int64_cursor_id(get_more(self, _plain_ids(command_document), **kwargs))

    def kill_plain(self, command_document, *args, **kwargs):
        return kill(self, _plain_ids(command_document), *args, **kwargs)

    store.materialize_command_result = materialize_int64
    store.get_more = get_more_int64
    store.kill_cursors = kill_plain
    validators = _executor_validation._WIRE_COMMAND_VALIDATORS
    for name in ("getMore", "killCursors"):
        validate = validators[name]
        validators[name] = lambda body, document, validate=validate: validate(body, _plain_ids(document))


async def serve(host, port, data):
    if data:
        from mongoeco.engines.sqlite import SQLiteEngine

        engine = SQLiteEngine(data)
    else:
        from mongoeco.engines.memory import MemoryEngine

        engine = MemoryEngine()
    server = AsyncMongoEcoProxyServer(engine=engine, host=host, port=port)
    address = await server.start()
    print(f"mongoeco: listening on {address}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=27017)
    parser.add_argument("--data", default=None, help="SQLite file (default: in memory)")
    args = parser.parse_args()
    _patch()
    asyncio.run(serve(args.host, args.port, args.data))


if __name__ == "__main__":
    main()
