//! `switchboard`: the softswitch binary — config loading, startup, signals, shutdown.

mod cli;
mod control;
mod line_editor;

use std::path::PathBuf;
use std::process::ExitCode;

use switchboard_ari::AriConfig;
use switchboard_core::{Config, Switch};

const DEFAULT_CONFIG: &str = include_str!("default.toml");

const HELP: &str = "switchboard — a SIP softswitch with ARI, Lua and a Sessions API

Usage:
  switchboard [--config FILE]     run the server (built-in config without --config)
  switchboard [--config FILE] cli [-x COMMAND]
                                  run API commands (`show channels`, `uuid_kill UUID`,
                                  `help`…) on the server started with that config,
                                  through its socket <data_dir>/switchboard.ctl:
                                  COMMAND once (exit 0 on success, 1 on an error
                                  reply, 2 when the server cannot be reached), or a
                                  prompt reading commands from stdin (exit/quit/EOF)
  switchboard --check-config FILE parse and validate FILE, then exit
  switchboard --print-default-config
  switchboard --help | --version

Logging: RUST_LOG (e.g. RUST_LOG=debug, RUST_LOG=switchboard_sip=trace).
";

enum Mode {
    Run(Option<PathBuf>),
    /// The config of the server, and the command to run (none: a prompt).
    Cli(Option<PathBuf>, Option<String>),
    Check(PathBuf),
    PrintDefault,
    Help,
    Version,
}

/// Parses the arguments after the program name.
fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Mode, String> {
    let mut args = args.into_iter();
    let mut mode = Mode::Run(None);
    while let Some(arg) = args.next() {
        mode = match arg.as_str() {
            "-h" | "--help" => Mode::Help,
            "-V" | "--version" => Mode::Version,
            "--print-default-config" => Mode::PrintDefault,
            "-c" | "--config" => {
                let config = Some(args.next().ok_or("--config needs a FILE")?.into());
                match mode {
                    Mode::Cli(_, command) => Mode::Cli(config, command),
                    _ => Mode::Run(config),
                }
            }
            "cli" => match mode {
                Mode::Run(config) => Mode::Cli(config, None),
                _ => return Err("cli cannot be combined with that option".into()),
            },
            "-x" => match mode {
                Mode::Cli(config, _) => {
                    Mode::Cli(config, Some(args.next().ok_or("-x needs a COMMAND")?))
                }
                _ => return Err("-x goes after cli (see --help)".into()),
            },
            "--check-config" => {
                Mode::Check(args.next().ok_or("--check-config needs a FILE")?.into())
            }
            other => return Err(format!("unknown argument {other:?} (see --help)")),
        };
    }
    Ok(mode)
}

/// Loads and validates a config; the error names the file, the key and the reason.
fn load_config(path: Option<&PathBuf>) -> Result<Config, String> {
    let (origin, text) = match path {
        Some(path) => (
            path.display().to_string(),
            std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?,
        ),
        None => ("built-in config".to_owned(), DEFAULT_CONFIG.to_owned()),
    };
    let config: Config = toml::from_str(&text).map_err(|e| format!("{origin}: {e}"))?;
    validate(&config).map_err(|e| format!("{origin}: {e}"))?;
    Ok(config)
}

fn validate(config: &Config) -> Result<(), String> {
    let [low, high] = config.rtp.ports;
    if low == 0 || high < low + 1 {
        return Err(format!(
            "rtp.ports: [{low}, {high}] must be an increasing range of at least two ports"
        ));
    }
    for codec in &config.rtp.codecs {
        let known = [
            "PCMU",
            "PCMA",
            "G722",
            "L16",
            "L16/16000",
            "telephone-event",
        ];
        if !known.iter().any(|k| k.eq_ignore_ascii_case(codec)) {
            return Err(format!(
                "rtp.codecs: unknown codec {codec:?} (known: {})",
                known.join(", ")
            ));
        }
    }
    let mut ids = std::collections::HashSet::new();
    for endpoint in &config.endpoint {
        if !ids.insert(&endpoint.id) {
            return Err(format!("endpoint: id {:?} is defined twice", endpoint.id));
        }
        if !config.dialplan.contains_key(&endpoint.context) {
            return Err(format!(
                "endpoint {:?}: context {:?} is not in [dialplan]",
                endpoint.id, endpoint.context
            ));
        }
    }
    for trunk in &config.trunk {
        if trunk.host.parse::<std::net::SocketAddr>().is_err() {
            return Err(format!(
                "trunk {:?}: host {:?} must be IP:PORT",
                trunk.name, trunk.host
            ));
        }
        validate_trunk(trunk)?;
    }
    validate_security(&config.security)?;
    if config.sip.auth_algorithms.is_empty() {
        return Err("sip.auth_algorithms: at least one algorithm is needed".into());
    }
    if let Some(ari) = &config.ari {
        AriConfig::from_core(ari)?;
    }
    if let Some(api) = &config.sessions_api {
        if api.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(format!(
                "sessions_api.listen {:?} must be IP:PORT",
                api.listen
            ));
        }
        if api.cert.is_some() != api.key.is_some() {
            return Err("sessions_api: cert and key go together".into());
        }
        if api.tokens.iter().any(String::is_empty) {
            return Err("sessions_api.tokens: a token must not be empty".into());
        }
    }
    switchboard_core::dialplan::Dialplan::from_config(&config.dialplan)?;
    Ok(())
}

