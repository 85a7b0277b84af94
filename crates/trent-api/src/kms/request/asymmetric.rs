//! Requests for asymmetric and HMAC keys: Sign, Verify, GenerateMac, VerifyMac, DeriveSharedSecret and
//! GenerateDataKeyPair(WithoutPlaintext). (GetPublicKey takes a key only: `KeyOnly`.)

use trent_core::context::EncryptionContext;
use trent_core::ids::KeyRef;
use trent_core::model::{
    DataKeyPairSpec, KeyAgreementAlgorithmSpec, MacAlgorithmSpec, MessageType, SigningAlgorithmSpec,
};
use trent_crypto::SecretBytes;

use super::{DryRunnable, FromBody, blob, context, key_id, key_ref, refuse_recipient, secret_blob};
use crate::error::ApiError;
use crate::kms::validate::{Check, Checked};
use crate::kms::wire;

const MAX_MESSAGE: usize = 4096;
const MAX_SIGNATURE: usize = 6144;
const MAX_PUBLIC_KEY: usize = 8192;

/// The key and message members Sign, Verify, GenerateMac and VerifyMac share.
fn key_and_message(c: &mut Check, r: &wire::SignIn) -> Result<(Checked<String>, Checked<SecretBytes>), ApiError> {
    let key = key_id(c, &r.key_id, "keyId");
    let message = secret_blob(c, r.message.as_deref().map(String::as_str), "message", "Message", MAX_MESSAGE)?;
    Ok((key, message))
}

/// `SigningAlgorithm` (required) and `MessageType` (RAW when absent).
fn signing(c: &mut Check, r: &wire::SignIn) -> (Checked<SigningAlgorithmSpec>, Checked<MessageType>) {
    let algorithm = c.required_enumeration(
        r.signing_algorithm.as_deref(),
        "signingAlgorithm",
        SigningAlgorithmSpec::parse,
        SigningAlgorithmSpec::enum_constraint,
    );
    let message_type = match r.message_type.as_deref() {
        Some(t) => c.enumeration(Some(t), "messageType", MessageType::parse, MessageType::enum_constraint),
        None => Some(MessageType::Raw),
    };
    (algorithm, message_type)
}

fn mac_algorithm(c: &mut Check, r: &wire::SignIn) -> Checked<MacAlgorithmSpec> {
    c.required_enumeration(
        r.mac_algorithm.as_deref(),
        "macAlgorithm",
        MacAlgorithmSpec::parse,
        MacAlgorithmSpec::enum_constraint,
    )
}

pub(crate) struct Sign {
    pub(crate) key: KeyRef,
    pub(crate) message: SecretBytes,
    pub(crate) message_type: MessageType,
    pub(crate) algorithm: SigningAlgorithmSpec,
}

impl FromBody for DryRunnable<Sign> {
    type Wire = wire::SignIn;
}

impl TryFrom<wire::SignIn> for DryRunnable<Sign> {
    type Error = ApiError;

    fn try_from(r: wire::SignIn) -> Result<Self, ApiError> {
        let mut c = Check::default();
        let (key, message) = key_and_message(&mut c, &r)?;
        let (algorithm, message_type) = signing(&mut c, &r);
        let ((key, message), (algorithm, message_type)) = c.finish_with(((key, message), (algorithm, message_type)))?;
        Ok(Self::new(Sign { key: key_ref(&key)?, message, message_type, algorithm }, r.dry_run))
    }
}

pub(crate) struct Verify {
    pub(crate) key: KeyRef,
    pub(crate) message: SecretBytes,
    pub(crate) message_type: MessageType,
    pub(crate) algorithm: SigningAlgorithmSpec,
    pub(crate) signature: Vec<u8>,
}

impl FromBody for DryRunnable<Verify> {
    type Wire = wire::SignIn;
}

impl TryFrom<wire::SignIn> for DryRunnable<Verify> {
    type Error = ApiError;

    fn try_from(r: wire::SignIn) -> Result<Self, ApiError> {
        let mut c = Check::default();
        let (key, message) = key_and_message(&mut c, &r)?;
        let (algorithm, message_type) = signing(&mut c, &r);
        let signature = blob(&mut c, r.signature.as_deref(), "signature", "Signature", MAX_SIGNATURE)?;
        let ((key, message), (algorithm, message_type), signature) =
            c.finish_with(((key, message), (algorithm, message_type), signature))?;
        Ok(Self::new(Verify { key: key_ref(&key)?, message, message_type, algorithm, signature }, r.dry_run))
    }
}

