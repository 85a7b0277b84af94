//! placeholder
mod auth;
