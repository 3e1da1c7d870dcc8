-- Push-mode agencies: where the gateway POSTs their signed deliveries. An agency without a row (or with
-- enabled = false) reads its pull inbox instead. Managed with `motcua agencies set-endpoint`.

CREATE TABLE agency_endpoints (
    agency_code  text PRIMARY KEY,
    url          text NOT NULL CHECK (url ~ '^https?://'),
    enabled      boolean NOT NULL DEFAULT true,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
