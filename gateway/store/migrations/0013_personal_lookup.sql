-- ID and phone numbers are encrypted at rest (gateway/personal.py), so the applicant's ID number cannot be
-- searched in `body`: a keyed hash of it is kept beside each dossier instead. Dossiers stored before this have
-- none until `motcua personal-data reseal` fills it in (and seals their clear values).
ALTER TABLE dossiers ADD COLUMN applicant_lookup bytea;
CREATE INDEX dossiers_applicant_lookup ON dossiers (applicant_lookup) WHERE applicant_lookup IS NOT NULL;
