-- A delivery's answer (push) or acknowledgement (pull) finds its step by the message id.
CREATE UNIQUE INDEX dossier_steps_message ON dossier_steps (message_id) WHERE message_id IS NOT NULL;
