-- Foundation: organisations and keys, dossiers with their timeline, the outbox, idempotency, tracking limits.

CREATE TABLE organisations (
    id            bigserial PRIMARY KEY,
    name          text NOT NULL UNIQUE,
    role          text NOT NULL CHECK (role IN ('postal', 'counter', 'agency', 'portal', 'admin')),
    agency_code   text UNIQUE,          -- agencies: the electronic identifier dossiers are routed to
    unit_code     text,                 -- counters and post offices: their own unit
    created_at    timestamptz NOT NULL DEFAULT now(),
    CHECK (role <> 'agency' OR agency_code IS NOT NULL)
);

CREATE TABLE api_keys (
    id               bigserial PRIMARY KEY,
    organisation_id  bigint NOT NULL REFERENCES organisations (id),
    prefix           text NOT NULL UNIQUE,   -- public part of the key, for look-up and listing
    key_hash         bytea NOT NULL,         -- SHA-256 of the whole key; the key itself is shown once
    created_at       timestamptz NOT NULL DEFAULT now(),
    revoked_at       timestamptz
);

-- Daily per-agency counter behind dossier codes {agency}-{yyMMdd}-{NNNN}; bumped inside the intake
-- transaction, so a rolled-back or crashed intake never consumes or reuses a number.
CREATE TABLE dossier_sequences (
    agency_code  text NOT NULL,
    day          date NOT NULL,
    last_value   integer NOT NULL,
    PRIMARY KEY (agency_code, day)
);

CREATE TABLE dossiers (
    id                bigserial PRIMARY KEY,
    code              text NOT NULL UNIQUE,
    procedure_code    text NOT NULL,
    agency_code       text NOT NULL,
    submitter_org_id  bigint NOT NULL REFERENCES organisations (id),
    channel           text NOT NULL CHECK (channel IN ('postal', 'counter', 'online')),
    status            text NOT NULL,
    identity_status   text NOT NULL DEFAULT 'not_checked',
    received_at       timestamptz NOT NULL,
    appointment_at    timestamptz NOT NULL,
    pin_salt          bytea NOT NULL,
    pin_hash          bytea NOT NULL,
    body              jsonb NOT NULL,   -- what was given: applicant, channel, documents, return, fees
    routing           jsonb NOT NULL,   -- what it resolved to: units, agency, rule
    receipt           jsonb NOT NULL,   -- form 01 data as answered (without the PIN)
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dossiers_agency ON dossiers (agency_code, received_at);
CREATE INDEX dossiers_submitter ON dossiers (submitter_org_id, received_at);

-- Append-only timeline, hash-chained per dossier: hash = sha256(prev_hash || canonical event).
CREATE TABLE dossier_events (
    id            bigserial PRIMARY KEY,
    dossier_id    bigint NOT NULL REFERENCES dossiers (id),
    seq           integer NOT NULL,
    type          text NOT NULL,
    status_after  text NOT NULL,
    occurred_at   timestamptz NOT NULL,
    recorded_at   timestamptz NOT NULL DEFAULT now(),
    actor_org_id  bigint REFERENCES organisations (id),
    external_id   text,                 -- the reporter's own event id, for dedupe of retries
    data          jsonb NOT NULL DEFAULT '{}',
    prev_hash     bytea,
    hash          bytea NOT NULL,
    UNIQUE (dossier_id, seq),
    UNIQUE (dossier_id, external_id)
);

-- Transactional outbox: rows are written in the same transaction as the change they announce.
CREATE TABLE outbox (
    id            bigserial PRIMARY KEY,
    message_id    uuid NOT NULL UNIQUE,
    kind          text NOT NULL,
    dossier_id    bigint REFERENCES dossiers (id),
    target        text,
    payload       jsonb NOT NULL,
    status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts      integer NOT NULL DEFAULT 0,
    available_at  timestamptz NOT NULL DEFAULT now(),
    created_at    timestamptz NOT NULL DEFAULT now(),
    delivered_at  timestamptz,
    receipt       jsonb,
    last_error    text
);
CREATE INDEX outbox_pending ON outbox (kind, available_at, id) WHERE status = 'pending';
CREATE INDEX outbox_inbox ON outbox (target, id) WHERE kind = 'agency.deliver' AND status = 'pending';

CREATE TABLE idempotency_keys (
    organisation_id  bigint NOT NULL REFERENCES organisations (id),
    key              text NOT NULL,
    request_hash     bytea NOT NULL,
    state            text NOT NULL CHECK (state IN ('in_flight', 'done')),
    locked_at        timestamptz NOT NULL DEFAULT now(),
    response_status  integer,
    response_body    bytea,             -- encrypted with the server secret: it holds the PIN
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organisation_id, key)
);

-- Failed tracking attempts per subject (a dossier code, or a client address) in a fixed window.
CREATE TABLE tracking_failures (
    subject       text PRIMARY KEY,
    window_start  timestamptz NOT NULL,
    failures      integer NOT NULL
);
