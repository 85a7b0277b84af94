//! Storage backends for [`trent_core::store::Store`].
//!
//! Only SQLite for now (embedded, WAL, versioned migrations). The SQL stays portable (integer millisecond
//! times, text ids, blobs, no SQLite-only tricks) so that a PostgreSQL backend can share the schema.

mod sqlite;

pub use sqlite::SqliteStore;