/// A trunk's registration settings: what the carrier needs to accept us.
fn validate_trunk(trunk: &switchboard_core::config::Trunk) -> Result<(), String> {
    let name = &trunk.name;
    let missing = |field: &str| format!("trunk {name:?}: register = true needs {field}");
    if trunk.register {
        if trunk.username.as_deref().unwrap_or_default().is_empty() {
            return Err(missing("a username"));
        }
        if trunk.password.is_none() {
            return Err(missing("a password"));
        }
    }
    if !(60..=86_400).contains(&trunk.expires) {
        return Err(format!(
            "trunk {name:?}: expires = {} is outside 60..=86400 seconds",
            trunk.expires
        ));
    }
    if trunk.qualify.is_some_and(|q| q > 86_400) {
        return Err(format!(
            "trunk {name:?}: qualify is at most 86400 seconds (0 turns pings off)"
        ));
    }
    let fields = [
        ("username", &trunk.username),
        ("from_user", &trunk.from_user),
        ("from_domain", &trunk.from_domain),
        ("caller_id_number", &trunk.caller_id_number),
    ];
    for (field, value) in fields {
        let Some(value) = value else { continue };
        // These end up in From/To/Request-URI: nothing that could split the line or
        // the URI.
        if value
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || "<>\"@".contains(c))
        {
            return Err(format!(
                "trunk {name:?}: {field} {value:?} must not hold spaces, control characters, <, >, \" or @"
            ));
        }
    }
    Ok(())
}

fn validate_security(security: &switchboard_core::config::Security) -> Result<(), String> {
    let positive = [
        ("nonce_lifetime", security.nonce_lifetime),
        ("failure_window", security.failure_window),
        ("rate_window", security.rate_window),
        ("tcp_idle_timeout", security.tcp_idle_timeout),
        ("tcp_message_timeout", security.tcp_message_timeout),
    ];
    if let Some((key, _)) = positive.iter().find(|(_, v)| *v == 0) {
        return Err(format!("security.{key}: must be at least 1 second"));
    }
    // Below this, ordinary INVITEs with a few Via and Record-Route headers would not fit.
    const MIN_HEADER_BYTES: usize = 4096;
    if security.max_header_bytes < MIN_HEADER_BYTES {
        return Err(format!(
            "security.max_header_bytes: {} is below the smallest workable {MIN_HEADER_BYTES}",
            security.max_header_bytes
        ));
    }
    if security.tcp_max_connections_per_source > security.tcp_max_connections {
        return Err("security.tcp_max_connections_per_source: exceeds tcp_max_connections".into());
    }
    Ok(())
}

