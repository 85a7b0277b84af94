"""End-to-end: asymmetric and HMAC keys through boto3, checked independently with the `cryptography` package:
signatures made by Trent verify outside it with the public key from GetPublicKey, data encrypted outside with
that key decrypts in Trent, ECDH secrets agree with the peer's own computation, MACs behave.
"""

from __future__ import annotations

import hashlib

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils

HASHES = {"SHA_256": hashes.SHA256(), "SHA_384": hashes.SHA384(), "SHA_512": hashes.SHA512()}
HASHLIB = {"SHA_256": hashlib.sha256, "SHA_384": hashlib.sha384, "SHA_512": hashlib.sha512}


def code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def public_key(kms, key_id):
    return serialization.load_der_public_key(kms.get_public_key(KeyId=key_id)["PublicKey"])


def verify_outside(pub, algorithm: str, message: bytes, signature: bytes) -> None:
    """Raises InvalidSignature unless `signature` is a valid `algorithm` signature of `message`."""
    if algorithm == "ED25519_SHA_512":
        pub.verify(signature, message)
        return
    h = HASHES[algorithm[-7:]]
    if algorithm.startswith("RSASSA_PSS"):
        pub.verify(signature, message, padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size), h)
    elif algorithm.startswith("RSASSA_PKCS1"):
        pub.verify(signature, message, padding.PKCS1v15(), h)
    else:
        pub.verify(signature, message, ec.ECDSA(h))


SIGNING = [
    ("RSA_2048", "RSASSA_PSS_SHA_256"),
    ("RSA_3072", "RSASSA_PKCS1_V1_5_SHA_384"),
    ("RSA_2048", "RSASSA_PSS_SHA_512"),
    ("RSA_2048", "RSASSA_PKCS1_V1_5_SHA_256"),
    ("RSA_4096", "RSASSA_PSS_SHA_384"),
    ("RSA_4096", "RSASSA_PKCS1_V1_5_SHA_512"),
    ("ECC_NIST_P256", "ECDSA_SHA_256"),
    ("ECC_NIST_P384", "ECDSA_SHA_384"),
    ("ECC_NIST_P521", "ECDSA_SHA_512"),
    ("ECC_SECG_P256K1", "ECDSA_SHA_256"),
    ("ECC_NIST_EDWARDS25519", "ED25519_SHA_512"),
]


