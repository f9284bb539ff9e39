-- Deletes.
--
-- Application and chat ids are never reused, even when the highest one is deleted: every process
-- caches ids, the live feed keys followed chats by id, and a message's id embeds its chat's, so
-- a reused id would hand a stale reference someone else's rows. SQLite gives a new row the
-- highest id plus one, which after deleting the highest row is that row's id again; so each
-- delete records the highest id deleted (`retired_ids`), and a row inserted at or below it is
-- moved just above it at once (the new row has nothing referring to it yet). The tables stay as
-- they are (switching them to AUTOINCREMENT would mean rebuilding them with foreign keys off,
-- which a migration's transaction does not allow).
--
-- The live log also records deletions of single messages (`deleted` = 1): the writer inserts
-- them in the deleting transaction. A chat's or an application's delete logs nothing.

CREATE TABLE retired_ids (
    name TEXT    PRIMARY KEY,
    last INTEGER NOT NULL
);

CREATE TRIGGER applications_retire AFTER DELETE ON applications BEGIN
    INSERT INTO retired_ids (name, last) VALUES ('applications', old.id)
    ON CONFLICT (name) DO UPDATE SET last = max(last, excluded.last);
END;

CREATE TRIGGER applications_never_reuse AFTER INSERT ON applications
WHEN new.id <= (SELECT last FROM retired_ids WHERE name = 'applications') BEGIN
    UPDATE applications
    SET id = (SELECT last FROM retired_ids WHERE name = 'applications') + 1
    WHERE id = new.id;
END;

CREATE TRIGGER chats_retire AFTER DELETE ON chats BEGIN
    INSERT INTO retired_ids (name, last) VALUES ('chats', old.id)
    ON CONFLICT (name) DO UPDATE SET last = max(last, excluded.last);
END;

CREATE TRIGGER chats_never_reuse AFTER INSERT ON chats
WHEN new.id <= (SELECT last FROM retired_ids WHERE name = 'chats') BEGIN
    UPDATE chats
    SET id = (SELECT last FROM retired_ids WHERE name = 'chats') + 1
    WHERE id = new.id;
END;

ALTER TABLE message_edits ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;
