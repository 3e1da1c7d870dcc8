-- Steps of a dossier: one per agency that must act on it. A plain procedure has one step (its agency); a
-- composite (liên thông) procedure has several, in order, with equal orders running side by side. Each step
-- has its own status; the dossier's status is derived from its steps (gateway/workflow/steps.py).

CREATE TABLE dossier_steps (
    dossier_id   bigint NOT NULL REFERENCES dossiers (id),
    step_order   integer NOT NULL,
    agency_code  text NOT NULL,
    name         text NOT NULL,
    status       text NOT NULL CHECK (status IN (
                     'waiting', 'received', 'forwarded', 'processing', 'supplement_requested',
                     'payment_requested', 'result_ready', 'refused', 'stopped', 'cancelled')),
    message_id   uuid,          -- its agency.deliver message, once the step has started
    started_at   timestamptz,   -- when that message was enqueued
    finished_at  timestamptz,   -- result ready, refused, stopped or cancelled
    result       jsonb,         -- what the agency reported with its result (handed on to the next steps)
    PRIMARY KEY (dossier_id, step_order, agency_code)
);
-- What an agency may see: the dossiers where one of its steps has started.
CREATE INDEX dossier_steps_agency ON dossier_steps (agency_code, dossier_id) WHERE status <> 'waiting';

-- Dossiers taken before this migration: their routing already lists every step. The first order takes the
-- dossier's own status; later ones wait (before this migration only the first step was ever delivered).
INSERT INTO dossier_steps (dossier_id, step_order, agency_code, name, status, message_id, started_at, finished_at)
SELECT d.id,
       (s.step ->> 'order')::integer,
       s.step -> 'agency' ->> 'identifier',
       s.step ->> 'name',
       CASE
           WHEN (s.step ->> 'order')::integer > first.step_order THEN 'waiting'
           WHEN d.status = 'returned' THEN 'result_ready'
           WHEN d.status = 'withdrawn' THEN 'cancelled'
           ELSE d.status
       END,
       CASE WHEN (s.step ->> 'order')::integer = first.step_order THEN (
           SELECT o.message_id FROM outbox o
           WHERE o.dossier_id = d.id AND o.kind = 'agency.deliver' AND o.target = s.step -> 'agency' ->> 'identifier'
           ORDER BY o.id LIMIT 1) END,
       CASE WHEN (s.step ->> 'order')::integer = first.step_order THEN d.received_at END,
       CASE WHEN (s.step ->> 'order')::integer = first.step_order
                 AND d.status IN ('result_ready', 'returned', 'refused', 'stopped', 'withdrawn') THEN d.updated_at END
FROM dossiers d
CROSS JOIN LATERAL jsonb_array_elements(d.routing -> 'steps') AS s (step)
CROSS JOIN LATERAL (SELECT min((x ->> 'order')::integer) AS step_order
                    FROM jsonb_array_elements(d.routing -> 'steps') AS x) AS first
ON CONFLICT DO NOTHING;

-- A delivery whose dossier ended (withdrawn, refused, stopped) before any agency took it is cancelled.
ALTER TABLE outbox DROP CONSTRAINT outbox_status_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_status_check
    CHECK (status IN ('pending', 'delivered', 'dead', 'cancelled'));
