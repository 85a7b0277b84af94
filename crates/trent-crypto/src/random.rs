use aws_lc_rs::rand::{SecureRandom, SystemRandom};

use crate::{CryptoError, SecretBytes};

/// `len` bytes from the system CSPRNG, held as a secret (data keys, GenerateRandom output).
pub fn random_secret(len: usize) -> Result<SecretBytes, CryptoError> {
    let mut out = SecretBytes::zeroed(len);
    SystemRandom::new()
        .fill(out.expose_secret_mut())
        .map_err(|_| CryptoError::Internal)?;
    Ok(out)
}

/// A public random value of fixed size (salts, identifiers).
pub fn random_array<const N: usize>() -> Result<[u8; N], CryptoError> {
    let mut out = [0u8; N];
    SystemRandom::new().fill(&mut out).map_err(|_| CryptoError::Internal)?;
    Ok(out)
}

/// The 16 bytes of a random (version 4, RFC 9562) UUID, for request and event ids. From aws-lc's user-space
/// DRBG: `uuid::Uuid::new_v4` asks the kernel (`getrandom`) on every call, which showed up in the request
/// path's profile; ids are not secrets, uniqueness is all they need.
pub fn uuid_v4_bytes() -> Result<[u8; 16], CryptoError> {
    let mut b = random_array::<16>()?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    Ok(b)
}

#[cfg(test)]
mod uuid_tests {
    #[test]
    fn uuid_bytes_carry_version_4_and_the_rfc_variant() {
        for _ in 0..64 {
            let b = super::uuid_v4_bytes().unwrap_or_default();
            assert_eq!((b[6] >> 4, b[8] >> 6), (4, 0b10));
        }
    }
}
