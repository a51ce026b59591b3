CREATE TABLE IF NOT EXISTS cdr (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    uniqueid TEXT NOT NULL,
    channel TEXT NOT NULL,
    dstchannel TEXT NOT NULL,
    caller TEXT NOT NULL,
    caller_name TEXT NOT NULL,
    callee TEXT NOT NULL,
    context TEXT NOT NULL,
    start TEXT NOT NULL,
    answer TEXT,
    end TEXT NOT NULL,
    duration INTEGER NOT NULL,
    billsec INTEGER NOT NULL,
    cause INTEGER NOT NULL,
    disposition TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS cdr_uniqueid ON cdr(uniqueid);
