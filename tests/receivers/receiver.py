"""An HTTP receiver for Belfry's outbound channels, written with the Python
standard library and third-party verifiers only, so the tests check what
Belfry sends with code that is not Belfry's.

It listens on 127.0.0.1 (a free port), prints {"port": N} on the first line,
then one JSON line per request it receives:

  {"method", "path", "headers" (lower-case names), "body" (text),
   "json" (the body parsed, when it is JSON), "form" (parsed, when it is
   form-encoded; each key's values), "basic_auth" ([user, password] when
   given), "verified" (with --whsec: whether the standardwebhooks reference
   library accepts the signature), "error" (its reason when it does not)}

--answers 500,200 answers the first request 500, the second 200, and so on
(the last repeats); --retry-after N adds Retry-After: N to non-2xx answers;
--delay S waits S seconds before each answer.
"""

import argparse
import base64
import json
import sys
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--whsec", help="verify Standard Webhooks signatures with this secret")
    parser.add_argument("--answers", default="200", help="statuses to answer, in order")
    parser.add_argument("--retry-after", help="Retry-After on non-2xx answers")
    parser.add_argument("--delay", type=float, default=0, help="seconds to wait before answering")
    args = parser.parse_args()
    answers = [int(a) for a in args.answers.split(",")]
    verifier = None
    if args.whsec:
        from standardwebhooks.webhooks import Webhook

        verifier = Webhook(args.whsec)
    seen = {"count": 0}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (the standard library's name)
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length)
            body = raw.decode("utf-8", errors="replace")
            headers = {k.lower(): v for k, v in self.headers.items()}
            record = {
                "method": self.command,
                "path": self.path,
                "headers": headers,
                "body": body,
            }
            if headers.get("content-type", "").startswith("application/json"):
                try:
                    record["json"] = json.loads(body)
                except ValueError as e:
                    record["json_error"] = str(e)
            if headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
                record["form"] = urllib.parse.parse_qs(body, keep_blank_values=True)
            auth = headers.get("authorization", "")
            if auth.lower().startswith("basic "):
                user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
                record["basic_auth"] = [user, password]
            if verifier is not None:
                try:
                    verifier.verify(raw, headers)
                    record["verified"] = True
                except Exception as e:  # the library's WebhookVerificationError and kin
                    record["verified"] = False
                    record["error"] = f"{type(e).__name__}: {e}"
            if args.delay:
                time.sleep(args.delay)
            status = answers[min(seen["count"], len(answers) - 1)]
            seen["count"] += 1
            print(json.dumps(record), flush=True)
            self.send_response(status)
            if status >= 300 and args.retry_after:
                self.send_header("Retry-After", args.retry_after)
            reply = b'{"ok": true}' if status < 300 else b'{"error": "refused by the test receiver"}'
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            # Requests are reported on stdout as JSON; keep stderr quiet.
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(json.dumps({"port": server.server_address[1]}), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
