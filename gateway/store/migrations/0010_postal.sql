-- Postal items: the mailed result of a dossier (and later the sealed dossier a post office sends), their
-- tracking events as VNPost reports them, and the S10 numbers we allocate.

CREATE TABLE postal_items (
    item_code      text PRIMARY KEY CHECK (item_code ~ '^[A-Z]{2}[0-9]{9}VN$'),
    dossier_id     bigint NOT NULL REFERENCES dossiers (id),
    direction      text NOT NULL CHECK (direction IN ('result')),
    assigned_by    text NOT NULL CHECK (assigned_by IN ('pool', 'vnpost')),
    order_number   text NOT NULL,               -- = the dossier code
    ordered_at     timestamptz,                 -- VNPost accepted the order (NULL: allocated, not yet accepted)
    status         text,                        -- unified status folded from the events (adapters/postal/status.py)
    cod_due        bigint NOT NULL DEFAULT 0,   -- fees still due, collected on delivery (VND)
    last_event_at  timestamptz,                 -- when VNPost last told us something (callback or poll)
    created_at     timestamptz NOT NULL DEFAULT now()
);
-- One mailed result per dossier.
CREATE UNIQUE INDEX postal_items_result ON postal_items (dossier_id) WHERE direction = 'result';
-- The poll for items that went quiet.
CREATE INDEX postal_items_open ON postal_items (last_event_at)
    WHERE status IS NULL OR status NOT IN ('delivered', 'returned_to_sender', 'cancelled');

CREATE TABLE postal_events (
    id            bigserial PRIMARY KEY,
    item_code     text NOT NULL REFERENCES postal_items (item_code),
    code          integer NOT NULL,            -- VNPost's status code
    name          text NOT NULL,
    status        text NOT NULL,               -- its unified status
    occurred_at   timestamptz NOT NULL,
    received_at   timestamptz NOT NULL DEFAULT now(),
    source        text NOT NULL CHECK (source IN ('callback', 'poll')),
    post_office   text,
    note          text,
    cod_amount    bigint,
    UNIQUE (item_code, code, occurred_at)     -- a duplicate callback, or a poll repeating one, is one event
);

-- S10 numbers: the next serial per configured prefix, and every number used (ours or VNPost's), so that
-- none is reused within 12 months.
CREATE TABLE s10_serials (
    prefix       text PRIMARY KEY CHECK (prefix ~ '^[A-Z]{2}$'),
    next_serial  integer NOT NULL CHECK (next_serial BETWEEN 0 AND 100000000)
);
CREATE TABLE s10_used (
    item_code  text PRIMARY KEY,
    used_at    timestamptz NOT NULL DEFAULT now()
);
