//! db (kept in the store across a restart) and hash (in memory).

use super::{config, execute, switch, text};

#[tokio::test]
async fn db_values_survive_a_restart() {
    let first = switch("db").await;
    let run = |switch: &switchboard_core::Switch, line: &str| {
        let (switch, line) = (switch.clone(), line.to_owned());
        async move { text(&switch, &line).await }
    };
    assert_eq!(run(&first, "db insert/calls/last/1001").await, "+OK");
    assert_eq!(run(&first, "db insert/calls/next/1002").await, "+OK");
    assert_eq!(run(&first, "db insert/other/x/y").await, "+OK");
    assert_eq!(run(&first, "db insert/calls/last/1003").await, "+OK");
    assert_eq!(run(&first, "db select/calls/last").await, "1003");
    first.shutdown().await;
    drop(first);

    // The same data dir, a new switch.
    let again = switchboard_core::Switch::start(config("db"))
        .await
        .expect("restarts");
    assert_eq!(run(&again, "db select/calls/last").await, "1003");
    assert_eq!(run(&again, "db exists/calls/next").await, "true");
    assert_eq!(run(&again, "db exists/calls/none").await, "false");
    assert_eq!(run(&again, "db count/calls").await, "2");
    assert_eq!(run(&again, "db count").await, "2");
    assert_eq!(run(&again, "db list/calls").await, "last,next");
    assert_eq!(run(&again, "db list").await, "calls,other");
    assert_eq!(run(&again, "db delete/calls/last").await, "+OK");
    assert_eq!(run(&again, "db select/calls/last").await, "");
    assert_eq!(run(&again, "db").await, "!err!");
    assert_eq!(run(&again, "db insert/calls/only-key").await, "!err!");
    assert_eq!(run(&again, "db count/calls/last").await, "!err!");
    again.shutdown().await;
}

#[tokio::test]
async fn hash_values() {
    let switch = switch("hash").await;
    let run = |line: &str| {
        let (switch, line) = (switch.clone(), line.to_owned());
        async move { text(&switch, &line).await }
    };
    assert_eq!(run("hash insert/r/k/v1").await, "+OK\n");
    assert_eq!(run("hash select/r/k").await, "v1");
    assert_eq!(
        run("hash insert_ifempty/r/k/v2").await,
        "-ERR key already exists\n"
    );
    assert_eq!(
        run("hash delete_ifmatch/r/k/v2").await,
        "-ERR Doesn't match\n"
    );
    assert_eq!(run("hash delete_ifmatch/r/k/v1").await, "+OK\n");
    assert_eq!(run("hash select/r/k").await, "");
    assert_eq!(run("hash delete/r/k").await, "-ERR Not found\n");
    assert_eq!(
        run("hash insert/r").await,
        "-ERR Usage: hash insert|insert_ifempty|select|delete|delete_ifmatch/realm/key[/value]\n"
    );
    // Per switch: another switch has its own.
    let other = super::switch("hash-other").await;
    execute(&switch, "hash insert/r/shared/1").await;
    assert_eq!(execute(&other, "hash select/r/shared").await.text, "");
    other.shutdown().await;
    switch.shutdown().await;
}
