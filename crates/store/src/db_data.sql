CREATE TABLE IF NOT EXISTS db_data (
    realm TEXT NOT NULL,
    data_key TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (realm, data_key)
);
