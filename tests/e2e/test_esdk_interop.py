"""End-to-end: Encryption SDK interoperability between Trent and the official Python tools.

- `aws-encryption-cli` (PyPI aws-encryption-sdk-cli, KMS master key provider) pointed at a running Trent
  through `AWS_ENDPOINT_URL` / `AWS_CA_BUNDLE` round-trips with `trent encrypt` / `trent decrypt`, both ways.
- The Python aws-encryption-sdk with a raw AES master key interoperates both ways with
  `trent encrypt/decrypt --raw-aes-key-file`.

The packages are pinned in requirements.txt (they co-install with the suite's awscli/boto3); the module
skips with the reason when they are missing from the environment.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Dict, List

import pytest

from conftest import trent_bin

esdk = pytest.importorskip(
    "aws_encryption_sdk",
    reason="aws-encryption-sdk is not installed in this venv; run scripts/test (tests/e2e/requirements.txt pins it)",
)
from aws_encryption_sdk.identifiers import Algorithm, CommitmentPolicy, EncryptionKeyType, WrappingAlgorithm  # noqa: E402
from aws_encryption_sdk.internal.crypto.wrapping_keys import WrappingKey  # noqa: E402
from aws_encryption_sdk.key_providers.raw import RawMasterKey  # noqa: E402

ESDK_CLI = Path(sys.executable).parent / "aws-encryption-cli"
PLAINTEXT = os.urandom(200_000) + b"trent esdk interop"


def run(args: List[str], env: Dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    proc = subprocess.run(args, capture_output=True, env=env, cwd=cwd, timeout=60)
    assert proc.returncode == 0, (f"{' '.join(map(str, args))} exited {proc.returncode}:\n"
                                  f"stdout: {proc.stdout.decode(errors='replace')}\n"
                                  f"stderr: {proc.stderr.decode(errors='replace')}")
    return proc


def trent(env: Dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return run([str(trent_bin()), *args], env, cwd)


def esdk_cli(env: Dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess:
    if not ESDK_CLI.exists():
        pytest.skip(f"aws-encryption-cli not found at {ESDK_CLI}; run scripts/test to install the e2e requirements")
    return run([str(ESDK_CLI), *args, "-S"], env, cwd)


@pytest.fixture
def kms_key(kms) -> str:
    return kms.create_key(Description="esdk interop")["KeyMetadata"]["Arn"]


@pytest.fixture
def work(tmp_path: Path) -> Path:
    (tmp_path / "pt").write_bytes(PLAINTEXT)
    return tmp_path


def test_esdk_cli_kms_to_trent(server, kms_key, work):
    esdk_cli(server.env, work, "-e", "-i", "pt", "-o", "ct", "-w", f"key={kms_key}", "-c", "purpose=interop")
    trent(server.env, work, "decrypt", "-i", "ct", "-o", "out", "-w", f"key={kms_key}", "-c", "purpose=interop")
    assert (work / "out").read_bytes() == PLAINTEXT
    trent(server.env, work, "decrypt", "-i", "ct", "-o", "out-discovery", "--discovery", "--buffer")
    assert (work / "out-discovery").read_bytes() == PLAINTEXT


def test_trent_kms_to_esdk_cli(server, kms, kms_key, work):
    # Encrypt through an alias (KMS answers with the key ARN, which the message records), an unsigned suite.
    alias = f"alias/esdk-{uuid.uuid4().hex[:12]}"
    kms.create_alias(AliasName=alias, TargetKeyId=kms_key)
    trent(server.env, work, "encrypt", "-i", "pt", "-o", "ct", "-w", f"key={alias}", "-c", "purpose=interop",
          "--algorithm", "AES_256_GCM_HKDF_SHA512_COMMIT_KEY", "--frame-length", "65536")
    esdk_cli(server.env, work, "-d", "-i", "ct", "-o", "out", "-w", f"key={kms_key}", "-c", "purpose=interop")
    assert (work / "out").read_bytes() == PLAINTEXT
    # The default (signed) suite, decrypted with discovery.
    trent(server.env, work, "encrypt", "-i", "pt", "-o", "ct2", "-w", f"key={kms_key}")
    esdk_cli(server.env, work, "-d", "-i", "ct2", "-o", "out2", "-w", "discovery=true")
    assert (work / "out2").read_bytes() == PLAINTEXT


def test_base64_encode_and_decode_both_ways(server, kms_key, work):
    # Trent encodes, aws-encryption-cli decodes; and the other way round, with both sides of each tool.
    trent(server.env, work, "encrypt", "-i", "pt", "-o", "ct.b64", "-w", f"key={kms_key}", "--encode")
    text = (work / "ct.b64").read_bytes()
    assert base64.b64decode(text, validate=True)[:1] == b"\x02"  # a v2 message under the base64
    esdk_cli(server.env, work, "-d", "-i", "ct.b64", "-o", "out", "-w", f"key={kms_key}", "--decode")
    assert (work / "out").read_bytes() == PLAINTEXT
    esdk_cli(server.env, work, "-e", "-i", "pt", "-o", "ct2.b64", "-w", f"key={kms_key}", "--encode")
    trent(server.env, work, "decrypt", "-i", "ct2.b64", "-o", "out2.b64", "-w", f"key={kms_key}", "--decode",
          "--encode")
    assert base64.b64decode((work / "out2.b64").read_bytes(), validate=True) == PLAINTEXT


# --- raw AES with the Python library ---------------------------------------------------------------------

NAMESPACE, NAME = "trent-interop", "aes-key-1"


def py_client():
    return esdk.EncryptionSDKClient(commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)


def raw_key(key: bytes) -> RawMasterKey:
    return RawMasterKey(
        provider_id=NAMESPACE,
        key_id=NAME.encode(),
        wrapping_key=WrappingKey(
            wrapping_algorithm=WrappingAlgorithm.AES_256_GCM_IV12_TAG16_NO_PADDING,
            wrapping_key=key,
            wrapping_key_type=EncryptionKeyType.SYMMETRIC,
        ),
    )


def raw_args(key_file: Path) -> List[str]:
    return ["--raw-aes-key-file", str(key_file), "--key-namespace", NAMESPACE, "--key-name", NAME]


@pytest.mark.parametrize("algorithm", [None, Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY])
def test_python_raw_aes_to_trent(server, work, algorithm):
    key = os.urandom(32)
    (work / "key").write_bytes(key)
    kwargs = {"algorithm": algorithm} if algorithm else {}
    ct, _ = py_client().encrypt(source=PLAINTEXT, key_provider=raw_key(key),
                                encryption_context={"purpose": "raw"}, frame_length=4096, **kwargs)
    (work / "ct").write_bytes(ct)
    trent(server.env, work, "decrypt", "-i", "ct", "-o", "out", *raw_args(work / "key"), "-c", "purpose=raw")
    assert (work / "out").read_bytes() == PLAINTEXT


def test_trent_raw_aes_to_python(server, work):
    key = os.urandom(32)
    (work / "key").write_bytes(key)
    trent(server.env, work, "encrypt", "-i", "pt", "-o", "ct", *raw_args(work / "key"), "-c", "purpose=raw")
    pt, header = py_client().decrypt(source=(work / "ct").read_bytes(), key_provider=raw_key(key))
    assert pt == PLAINTEXT
    assert header.encryption_context["purpose"] == "raw"


def test_failed_decrypt_leaves_no_output(server, work):
    key = os.urandom(32)
    (work / "key").write_bytes(key)
    trent(server.env, work, "encrypt", "-i", "pt", "-o", "ct", *raw_args(work / "key"))
    (work / "other-key").write_bytes(os.urandom(32))
    proc = subprocess.run([str(trent_bin()), "decrypt", "-i", "ct", "-o", "out", *raw_args(work / "other-key")],
                          capture_output=True, env=server.env, cwd=work, timeout=60)
    assert proc.returncode != 0
    assert b"decrypt ct" in proc.stderr
    assert sorted(p.name for p in work.iterdir()) == ["ct", "key", "other-key", "pt"]
