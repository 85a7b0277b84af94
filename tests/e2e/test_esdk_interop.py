"""End-to-end: Encryption SDK interoperability between Trent and the official Python tools.

- `aws-encryption-cli` (PyPI aws-encryption-sdk-cli, KMS master key provider) pointed at a running Trent
  through `AWS_ENDPOINT_URL` / `AWS_CA_BUNDLE` round-trips with `trent encrypt` / `trent decrypt`, both ways.
- The Python aws-encryption-sdk with raw AES and raw RSA master keys interoperates both ways with
  `trent encrypt/decrypt --raw-aes-key-file` / `--raw-rsa-{public,private}-key-file`, every RSA padding.

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
    # Like aws-encryption-cli, trent wants -S or --metadata-output; these tests do not look at metadata.
    return run([str(trent_bin()), *args, "-S"], env, cwd)


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
    proc = subprocess.run([str(trent_bin()), "decrypt", "-i", "ct", "-o", "out", *raw_args(work / "other-key"), "-S"],
                          capture_output=True, env=server.env, cwd=work, timeout=60)
    assert proc.returncode != 0
    assert b"decrypt ct" in proc.stderr
    assert sorted(p.name for p in work.iterdir()) == ["ct", "key", "other-key", "pt"]


# --- raw RSA with the Python library ---------------------------------------------------------------------

RSA_NAME = "rsa-key-1"
# trent's --rsa-padding names and the Python SDK's wrapping algorithms (OAEP: MGF1 with the same hash).
RSA_PADDINGS = {
    "pkcs1": WrappingAlgorithm.RSA_PKCS1,
    "oaep-sha1": WrappingAlgorithm.RSA_OAEP_SHA1_MGF1,
    "oaep-sha256": WrappingAlgorithm.RSA_OAEP_SHA256_MGF1,
    "oaep-sha384": WrappingAlgorithm.RSA_OAEP_SHA384_MGF1,
    "oaep-sha512": WrappingAlgorithm.RSA_OAEP_SHA512_MGF1,
}


@pytest.fixture(scope="module")
def rsa_pems(tmp_path_factory) -> Dict[str, Path]:
    """A fresh RSA-3072 key as PKCS#8 private and SubjectPublicKeyInfo public PEM files."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    d = tmp_path_factory.mktemp("rsa")
    (d / "private.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    (d / "public.pem").write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    (d / "pkcs1.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()))
    return {"private": d / "private.pem", "public": d / "public.pem", "pkcs1": d / "pkcs1.pem"}


def rsa_key(pem: Path, padding: str, private: bool) -> RawMasterKey:
    return RawMasterKey(
        provider_id=NAMESPACE,
        key_id=RSA_NAME.encode(),
        wrapping_key=WrappingKey(
            wrapping_algorithm=RSA_PADDINGS[padding],
            wrapping_key=pem.read_bytes(),
            wrapping_key_type=EncryptionKeyType.PRIVATE if private else EncryptionKeyType.PUBLIC,
        ),
    )


def rsa_args(pem: Path, padding: str, private: bool) -> List[str]:
    flag = "--raw-rsa-private-key-file" if private else "--raw-rsa-public-key-file"
    return [flag, str(pem), "--rsa-padding", padding, "--key-namespace", NAMESPACE, "--key-name", RSA_NAME]


@pytest.mark.parametrize("padding", list(RSA_PADDINGS))
def test_python_raw_rsa_to_trent(server, work, rsa_pems, padding):
    # Python encrypts with the public key only; trent decrypts with the private key.
    ct, _ = py_client().encrypt(source=PLAINTEXT, key_provider=rsa_key(rsa_pems["public"], padding, False),
                                encryption_context={"purpose": "rsa"}, frame_length=4096)
    (work / "ct").write_bytes(ct)
    trent(server.env, work, "decrypt", "-i", "ct", "-o", "out", *rsa_args(rsa_pems["private"], padding, True),
          "-c", "purpose=rsa")
    assert (work / "out").read_bytes() == PLAINTEXT


@pytest.mark.parametrize("padding", list(RSA_PADDINGS))
def test_trent_raw_rsa_to_python(server, work, rsa_pems, padding):
    # trent encrypts with the public key (an unsigned suite too, for pkcs1); Python decrypts with the private key.
    extra = ["--algorithm", "AES_256_GCM_HKDF_SHA512_COMMIT_KEY"] if padding == "pkcs1" else []
    trent(server.env, work, "encrypt", "-i", "pt", "-o", "ct", *rsa_args(rsa_pems["public"], padding, False),
          "-c", "purpose=rsa", *extra)
    pt, header = py_client().decrypt(source=(work / "ct").read_bytes(),
                                     key_provider=rsa_key(rsa_pems["private"], padding, True))
    assert pt == PLAINTEXT
    assert header.encryption_context["purpose"] == "rsa"
    [edk] = header.encrypted_data_keys
    assert (edk.key_provider.provider_id, edk.key_provider.key_info) == (NAMESPACE, RSA_NAME.encode())


def test_raw_rsa_private_key_encrypts_and_errors_are_clear(server, work, rsa_pems):
    trent(server.env, work, "encrypt", "-i", "pt", "-o", "ct", *rsa_args(rsa_pems["private"], "oaep-sha256", True))
    pt, _ = py_client().decrypt(source=(work / "ct").read_bytes(),
                                key_provider=rsa_key(rsa_pems["private"], "oaep-sha256", True))
    assert pt == PLAINTEXT

    def fails(*args: str) -> str:
        proc = subprocess.run([str(trent_bin()), *args, "-S"], capture_output=True, env=server.env, cwd=work,
                              timeout=60)
        assert proc.returncode != 0, proc
        return proc.stderr.decode()

    # The wrong padding does not decrypt; a public key cannot; a PKCS#1 file gets the conversion command.
    assert "decrypt ct" in fails("decrypt", "-i", "ct", "-o", "out", *rsa_args(rsa_pems["private"], "pkcs1", True))
    assert "private-key-file" in fails("decrypt", "-i", "ct", "-o", "out",
                                       *rsa_args(rsa_pems["public"], "oaep-sha256", False))
    assert "openssl pkcs8 -topk8" in fails("decrypt", "-i", "ct", "-o", "out",
                                           *rsa_args(rsa_pems["pkcs1"], "oaep-sha256", True))
    assert not (work / "out").exists()
