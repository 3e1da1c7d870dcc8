-- Identity verification against the population database: evidence, audit, cache.

-- The signed answers, kept as evidence; a dossier points at the one that verified it.
CREATE TABLE identity_evidence (
    id          bigserial PRIMARY KEY,
    request_id  text NOT NULL UNIQUE,          -- MaYeuCau we sent, echoed by the signed answer
    signed_xml  bytea NOT NULL,
    sha256      bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE dossiers ADD COLUMN identity_evidence_id bigint REFERENCES identity_evidence (id);

-- Every call, whatever its outcome, for audit. No personal data: the dossier, the officer, the request id.
CREATE TABLE identity_checks (
    id               bigserial PRIMARY KEY,
    dossier_id       bigint REFERENCES dossiers (id),   -- null when the intake was refused
    organisation_id  bigint REFERENCES organisations (id),
    officer          text NOT NULL,
    request_id       text NOT NULL,
    outcome          text NOT NULL,   -- verified, partial, mismatch, not_found, cached, unavailable, untrusted
    error_code       text,
    latency_ms       double precision,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX identity_checks_dossier ON identity_checks (dossier_id);

-- Verified results for a while, under a keyed hash of (ID number, name, birth data): no raw personal data.
CREATE TABLE identity_cache (
    key          bytea PRIMARY KEY,
    outcome      text NOT NULL,
    evidence_id  bigint NOT NULL REFERENCES identity_evidence (id),
    expires_at   timestamptz NOT NULL
);
