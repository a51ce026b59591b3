CREATE TABLE IF NOT EXISTS recordings (
    name TEXT PRIMARY KEY,
    format TEXT NOT NULL,
    path TEXT NOT NULL,
    duration_ms INTEGER NOT NULL,
    created TEXT NOT NULL
);
