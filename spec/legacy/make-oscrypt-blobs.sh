#!/usr/bin/env bash
# Regenerates spec/legacy/oscrypt-blobs.json: values encrypted by a REAL
# Chromium OSCrypt (not by credvault), with the keys needed to decrypt them,
# as test vectors for the `enc:` importer (`credvault import-legacy`).
#
#   bash spec/legacy/make-oscrypt-blobs.sh [OUT.json]
#
# Run by hand, rarely; the output is checked in and CI does not need
# Chromium. Needs Debian packages: chromium sqlite3 openssl python3, and for
# the v11 sets those of scripts/with-secret-service.sh (dbus-daemon dbus-bin
# gnome-keyring libsecret-tools). Takes about half a minute.
#
# How (see chromium_save_passwords.py): headless Chromium, fresh profile,
# values saved as passwords through chrome.passwordsPrivate.addPassword over
# the DevTools pipe; Chromium stores OSCrypt::EncryptString(value) in
# "Login Data" logins.password_value, the same bytes Electron's
# safeStorage.encryptString returns. Two runs:
#
#   basic            --password-store=basic: v10, password "peanuts"
#   gnome-libsecret  --password-store=gnome-libsecret in a private D-Bus
#                    session with gnome-keyring: v11, with the random
#                    password Chromium stores in the Secret Service (schema
#                    chrome_libsecret_os_crypt_password_v2, attribute
#                    application=chromium), exported here
#
# Every Chromium blob is then decrypted with openssl (an independent
# implementation) and compared with its value; the script fails on any
# mismatch. The keyring password comes from a throwaway keyring and is fine
# to publish.
#
# Two cases no current Chromium produces are made with openssl instead
# (marked "made_by": "openssl"), still not by credvault's own code:
#
#   empty-password   v11 blobs under PBKDF2(""), the key of Chromium's
#                    "retry with an empty password" fallback. (Chromium 156
#                    treats an empty Secret Service password as no key at
#                    all and writes v10 instead, so it cannot make these.)
#   macos            v10 blobs the macOS way: PBKDF2 with 1003 iterations
#                    over a Keychain password (here a made-up one).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
OUT="${1:-$HERE/oscrypt-blobs.json}"

for tool in chromium sqlite3 openssl python3 secret-tool; do
    command -v "$tool" >/dev/null || {
        echo "make-oscrypt-blobs: '$tool' not found (apt-get install chromium sqlite3 openssl python3 libsecret-tools)" >&2
        exit 127
    }
done

tmp="$(mktemp -d "${TMPDIR:-/tmp}/oscrypt-blobs.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

# ---- the values: the app's kinds of credentials plus padding edge cases ----
python3 - "$tmp" <<'EOF'
import hashlib, json, sys
tmp = sys.argv[1]
ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
def fake(seed, n, alphabet=ALNUM + "-_"):
    # Deterministic, realistic-looking, obviously fake.
    out, counter = "", 0
    while len(out) < n:
        for b in hashlib.sha256(f"{seed}/{counter}".encode()).digest():
            out += alphabet[b % len(alphabet)]
        counter += 1
    return out[:n]
values = [
    ("postgresql.password", "correct horse battery staple"),
    ("memgraph.password", 'p@ss w0rd "quoted" \\ back\\slash & <tag> ; semi'),
    ("anthropic.apiKey", "sk-ant-api03-" + fake("anthropic", 95) + "AA"),
    ("openai.apiKey", "sk-proj-" + fake("openai", 156)),
    ("github.token", "ghp_" + fake("github", 36, ALNUM)),
    ("github.refreshToken", "ghr_" + fake("github-refresh", 76, ALNUM)),
    ("github.tokenExpiry", "1767225600000"),
    ("qdrant.apiKey", hashlib.sha256(b"qdrant").hexdigest()[:32]),
    ("test.unicode", "pässwörd ✓ 🔑 日本語 Ωμέγα"),
    ("test.long", fake("long", 2000)),
    ("test.oneByte", "x"),
    ("test.fifteenBytes", "fifteen-bytes!!"),
    ("test.sixteenBytes", "sixteen-bytes!!!"),
]
assert len("fifteen-bytes!!".encode()) == 15 and len("sixteen-bytes!!!".encode()) == 16
with open(f"{tmp}/values.json", "w", encoding="utf-8") as f:
    json.dump([{"name": n, "value": v} for n, v in values], f, ensure_ascii=False)
EOF

# ---- 1. basic: v10 ------------------------------------------------------------
echo "==> chromium --password-store=basic"
python3 "$HERE/chromium_save_passwords.py" "$tmp/basic" basic "$tmp/values.json"

# ---- 2. gnome-libsecret: v11 with Chromium's own random password --------------
# Everything that talks to the keyring runs inside the private session.
echo "==> chromium --password-store=gnome-libsecret (private Secret Service)"
bash "$ROOT/scripts/with-secret-service.sh" bash -c '
    set -euo pipefail
    python3 "$1/chromium_save_passwords.py" "$2/libsecret" gnome-libsecret "$2/values.json"
    secret-tool search --all xdg:schema chrome_libsecret_os_crypt_password_v2 >"$2/libsecret.items" 2>&1
' _ "$HERE" "$tmp"

# ---- dump, verify with openssl, write the JSON --------------------------------
for set in basic libsecret; do
    sqlite3 -json "$tmp/$set/Default/Login Data" \
        "select username_value as name, hex(password_value) as blob from logins order by username_value" \
        >"$tmp/$set.rows.json"
    sqlite3 "$tmp/$set/Default/Login Data" "select value from meta where key = 'version'" >"$tmp/$set.dbversion"
