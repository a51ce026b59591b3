//! Running scripts: the `lua` and `luarun` commands, errors with file and line, the
//! instruction budget, startup scripts, `uuid_kill` ending a script, `speak` through
//! the configured command.

mod common;

use std::time::Duration;

use common::Lab;
use switchboard_commands::execute;

/// Waits up to `within` for `check`.
async fn eventually(within: Duration, check: impl Fn() -> bool) -> bool {
    let until = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < until {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    check()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_run_scripts_and_report_their_errors_with_file_and_line() {
    let lua = switchboard_core::config::Lua {
        max_instructions: 2_000_000,
        startup_scripts: vec!["startup.lua one two".into()],
        ..Default::default()
    };
    let lab = Lab::start_with("commands", "waits.lua", &[], lua).await;
    assert_eq!(
        lab.global("startup_ran", Duration::from_secs(5))
            .await
            .as_deref(),
        Some("one,two")
    );

    // 2,000,000 instructions in all, waiting between rounds: never stopped.
    let reply = execute(&lab.switch, "lua waits.lua arg").await;
    assert!(reply.ok, "{reply:?}");
    assert!(
        reply.text.starts_with("+OK 100001000000 arg"),
        "{}",
        reply.text
    );

    let reply = execute(&lab.switch, "lua busy_loop.lua").await;
    assert!(!reply.ok);
    assert!(reply.text.contains("without waiting"), "{}", reply.text);

    let reply = execute(&lab.switch, "lua broken.lua").await;
    assert!(!reply.ok);
    assert!(reply.text.starts_with("hello\n-ERR "), "{}", reply.text);
    assert!(reply.text.contains("broken.lua:4:"), "{}", reply.text);

    let reply = execute(&lab.switch, "lua").await;
    assert_eq!(reply.text, "-ERR no script name specified!\n");
    let reply = execute(&lab.switch, "luarun missing.lua").await;
    assert!(reply.text.starts_with("-ERR cannot open"), "{}", reply.text);
    assert_eq!(
        execute(&lab.switch, "luarun startup.lua again").await.text,
        "+OK\n"
    );
    assert!(
        eventually(Duration::from_secs(5), || lab
            .switch
            .global("startup_ran")
            .as_deref()
            == Some("again"))
        .await
    );
    let api = execute(&lab.switch, "show api").await.text;
    assert!(
        api.contains("luarun,run a script,<script>,mod_lua"),
        "{api}"
    );
    lab.switch.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uuid_kill_ends_a_script_at_its_next_session_call() {
    let lab = Lab::start("killed", "killed.lua", &[]).await;
    let before = switchboard_lua::running();
    let caller = lab.call("s").await;
    let script = {
        let switch = lab.switch.clone();
        let caller = caller.id.clone();
        let found = eventually(Duration::from_secs(5), || {
            switch
                .channels()
                .iter()
                .any(|c| c.id != caller && c.var("lua_sleeping").is_some())
        })
        .await;
        assert!(found, "the script started");
        lab.switch
            .channels()
            .into_iter()
            .find(|c| c.id != caller.as_str() && c.var("lua_sleeping").is_some())
            .expect("the script's channel")
    };
    assert!(switchboard_lua::running() > before);
    let killed = execute(&lab.switch, &format!("uuid_kill {}", script.id)).await;
    assert_eq!(killed.text, "+OK\n");
    assert!(
        eventually(Duration::from_secs(3), || switchboard_lua::running()
            == before)
        .await,
        "the script ended"
    );
    assert_eq!(lab.switch.global("killed_hook").as_deref(), Some("hangup"));
    lab.switch.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn speak_plays_what_the_configured_command_writes() {
    // A "speech engine" that writes a tone file where it is told to.
    let tts = std::env::temp_dir().join(format!("switchboard-lua-tts-{}.sh", std::process::id()));
    let tone = std::env::temp_dir().join(format!("switchboard-lua-tts-{}.wav", std::process::id()));
    common::write_tone(&tone, 1000.0, 0.5);
    std::fs::write(
        &tts,
        format!(
            "#!/bin/sh\n# $1 is the text\ncp {} \"$2\"\n",
            tone.display()
        ),
    )
    .expect("write tts script");
    let lua = switchboard_core::config::Lua {
        tts_command: Some(format!("sh {} {{text}} {{file}}", tts.display())),
        ..Default::default()
    };
    let lab = Lab::start_with("speak", "speaker.lua", &[], lua).await;
    let mut events = lab.switch.events().subscribe();
    lab.call("s").await;
    assert_eq!(
        lab.global("spoke", Duration::from_secs(10))
            .await
            .as_deref(),
        Some("1")
    );
    // It played: a playback started and finished on the script's channel.
    let mut played = false;
    while let Ok(event) = events.try_recv() {
        played |= matches!(
            event.kind,
            switchboard_core::EventKind::PlaybackFinished { .. }
        );
    }
    assert!(played, "the speech was played");
    lab.switch.shutdown().await;
}
