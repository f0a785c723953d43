//! Evaluate a flag against a running Flagyard server and watch it change.
//!
//! ```sh
//! FLAGYARD_URL=http://localhost:8080 FLAGYARD_SDK_KEY=... cargo run -p flagyard --example basic
//! ```
//!
//! Optional: `FLAGYARD_FLAG` (default `new-checkout`), `FLAGYARD_WATCH_SECS`
//! (how long to print changes, default 30), `FLAGYARD_CACHE_FILE`.

use std::time::Duration;

use flagyard::{Client, Context};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("FLAGYARD_URL").unwrap_or_else(|_| "http://localhost:8080".into());
    let key = std::env::var("FLAGYARD_SDK_KEY").map_err(|_| "set FLAGYARD_SDK_KEY to an SDK key")?;
    let flag = std::env::var("FLAGYARD_FLAG").unwrap_or_else(|_| "new-checkout".into());
    let watch: u64 = std::env::var("FLAGYARD_WATCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(30);

    let mut builder = Client::builder(url, key);
    if let Ok(path) = std::env::var("FLAGYARD_CACHE_FILE") {
        builder = builder.cache_file(path);
    }
    let client = builder.build().await?;
    println!("state: {}, rules version: {:?}", client.state(), client.version());

    let show = |client: &Client| {
        for i in 0..5 {
            let user = Context::new(format!("user-{i}")).with("plan", if i % 2 == 0 { "pro" } else { "free" });
            let d = client.detail(&flag, &user);
            let value = d.value.map_or_else(|| "(none: code default)".to_owned(), |v| v.to_string());
            println!("  {flag} for user-{i}: {value} variant={:?} — {}", d.variant, d.reason);
        }
    };
    show(&client);
    client.track("example-run", &Context::new("user-0"), Some(1.0));

    println!("watching changes for {watch} s (change the flag through the admin API)...");
    let mut changes = client.subscribe();
    let deadline = tokio::time::sleep(Duration::from_secs(watch));
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            _ = &mut deadline => break,
            change = changes.recv() => match change {
                Ok(change) => {
                    println!("version {}: flags {:?}, segments {:?}", change.version, change.flags, change.segments);
                    show(&client);
                }
                Err(e) => println!("change stream: {e}"),
            },
        }
    }
    client.close().await;
    println!("events: {:?}", client.stats());
    Ok(())
}
