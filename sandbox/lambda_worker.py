"""Program run by one warm Lambda worker process (stdlib only).

Started by ``sandbox.lambda_runtime`` as::

    python -I -S lambda_worker.py CODE_DIR DEPS_DIR HANDLER RESULT_FD

* ``sys.path`` becomes ``[CODE_DIR, DEPS_DIR] + stdlib`` (no host site-packages), so a
  dependency that was not bundled into the asset fails as it would in AWS Lambda.
* Requests arrive as JSON lines on stdin: ``{"request_id", "event", "deadline_ms", "context"}``.
* Responses leave as JSON lines on file descriptor RESULT_FD: ``{"request_id", "errored", "payload"}``
  where ``payload`` is the JSON text Lambda would return. The first line is the init report
  ``{"init": true, "errored", "payload"}``.
* The handler's own stdout/stderr (fd 1 and 2) go wherever the parent pointed them (a log file),
  never into the protocol.
"""

import importlib
import json
import os
import sys
import time
import traceback


def _stdlib_paths():
    return [p for p in sys.path if p and "site-packages" not in p and "dist-packages" not in p]


def _error_payload(error_type, message, tb=None, request_id=None):
    body = {"errorMessage": message, "errorType": error_type, "stackTrace": tb or []}
    if request_id:
        body["requestId"] = request_id
    return json.dumps(body)


def _format_tb(exc):
    # Like the AWS runtime: only the user's frames, not the worker's own.
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename != __file__]
    return traceback.format_list(frames)


class LambdaContext:
    def __init__(self, info, deadline_ms):
        self.function_name = info.get("function_name")
        self.function_version = info.get("function_version", "$LATEST")
        self.invoked_function_arn = info.get("invoked_function_arn")
        self.memory_limit_in_mb = int(info.get("memory_limit_in_mb") or 128)
        self.aws_request_id = info.get("aws_request_id")
        self.log_group_name = info.get("log_group_name")
        self.log_stream_name = info.get("log_stream_name")
        self.identity = None
        self.client_context = None
        self.tenant_id = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        return max(0, int(self._deadline_ms - time.time() * 1000))

    def __repr__(self):
        return (f"LambdaContext(function_name={self.function_name!r}, aws_request_id={self.aws_request_id!r}, "
                f"invoked_function_arn={self.invoked_function_arn!r})")


def _load_handler(handler):
    if ":" in handler:
        module_name, func_name = handler.split(":", 1)
    else:
        module_name, _, func_name = handler.rpartition(".")
    module_name = module_name.replace("/", ".")
    if not module_name or not func_name:
        return None, _error_payload("Runtime.MalformedHandlerName", f"Bad handler '{handler}': not enough values to unpack")
    try:
        module = importlib.import_module(module_name)
    except SyntaxError as exc:
        return None, _error_payload("Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}",
                                    _format_tb(exc))
    except Exception as exc:  # ImportError, or an exception raised at import time
        return None, _error_payload("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}",
                                    _format_tb(exc))
    func = getattr(module, func_name, None)
    if func is None:
        return None, _error_payload("Runtime.HandlerNotFound", f"Handler '{func_name}' missing on module '{module_name}'")
    return func, None


def main():
    code_dir, deps_dir, handler_name, result_fd = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    sys.path[:] = [code_dir, deps_dir] + _stdlib_paths()
    os.chdir(code_dir)
    out = os.fdopen(result_fd, "w", buffering=1, encoding="utf-8")
    stdin = sys.stdin
    # The handler must never read the protocol: give it an empty stdin.
    sys.stdin = open(os.devnull)

    def send(obj):
        sys.stdout.flush()
        sys.stderr.flush()
        out.write(json.dumps(obj) + "\n")
        out.flush()

    handler, init_error = _load_handler(handler_name)
    send({"init": True, "errored": init_error is not None, "payload": init_error})
    if init_error is not None:
        return

    for line in stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        request_id = req["request_id"]
        context = LambdaContext(dict(req.get("context") or {}, aws_request_id=request_id), req["deadline_ms"])
        try:
            result = handler(req.get("event"), context)
            try:
                payload = json.dumps(result)
                errored = False
            except (TypeError, ValueError) as exc:
                payload = _error_payload("Runtime.MarshalError", f"Unable to marshal response: {exc}",
                                         request_id=request_id)
                errored = True
        except Exception as exc:
            tb = _format_tb(exc)
            sys.stderr.write("[ERROR] %s: %s\nTraceback (most recent call last):\n%s" % (
                type(exc).__name__, exc, "".join(tb)))
            payload = _error_payload(type(exc).__name__, str(exc), tb, request_id=request_id)
            errored = True
        send({"request_id": request_id, "errored": errored, "payload": payload})


if __name__ == "__main__":
    main()
