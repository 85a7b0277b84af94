"""End-to-end: key rotation, scheduled deletion and imported key material, through boto3, the stock AWS CLI
and the OpenSSL command line (the import flow exactly as the AWS documentation describes it).

Time-driven behaviour runs against servers started with a movable clock (`--dangerous-test-clock-file`, a
test-only flag) and a one-second scheduler, so no test sleeps for days.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from conftest import trail_records, unique

DAY = 24 * 60 * 60


def error_code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


@pytest.fixture
def clocked(make_server, tmp_path):
    """A server whose clock the test moves by writing seconds into a file, and which runs its scheduler every
    second. Returns (server, advance) where advance(seconds) moves the clock and waits for a scheduler run."""
    clock_file = tmp_path / "clock-offset"
    clock_file.write_text("0")
    srv = make_server(extra_args=["--dangerous-test-clock-file", str(clock_file), "--scheduler-interval-secs", "1"])

    def advance(seconds: int) -> None:
        clock_file.write_text(str(seconds))
        time.sleep(2.5)  # two scheduler ticks: one reads the offset, at least one runs the jobs after it

    return srv, advance


def test_on_demand_rotation_keeps_old_ciphertexts(kms, key):
    key_id = key["KeyId"]
    before = kms.encrypt(KeyId=key_id, Plaintext=b"before rotation")
    assert kms.rotate_key_on_demand(KeyId=key_id)["KeyId"] == key["Arn"]
    after = kms.encrypt(KeyId=key_id, Plaintext=b"after rotation")
    assert kms.decrypt(CiphertextBlob=before["CiphertextBlob"])["Plaintext"] == b"before rotation"
    assert kms.decrypt(CiphertextBlob=after["CiphertextBlob"])["Plaintext"] == b"after rotation"
    d1 = kms.decrypt(CiphertextBlob=before["CiphertextBlob"])["KeyMaterialId"]
    d2 = kms.decrypt(CiphertextBlob=after["CiphertextBlob"])["KeyMaterialId"]
    assert d1 != d2
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert meta["CurrentKeyMaterialId"] == d2
    assert meta["KeyId"] == key_id and meta["Arn"] == key["Arn"]  # the key id never changes
    rotations = kms.list_key_rotations(KeyId=key_id)["Rotations"]
    assert [r["RotationType"] for r in rotations] == ["ON_DEMAND"]
    assert rotations[0]["KeyMaterialId"] == d2


def test_twenty_sixth_on_demand_rotation_is_refused(kms, key):
    for _ in range(25):
        kms.rotate_key_on_demand(KeyId=key["KeyId"])
    with pytest.raises(ClientError) as e:
        kms.rotate_key_on_demand(KeyId=key["KeyId"])
    assert error_code(e) == "LimitExceededException"
    page = kms.list_key_rotations(KeyId=key["KeyId"], Limit=20)
    assert len(page["Rotations"]) == 20 and page["Truncated"] is True
    rest = kms.list_key_rotations(KeyId=key["KeyId"], Limit=20, Marker=page["NextMarker"])
    assert len(rest["Rotations"]) == 5 and rest["Truncated"] is False


def test_rotation_status_and_cli(server, kms, key):
    key_id = key["KeyId"]
    status = kms.get_key_rotation_status(KeyId=key_id)
    assert status["KeyRotationEnabled"] is False
    server.aws("kms", "enable-key-rotation", "--key-id", key_id, "--rotation-period-in-days", "180")
    out = json.loads(server.aws("kms", "get-key-rotation-status", "--key-id", key_id).stdout)
    assert out["KeyRotationEnabled"] is True and out["RotationPeriodInDays"] == 180
    assert "NextRotationDate" in out
    server.aws("kms", "rotate-key-on-demand", "--key-id", key_id)
    listed = json.loads(server.aws("kms", "list-key-rotations", "--key-id", key_id).stdout)
    assert [r["RotationType"] for r in listed["Rotations"]] == ["ON_DEMAND"]
    with pytest.raises(ClientError) as e:
        kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=2561)  # boto3 checks the minimum itself
    assert error_code(e) == "ValidationException"
    kms.disable_key_rotation(KeyId=key_id)
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is False


def test_automatic_rotation_fires_when_the_clock_passes_the_period(clocked):
    srv, advance = clocked
    kms = srv.client()
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    old = kms.encrypt(KeyId=key_id, Plaintext=b"old data")["CiphertextBlob"]
    kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=90)
    advance(89 * DAY)
    assert kms.list_key_rotations(KeyId=key_id)["Rotations"] == []
    advance(90 * DAY + 60)
    rotations = kms.list_key_rotations(KeyId=key_id)["Rotations"]
    assert [r["RotationType"] for r in rotations] == ["AUTOMATIC"]
    new = kms.encrypt(KeyId=key_id, Plaintext=b"new data")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=old)["Plaintext"] == b"old data"
    assert kms.decrypt(CiphertextBlob=new)["Plaintext"] == b"new data"
    status = kms.get_key_rotation_status(KeyId=key_id)
    assert status["KeyRotationEnabled"] is True
    arn = kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
    events = service_events(srv, "RotateKey")
    assert [e["resources"][0]["ARN"] for e in events] == [arn]
    assert events[0]["userIdentity"]["type"] == "AWSService"


def test_scheduled_deletion_destroys_key_after_its_window(clocked):
    srv, advance = clocked
    kms = srv.client()
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    alias = f"alias/{unique('doomed')}"
    kms.create_alias(AliasName=alias, TargetKeyId=key_id)
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"gone soon")["CiphertextBlob"]
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    advance(6 * DAY)
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    advance(7 * DAY + 60)
    with pytest.raises(ClientError) as e:
        kms.describe_key(KeyId=key_id)
    assert error_code(e) == "NotFoundException"
    with pytest.raises(ClientError) as e:
        kms.decrypt(CiphertextBlob=blob)
    assert error_code(e) == "AccessDeniedException"
    assert alias not in [a["AliasName"] for a in kms.list_aliases()["Aliases"]]
    assert [e["resources"][0]["ARN"].endswith(key_id) for e in service_events(srv, "DeleteKey")] == [True]


# --- imported key material ------------------------------------------------------------------------------


def service_events(srv, name: str):
    """The trail's AwsServiceEvent records named `name` (Trent's own work: rotation, deletion, expiry)."""
    found = []
    for rec in trail_records(srv.data_dir / "audit"):
        event = rec.get("event")
        if event and event["eventType"] == "AwsServiceEvent" and event["eventName"] == name:
            found.append(event)
    return found


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def import_parameters(server, key_id: str, cwd: Path, algorithm: str) -> None:
    """GetParametersForImport through the CLI, saving PublicKey.bin and ImportToken.bin as the AWS guide does."""
    out = json.loads(server.aws("kms", "get-parameters-for-import", "--key-id", key_id,
                                "--wrapping-algorithm", algorithm, "--wrapping-key-spec", "RSA_2048").stdout)
    (cwd / "PublicKey.bin").write_bytes(base64.b64decode(out["PublicKey"]))
    (cwd / "ImportToken.bin").write_bytes(base64.b64decode(out["ImportToken"]))


def wrap_oaep_sha256(material: str, cwd: Path) -> None:
    openssl("pkeyutl", "-encrypt", "-in", material, "-out", "EncryptedKeyMaterial.bin", "-inkey", "PublicKey.bin",
            "-keyform", "DER", "-pubin", "-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256",
            "-pkeyopt", "rsa_mgf1_md:sha256", cwd=cwd)


def import_material(server, key_id: str, cwd: Path, *extra: str, check: bool = True):
    return server.aws("kms", "import-key-material", "--key-id", key_id,
                      "--encrypted-key-material", "fileb://EncryptedKeyMaterial.bin",
                      "--import-token", "fileb://ImportToken.bin", *extra, cwd=cwd, check=check)


def test_import_with_openssl_as_documented(server, kms, tmp_path):
    key_id = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert meta["KeyState"] == "PendingImport" and meta["Origin"] == "EXTERNAL" and meta["Enabled"] is False

    openssl("rand", "-out", "PlaintextKeyMaterial.bin", "32", cwd=tmp_path)
    import_parameters(server, key_id, tmp_path, "RSAES_OAEP_SHA_256")
    wrap_oaep_sha256("PlaintextKeyMaterial.bin", tmp_path)
    import_material(server, key_id, tmp_path, "--expiration-model", "KEY_MATERIAL_DOES_NOT_EXPIRE")
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert meta["KeyState"] == "Enabled" and meta["ExpirationModel"] == "KEY_MATERIAL_DOES_NOT_EXPIRE"

    blob = kms.encrypt(KeyId=key_id, Plaintext=b"bring your own key")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"bring your own key"

    # Deleting the material makes the key unusable until the same material comes back.
    kms.delete_imported_key_material(KeyId=key_id)
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingImport"
    with pytest.raises(ClientError) as e:
        kms.decrypt(CiphertextBlob=blob)
    assert error_code(e) == "KMSInvalidStateException"

    openssl("rand", "-out", "OtherKeyMaterial.bin", "32", cwd=tmp_path)
    import_parameters(server, key_id, tmp_path, "RSAES_OAEP_SHA_256")
    wrap_oaep_sha256("OtherKeyMaterial.bin", tmp_path)
    refused = import_material(server, key_id, tmp_path, "--expiration-model", "KEY_MATERIAL_DOES_NOT_EXPIRE",
                              check=False)
    assert refused.returncode != 0 and b"IncorrectKeyMaterialException" in refused.stderr

    import_parameters(server, key_id, tmp_path, "RSAES_OAEP_SHA_256")
    wrap_oaep_sha256("PlaintextKeyMaterial.bin", tmp_path)
    import_material(server, key_id, tmp_path, "--expiration-model", "KEY_MATERIAL_DOES_NOT_EXPIRE")
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"bring your own key"


def test_import_with_rsa_aes_key_wrap(server, kms, tmp_path):
    """RSA_AES_KEY_WRAP_SHA_256: an AES key wrapped with OAEP, then the material with AES key wrap with padding."""
    key_id = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    openssl("rand", "-out", "PlaintextKeyMaterial.bin", "32", cwd=tmp_path)
    openssl("rand", "-out", "aes-key.bin", "32", cwd=tmp_path)
    import_parameters(server, key_id, tmp_path, "RSA_AES_KEY_WRAP_SHA_256")
    aes_hex = (tmp_path / "aes-key.bin").read_bytes().hex()
    openssl("enc", "-id-aes256-wrap-pad", "-K", aes_hex, "-iv", "A65959A6", "-in", "PlaintextKeyMaterial.bin",
            "-out", "key_material_wrapped.bin", cwd=tmp_path)
    openssl("pkeyutl", "-encrypt", "-in", "aes-key.bin", "-out", "aes-key_wrapped.bin", "-inkey", "PublicKey.bin",
            "-keyform", "DER", "-pubin", "-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256",
            "-pkeyopt", "rsa_mgf1_md:sha256", cwd=tmp_path)
    (tmp_path / "EncryptedKeyMaterial.bin").write_bytes(
        (tmp_path / "aes-key_wrapped.bin").read_bytes() + (tmp_path / "key_material_wrapped.bin").read_bytes())
    import_material(server, key_id, tmp_path, "--expiration-model", "KEY_MATERIAL_DOES_NOT_EXPIRE")
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"wrapped twice")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"wrapped twice"


def test_import_errors(server, kms, key, tmp_path):
    with pytest.raises(ClientError) as e:
        kms.get_parameters_for_import(KeyId=key["KeyId"], WrappingAlgorithm="RSAES_OAEP_SHA_256",
                                      WrappingKeySpec="RSA_2048")
    assert error_code(e) == "UnsupportedOperationException"
    key_id = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    params = kms.get_parameters_for_import(KeyId=key_id, WrappingAlgorithm="RSAES_OAEP_SHA_256",
                                           WrappingKeySpec="RSA_2048")
    with pytest.raises(ClientError) as e:  # the default expiration model needs a ValidTo
        kms.import_key_material(KeyId=key_id, ImportToken=params["ImportToken"], EncryptedKeyMaterial=b"x" * 256)
    assert error_code(e) == "ValidationException"
    with pytest.raises(ClientError) as e:
        kms.import_key_material(KeyId=key_id, ImportToken=b"not the token", EncryptedKeyMaterial=b"x" * 256,
                                ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
    assert error_code(e) == "InvalidImportTokenException"
    with pytest.raises(ClientError) as e:
        kms.import_key_material(KeyId=key_id, ImportToken=params["ImportToken"], EncryptedKeyMaterial=b"x" * 256,
                                ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
    assert error_code(e) == "InvalidCiphertextException"
    with pytest.raises(ClientError) as e:
        kms.encrypt(KeyId=key_id, Plaintext=b"no material yet")
    assert error_code(e) == "KMSInvalidStateException"


def test_imported_material_expires(clocked, tmp_path):
    srv, advance = clocked
    kms = srv.client()
    key_id = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    openssl("rand", "-out", "PlaintextKeyMaterial.bin", "32", cwd=tmp_path)
    import_parameters(srv, key_id, tmp_path, "RSAES_OAEP_SHA_256")
    wrap_oaep_sha256("PlaintextKeyMaterial.bin", tmp_path)
    valid_to = int(time.time()) + 2 * DAY
    import_material(srv, key_id, tmp_path, "--expiration-model", "KEY_MATERIAL_EXPIRES", "--valid-to", str(valid_to))
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert meta["KeyState"] == "Enabled" and abs(meta["ValidTo"].timestamp() - valid_to) < 1
    kms.encrypt(KeyId=key_id, Plaintext=b"short-lived")
    advance(2 * DAY + 60)
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingImport"
    with pytest.raises(ClientError) as e:
        kms.encrypt(KeyId=key_id, Plaintext=b"too late")
    assert error_code(e) == "KMSInvalidStateException"


def test_admin_schedule_lists_upcoming_work(server, kms):
    from conftest import clean_base_env, trent_bin

    rotating = kms.create_key()["KeyMetadata"]
    kms.enable_key_rotation(KeyId=rotating["KeyId"], RotationPeriodInDays=90)
    doomed = kms.create_key()["KeyMetadata"]
    kms.schedule_key_deletion(KeyId=doomed["KeyId"], PendingWindowInDays=7)
    out = subprocess.run([str(trent_bin()), "admin", "schedule", "--data-dir", str(server.data_dir), "--json"],
                         capture_output=True, text=True, env=clean_base_env(), timeout=30)
    assert out.returncode == 0, out.stderr
    jobs = [json.loads(line) for line in out.stdout.splitlines()]
    assert {"kind": "rotation", "key": rotating["Arn"]}.items() <= next(j for j in jobs if j["key"] == rotating["Arn"]).items()
    assert next(j for j in jobs if j["key"] == doomed["Arn"])["kind"] == "deletion"
    dues = [j["due"] for j in jobs]
    assert dues == sorted(dues)


# --- rotation of imported key material (AWS, 2025) -------------------------------------------------------


def cli_json(server, *args: str, cwd: Path | None = None) -> dict:
    return json.loads(server.aws("kms", *args, cwd=cwd).stdout)


def cli_error(server, *args: str, cwd: Path | None = None) -> bytes:
    proc = server.aws("kms", *args, cwd=cwd, check=False)
    assert proc.returncode != 0, proc.stdout
    return proc.stderr


def wrap_new_material(server, key_id: str, cwd: Path, material: str) -> None:
    """Steps 2 and 3 of the guide for one material: fresh wrapping key and token, then OpenSSL wraps."""
    import_parameters(server, key_id, cwd, "RSAES_OAEP_SHA_256")
    wrap_oaep_sha256(material, cwd)


def materials_by_id(server, key_id: str) -> dict:
    # The CLI follows NextMarker itself and leaves Truncated out.
    listed = cli_json(server, "list-key-rotations", "--key-id", key_id, "--include-key-material", "ALL_KEY_MATERIAL")
    return {r["KeyMaterialId"]: r for r in listed["Rotations"]}


def cli_encrypt(server, key_id: str, cwd: Path, name: str, text: bytes) -> None:
    (cwd / f"{name}.txt").write_bytes(text)
    out = cli_json(server, "encrypt", "--key-id", key_id, "--plaintext", f"fileb://{name}.txt", cwd=cwd)
    (cwd / f"{name}.bin").write_bytes(base64.b64decode(out["CiphertextBlob"]))


def cli_decrypt(server, cwd: Path, name: str) -> dict:
    out = cli_json(server, "decrypt", "--ciphertext-blob", f"fileb://{name}.bin", cwd=cwd)
    out["Plaintext"] = base64.b64decode(out["Plaintext"])
    return out


def test_rotate_imported_key_material_as_documented(server, tmp_path):
    """AWS's guide for on-demand rotation of a key with imported material, with the AWS CLI and OpenSSL: import,
    import new material (NEW_KEY_MATERIAL, PENDING_ROTATION), rotate, old data still decrypts, re-import to
    change an expiry, delete one material by its KeyMaterialId."""
    key = cli_json(server, "create-key", "--origin", "EXTERNAL", "--description", "imported, rotated")["KeyMetadata"]
    key_id, arn = key["KeyId"], key["Arn"]

    # The first material needs no ImportType: it becomes the key's CURRENT material.
    openssl("rand", "-out", "PlaintextKeyMaterial.bin", "32", cwd=tmp_path)
    wrap_new_material(server, key_id, tmp_path, "PlaintextKeyMaterial.bin")
    first = json.loads(import_material(server, key_id, tmp_path, "--expiration-model",
                                       "KEY_MATERIAL_DOES_NOT_EXPIRE").stdout)
    first_id = first["KeyMaterialId"]
    assert first["KeyId"] == arn and re.fullmatch("[0-9a-f]{64}", first_id)
    meta = cli_json(server, "describe-key", "--key-id", key_id)["KeyMetadata"]
    assert meta["KeyState"] == "Enabled" and meta["CurrentKeyMaterialId"] == first_id
    cli_encrypt(server, key_id, tmp_path, "old", b"encrypted before the rotation")

    # Nothing was imported for a rotation yet.
    assert b"KMSInvalidStateException" in cli_error(server, "rotate-key-on-demand", "--key-id", key_id)
    # Different material without NEW_KEY_MATERIAL is refused: the default is now EXISTING_KEY_MATERIAL.
    openssl("rand", "-out", "NewKeyMaterial.bin", "32", cwd=tmp_path)
    wrap_new_material(server, key_id, tmp_path, "NewKeyMaterial.bin")
    refused = import_material(server, key_id, tmp_path, "--expiration-model", "KEY_MATERIAL_DOES_NOT_EXPIRE",
                              check=False)
    assert refused.returncode != 0 and b"IncorrectKeyMaterialException" in refused.stderr

    # Import the new material for rotation: it waits in PENDING_ROTATION and is not used yet.
    wrap_new_material(server, key_id, tmp_path, "NewKeyMaterial.bin")
    valid_to = int(time.time()) + 30 * DAY
    new = json.loads(import_material(server, key_id, tmp_path, "--import-type", "NEW_KEY_MATERIAL",
                                     "--key-material-description", "Second material 2026-Q3",
                                     "--expiration-model", "KEY_MATERIAL_EXPIRES",
                                     "--valid-to", str(valid_to)).stdout)
    new_id = new["KeyMaterialId"]
    assert new_id != first_id
    listed = materials_by_id(server, key_id)
    assert listed[first_id]["KeyMaterialState"] == "CURRENT" and listed[first_id]["ImportState"] == "IMPORTED"
    assert "RotationDate" not in listed[first_id] and "RotationType" not in listed[first_id]
    pending = listed[new_id]
    assert pending["KeyMaterialState"] == "PENDING_ROTATION" and pending["ImportState"] == "IMPORTED"
    assert pending["KeyMaterialDescription"] == "Second material 2026-Q3"
    assert pending["ExpirationModel"] == "KEY_MATERIAL_EXPIRES" and "ValidTo" in pending
    assert "RotationDate" not in pending
    assert cli_json(server, "list-key-rotations", "--key-id", key_id)["Rotations"] == []
    assert cli_json(server, "describe-key", "--key-id", key_id)["KeyMetadata"]["CurrentKeyMaterialId"] == first_id

    # Rotate: the new material becomes CURRENT, the first one NON_CURRENT.
    assert cli_json(server, "rotate-key-on-demand", "--key-id", key_id)["KeyId"] == arn
    status = cli_json(server, "get-key-rotation-status", "--key-id", key_id)
    assert status["KeyRotationEnabled"] is False and "OnDemandRotationStartDate" not in status
    rotations = cli_json(server, "list-key-rotations", "--key-id", key_id)["Rotations"]
    assert [(r["KeyMaterialId"], r["KeyMaterialState"], r["RotationType"]) for r in rotations] == \
        [(new_id, "CURRENT", "ON_DEMAND")]
    assert "RotationDate" in rotations[0]
    assert materials_by_id(server, key_id)[first_id]["KeyMaterialState"] == "NON_CURRENT"
    meta = cli_json(server, "describe-key", "--key-id", key_id)["KeyMetadata"]
    assert meta["CurrentKeyMaterialId"] == new_id and meta["ExpirationModel"] == "KEY_MATERIAL_EXPIRES"
    assert "ValidTo" in meta

    # Data encrypted before the rotation still decrypts, with the first material; new data uses the new one.
    old = cli_decrypt(server, tmp_path, "old")
    assert old["Plaintext"] == b"encrypted before the rotation" and old["KeyMaterialId"] == first_id
    cli_encrypt(server, key_id, tmp_path, "fresh", b"encrypted after the rotation")
    assert cli_decrypt(server, tmp_path, "fresh")["KeyMaterialId"] == new_id
    assert b"KMSInvalidStateException" in cli_error(server, "rotate-key-on-demand", "--key-id", key_id)

    # Re-import the same material, named by its KeyMaterialId, to remove its expiry.
    wrap_new_material(server, key_id, tmp_path, "NewKeyMaterial.bin")
    again = json.loads(import_material(server, key_id, tmp_path, "--import-type", "EXISTING_KEY_MATERIAL",
                                       "--key-material-id", new_id,
                                       "--expiration-model", "KEY_MATERIAL_DOES_NOT_EXPIRE").stdout)
    assert again["KeyMaterialId"] == new_id
    meta = cli_json(server, "describe-key", "--key-id", key_id)["KeyMetadata"]
    assert meta["ExpirationModel"] == "KEY_MATERIAL_DOES_NOT_EXPIRE" and "ValidTo" not in meta
    assert "ValidTo" not in materials_by_id(server, key_id)[new_id]
    # The id must be the material's own.
    wrap_new_material(server, key_id, tmp_path, "PlaintextKeyMaterial.bin")
    wrong = import_material(server, key_id, tmp_path, "--key-material-id", new_id,
                            "--expiration-model", "KEY_MATERIAL_DOES_NOT_EXPIRE", check=False)
    assert wrong.returncode != 0 and b"IncorrectKeyMaterialException" in wrong.stderr

    # Delete the first material by its id: the key is unusable until that material comes back.
    deleted = cli_json(server, "delete-imported-key-material", "--key-id", key_id, "--key-material-id", first_id)
    assert deleted == {"KeyId": arn, "KeyMaterialId": first_id}
    assert cli_json(server, "describe-key", "--key-id", key_id)["KeyMetadata"]["KeyState"] == "PendingImport"
    assert materials_by_id(server, key_id)[first_id]["ImportState"] == "PENDING_IMPORT"
    # CloudTrail names the material in the request and the response, as AWS's DeleteImportedKeyMaterial event does.
    trail = [rec["event"] for rec in trail_records(server.data_dir / "audit") if rec.get("event")]
    event = next(e for e in reversed(trail) if e["eventName"] == "DeleteImportedKeyMaterial"
                 and e["requestParameters"]["keyId"] == key_id)
    assert event["requestParameters"]["keyMaterialId"] == first_id
    assert event["responseElements"] == {"keyId": arn, "keyMaterialId": first_id}
    imports = [e for e in trail if e["eventName"] == "ImportKeyMaterial" and e["requestParameters"]["keyId"] == key_id
               and e["requestParameters"].get("importType") == "NEW_KEY_MATERIAL"]
    assert imports and imports[0]["responseElements"] == {"keyId": arn, "keyMaterialId": new_id}
    assert b"KMSInvalidStateException" in cli_error(server, "decrypt", "--ciphertext-blob", "fileb://fresh.bin",
                                                    cwd=tmp_path)
    wrap_new_material(server, key_id, tmp_path, "PlaintextKeyMaterial.bin")
    import_material(server, key_id, tmp_path, "--expiration-model", "KEY_MATERIAL_DOES_NOT_EXPIRE")
    assert cli_json(server, "describe-key", "--key-id", key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    assert cli_decrypt(server, tmp_path, "old")["Plaintext"] == b"encrypted before the rotation"
    assert cli_decrypt(server, tmp_path, "fresh")["Plaintext"] == b"encrypted after the rotation"


def test_expiry_of_rotated_imported_material(clocked, tmp_path):
    """The scheduler erases only the material whose ValidTo passed; when it is the CURRENT one the key goes to
    PendingImport, as AWS documents, and the other material stays imported."""
    srv, advance = clocked
    key_id = cli_json(srv, "create-key", "--origin", "EXTERNAL")["KeyMetadata"]["KeyId"]
    openssl("rand", "-out", "First.bin", "32", cwd=tmp_path)
    wrap_new_material(srv, key_id, tmp_path, "First.bin")
    first_id = json.loads(import_material(srv, key_id, tmp_path, "--expiration-model",
                                          "KEY_MATERIAL_DOES_NOT_EXPIRE").stdout)["KeyMaterialId"]
    openssl("rand", "-out", "Second.bin", "32", cwd=tmp_path)
    wrap_new_material(srv, key_id, tmp_path, "Second.bin")
    second_id = json.loads(import_material(srv, key_id, tmp_path, "--import-type", "NEW_KEY_MATERIAL",
                                           "--expiration-model", "KEY_MATERIAL_EXPIRES",
                                           "--valid-to", str(int(time.time()) + 2 * DAY)).stdout)["KeyMaterialId"]
    srv.aws("kms", "rotate-key-on-demand", "--key-id", key_id)
    cli_encrypt(srv, key_id, tmp_path, "data", b"under the second material")
    advance(DAY)
    assert cli_json(srv, "describe-key", "--key-id", key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    advance(2 * DAY + 60)
    assert cli_json(srv, "describe-key", "--key-id", key_id)["KeyMetadata"]["KeyState"] == "PendingImport"
    listed = materials_by_id(srv, key_id)
    assert listed[second_id]["ImportState"] == "PENDING_IMPORT" and listed[second_id]["KeyMaterialState"] == "CURRENT"
    assert listed[first_id]["ImportState"] == "IMPORTED" and listed[first_id]["KeyMaterialState"] == "NON_CURRENT"
    # Bringing the expired material back makes the key usable again.
    wrap_new_material(srv, key_id, tmp_path, "Second.bin")
    import_material(srv, key_id, tmp_path, "--expiration-model", "KEY_MATERIAL_DOES_NOT_EXPIRE")
    assert cli_decrypt(srv, tmp_path, "data")["Plaintext"] == b"under the second material"


def test_import_rotation_members_are_validated(kms, key):
    ext = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    params = kms.get_parameters_for_import(KeyId=ext, WrappingAlgorithm="RSAES_OAEP_SHA_256",
                                           WrappingKeySpec="RSA_2048")
    base = dict(KeyId=ext, ImportToken=params["ImportToken"], EncryptedKeyMaterial=b"x" * 256,
                ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
    for extra, member in [({"ImportType": "ROTATE"}, "importType"), ({"KeyMaterialId": "A" * 64}, "keyMaterialId"),
                          ({"KeyMaterialDescription": "semi;colon"}, "keyMaterialDescription")]:
        with pytest.raises(ClientError) as e:
            kms.import_key_material(**base, **extra)
        assert error_code(e) == "ValidationException" and member in str(e.value), (extra, str(e.value))
    with pytest.raises(ClientError) as e:
        kms.delete_imported_key_material(KeyId=ext, KeyMaterialId="g" * 64)
    assert error_code(e) == "ValidationException"
    with pytest.raises(ClientError) as e:
        kms.list_key_rotations(KeyId=key["KeyId"], IncludeKeyMaterial="EVERYTHING")
    assert error_code(e) == "ValidationException"

    # A key with KMS-made material lists its first material too when asked, with the material states.
    kms.rotate_key_on_demand(KeyId=key["KeyId"])
    everything = kms.list_key_rotations(KeyId=key["KeyId"], IncludeKeyMaterial="ALL_KEY_MATERIAL")["Rotations"]
    assert [r["KeyMaterialState"] for r in everything] == ["NON_CURRENT", "CURRENT"]
    assert "RotationType" not in everything[0] and "ImportState" not in everything[0]
    assert everything[1]["RotationType"] == "ON_DEMAND"
    assert kms.list_key_rotations(KeyId=key["KeyId"])["Rotations"] == everything[1:]