fn main() -> ExitCode {
    let mode = match parse_args(std::env::args().skip(1)) {
        Ok(mode) => mode,
        Err(e) => {
            eprintln!("switchboard: {e}");
            return ExitCode::from(2);
        }
    };
    let path = match mode {
        Mode::Help => {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Mode::Version => {
            println!("switchboard {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Mode::PrintDefault => {
            print!("{DEFAULT_CONFIG}");
            return ExitCode::SUCCESS;
        }
        Mode::Check(path) => {
            return match load_config(Some(&path)) {
                Ok(_) => {
                    println!("{}: OK", path.display());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("switchboard: {e}");
                    ExitCode::from(2)
                }
            };
        }
        Mode::Cli(path, command) => {
            return match load_config(path.as_ref()) {
                Ok(config) => cli::run(
                    &control::socket_path(&config.general.data_dir),
                    command.as_deref(),
                ),
                Err(e) => {
                    eprintln!("switchboard: {e}");
                    ExitCode::from(2)
                }
            };
        }
        Mode::Run(path) => path,
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        // Colour codes only for a terminal: log files are read by tools such as fail2ban.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
    let config = match load_config(path.as_ref()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("switchboard: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("switchboard: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(config, path))
}

async fn run(config: Config, path: Option<PathBuf>) -> ExitCode {
    let ari = match config.ari.as_ref().map(AriConfig::from_core).transpose() {
        Ok(ari) => ari,
        Err(e) => {
            eprintln!("switchboard: {e}");
            return ExitCode::from(2);
        }
    };
    let listen = config.sip.listen.join(", ");
    let socket = control::socket_path(&config.general.data_dir);
    let switch = match Switch::start(config).await {
        Ok(switch) => switch,
        Err(e) => {
            eprintln!("switchboard: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = switchboard_lua::install(&switch) {
        eprintln!("switchboard: Lua: {e}");
        switch.shutdown().await;
        return ExitCode::FAILURE;
    }
    // `reloadxml` reads the file again (the built-in default has nothing to reload).
    if let Some(path) = path {
        switch.set_config_loader(std::sync::Arc::new(move || load_config(Some(&path))));
    }
    if let Some(ari) = ari {
        let addr = ari.listen;
        if let Err(e) = switchboard_ari::serve(switch.clone(), ari).await {
            eprintln!("switchboard: ARI listener {addr}: {e}");
            return ExitCode::FAILURE;
        }
    }
    if switch.config().sessions_api.is_some() {
        if let Err(e) = switchboard_sessions::serve(switch.clone()).await {
            eprintln!("switchboard: Sessions API: {e}");
            switch.shutdown().await;
            return ExitCode::FAILURE;
        }
    }
    let control = match control::serve(switch.clone(), socket.clone()) {
        Ok(control) => control,
        Err(e) => {
            eprintln!("switchboard: control socket {}: {e}", socket.display());
            switch.shutdown().await;
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(%listen, control = %socket.display(), "switchboard ready");
    // A signal, or the `shutdown` command.
    tokio::select! {
        () = wait_for_signal() => {}
        () = switch.exit_requested() => {}
    }
    tracing::info!("shutting down: hanging up calls, flushing CDRs");
    // No commands while the calls are hung up; the socket file goes with it.
    drop(control);
    switch.shutdown().await;
    ExitCode::SUCCESS
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Mode, String> {
        parse_args(args.iter().map(|a| a.to_string()))
    }

    #[test]
    fn cli_takes_the_config_before_or_after_it_and_an_optional_command() {
        let cli = |args: &[&str]| match parse(args) {
            Ok(Mode::Cli(config, command)) => (config, command),
            _ => panic!("{args:?} should parse as cli"),
        };
        let config = Some(PathBuf::from("s.toml"));
        let show = Some("show channels".to_owned());
        assert_eq!(
            cli(&["--config", "s.toml", "cli", "-x", "show channels"]),
            (config.clone(), show.clone())
        );
        assert_eq!(
            cli(&["cli", "-x", "show channels", "-c", "s.toml"]),
            (config.clone(), show)
        );
        assert_eq!(cli(&["-c", "s.toml", "cli"]), (config, None));
        assert_eq!(cli(&["cli"]), (None, None));
    }

    #[test]
    fn cli_arguments_out_of_place_are_refused() {
        for args in [
            &["-x", "status"][..],
            &["cli", "-x"],
            &["--check-config", "s.toml", "cli"],
        ] {
            assert!(parse(args).is_err(), "{args:?} should be refused");
        }
        assert!(matches!(parse(&["-c", "s.toml"]), Ok(Mode::Run(Some(_)))));
    }

    #[test]
    fn trunk_registration_settings_are_checked() {
        let trunk = |extra: &str| -> switchboard_core::config::Trunk {
            toml::from_str(&format!(
                "name = \"carrier\"\nhost = \"127.0.0.1:5080\"\n{extra}"
            ))
            .expect("a trunk table")
        };
        let plain = trunk("");
        assert_eq!((plain.expires, plain.qualify_secs()), (3600, 0));
        let registering = trunk("register = true\nusername = \"acct\"\npassword = \"pw\"");
        assert_eq!(validate_trunk(&registering), Ok(()));
        assert_eq!(registering.qualify_secs(), 60);
        assert_eq!(
            validate_trunk(&trunk("register = true\npassword = \"pw\"")),
            Err("trunk \"carrier\": register = true needs a username".into())
        );
        assert_eq!(
            validate_trunk(&trunk("register = true\nusername = \"acct\"")),
            Err("trunk \"carrier\": register = true needs a password".into())
        );
        assert!(validate_trunk(&trunk("expires = 10"))
            .unwrap_err()
            .contains("outside 60..=86400"));
        assert!(validate_trunk(&trunk("from_user = \"a b\""))
            .unwrap_err()
            .contains("from_user"));
        assert_eq!(validate_trunk(&trunk("qualify = 0")), Ok(()));
    }
}
