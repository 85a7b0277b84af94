//! Handlers for asymmetric and HMAC keys: Sign, Verify, GetPublicKey, GenerateMac, VerifyMac,
//! DeriveSharedSecret, GenerateDataKeyPair(WithoutPlaintext).

use serde_json::json;
use trent_audit::ResponseElements;
use trent_core::KmsError;
use trent_core::service::{Caller, Kms};

use super::audit_facts::KmsFacts;
use super::ops::{Out, dry_caller, dry_run};
use super::request::{
    DeriveSharedSecret, DryRunnable, FromBody, GenerateDataKeyPair, GenerateMac, KeyOnly, Sign, Verify, VerifyMac,
};
use super::wire::{B64, SecretB64, to_body};

pub(crate) fn sign(kms: &Kms, caller: &Caller, body: &[u8], facts: &mut KmsFacts) -> Out {
    let DryRunnable { request: r, dry_run: dry } = DryRunnable::<Sign>::from_body_noted(body, facts)?;
    let (arn, signature) = dry_run(
        dry,
        kms.sign(&dry_caller(caller, dry), &r.key, r.message.expose_secret(), r.message_type, r.algorithm),
    )?;
    facts.answered_key(&arn);
    to_body(&json!({ "KeyId": arn, "Signature": B64(&signature), "SigningAlgorithm": r.algorithm.as_str() }))
}

pub(crate) fn verify(kms: &Kms, caller: &Caller, body: &[u8], facts: &mut KmsFacts) -> Out {
    let DryRunnable { request: r, dry_run: dry } = DryRunnable::<Verify>::from_body_noted(body, facts)?;
    let arn = dry_run(
        dry,
        kms.verify(
            &dry_caller(caller, dry),
            &r.key,
            r.message.expose_secret(),
            r.message_type,
            &r.signature,
            r.algorithm,
        ),
    )?;
    facts.answered_key(&arn);
    to_body(&json!({ "KeyId": arn, "SignatureValid": true, "SigningAlgorithm": r.algorithm.as_str() }))
}

pub(crate) fn get_public_key(kms: &Kms, caller: &Caller, body: &[u8], facts: &mut KmsFacts) -> Out {
    let p = kms.get_public_key(caller, &KeyOnly::from_body_noted(body, facts)?.key)?;
    facts.answered_key(&p.key_arn);
    let mut out = json!({
        "KeyId": p.key_arn,
        "PublicKey": B64(&p.public_key),
        "CustomerMasterKeySpec": p.key_spec.as_str(),
        "KeySpec": p.key_spec.as_str(),
        "KeyUsage": p.key_usage.as_str(),
    });
    for (field, list) in [
        ("EncryptionAlgorithms", p.algorithms.encryption),
        ("SigningAlgorithms", p.algorithms.signing),
        ("KeyAgreementAlgorithms", p.algorithms.key_agreement),
    ] {
        if !list.is_empty() {
            out[field] = json!(list);
        }
    }
    to_body(&out)
}

pub(crate) fn generate_mac(kms: &Kms, caller: &Caller, body: &[u8], facts: &mut KmsFacts) -> Out {
    let DryRunnable { request: r, dry_run: dry } = DryRunnable::<GenerateMac>::from_body_noted(body, facts)?;
    let (arn, mac) =
        dry_run(dry, kms.generate_mac(&dry_caller(caller, dry), &r.key, r.message.expose_secret(), r.algorithm))?;
    facts.key(&arn);
    to_body(&json!({ "Mac": B64(&mac), "MacAlgorithm": r.algorithm.as_str(), "KeyId": arn }))
}

pub(crate) fn verify_mac(kms: &Kms, caller: &Caller, body: &[u8], facts: &mut KmsFacts) -> Out {
    let DryRunnable { request: r, dry_run: dry } = DryRunnable::<VerifyMac>::from_body_noted(body, facts)?;
    let arn =
        dry_run(dry, kms.verify_mac(&dry_caller(caller, dry), &r.key, r.message.expose_secret(), r.algorithm, &r.mac))?;
    facts.key(&arn);
    to_body(&json!({ "KeyId": arn, "MacValid": true, "MacAlgorithm": r.algorithm.as_str() }))
}

pub(crate) fn derive_shared_secret(kms: &Kms, caller: &Caller, body: &[u8], facts: &mut KmsFacts) -> Out {
    let DryRunnable { request: r, dry_run: dry } = DryRunnable::<DeriveSharedSecret>::from_body_noted(body, facts)?;
    let (arn, secret, origin) =
        dry_run(dry, kms.derive_shared_secret(&dry_caller(caller, dry), &r.key, &r.public_key))?;
    facts.answered_key(&arn);
    to_body(&json!({
        "KeyId": arn,
        "SharedSecret": SecretB64(&secret),
        "KeyAgreementAlgorithm": r.algorithm.as_str(),
        "KeyOrigin": origin.as_str(),
    }))
}

pub(crate) fn generate_data_key_pair(
    kms: &Kms,
    caller: &Caller,
    body: &[u8],
    with_plaintext: bool,
    facts: &mut KmsFacts,
) -> Out {
    let DryRunnable { request: r, dry_run: dry } = DryRunnable::<GenerateDataKeyPair>::from_body_noted(body, facts)?;
    let pair =
        dry_run(dry, kms.generate_data_key_pair(&dry_caller(caller, dry), &r.key, r.spec, &r.context, with_plaintext))?;
    facts.answered(|| ResponseElements {
        key_id: Some(pair.key_arn.clone()),
        key_material_id: Some(pair.material_id.clone()),
        ..ResponseElements::default()
    });
    let mut out = json!({
        "PrivateKeyCiphertextBlob": B64(&pair.private_key_ciphertext),
        "PublicKey": B64(&pair.public_key),
        "KeyId": pair.key_arn,
        "KeyPairSpec": pair.spec.as_str(),
        "KeyMaterialId": pair.material_id,
    });
    if let Some(p) = &pair.private_key_plaintext {
        out["PrivateKeyPlaintext"] = serde_json::to_value(SecretB64(p)).map_err(KmsError::internal)?;
    }
    to_body(&out)
}
