//! eval, expand, cond, regex, replace, escape, strftime, strepoch, msleep, log.

use std::time::{Duration, Instant};

use super::{parked_call, switch, text};

#[tokio::test]
async fn string_commands() {
    let switch = switch("strings").await;
    let channel = parked_call(&switch).await;
    let id = channel.id.clone();
    let run = |line: String| {
        let switch = switch.clone();
        async move { text(&switch, &line).await }
    };

    switch.set_var(&id, "colour", "blue").expect("set");
    switch.set_global("site", "paris").expect("global");
    assert_eq!(
        run(format!("eval uuid:{id} ${{colour}} in ${{site}}")).await,
        "blue in paris"
    );
    assert_eq!(run("eval ${site}/${colour}".into()).await, "paris/");
    assert_eq!(run("eval".into()).await, "");
    // expand runs the command on the expanded arguments.
    assert_eq!(
        run(format!(
            "expand uuid:{id} uuid_setvar {id} shade ${{colour}}"
        ))
        .await,
        "+OK\n"
    );
    assert_eq!(channel.var("shade").as_deref(), Some("blue"));
    assert_eq!(run("expand echo ${site}".into()).await, "paris");
    assert_eq!(run("expand".into()).await, "-ERR No input\n");
    assert_eq!(
        run("expand bogus ${site}".into()).await,
        "-ERR Cannot execute command\n"
    );

    assert_eq!(run("cond 5 > 3 ? yes : no".into()).await, "yes");
    assert_eq!(run("cond 5 <= 3 ? yes : no".into()).await, "no");
    assert_eq!(
        run("cond abc == abc ? same : different".into()).await,
        "same"
    );
    assert_eq!(run("cond 1 == 2 ? yes".into()).await, "");
    assert_eq!(run("cond 1 = 2 ? yes : no".into()).await, "-ERR");

    assert_eq!(run("regex 5551234|^555".into()).await, "true");
    assert_eq!(run("regex 5551234|^666".into()).await, "false");
    assert_eq!(
        run(r"regex 5551234|^(\d{3})(\d+)$|$2-$1".into()).await,
        "1234-555"
    );
    assert_eq!(run(r"regex 5551234|^(\d{3})|%1x".into()).await, "555x");
    assert_eq!(run("regex 5551234|^666|x".into()).await, "5551234");
    assert_eq!(run("regex 5551234|^666|x|n".into()).await, "");
    assert_eq!(run("regex 5551234|^666|x|b".into()).await, "false");
    assert_eq!(run("regex m:~a|b~a|b".into()).await, "true");
    assert_eq!(run("regex nopattern".into()).await, "-ERR");

    assert_eq!(run("replace hello world|o|0".into()).await, "hell0 w0rld");
    assert_eq!(run("replace hello".into()).await, "-ERR");
    assert_eq!(run("escape a b$c".into()).await, r"a\sb\$c");

    // A mid-year second is the same date in any time zone.
    assert_eq!(run("strftime 1718020800|%Y-%m".into()).await, "2024-06");
    let epoch = run("strepoch 2024-06-10 12:34:56".into()).await;
    assert_eq!(
        run(format!("strftime {epoch}|%Y-%m-%d %H:%M:%S")).await,
        "2024-06-10 12:34:56"
    );
    assert_eq!(run("strepoch nonsense".into()).await, "0");
    assert_eq!(
        run("strftime".into()).await.len(),
        "2024-06-10 12:34:56".len()
    );

    let started = Instant::now();
    assert_eq!(run("msleep 100".into()).await, "+OK");
    assert!(started.elapsed() >= Duration::from_millis(100));
    assert_eq!(run("log info hello from the test".into()).await, "+OK\n");
    assert_eq!(run("log".into()).await, "-ERR\n");
    switch.shutdown().await;
}
