//! SigV4 signing for Trent's own tools: the signer lives in `trent-sigv4`, beside the canonical request the
//! server's verifier checks with.

pub use trent_sigv4::signer::{Canonical, Credentials, Signer, amz_date};
