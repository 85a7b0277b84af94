"""End-to-end: first-use fixes of issue 15 (items 6 and 7, CLI side).

- `trent env` prints NODE_EXTRA_CA_CERTS (Node.js, hence the JavaScript SDK v3, ignores AWS_CA_BUNDLE); Node
  trusts Trent's certificate with it, and not without it.
- `/healthz` and TRENT_LOG behave as the README and `trent --help` say.
- `trent decrypt -w key=<alias>` explains that aliases never match on decrypt and what to pass instead.
- `--no-overwrite` and `--interactive` behave as aws-encryption-cli's, checked side by side with it.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Dict, List, Optional

import pytest

from conftest import clean_base_env, trent_bin

ESDK_CLI = Path(sys.executable).parent / "aws-encryption-cli"


def run(args: List[str], env: Dict[str, str], cwd: Path, stdin: Optional[bytes] = None) -> subprocess.CompletedProcess:
    # A new session has no controlling terminal: a prompt that wants /dev/tty gets no answer, never blocks.
    return subprocess.run(args, capture_output=True, env=env, cwd=cwd, timeout=120,
                          input=stdin if stdin is not None else b"", start_new_session=True)


# --- trent env, /healthz, TRENT_LOG ------------------------------------------------------------------------


def test_env_prints_node_extra_ca_certs_and_node_trusts_trent_with_it(server, tmp_path):
    assert server.aws_vars["NODE_EXTRA_CA_CERTS"] == server.aws_vars["AWS_CA_BUNDLE"]
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        pytest.skip("node is not installed: the NODE_EXTRA_CA_CERTS handshake is not checked")
    script = tmp_path / "healthz.js"
    script.write_text(
        "require('https').get(process.argv[2] + '/healthz', r => { let b = '';"
        " r.on('data', d => b += d); r.on('end', () => { process.stdout.write(r.statusCode + ' ' + b); }); })"
        ".on('error', e => { process.stdout.write('error ' + e.code); process.exitCode = 1; });\n")
    url = server.aws_vars["AWS_ENDPOINT_URL"]
    ok = run([node, str(script), url], server.env, tmp_path)
    assert ok.returncode == 0 and ok.stdout.decode().startswith("200 ok"), ok
    without = dict(server.env)
    without.pop("NODE_EXTRA_CA_CERTS")
    bad = run([node, str(script), url], without, tmp_path)
    assert bad.returncode != 0 and b"error" in bad.stdout, bad


def test_healthz_needs_no_credentials(server):
    host, port = server.https_url.removeprefix("https://").rsplit(":", 1)
    conn = http.client.HTTPSConnection(host, int(port), context=ssl.create_default_context(cafile=server.ca_bundle),
                                       timeout=5)
    conn.request("GET", "/healthz")
    resp = conn.getresponse()
    assert (resp.status, resp.read().strip()) == (200, b"ok")
    help_text = run([str(trent_bin()), "--help"], clean_base_env(), Path.cwd()).stdout.decode()
    assert "/healthz" in help_text and "TRENT_LOG" in help_text, help_text


@pytest.mark.parametrize("level, info_shown", [("error", False), ("info", True)])
def test_trent_log_sets_the_log_level(tmp_path, level, info_shown):
    env = clean_base_env()
    env["TRENT_LOG"] = level
    data = tmp_path / "data"
    log = tmp_path / "stderr.log"
    with open(log, "wb") as err:
        proc = subprocess.Popen([str(trent_bin()), "serve", "--data-dir", str(data), "--listen", "127.0.0.1:0"],
                                stdin=subprocess.DEVNULL, stdout=err, stderr=err, env=env)
        try:
            deadline = time.monotonic() + 30
            while not (data / "serving.json").exists():
                assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.05)
            time.sleep(0.3)  # the "serving" line follows serving.json
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=15) == 0
    text = log.read_text()
    assert ("Trent is serving" in text) == info_shown, text


# --- decrypt with an alias -----------------------------------------------------------------------------------


def test_decrypt_with_an_alias_says_to_pass_the_key_arn_or_discovery(server, kms, tmp_path):
    arn = kms.create_key(Description="alias hint")["KeyMetadata"]["Arn"]
    alias = f"alias/hint-{uuid.uuid4().hex[:10]}"
    kms.create_alias(AliasName=alias, TargetKeyId=arn)
    (tmp_path / "pt").write_bytes(b"first use")
    t = [str(trent_bin())]
    assert run(t + ["encrypt", "-i", "pt", "-o", "ct", "-w", f"key={alias}", "-S"], server.env, tmp_path).returncode == 0
    bad = run(t + ["decrypt", "-i", "ct", "-o", "out", "-w", f"key={alias}", "-S"], server.env, tmp_path)
    err = bad.stderr.decode()
    assert bad.returncode == 1, err
    assert "no encrypted data key matches" in err and f"key={alias} is an alias" in err, err
    assert "Pass the key ARN" in err and "--discovery" in err, err
    assert not (tmp_path / "out").exists()
    for keys in (["-w", f"key={arn}"], ["--discovery"]):
        ok = run(t + ["decrypt", "-i", "ct", "-o", "out", *keys, "-S"], server.env, tmp_path)
        assert ok.returncode == 0, ok.stderr
        assert (tmp_path / "out").read_bytes() == b"first use"
        (tmp_path / "out").unlink()


# --- --no-overwrite and --interactive, side by side with aws-encryption-cli -----------------------------------


@pytest.fixture
def side_by_side(server, kms, tmp_path):
    if not ESDK_CLI.exists():
        pytest.skip(f"aws-encryption-cli not found at {ESDK_CLI}")
    arn = kms.create_key(Description="overwrite")["KeyMetadata"]["Arn"]
    (tmp_path / "pt").write_bytes(b"new plaintext")
    tools = {"trent": [str(trent_bin())], "aws-encryption-cli": [str(ESDK_CLI)]}

    def encrypt(tool: str, out: str, *flags: str, stdin: Optional[bytes] = None) -> subprocess.CompletedProcess:
        verb = ["encrypt"] if tool == "trent" else ["-e"]
        return run(tools[tool] + verb + ["-i", "pt", "-o", out, "-w", f"key={arn}", "-S", *flags], server.env,
                   tmp_path, stdin)

    def decrypt(tool: str, src: str, out: str, *flags: str, stdin: Optional[bytes] = None):
        verb = ["decrypt"] if tool == "trent" else ["-d"]
        return run(tools[tool] + verb + ["-i", src, "-o", out, "-w", f"key={arn}", "-S", *flags], server.env,
                   tmp_path, stdin)

    return tmp_path, encrypt, decrypt


@pytest.mark.parametrize("tool", ["trent", "aws-encryption-cli"])
def test_no_overwrite_and_interactive_like_aws_encryption_cli(side_by_side, tool):
    d, encrypt, decrypt = side_by_side
    old = b"existing file, keep me"

    # --no-overwrite: the existing file stays, the run succeeds; a new file is written.
    (d / "ct").write_bytes(old)
    r = encrypt(tool, "ct", "--no-overwrite")
    assert r.returncode == 0 and (d / "ct").read_bytes() == old, r
    r = encrypt(tool, "ct-new", "--no-overwrite")
    assert r.returncode == 0 and (d / "ct-new").read_bytes()[:1] == b"\x02", r
    # ... and it wins over --interactive: nothing is asked.
    r = encrypt(tool, "ct", "--interactive", "--no-overwrite", stdin=b"y\n")
    assert r.returncode == 0 and (d / "ct").read_bytes() == old, r

    # --interactive: "n", an empty line or any other answer keep the file; "y" replaces it.
    for answer in (b"n\n", b"\n", b"nope\n", b" y\n"):
        r = encrypt(tool, "ct", "--interactive", stdin=answer)
        assert r.returncode == 0 and (d / "ct").read_bytes() == old, (answer, r)
    assert b"Overwrite existing output file" in r.stdout + r.stderr, r
    r = encrypt(tool, "ct", "--interactive", stdin=b"y\n")
    assert r.returncode == 0 and (d / "ct").read_bytes()[:1] == b"\x02", r

    # The same on decrypt; a file that does not exist is written without a question.
    (d / "out").write_bytes(old)
    r = decrypt(tool, "ct", "out", "--no-overwrite")
    assert r.returncode == 0 and (d / "out").read_bytes() == old, r
    r = decrypt(tool, "ct", "out", "--interactive", stdin=b"Y\n")
    assert r.returncode == 0 and (d / "out").read_bytes() == b"new plaintext", r
    r = decrypt(tool, "ct", "out2", "--interactive")
    assert r.returncode == 0 and (d / "out2").read_bytes() == b"new plaintext", r
    assert b"Overwrite" not in r.stdout + r.stderr

    # Standard output is always written.
    r = decrypt(tool, "ct", "-", "--no-overwrite")
    assert r.returncode == 0 and r.stdout == b"new plaintext", r


def test_no_overwrite_in_a_directory_run_skips_only_existing_files(side_by_side):
    d, _, _ = side_by_side
    key = d / "aes.key"
    key.write_bytes(os.urandom(32))
    raw = ["--raw-aes-key-file", str(key), "--key-namespace", "ns", "--key-name", "k"]
    (d / "in").mkdir()
    for name in ("a", "b", "c"):
        (d / "in" / name).write_bytes(name.encode() * 100)
    (d / "enc").mkdir()
    (d / "enc" / "b.encrypted").write_bytes(b"keep")
    r = run([str(trent_bin()), "encrypt", "-r", "-i", "in", "-o", "enc", *raw, "--no-overwrite",
             "--metadata-output", "meta.jsonl"], clean_base_env(), d)
    assert r.returncode == 0, r
    assert (d / "enc" / "b.encrypted").read_bytes() == b"keep"
    assert b"skipping existing output file" in r.stderr and b"b.encrypted" in r.stderr, r
    written = [json.loads(line)["output"] for line in (d / "meta.jsonl").read_text().splitlines()]
    assert sorted(Path(p).name for p in written) == ["a.encrypted", "c.encrypted"], written
    # Encrypting from standard input: the answer cannot come from it (no terminal here), so nothing is replaced.
    r = run([str(trent_bin()), "encrypt", "-i", "-", "-o", str(d / "enc" / "b.encrypted"), *raw, "--interactive",
             "-S"], clean_base_env(), d, stdin=b"y\n")
    assert r.returncode == 0 and (d / "enc" / "b.encrypted").read_bytes() == b"keep", r
