"""An SMTP receiver for Belfry's email channel: aiosmtpd (the aio-libs'
SMTP server) takes the mail, and Python's own `email` package parses it, so
the tests check what Belfry sends with code that is not Belfry's.

It listens on 127.0.0.1 (a free port), prints {"port": N} on the first line,
then one JSON line per message it accepts:

  {"mail_from", "rcpt_tos" (the envelope), "tls" ("starttls", "implicit" or
   null), "login" (the AUTH user name, or null), "headers" (Subject, From,
   To, Message-ID, Content-Type, ... as they were sent; each name's values),
   "subject" (decoded), "content_type", "text" and "html" (the text/plain and
   text/html parts, decoded, line breaks as \n), "parts" (every leaf part's content type),
   "defects" (what the parser found wrong)}

Options:
  --tls-cert F --tls-key F   offer STARTTLS with this certificate
  --require-starttls         refuse everything but EHLO, STARTTLS, NOOP and
                             QUIT before STARTTLS
  --implicit-tls             TLS from the first byte (SMTPS, port 465 style)
                             instead of STARTTLS
  --auth USER:PASSWORD       require AUTH (PLAIN or LOGIN) before MAIL;
                             offered only once the connection is encrypted
"""

import argparse
import asyncio
import email
import email.policy
import json
import logging
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


def parse_message(raw: bytes) -> dict:
    """The message as Python's email package reads it."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    headers: dict = {}
    for name, value in message.raw_items():
        headers.setdefault(name, []).append(value)
    record = {
        "headers": headers,
        "subject": str(message["Subject"]) if message["Subject"] is not None else None,
        "content_type": message.get_content_type(),
        "parts": [],
        "text": None,
        "html": None,
        "defects": [type(d).__name__ for d in message.defects],
    }
    for part in message.walk():
        if part.is_multipart():
            record["defects"] += [type(d).__name__ for d in part.defects]
            continue
        kind = part.get_content_type()
        record["parts"].append(kind)
        record["defects"] += [type(d).__name__ for d in part.defects]
        if kind == "text/plain" and record["text"] is None:
            record["text"] = part.get_content().replace("\r\n", "\n")
        elif kind == "text/html" and record["html"] is None:
            record["html"] = part.get_content().replace("\r\n", "\n")
    return record


class Handler:
    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "tls": tls_of(server, session),
            "login": login_of(session),
        }
        record.update(parse_message(envelope.original_content or envelope.content))
        print(json.dumps(record), flush=True)
        return "250 OK: queued"


def tls_of(server, session):
    if session.ssl is not None:
        return "starttls"
    transport = server.transport
    if transport is not None and transport.get_extra_info("ssl_object") is not None:
        return "implicit"
    return None


def login_of(session):
    if not session.authenticated:
        return None
    data = session.auth_data
    if isinstance(data, LoginPassword):
        return data.login.decode()
    return str(data)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--require-starttls", action="store_true")
    parser.add_argument("--implicit-tls", action="store_true")
    parser.add_argument("--auth", help="USER:PASSWORD to require")
    args = parser.parse_args()
    # aiosmtpd logs every session (and warns about its own deprecated
    # login_data) on stderr; messages are reported on stdout as JSON.
    logging.getLogger("mail.log").setLevel(logging.ERROR)

    context = None
    if args.tls_cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.tls_cert, args.tls_key)

    authenticator = None
    if args.auth:
        user, _, password = args.auth.partition(":")

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (
                isinstance(auth_data, LoginPassword)
                and auth_data.login.decode() == user
                and auth_data.password.decode() == password
            )
            if ok:
                return AuthResult(success=True, auth_data=auth_data)
            # Not handled: aiosmtpd answers 535 itself.
            return AuthResult(success=False, handled=False)

    def factory() -> SMTP:
        return SMTP(
            Handler(),
            hostname="smtp.test",
            # With implicit TLS the whole connection is encrypted; aiosmtpd
            # only counts STARTTLS as TLS for its own AUTH check.
            tls_context=None if args.implicit_tls else context,
            require_starttls=args.require_starttls,
            authenticator=authenticator,
            auth_required=authenticator is not None,
            auth_require_tls=not args.implicit_tls,
            enable_SMTPUTF8=True,
        )

    async def serve() -> None:
        server = await asyncio.get_running_loop().create_server(
            factory, "127.0.0.1", 0, ssl=context if args.implicit_tls else None
        )
        port = server.sockets[0].getsockname()[1]
        print(json.dumps({"port": port}), flush=True)
        async with server:
            await server.serve_forever()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
