//! `flagyard`: the server binary.
//!
//! ```text
//! flagyard            serve (the default)
//! flagyard migrate    apply database migrations and exit
//! flagyard user create <username> --role <viewer|editor|admin>
//!                     create a web UI user (password from
//!                     FLAGYARD_USER_PASSWORD, else one line of stdin)
//! ```
//! Configuration comes from environment variables: see the README (Configuration).

use std::net::SocketAddr;

use anyhow::Context;
use flagyard_server::{Config, init_logging, migrate, serve, shutdown_signal};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::from_env()?;
    init_logging(&config);
    match std::env::args().nth(1).as_deref() {
        None | Some("serve") => {
            let addr = SocketAddr::new(config.bind, config.port);
            let listener =
                tokio::net::TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
            serve(config, listener, shutdown_signal()).await
        }
        Some("migrate") => migrate(&config).await,
        Some("user") => {
            let args: Vec<String> = std::env::args().skip(2).collect();
            println!("{}", flagyard_server::ui_users::user_command(&config, &args).await?);
            Ok(())
        }
        Some("-h" | "--help" | "help") => {
            println!(
                "usage: flagyard [serve|migrate]\n       flagyard user create <username> --role <viewer|editor|admin>\n\
                 (the password is read from FLAGYARD_USER_PASSWORD or, when unset, one line of stdin)\n\
                 configuration: environment variables, see the README (Configuration)"
            );
            Ok(())
        }
        Some(other) => anyhow::bail!("unknown command `{other}`; try `flagyard --help`"),
    }
}
