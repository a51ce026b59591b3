CREATE TABLE IF NOT EXISTS mailboxes (
    name TEXT PRIMARY KEY,
    old_messages INTEGER NOT NULL,
    new_messages INTEGER NOT NULL
);
