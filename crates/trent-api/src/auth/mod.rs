//! Request authentication: AWS Signature Version 4, as the stock AWS CLI, boto3 and the AWS SDKs sign.

pub(crate) mod sigv4;

pub(crate) use sigv4::{AuthError, SigV4Verifier};

#[cfg(test)]
mod tests;
