#!/usr/bin/python3
"""A real SMTP server for the e-mail tests (aiosmtpd, Debian's python3-aiosmtpd), on loopback.

Each accepted message is written whole to OUT_DIR/NNNNNN.eml. Failure injection by the
recipient's local part: bounce* -> 550 5.1.1 (no such mailbox), busy* -> 452 4.2.2 (mailbox
full, try later), policy* -> 550 5.7.1 (refused by policy).

    smtp_server.py PORT OUT_DIR
"""
import os
import sys
import threading

from aiosmtpd.controller import Controller


class Handler:
    def __init__(self, out_dir):
        self.out_dir = out_dir
        self.count = 0
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@")[0]
        if local.startswith("bounce"):
            return "550 5.1.1 No such user here"
        if local.startswith("busy"):
            return "452 4.2.2 Mailbox full, try again later"
        if local.startswith("policy"):
            return "550 5.7.1 Message refused by policy"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += 1
            n = self.count
        path = os.path.join(self.out_dir, "%06d.eml" % n)
        with open(path + ".tmp", "wb") as f:
            f.write(b"X-Envelope-From: " + envelope.mail_from.encode() + b"\r\n")
            f.write(b"X-Envelope-To: " + ",".join(envelope.rcpt_tos).encode() + b"\r\n")
            f.write(envelope.original_content or envelope.content)
        os.rename(path + ".tmp", path)
        return "250 2.0.0 Queued as %06d" % n


def main():
    port, out_dir = int(sys.argv[1]), sys.argv[2]
    os.makedirs(out_dir, exist_ok=True)
    controller = Controller(Handler(out_dir), hostname="127.0.0.1", port=port)
    controller.start()
    print("smtp_server listening on 127.0.0.1:%d" % port, flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
