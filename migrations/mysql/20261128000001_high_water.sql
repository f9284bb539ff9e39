-- The highest number each parent has handed out, kept by the worker as it persists creates:
-- a deleted chat or message leaves no row, and the counters in Redis are re-seeded from the
-- database after a loss, so the highest stored number alone could hand a deleted one out again.
ALTER TABLE applications ADD COLUMN last_chat_number INT NOT NULL DEFAULT 0;
ALTER TABLE chats ADD COLUMN last_message_number INT NOT NULL DEFAULT 0;

UPDATE applications a
SET last_chat_number = COALESCE((SELECT MAX(c.number) FROM chats c WHERE c.application_id = a.id), 0);
UPDATE chats c
SET last_message_number = COALESCE((SELECT MAX(m.number) FROM messages m WHERE m.chat_id = c.id), 0);