@pytest.mark.parametrize("spec,algorithm", SIGNING)
def test_signatures_verify_outside_trent(kms, spec, algorithm):
    meta = kms.create_key(KeySpec=spec, KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    assert algorithm in meta["SigningAlgorithms"] and "EncryptionAlgorithms" not in meta
    key_id = meta["KeyId"]
    message = b"trent signs this " + spec.encode()
    sig = kms.sign(KeyId=key_id, Message=message, MessageType="RAW", SigningAlgorithm=algorithm)
    assert sig["KeyId"] == meta["Arn"] and sig["SigningAlgorithm"] == algorithm
    pub = public_key(kms, key_id)
    verify_outside(pub, algorithm, message, sig["Signature"])
    ok = kms.verify(KeyId=key_id, Message=message, MessageType="RAW", Signature=sig["Signature"],
                    SigningAlgorithm=algorithm)
    assert ok["SignatureValid"] is True
    with pytest.raises(ClientError) as e:
        kms.verify(KeyId=key_id, Message=message + b"!", MessageType="RAW", Signature=sig["Signature"],
                   SigningAlgorithm=algorithm)
    assert code(e) == "KMSInvalidSignatureException"
    if algorithm != "ED25519_SHA_512":
        digest = HASHLIB[algorithm[-7:]](message).digest()
        dsig = kms.sign(KeyId=key_id, Message=digest, MessageType="DIGEST", SigningAlgorithm=algorithm)["Signature"]
        verify_outside(pub, algorithm, message, dsig)
        with pytest.raises(ClientError) as e:
            kms.sign(KeyId=key_id, Message=digest[:-1], MessageType="DIGEST", SigningAlgorithm=algorithm)
        assert code(e) == "ValidationException"


def test_signature_from_outside_verifies_in_trent_only_for_its_key(kms):
    """A signature by another key (made outside Trent) is refused with KMSInvalidSignatureException."""
    meta = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    other = ec.generate_private_key(ec.SECP256R1())
    forged = other.sign(b"m", ec.ECDSA(hashes.SHA256()))
    with pytest.raises(ClientError) as e:
        kms.verify(KeyId=meta["KeyId"], Message=b"m", Signature=forged, SigningAlgorithm="ECDSA_SHA_256")
    assert code(e) == "KMSInvalidSignatureException"


@pytest.mark.parametrize("spec,limit_sha1,limit_sha256", [("RSA_2048", 214, 190), ("RSA_3072", 342, 318),
                                                                   ("RSA_4096", 470, 446)])
def test_rsa_encryption_both_ways(kms, spec, limit_sha1, limit_sha256):
    meta = kms.create_key(KeySpec=spec, KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]
    assert meta["EncryptionAlgorithms"] == ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"]
    key_id = meta["KeyId"]
    pub = public_key(kms, key_id)
    for alg, h, limit in [("RSAES_OAEP_SHA_1", hashes.SHA1(), limit_sha1), ("RSAES_OAEP_SHA_256", hashes.SHA256(), limit_sha256)]:
        outside = pub.encrypt(b"from outside", padding.OAEP(mgf=padding.MGF1(h), algorithm=h, label=None))
        out = kms.decrypt(KeyId=key_id, CiphertextBlob=outside, EncryptionAlgorithm=alg)
        assert out["Plaintext"] == b"from outside" and out["EncryptionAlgorithm"] == alg
        inside = kms.encrypt(KeyId=key_id, Plaintext=b"x" * limit, EncryptionAlgorithm=alg)["CiphertextBlob"]
        assert kms.decrypt(KeyId=key_id, CiphertextBlob=inside, EncryptionAlgorithm=alg)["Plaintext"] == b"x" * limit
        with pytest.raises(ClientError) as e:
            kms.encrypt(KeyId=key_id, Plaintext=b"x" * (limit + 1), EncryptionAlgorithm=alg)
        assert code(e) == "ValidationException"
    with pytest.raises(ClientError) as e:  # no default algorithm for RSA keys
        kms.encrypt(KeyId=key_id, Plaintext=b"x")
    assert code(e) == "InvalidKeyUsageException"
    with pytest.raises(ClientError) as e:
        kms.encrypt(KeyId=key_id, Plaintext=b"x", EncryptionAlgorithm="RSAES_OAEP_SHA_256",
                    EncryptionContext={"not": "allowed"})
    assert code(e) == "ValidationException"
    with pytest.raises(ClientError) as e:
        kms.sign(KeyId=key_id, Message=b"m", SigningAlgorithm="RSASSA_PSS_SHA_256")
    assert code(e) == "InvalidKeyUsageException"


def test_hmac_keys(kms):
    for spec, alg, length in [("HMAC_224", "HMAC_SHA_224", 28), ("HMAC_256", "HMAC_SHA_256", 32),
                              ("HMAC_384", "HMAC_SHA_384", 48), ("HMAC_512", "HMAC_SHA_512", 64)]:
        meta = kms.create_key(KeySpec=spec, KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
        assert meta["MacAlgorithms"] == [alg]
        key_id = meta["KeyId"]
        mac1 = kms.generate_mac(KeyId=key_id, Message=b"message", MacAlgorithm=alg)["Mac"]
        mac2 = kms.generate_mac(KeyId=key_id, Message=b"message", MacAlgorithm=alg)["Mac"]
        assert mac1 == mac2 and len(mac1) == length
        assert kms.verify_mac(KeyId=key_id, Message=b"message", MacAlgorithm=alg, Mac=mac1)["MacValid"] is True
        flipped = bytes([mac1[0] ^ 1]) + mac1[1:]
        for message, mac in [(b"messagE", mac1), (b"message", flipped)]:
            with pytest.raises(ClientError) as e:
                kms.verify_mac(KeyId=key_id, Message=message, MacAlgorithm=alg, Mac=mac)
            assert code(e) == "KMSInvalidMacException"
    with pytest.raises(ClientError) as e:
        kms.create_key(KeySpec="HMAC_256", KeyUsage="SIGN_VERIFY")
    assert code(e) == "ValidationException"
    with pytest.raises(ClientError) as e:
        kms.get_public_key(KeyId=key_id)
    assert code(e) == "UnsupportedOperationException"


@pytest.mark.parametrize("spec,curve", [("ECC_NIST_P256", ec.SECP256R1()), ("ECC_NIST_P384", ec.SECP384R1()),
                                        ("ECC_NIST_P521", ec.SECP521R1())])
def test_ecdh_matches_the_peer(kms, spec, curve):
    meta = kms.create_key(KeySpec=spec, KeyUsage="KEY_AGREEMENT")["KeyMetadata"]
    assert meta["KeyAgreementAlgorithms"] == ["ECDH"]
    peer = ec.generate_private_key(curve)
    peer_der = peer.public_key().public_bytes(serialization.Encoding.DER,
                                              serialization.PublicFormat.SubjectPublicKeyInfo)
    out = kms.derive_shared_secret(KeyId=meta["KeyId"], KeyAgreementAlgorithm="ECDH", PublicKey=peer_der)
    assert out["KeyOrigin"] == "AWS_KMS"
    expected = peer.exchange(ec.ECDH(), public_key(kms, meta["KeyId"]))
    assert out["SharedSecret"] == expected
    with pytest.raises(ClientError) as e:
        kms.derive_shared_secret(KeyId=meta["KeyId"], KeyAgreementAlgorithm="ECDH", PublicKey=b"not a key")
    assert code(e) == "ValidationException"


@pytest.mark.parametrize("spec", ["RSA_2048", "ECC_NIST_P256", "ECC_SECG_P256K1", "ECC_NIST_EDWARDS25519"])
def test_data_key_pairs(kms, key, spec):
    pair = kms.generate_data_key_pair(KeyId=key["KeyId"], KeyPairSpec=spec, EncryptionContext={"use": "pair"})
    private = serialization.load_der_private_key(pair["PrivateKeyPlaintext"], password=None)
    public_der = private.public_key().public_bytes(serialization.Encoding.DER,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo)
    assert public_der == pair["PublicKey"]
    decrypted = kms.decrypt(CiphertextBlob=pair["PrivateKeyCiphertextBlob"], EncryptionContext={"use": "pair"})
    assert decrypted["Plaintext"] == pair["PrivateKeyPlaintext"]
    without = kms.generate_data_key_pair_without_plaintext(KeyId=key["KeyId"], KeyPairSpec=spec)
    assert "PrivateKeyPlaintext" not in without and without["PublicKey"]


def test_cli_sign_and_get_public_key(server, kms, tmp_path):
    import base64
    import json

    key_id = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    (tmp_path / "msg.txt").write_bytes(b"signed by the AWS CLI")
    out = json.loads(server.aws("kms", "sign", "--key-id", key_id, "--message", "fileb://msg.txt",
                                "--message-type", "RAW", "--signing-algorithm", "ECDSA_SHA_256", cwd=tmp_path).stdout)
    signature = base64.b64decode(out["Signature"])
    pub = json.loads(server.aws("kms", "get-public-key", "--key-id", key_id).stdout)
    key = serialization.load_der_public_key(base64.b64decode(pub["PublicKey"]))
    key.verify(signature, b"signed by the AWS CLI", ec.ECDSA(hashes.SHA256()))
