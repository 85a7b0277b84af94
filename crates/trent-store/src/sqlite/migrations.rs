//! Versioned schema migrations. Each entry runs once, in its own transaction, in order.
//! Never edit a released migration: add a new one.

pub(super) const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        r#"
CREATE TABLE keys (
    key_id              TEXT PRIMARY KEY,
    account             TEXT NOT NULL,
    region              TEXT NOT NULL,
    description         TEXT NOT NULL,
    key_spec            TEXT NOT NULL,
    key_usage           TEXT NOT NULL,
    origin              TEXT NOT NULL,
    state               TEXT NOT NULL,
    created_ms          BIGINT NOT NULL,
    deletion_ms         BIGINT,
    pending_window_days INTEGER,
    policy              TEXT NOT NULL,
    current_version     INTEGER NOT NULL
);
CREATE INDEX keys_by_account ON keys (account, key_id);
CREATE INDEX keys_by_deletion ON keys (deletion_ms) WHERE deletion_ms IS NOT NULL;

CREATE TABLE key_versions (
    key_id      TEXT NOT NULL REFERENCES keys (key_id),
    version     INTEGER NOT NULL,
    wrapped     BLOB NOT NULL,
    material_id TEXT NOT NULL,
    created_ms  BIGINT NOT NULL,
    PRIMARY KEY (key_id, version)
);

CREATE TABLE key_tags (
    key_id    TEXT NOT NULL REFERENCES keys (key_id),
    tag_key   TEXT NOT NULL,
    tag_value TEXT NOT NULL,
    PRIMARY KEY (key_id, tag_key)
);

CREATE TABLE aliases (
    account    TEXT NOT NULL,
    name       TEXT NOT NULL,
    target     TEXT NOT NULL REFERENCES keys (key_id),
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    PRIMARY KEY (account, name)
);
CREATE INDEX aliases_by_target ON aliases (target);

