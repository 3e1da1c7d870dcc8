-- The monitoring page's two reads that would otherwise grow with the whole history: dossiers whose result
-- became ready in a recent window (from their `result_ready` events by time, not from every finished
-- dossier), and dossiers whose last portal sync failed (few, out of one row per dossier ever synced).
CREATE INDEX dossier_events_result_ready ON dossier_events (occurred_at) WHERE status_after = 'result_ready';
CREATE INDEX dvcqg_sync_failed ON dvcqg_sync (dossier_id) WHERE last_error IS NOT NULL;
