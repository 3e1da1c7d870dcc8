-- How far each dossier is synced to the National Public Service Portal (DVCQG): whether the portal has the
-- dossier, the last timeline event it has as a progress row, and the status it holds. The outbox message
-- `dvcqg.sync_dossier` means "bring the portal up to date for this dossier"; its handler reads from here.

CREATE TABLE dvcqg_sync (
    dossier_id      bigint PRIMARY KEY REFERENCES dossiers (id),
    created         boolean NOT NULL DEFAULT false,   -- the portal holds the dossier
    synced_seq      integer NOT NULL DEFAULT 0,       -- dossier_events.seq of the last progress row it holds
    synced_status   smallint,                         -- TrangThaiHoSo it holds
    synced_at       timestamptz,
    last_error      text
);

