CREATE TABLE IF NOT EXISTS call_sessions (
    id TEXT PRIMARY KEY,
    caller TEXT NOT NULL,
    caller_display_name TEXT NOT NULL,
    callee TEXT NOT NULL,
    trunk TEXT NOT NULL,
    user_data TEXT NOT NULL,
    started_at TEXT NOT NULL,
    caller_answered_at TEXT,
    connected_at TEXT,
    ended_at TEXT NOT NULL,
    outcome TEXT NOT NULL,
    cause TEXT NOT NULL,
    talking_time INTEGER NOT NULL
);
