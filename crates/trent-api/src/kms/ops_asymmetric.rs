//! Handlers for asymmetric and HMAC keys: Sign, Verify, GetPublicKey, GenerateMac, VerifyMac,
//! DeriveSharedSecret, GenerateDataKeyPair(WithoutPlaintext).

use serde_json::json;
use trent_core::KmsError;
use trent_core::model::{
    DataKeyPairSpec, KeyAgreementAlgorithmSpec, MacAlgorithmSpec, MessageType, SigningAlgorithmSpec,
};
use trent_core::service::{Caller, Kms};
use trent_crypto::SecretBytes;

use super::ops::{Out, dry_caller, dry_run, key_id, key_ref};
use super::validate::{Check, decode_blob};
use super::wire::{self, B64, SecretB64, parse, to_body};
use crate::error::ApiError;

const MAX_MESSAGE: usize = 4096;
const MAX_SIGNATURE: usize = 6144;
const MAX_PUBLIC_KEY: usize = 8192;

/// Members shared by Sign, Verify, GenerateMac and VerifyMac.
struct Signed {
    key: String,
    message: SecretBytes,
}

fn signed_members(r: &wire::SignIn, c: &mut Check) -> Result<Signed, ApiError> {
    let key = key_id(c, &r.key_id, "keyId");
    let message = match c.required(&r.message, "message") {
        Some(m) => SecretBytes::new(decode_blob(m, "Message")?),
        None => SecretBytes::new(Vec::new()),
    };
    if r.message.is_some() {
        c.blob_len(message.len(), "message", 1, MAX_MESSAGE);
    }
    Ok(Signed { key: key.unwrap_or_default(), message })
}

fn signing_members(r: &wire::SignIn, c: &mut Check) -> (Option<SigningAlgorithmSpec>, MessageType) {
    c.required(&r.signing_algorithm, "signingAlgorithm");
    let alg = c.enumeration(
        r.signing_algorithm.as_deref(),
        "signingAlgorithm",
        SigningAlgorithmSpec::parse,
        SigningAlgorithmSpec::enum_constraint,
    );
    let mt = c
        .enumeration(r.message_type.as_deref(), "messageType", MessageType::parse, MessageType::enum_constraint)
        .unwrap_or(MessageType::Raw);
    (alg, mt)
}

pub(crate) fn sign(kms: &Kms, caller: &Caller, body: &[u8]) -> Out {
    let r: wire::SignIn = parse(body)?;
    let mut c = Check::default();
    let m = signed_members(&r, &mut c)?;
    let (alg, mt) = signing_members(&r, &mut c);
    c.finish()?;
    let alg = alg.ok_or_else(|| KmsError::internal("validated members missing"))?;
    let (arn, signature) = dry_run(
        r.dry_run,
        kms.sign(&dry_caller(caller, r.dry_run), &key_ref(&m.key)?, m.message.expose_secret(), mt, alg),
    )?;
    to_body(&json!({ "KeyId": arn, "Signature": B64(&signature), "SigningAlgorithm": alg.as_str() }))
}

pub(crate) fn verify(kms: &Kms, caller: &Caller, body: &[u8]) -> Out {
    let r: wire::SignIn = parse(body)?;
    let mut c = Check::default();
    let m = signed_members(&r, &mut c)?;
    let (alg, mt) = signing_members(&r, &mut c);
    let signature = match c.required(&r.signature, "signature") {
        Some(s) => decode_blob(s, "Signature")?,
        None => Vec::new(),
    };
    if r.signature.is_some() {
        c.blob_len(signature.len(), "signature", 1, MAX_SIGNATURE);
    }
    c.finish()?;
    let alg = alg.ok_or_else(|| KmsError::internal("validated members missing"))?;
    let arn = dry_run(
        r.dry_run,
        kms.verify(&dry_caller(caller, r.dry_run), &key_ref(&m.key)?, m.message.expose_secret(), mt, &signature, alg),
    )?;
    to_body(&json!({ "KeyId": arn, "SignatureValid": true, "SigningAlgorithm": alg.as_str() }))
}

