-- The worker claims a dossier's message only when no older message of the same dossier and kind is pending:
-- this index answers that look-up without scanning the outbox.
CREATE INDEX outbox_pending_per_dossier ON outbox (dossier_id, kind, id) WHERE status = 'pending';

-- The retry budget counts from here: enqueue, or the last replay by an operator (a fresh budget).
ALTER TABLE outbox ADD COLUMN budget_from timestamptz NOT NULL DEFAULT now();
