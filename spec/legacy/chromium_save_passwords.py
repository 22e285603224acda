#!/usr/bin/env python3
"""Make a real Chromium encrypt values with OSCrypt by saving them as passwords.

    chromium_save_passwords.py PROFILE_DIR PASSWORD_STORE VALUES_JSON

Starts headless Chromium on a fresh profile with --password-store=PASSWORD_STORE
and drives it over the DevTools protocol on a pipe (--remote-debugging-pipe:
commands on fd 3, replies on fd 4, NUL-terminated JSON). On the
chrome://password-manager page it calls chrome.passwordsPrivate.addPassword
once per value, which stores the value through OSCrypt::EncryptString16 into
"Login Data" (logins.password_value). That is the same OSCrypt call Electron's
safeStorage.encryptString makes, and unlike cookies (whose plaintext gets a
32-byte SHA-256(host) prefix since cookie DB version 24) the stored bytes are
the encryption of the value alone.

VALUES_JSON is a list of {"name": ..., "value": ...}; each is saved for the
origin https://<name>.credvault.invalid/ with username <name>.

Python standard library only. Used by make-oscrypt-blobs.sh.
"""

import json
import os
import subprocess
import sys
import time

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def origin(name):
    return f"https://{name.replace('.', '-').lower()}.credvault.invalid"


class Pipe:
    def __init__(self, write_fd, read_fd):
        self.out = os.fdopen(write_fd, "wb", buffering=0)
        self.inp = os.fdopen(read_fd, "rb", buffering=0)
        self.buf = b""
        self.next_id = 0

    def call(self, method, params=None, session=None):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self.out.write(json.dumps(msg).encode() + b"\0")
        while True:
            while b"\0" not in self.buf:
                chunk = self.inp.read(65536)
                if not chunk:
                    raise RuntimeError(f"{method}: Chromium closed the pipe")
                self.buf += chunk
            raw, self.buf = self.buf.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

    def evaluate(self, expression, session):
        result = self.call(
            "Runtime.evaluate",
            {"expression": expression, "awaitPromise": True, "returnByValue": True},
            session,
        )
        if "exceptionDetails" in result:
            raise RuntimeError(result["exceptionDetails"]["exception"]["description"])
        return result["result"].get("value")


def main():
    profile, store, values_path = sys.argv[1:4]
    with open(values_path, encoding="utf-8") as f:
        values = json.load(f)

    to_chromium_r, to_chromium_w = os.pipe()
    from_chromium_r, from_chromium_w = os.pipe()

    def child_fds():
        # os.pipe() descriptors are close-on-exec; dup2 onto 3 and 4 makes
        # inheritable copies where --remote-debugging-pipe expects them.
        a, b = os.dup(to_chromium_r), os.dup(from_chromium_w)
        os.dup2(a, 3)
        os.dup2(b, 4)

    log = open(profile + ".log", "wb")
    chromium = subprocess.Popen(
        ["chromium", *FLAGS, f"--user-data-dir={profile}",
         f"--password-store={store}", "--remote-debugging-pipe", "about:blank"],
        preexec_fn=child_fds, close_fds=False, stdin=subprocess.DEVNULL,
        stdout=log, stderr=log,
    )
    os.close(to_chromium_r)
    os.close(from_chromium_w)
    pipe = Pipe(to_chromium_w, from_chromium_r)
    try:
        target = pipe.call("Target.createTarget", {"url": "chrome://password-manager/passwords"})
        session = pipe.call(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
        )["sessionId"]
        for _ in range(100):
            if pipe.evaluate("typeof chrome.passwordsPrivate", session) == "object":
                break
            time.sleep(0.1)
        else:
            raise RuntimeError("chrome.passwordsPrivate never appeared")
        for v in values:
            options = {
                "url": origin(v["name"]),
                "username": v["name"],
                "password": v["value"],
                "note": "",
                "useAccountStore": False,
            }
            pipe.evaluate(
                f"chrome.passwordsPrivate.addPassword({json.dumps(options)}).then(() => 'ok')",
                session,
            )
        # The saved list catches up with the store asynchronously.
        for _ in range(200):
            got = pipe.evaluate(
                "chrome.passwordsPrivate.getSavedPasswordList().then(l => l.length)", session
            )
            if got == len(values):
                break
            time.sleep(0.1)
        else:
            raise RuntimeError(f"saved {got} passwords, expected {len(values)}")
        try:
            pipe.call("Browser.close")
        except RuntimeError:
            pass  # the pipe closes as the browser exits
    finally:
        try:
            chromium.wait(timeout=30)
        except subprocess.TimeoutExpired:
            chromium.kill()
            chromium.wait()


if __name__ == "__main__":
    main()
