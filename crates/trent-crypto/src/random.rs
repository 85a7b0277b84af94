use aws_lc_rs::rand::{SecureRandom, SystemRandom};

use crate::{CryptoError, SecretBytes};

/// `len` bytes from the system CSPRNG, held as a secret (data keys, GenerateRandom output).
pub fn random_secret(len: usize) -> Result<SecretBytes, CryptoError> {
    let mut out = SecretBytes::zeroed(len);
    SystemRandom::new().fill(out.expose_secret_mut()).map_err(|_| CryptoError::Internal)?;
    Ok(out)
}

/// A public random value of fixed size (salts, identifiers).
pub fn random_array<const N: usize>() -> Result<[u8; N], CryptoError> {
    let mut out = [0u8; N];
    SystemRandom::new().fill(&mut out).map_err(|_| CryptoError::Internal)?;
    Ok(out)
}
