-- Announced days off (e.g. an extra day added to Tết by the Prime Minister) that the `holidays` package
-- does not know yet. Every gateway process reloads them periodically (MOTCUA_DAYS_OFF_REFRESH_SECONDS).

CREATE TABLE days_off (
    day       date PRIMARY KEY,
    reason    text NOT NULL CHECK (btrim(reason) <> ''),
    added_by  text,
    added_at  timestamptz NOT NULL DEFAULT now()
);