CREATE TABLE access_keys (
    access_key_id  TEXT PRIMARY KEY,
    account        TEXT NOT NULL,
    principal_arn  TEXT NOT NULL,
    wrapped_secret BLOB NOT NULL,
    active         INTEGER NOT NULL,
    created_ms     BIGINT NOT NULL
);
CREATE INDEX access_keys_by_principal ON access_keys (principal_arn);
"#,
    ),
    (
        2,
        r#"
ALTER TABLE keys ADD COLUMN rotation_period_days INTEGER;
ALTER TABLE keys ADD COLUMN next_rotation_ms BIGINT;
ALTER TABLE keys ADD COLUMN import_fingerprint TEXT;
ALTER TABLE keys ADD COLUMN expiration_model TEXT;
ALTER TABLE keys ADD COLUMN valid_to_ms BIGINT;
CREATE INDEX keys_by_next_rotation ON keys (next_rotation_ms) WHERE next_rotation_ms IS NOT NULL;
CREATE INDEX keys_by_valid_to ON keys (valid_to_ms) WHERE valid_to_ms IS NOT NULL;

ALTER TABLE key_versions ADD COLUMN rotation_type TEXT;

CREATE TABLE import_params (
    key_id              TEXT PRIMARY KEY REFERENCES keys (key_id),
    token               BLOB NOT NULL,
    wrapping_algorithm  TEXT NOT NULL,
    wrapped_private_key BLOB NOT NULL,
    valid_to_ms         BIGINT NOT NULL
);
"#,
    ),
    (
        3,
        r#"
ALTER TABLE keys ADD COLUMN key_manager TEXT NOT NULL DEFAULT 'CUSTOMER';

CREATE TABLE ssm_parameters (
    account    TEXT NOT NULL,
    name       TEXT NOT NULL,
    expires_ms BIGINT,
    PRIMARY KEY (account, name)
);
CREATE INDEX ssm_parameters_by_expiry ON ssm_parameters (expires_ms) WHERE expires_ms IS NOT NULL;

-- One row per kept version (at most 100 per parameter). `value` holds UTF-8 text for String and StringList,
-- and only the KMS ciphertext for SecureString.
CREATE TABLE ssm_parameter_versions (
    account         TEXT NOT NULL,
    name            TEXT NOT NULL,
    version         BIGINT NOT NULL,
    type            TEXT NOT NULL,
    value           BLOB NOT NULL,
    key_id          TEXT,
    description     TEXT,
    allowed_pattern TEXT,
    data_type       TEXT NOT NULL,
    tier            TEXT NOT NULL,
    policies        TEXT,
    labels          TEXT NOT NULL,
    modified_ms     BIGINT NOT NULL,
    modified_user   TEXT NOT NULL,
    PRIMARY KEY (account, name, version),
    FOREIGN KEY (account, name) REFERENCES ssm_parameters (account, name)
);

CREATE TABLE ssm_parameter_tags (
    account   TEXT NOT NULL,
    name      TEXT NOT NULL,
    tag_key   TEXT NOT NULL,
    tag_value TEXT NOT NULL,
    PRIMARY KEY (account, name, tag_key),
    FOREIGN KEY (account, name) REFERENCES ssm_parameters (account, name)
);
"#,
    ),
    (
        4,
        r#"
-- IAM users and roles. Names are unique per account regardless of case, as in IAM.
CREATE TABLE iam_users (
    account    TEXT NOT NULL,
    name       TEXT NOT NULL COLLATE NOCASE,
    path       TEXT NOT NULL,
    id         TEXT NOT NULL,
    arn        TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (account, name)
);

CREATE TABLE iam_roles (
    account          TEXT NOT NULL,
    name             TEXT NOT NULL COLLATE NOCASE,
    path             TEXT NOT NULL,
    id               TEXT NOT NULL,
    arn              TEXT NOT NULL,
    created_ms       BIGINT NOT NULL,
    description      TEXT,
    max_session_secs INTEGER NOT NULL,
    trust_policy     TEXT NOT NULL,
    PRIMARY KEY (account, name)
);

-- Inline policies and tags of users (kind 'user') and roles (kind 'role').
CREATE TABLE iam_policies (
    account  TEXT NOT NULL,
    kind     TEXT NOT NULL,
    owner    TEXT NOT NULL COLLATE NOCASE,
    name     TEXT NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (account, kind, owner, name)
);

CREATE TABLE iam_tags (
    account   TEXT NOT NULL,
    kind      TEXT NOT NULL,
    owner     TEXT NOT NULL COLLATE NOCASE,
    tag_key   TEXT NOT NULL,
    tag_value TEXT NOT NULL,
    PRIMARY KEY (account, kind, owner, tag_key)
);

-- Users' access keys; the secret only wrapped under the root key, bound to the access key id.
CREATE TABLE iam_access_keys (
    access_key_id  TEXT PRIMARY KEY,
    account        TEXT NOT NULL,
    user_name      TEXT NOT NULL COLLATE NOCASE,
    principal_arn  TEXT NOT NULL,
    wrapped_secret BLOB NOT NULL,
    active         INTEGER NOT NULL,
    created_ms     BIGINT NOT NULL,
    FOREIGN KEY (account, user_name) REFERENCES iam_users (account, name)
);
CREATE INDEX iam_access_keys_by_user ON iam_access_keys (account, user_name);
"#,
    ),
    (
        5,
        r#"
-- Grants. Operations and constraints are JSON text: read whole, never queried inside.
CREATE TABLE grants (
    key_id             TEXT NOT NULL REFERENCES keys (key_id),
    grant_id           TEXT NOT NULL,
    name               TEXT,
    grantee_principal  TEXT NOT NULL,
    retiring_principal TEXT,
    operations         TEXT NOT NULL,
    context_subset     TEXT,
    context_equals     TEXT,
    issuing_account    TEXT NOT NULL,
    created_ms         BIGINT NOT NULL,
    PRIMARY KEY (key_id, grant_id)
);
CREATE INDEX grants_by_retiring_principal ON grants (retiring_principal) WHERE retiring_principal IS NOT NULL;
"#,
    ),
    (
        6,
        r#"
-- IAM unique ids (AIDA... users, AROA... roles) name one entity for ever: STS sessions are bound to their
-- role's id, so two roles must never share one. Every row has had an id since migration 4 (ids made before
-- this version are 20 characters, later ones 21 as IAM's; both stay valid).
CREATE UNIQUE INDEX iam_users_by_id ON iam_users (id);
CREATE UNIQUE INDEX iam_roles_by_id ON iam_roles (id);
"#,
    ),
    (
        7,
        r#"
-- Imported key materials (origin EXTERNAL): several per key since imported keys rotate on demand (AWS, 2025).
-- A row outlives its material: after a deletion or an expiry `imported` is 0 and the material, a key_versions
-- row, is gone. `state` is AWS's KeyMaterialState; `rotated_ms` when an on-demand rotation made it current.
CREATE TABLE key_materials (
    key_id           TEXT NOT NULL REFERENCES keys (key_id),
    version          INTEGER NOT NULL,
    material_id      TEXT NOT NULL,
    description      TEXT,
    state            TEXT NOT NULL,
    imported         INTEGER NOT NULL,
    expiration_model TEXT NOT NULL,
    valid_to_ms      BIGINT,
    rotated_ms       BIGINT,
    PRIMARY KEY (key_id, version)
);
CREATE INDEX key_materials_by_valid_to ON key_materials (valid_to_ms) WHERE imported = 1 AND valid_to_ms IS NOT NULL;

-- Until now an EXTERNAL key had one material, version 1, described by three columns of its keys row.
INSERT INTO key_materials (key_id, version, material_id, description, state, imported, expiration_model,
                           valid_to_ms, rotated_ms)
SELECT key_id, 1, import_fingerprint, NULL, 'CURRENT',
       EXISTS (SELECT 1 FROM key_versions v WHERE v.key_id = keys.key_id AND v.version = 1),
       expiration_model, valid_to_ms, NULL
  FROM keys WHERE import_fingerprint IS NOT NULL AND expiration_model IS NOT NULL;
DROP INDEX keys_by_valid_to;
UPDATE keys SET import_fingerprint = NULL, expiration_model = NULL, valid_to_ms = NULL;
"#,
    ),
];
