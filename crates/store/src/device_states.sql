CREATE TABLE IF NOT EXISTS device_states (
    name TEXT PRIMARY KEY,
    state TEXT NOT NULL
);
