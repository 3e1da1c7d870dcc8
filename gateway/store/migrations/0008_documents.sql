-- Documents: the content of each upload, once per SHA-256, and its links to dossiers as components (from the
-- submitter) or results (from a step's agency). Content bytes live in the content store (gateway/content/);
-- these rows are the evidence and outlive the bytes when retention purges them.

CREATE TABLE contents (
    sha256      text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    size        bigint NOT NULL CHECK (size > 0),
    media_type  text NOT NULL,
    stored_at   timestamptz NOT NULL DEFAULT now(),
    purged_at   timestamptz      -- the bytes were removed after retention; hash and size stay as evidence
);

CREATE TABLE dossier_documents (
    id              bigserial PRIMARY KEY,
    dossier_id      bigint NOT NULL REFERENCES dossiers (id),
    kind            text NOT NULL CHECK (kind IN ('component', 'result')),
    component_code  text,            -- components: the catalog's component code
    step_order      integer,         -- results: the step whose agency produced it
    agency_code     text,
    name            text NOT NULL,
    sha256          text NOT NULL REFERENCES contents (sha256),
    uploaded_by     bigint NOT NULL REFERENCES organisations (id),
    uploaded_at     timestamptz NOT NULL DEFAULT now(),
    event_seq       integer NOT NULL, -- the timeline event that recorded the upload
    -- One scan may hold several components (one link each); a result is linked once.
    UNIQUE NULLS NOT DISTINCT (dossier_id, kind, sha256, component_code),
    CHECK (kind <> 'component' OR component_code IS NOT NULL),
    CHECK (kind <> 'result' OR (step_order IS NOT NULL AND agency_code IS NOT NULL))
);
CREATE INDEX dossier_documents_content ON dossier_documents (sha256);

-- Every download, by whom and which bytes.
CREATE TABLE document_downloads (
    id               bigserial PRIMARY KEY,
    document_id      bigint NOT NULL REFERENCES dossier_documents (id),
    organisation_id  bigint REFERENCES organisations (id),   -- NULL: the citizen, with the tracking PIN
    range_start      bigint NOT NULL,
    range_end        bigint NOT NULL,                        -- inclusive
    downloaded_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX document_downloads_document ON document_downloads (document_id, downloaded_at);