done

python3 - "$tmp" "$OUT" "$(chromium --version 2>/dev/null | tail -n 1)" "$(openssl version)" <<'EOF'
import hashlib, json, subprocess, sys
tmp, out, chromium_version, openssl_version = sys.argv[1:5]
IV = "20" * 16  # Chromium's fixed IV: 16 spaces

def keyring_item(path):
    """The one item of `secret-tool search --all` output: its fields and secret."""
    found, cur = [], None
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        if line.startswith("["):
            cur = {}
            found.append(cur)
        elif " = " in line and cur is not None:
            k, v = line.split(" = ", 1)
            cur[k] = v
    if len(found) != 1:
        sys.exit(f"{path}: expected exactly one Secret Service item, found {len(found)}")
    it = found[0]
    fields = {"label": it.get("label"), "schema": it.get("schema"),
              "application": it.get("attribute.application")}
    return fields, it.get("secret", "")

def key(password, iterations):
    return hashlib.pbkdf2_hmac("sha1", password.encode(), b"saltysalt", iterations, 16).hex()

def openssl(direction, password, iterations, data):
    r = subprocess.run(
        ["openssl", "enc", direction, "-aes-128-cbc", "-K", key(password, iterations), "-iv", IV],
        input=data, capture_output=True,
    )
    if r.returncode != 0:
        sys.exit(f"openssl enc {direction} failed: {r.stderr.decode()}")
    return r.stdout

values = {v["name"]: v["value"] for v in json.load(open(f"{tmp}/values.json", encoding="utf-8"))}
item, libsecret_password = keyring_item(f"{tmp}/libsecret.items")

keyrings = {
    "basic": {
        "made_by": "chromium", "password_store": "basic", "prefix": "v10",
        "password": "peanuts", "iterations": 1,
        "comment": "Chromium's hardcoded v10 password (no OS keyring)",
    },
    "gnome-libsecret": {
        "made_by": "chromium", "password_store": "gnome-libsecret", "prefix": "v11",
        "password": libsecret_password, "iterations": 1, "secret_service_item": item,
        "comment": "the random password Chromium generated and stored in the Secret Service",
    },
    "empty-password": {
        "made_by": "openssl", "prefix": "v11", "password": "", "iterations": 1,
        "comment": "v11 under PBKDF2(''), reachable only through OSCrypt's empty-password retry",
    },
    "macos": {
        "made_by": "openssl", "prefix": "v10", "password": "macOS-keychain-test-password",
        "iterations": 1003,
        "comment": "the macOS scheme: the '<App> Safe Storage' Keychain password, 1003 iterations",
    },
}

vectors, versions = [], set()
for set_name, name in (("basic", "basic"), ("libsecret", "gnome-libsecret")):
    versions.add(int(open(f"{tmp}/{set_name}.dbversion").read()))
    k = keyrings[name]
    for row in json.load(open(f"{tmp}/{set_name}.rows.json", encoding="utf-8")):
        blob = bytes.fromhex(row["blob"])
        if blob[:3] != k["prefix"].encode():
            sys.exit(f"{name}/{row['name']}: blob starts {blob[:3]!r}, expected {k['prefix']}")
        plain = values[row["name"]].encode()
        if openssl("-d", k["password"], 1, blob[3:]) != plain:
            sys.exit(f"{name}/{row['name']}: openssl decryption does not match the value")
        vectors.append({"keyring": name, "name": row["name"], "blob": blob.hex(),
                        "plaintext": values[row["name"]], "plaintext_hex": plain.hex()})
if len(vectors) != 2 * len(values):
    sys.exit(f"expected {2 * len(values)} Chromium blobs, got {len(vectors)}")

for name in ("empty-password", "macos"):
    k = keyrings[name]
    for n in ("postgresql.password", "github.token", "test.unicode", "test.sixteenBytes"):
        plain = values[n].encode()
        blob = k["prefix"].encode() + openssl("-e", k["password"], k["iterations"], plain)
        vectors.append({"keyring": name, "name": n, "blob": blob.hex(),
                        "plaintext": values[n], "plaintext_hex": plain.hex()})

doc = {
    "comment": "Values encrypted by a real Chromium OSCrypt (Linux), saved as passwords "
               "(Login Data, logins.password_value) through chrome.passwordsPrivate.addPassword: "
               "OSCrypt::EncryptString(value), the bytes Electron safeStorage.encryptString returns. "
               "Each Chromium blob was decrypted by openssl and compared with its plaintext; the "
               "keyrings marked made_by openssl cover cases Chromium 156 does not produce. "
               "Regenerate with spec/legacy/make-oscrypt-blobs.sh.",
    "generator": "spec/legacy/make-oscrypt-blobs.sh",
    "chromium": chromium_version,
    "login_data_db_version": sorted(versions),
    "openssl": openssl_version,
    "cipher": "prefix (3 ASCII bytes) || AES-128-CBC(key, IV = 16 x 0x20, PKCS#7); "
              "key = PBKDF2-HMAC-SHA1(password, 'saltysalt', iterations, 16 bytes)",
    "keyrings": keyrings,
    "vectors": vectors,
}
with open(out, "w", encoding="utf-8") as f:
    json.dump(doc, f, ensure_ascii=False, indent=1)
    f.write("\n")
print(f"wrote {len(vectors)} vectors to {out}")
EOF
