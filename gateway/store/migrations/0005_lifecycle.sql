-- Lifecycle: the clock of a dossier stops while a supplement is awaited (form 02).

-- Set when the agency requests a supplement, cleared when the supplement arrives and the appointment is
-- re-dated by the working time the clock stood still.
ALTER TABLE dossiers ADD COLUMN clock_stopped_at timestamptz;

-- The overdue scan: unfinished dossiers by appointment.
CREATE INDEX dossiers_open_appointment ON dossiers (appointment_at)
    WHERE status NOT IN ('result_ready', 'returned', 'withdrawn', 'stopped', 'refused') AND clock_stopped_at IS NULL;
-- Overdue events carry the appointment they were raised for (data.appointment_at): one per appointment.
CREATE INDEX dossier_events_overdue ON dossier_events (dossier_id) WHERE type = 'overdue';
