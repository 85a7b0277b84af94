"""End-to-end: aws-encryption-cli 4.x decrypts what `trent encrypt` writes at the sizes around frame boundaries.

The Python SDK under aws-encryption-cli refuses a final frame as long as the frame length ("Invalid final frame
length: 4096 >= 4096"). Trent ends every message with a shorter, possibly empty, final frame (the encrypt
specification's algorithm), so plaintexts of 0, 1, frame-1, frame, frame+1 and 2*frame bytes must all decrypt,
for the AWS KMS keyring and for raw AES and raw RSA keys.

aws-encryption-cli has no raw-key option of its own: it loads wrapping key providers from the
`aws_encryption_sdk_cli.master_key_providers` entry point group. The test writes a tiny provider plugin (a
module and its .dist-info) into a directory on PYTHONPATH, so the raw-key messages too are decrypted by the CLI
itself, not by a library call.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Dict, List

import pytest

from conftest import trent_bin

pytest.importorskip("aws_encryption_sdk", reason="aws-encryption-sdk is not installed in this venv")

ESDK_CLI = Path(sys.executable).parent / "aws-encryption-cli"
FRAME = 4096
SIZES = {"0": 0, "1": 1, "frame-1": FRAME - 1, "frame": FRAME, "frame+1": FRAME + 1, "2frame": 2 * FRAME}
NAMESPACE, AES_NAME, RSA_NAME = "trent-frames", "aes-key-1", "rsa-key-1"

PLUGIN = textwrap.dedent('''
    """aws-encryption-cli wrapping key providers for raw keys named by environment variables (tests only)."""
    import os

    from aws_encryption_sdk.identifiers import EncryptionKeyType, WrappingAlgorithm
    from aws_encryption_sdk.internal.crypto.wrapping_keys import WrappingKey
    from aws_encryption_sdk.key_providers.raw import RawMasterKeyProvider


    class _Raw(RawMasterKeyProvider):
        provider_id = os.environ["TRENT_PLUGIN_NAMESPACE"]

        wrapping_key = None  # set on the instance by aes() / rsa()

        def _get_raw_key(self, key_id):
            return self.wrapping_key


    def _provider(wrapping_key):
        provider = _Raw()
        provider.wrapping_key = wrapping_key
        return provider


    def aes(**_kwargs):
        with open(os.environ["TRENT_PLUGIN_AES_KEY_FILE"], "rb") as f:
            key = f.read()
        return _provider(WrappingKey(wrapping_algorithm=WrappingAlgorithm.AES_256_GCM_IV12_TAG16_NO_PADDING,
                                wrapping_key=key, wrapping_key_type=EncryptionKeyType.SYMMETRIC))


    def rsa(**_kwargs):
        with open(os.environ["TRENT_PLUGIN_RSA_PRIVATE_KEY_FILE"], "rb") as f:
            pem = f.read()
        return _provider(WrappingKey(wrapping_algorithm=WrappingAlgorithm.RSA_OAEP_SHA256_MGF1,
                                wrapping_key=pem, wrapping_key_type=EncryptionKeyType.PRIVATE))
''')

ENTRY_POINTS = textwrap.dedent("""
    [aws_encryption_sdk_cli.master_key_providers]
    trent-raw-aes = trent_frames_plugin:aes
    trent-raw-rsa = trent_frames_plugin:rsa
""")


def run(args: List[str], env: Dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    proc = subprocess.run(args, capture_output=True, env=env, cwd=cwd, timeout=120)
    assert proc.returncode == 0, (f"{' '.join(map(str, args))} exited {proc.returncode}:\n"
                                  f"stdout: {proc.stdout.decode(errors='replace')}\n"
                                  f"stderr: {proc.stderr.decode(errors='replace')}")
    return proc


@pytest.fixture
def work(tmp_path: Path, server) -> Dict[str, object]:
    """Plaintexts of each size in pt/, the plugin on PYTHONPATH, raw AES and RSA key files."""
    if not ESDK_CLI.exists():
        pytest.skip(f"aws-encryption-cli not found at {ESDK_CLI}")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    (tmp_path / "pt").mkdir()
    for name, size in SIZES.items():
        (tmp_path / "pt" / name).write_bytes(os.urandom(size))
    plugin = tmp_path / "plugin"
    (plugin / "trent_frames_plugin-1.0.dist-info").mkdir(parents=True)
    (plugin / "trent_frames_plugin.py").write_text(PLUGIN)
    (plugin / "trent_frames_plugin-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: trent-frames-plugin\nVersion: 1.0\n")
    (plugin / "trent_frames_plugin-1.0.dist-info" / "entry_points.txt").write_text(ENTRY_POINTS)
    (tmp_path / "aes.key").write_bytes(os.urandom(32))
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (tmp_path / "rsa.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    (tmp_path / "rsa.pub.pem").write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    env = dict(server.env)
    env.update(PYTHONPATH=str(plugin), TRENT_PLUGIN_NAMESPACE=NAMESPACE,
               TRENT_PLUGIN_AES_KEY_FILE=str(tmp_path / "aes.key"),
               TRENT_PLUGIN_RSA_PRIVATE_KEY_FILE=str(tmp_path / "rsa.pem"))
    return {"dir": tmp_path, "env": env}


def keyring_args(keyring: str, d: Path, kms_key: str):
    """(trent encrypt's key flags, aws-encryption-cli's -w for decrypt) for one keyring."""
    if keyring == "kms":
        return ["-w", f"key={kms_key}"], [f"key={kms_key}"]
    if keyring == "raw-aes":
        return (["--raw-aes-key-file", str(d / "aes.key"), "--key-namespace", NAMESPACE, "--key-name", AES_NAME],
                ["provider=trent-raw-aes", f"key={AES_NAME}"])
    return (["--raw-rsa-public-key-file", str(d / "rsa.pub.pem"), "--rsa-padding", "oaep-sha256",
             "--key-namespace", NAMESPACE, "--key-name", RSA_NAME],
            ["provider=trent-raw-rsa", f"key={RSA_NAME}"])


@pytest.mark.parametrize("algorithm", [None, "AES_256_GCM_HKDF_SHA512_COMMIT_KEY"])
@pytest.mark.parametrize("keyring", ["kms", "raw-aes", "raw-rsa"])
def test_esdk_cli_decrypts_trent_messages_at_frame_boundaries(kms, work, keyring, algorithm):
    d: Path = work["dir"]
    env: Dict[str, str] = work["env"]
    kms_key = kms.create_key(Description="esdk final frames")["KeyMetadata"]["Arn"]
    enc_keys, cli_keys = keyring_args(keyring, d, kms_key)
    extra = ["--algorithm", algorithm] if algorithm else []
    (d / "ct").mkdir()
    (d / "out").mkdir()
    # One trent run over the directory (one message per size), one aws-encryption-cli run back.
    run([str(trent_bin()), "encrypt", "-r", "-i", "pt", "-o", "ct", *enc_keys, "--frame-length", str(FRAME),
         "-c", "purpose=frames", *extra, "-S"], env, d)
    assert sorted(p.name for p in (d / "ct").iterdir()) == sorted(f"{n}.encrypted" for n in SIZES)
    run([str(ESDK_CLI), "-d", "-r", "-i", "ct", "-o", "out", "-w", *cli_keys, "-c", "purpose=frames", "-S"],
        env, d)
    for name in SIZES:
        got = (d / "out" / f"{name}.encrypted.decrypted").read_bytes()
        assert got == (d / "pt" / name).read_bytes(), f"{keyring}: size {name} did not round-trip"