pub(crate) fn get_public_key(kms: &Kms, caller: &Caller, body: &[u8]) -> Out {
    let r: wire::KeyIdIn = parse(body)?;
    let mut c = Check::default();
    let raw = key_id(&mut c, &r.key_id, "keyId");
    c.finish()?;
    let p = kms.get_public_key(caller, &key_ref(&raw.unwrap_or_default())?)?;
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

fn mac_members(r: &wire::SignIn, c: &mut Check) -> Option<MacAlgorithmSpec> {
    c.required(&r.mac_algorithm, "macAlgorithm");
    c.enumeration(
        r.mac_algorithm.as_deref(),
        "macAlgorithm",
        MacAlgorithmSpec::parse,
        MacAlgorithmSpec::enum_constraint,
    )
}

pub(crate) fn generate_mac(kms: &Kms, caller: &Caller, body: &[u8]) -> Out {
    let r: wire::SignIn = parse(body)?;
    let mut c = Check::default();
    let m = signed_members(&r, &mut c)?;
    let alg = mac_members(&r, &mut c);
    c.finish()?;
    let alg = alg.ok_or_else(|| KmsError::internal("validated members missing"))?;
    let (arn, mac) = dry_run(
        r.dry_run,
        kms.generate_mac(&dry_caller(caller, r.dry_run), &key_ref(&m.key)?, m.message.expose_secret(), alg),
    )?;
    to_body(&json!({ "Mac": B64(&mac), "MacAlgorithm": alg.as_str(), "KeyId": arn }))
}

pub(crate) fn verify_mac(kms: &Kms, caller: &Caller, body: &[u8]) -> Out {
    let r: wire::SignIn = parse(body)?;
    let mut c = Check::default();
    let m = signed_members(&r, &mut c)?;
    let alg = mac_members(&r, &mut c);
    let tag = match c.required(&r.mac, "mac") {
        Some(t) => decode_blob(t, "Mac")?,
        None => Vec::new(),
    };
    if r.mac.is_some() {
        c.blob_len(tag.len(), "mac", 1, MAX_SIGNATURE);
    }
    c.finish()?;
    let alg = alg.ok_or_else(|| KmsError::internal("validated members missing"))?;
    let arn = dry_run(
        r.dry_run,
        kms.verify_mac(&dry_caller(caller, r.dry_run), &key_ref(&m.key)?, m.message.expose_secret(), alg, &tag),
    )?;
    to_body(&json!({ "KeyId": arn, "MacValid": true, "MacAlgorithm": alg.as_str() }))
}

pub(crate) fn derive_shared_secret(kms: &Kms, caller: &Caller, body: &[u8]) -> Out {
    let r: wire::DeriveIn = parse(body)?;
    let mut c = Check::default();
    let raw = key_id(&mut c, &r.key_id, "keyId");
    c.required(&r.key_agreement_algorithm, "keyAgreementAlgorithm");
    let alg = c.enumeration(
        r.key_agreement_algorithm.as_deref(),
        "keyAgreementAlgorithm",
        KeyAgreementAlgorithmSpec::parse,
        KeyAgreementAlgorithmSpec::enum_constraint,
    );
    let peer = match c.required(&r.public_key, "publicKey") {
        Some(p) => decode_blob(p, "PublicKey")?,
        None => Vec::new(),
    };
    if r.public_key.is_some() {
        c.blob_len(peer.len(), "publicKey", 1, MAX_PUBLIC_KEY);
    }
    c.finish()?;
    if r.recipient.is_some() {
        return Err(KmsError::UnsupportedOperation(
            "Recipient (Nitro Enclaves attestation) is not supported by Trent.".into(),
        )
        .into());
    }
    let alg = alg.ok_or_else(|| KmsError::internal("validated members missing"))?;
    let (arn, secret, origin) = dry_run(
        r.dry_run,
        kms.derive_shared_secret(&dry_caller(caller, r.dry_run), &key_ref(&raw.unwrap_or_default())?, &peer),
    )?;
    to_body(&json!({
        "KeyId": arn,
        "SharedSecret": SecretB64(&secret),
        "KeyAgreementAlgorithm": alg.as_str(),
        "KeyOrigin": origin.as_str(),
    }))
}

pub(crate) fn generate_data_key_pair(kms: &Kms, caller: &Caller, body: &[u8], with_plaintext: bool) -> Out {
    let r: wire::DataKeyPairIn = parse(body)?;
    let mut c = Check::default();
    let raw = key_id(&mut c, &r.key_id, "keyId");
    c.required(&r.key_pair_spec, "keyPairSpec");
    let spec = c.enumeration(
        r.key_pair_spec.as_deref(),
        "keyPairSpec",
        DataKeyPairSpec::parse,
        DataKeyPairSpec::enum_constraint,
    );
    c.finish()?;
    if r.recipient.is_some() {
        return Err(KmsError::UnsupportedOperation(
            "Recipient (Nitro Enclaves attestation) is not supported by Trent.".into(),
        )
        .into());
    }
    let spec = spec.ok_or_else(|| KmsError::internal("validated members missing"))?;
    let context = trent_core::context::EncryptionContext::try_new(r.encryption_context.unwrap_or_default())?;
    let pair = dry_run(
        r.dry_run,
        kms.generate_data_key_pair(
            &dry_caller(caller, r.dry_run),
            &key_ref(&raw.unwrap_or_default())?,
            spec,
            &context,
            with_plaintext,
        ),
    )?;
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