pub(crate) struct GenerateMac {
    pub(crate) key: KeyRef,
    pub(crate) message: SecretBytes,
    pub(crate) algorithm: MacAlgorithmSpec,
}

impl FromBody for DryRunnable<GenerateMac> {
    type Wire = wire::SignIn;
}

impl TryFrom<wire::SignIn> for DryRunnable<GenerateMac> {
    type Error = ApiError;

    fn try_from(r: wire::SignIn) -> Result<Self, ApiError> {
        let mut c = Check::default();
        let (key, message) = key_and_message(&mut c, &r)?;
        let algorithm = mac_algorithm(&mut c, &r);
        let (key, message, algorithm) = c.finish_with((key, message, algorithm))?;
        Ok(Self::new(GenerateMac { key: key_ref(&key)?, message, algorithm }, r.dry_run))
    }
}

pub(crate) struct VerifyMac {
    pub(crate) key: KeyRef,
    pub(crate) message: SecretBytes,
    pub(crate) algorithm: MacAlgorithmSpec,
    pub(crate) mac: Vec<u8>,
}

impl FromBody for DryRunnable<VerifyMac> {
    type Wire = wire::SignIn;
}

impl TryFrom<wire::SignIn> for DryRunnable<VerifyMac> {
    type Error = ApiError;

    fn try_from(r: wire::SignIn) -> Result<Self, ApiError> {
        let mut c = Check::default();
        let (key, message) = key_and_message(&mut c, &r)?;
        let algorithm = mac_algorithm(&mut c, &r);
        let mac = blob(&mut c, r.mac.as_deref(), "mac", "Mac", MAX_SIGNATURE)?;
        let ((key, message), algorithm, mac) = c.finish_with(((key, message), algorithm, mac))?;
        Ok(Self::new(VerifyMac { key: key_ref(&key)?, message, algorithm, mac }, r.dry_run))
    }
}

pub(crate) struct DeriveSharedSecret {
    pub(crate) key: KeyRef,
    pub(crate) algorithm: KeyAgreementAlgorithmSpec,
    pub(crate) public_key: Vec<u8>,
}

impl FromBody for DryRunnable<DeriveSharedSecret> {
    type Wire = wire::DeriveIn;
}

impl TryFrom<wire::DeriveIn> for DryRunnable<DeriveSharedSecret> {
    type Error = ApiError;

    fn try_from(r: wire::DeriveIn) -> Result<Self, ApiError> {
        let mut c = Check::default();
        let key = key_id(&mut c, &r.key_id, "keyId");
        let algorithm = c.required_enumeration(
            r.key_agreement_algorithm.as_deref(),
            "keyAgreementAlgorithm",
            KeyAgreementAlgorithmSpec::parse,
            KeyAgreementAlgorithmSpec::enum_constraint,
        );
        let public_key = blob(&mut c, r.public_key.as_deref(), "publicKey", "PublicKey", MAX_PUBLIC_KEY)?;
        let (key, algorithm, public_key) = c.finish_with((key, algorithm, public_key))?;
        refuse_recipient(&r.recipient)?;
        Ok(Self::new(DeriveSharedSecret { key: key_ref(&key)?, algorithm, public_key }, r.dry_run))
    }
}

pub(crate) struct GenerateDataKeyPair {
    pub(crate) key: KeyRef,
    pub(crate) spec: DataKeyPairSpec,
    pub(crate) context: EncryptionContext,
}

impl FromBody for DryRunnable<GenerateDataKeyPair> {
    type Wire = wire::DataKeyPairIn;
}

impl TryFrom<wire::DataKeyPairIn> for DryRunnable<GenerateDataKeyPair> {
    type Error = ApiError;

    fn try_from(r: wire::DataKeyPairIn) -> Result<Self, ApiError> {
        let mut c = Check::default();
        let key = key_id(&mut c, &r.key_id, "keyId");
        let spec = c.required_enumeration(
            r.key_pair_spec.as_deref(),
            "keyPairSpec",
            DataKeyPairSpec::parse,
            DataKeyPairSpec::enum_constraint,
        );
        let (key, spec) = c.finish_with((key, spec))?;
        refuse_recipient(&r.recipient)?;
        let context = context(r.encryption_context)?;
        Ok(Self::new(GenerateDataKeyPair { key: key_ref(&key)?, spec, context }, r.dry_run))
    }
}
