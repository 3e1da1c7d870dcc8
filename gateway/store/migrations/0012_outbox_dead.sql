-- Dead letters by kind, for the operators' backlog gauge read at every scrape of /metrics (and the admin
-- list filtered on status 'dead'): without it each scrape would read the whole outbox history.
CREATE INDEX outbox_dead ON outbox (kind) WHERE status = 'dead';
