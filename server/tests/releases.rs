//! Releases end to end, on SQLite and on Postgres: drafts, preview, apply
//! in one version per environment (one stream patch), all or nothing,
//! revert, and the scheduler under a test clock (on time, late, expired,
//! stale base revisions, restarts, and two replicas racing on one Postgres).

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::app::TestApp;
use support::sse::SseReader;

const SOON: Duration = Duration::from_secs(5);
/// The test clock's start: 2030-01-01T00:00:00Z.
const T0: &str = "2030-01-01T00:00:00Z";

async fn create_flag(app: &TestApp, key: &str) {
    app.post("/api/v1/flags", json!({"key": key, "type": "boolean"})).await.expect(201);
}

async fn version(app: &TestApp, env: &str) -> i64 {
    let envs = app.get("/api/v1/environments").await.expect(200);
    envs.as_array().unwrap().iter().find(|e| e["key"] == env).unwrap()["version"].as_i64().unwrap()
}

async fn config(app: &TestApp, flag: &str, env: &str) -> Value {
    app.get(&format!("/api/v1/flags/{flag}/environments/{env}")).await.expect(200)
}

async fn sdk_key(app: &TestApp, env: &str) -> String {
    let key = app.post(&format!("/api/v1/environments/{env}/sdk-keys"), json!({"name": "svc"})).await.expect(201);
    key["secret"].as_str().unwrap().to_owned()
}

fn enable(flag: &str, env: &str) -> Value {
    json!({"flag": flag, "environment": env, "enabled": true, "defaultVariant": "on"})
}

async fn release(app: &TestApp, name: &str, changes: Value) -> i64 {
    let r = app.post("/api/v1/releases", json!({"name": name, "changes": changes})).await.expect(201);
    assert_eq!(r["state"], "draft");
    r["id"].as_i64().unwrap()
}

api_test!(a_release_applies_in_one_version_and_one_patch, |app| async move {
    for f in ["a", "b", "c", "d", "e", "dependent"] {
        create_flag(app, f).await;
    }
    // `dependent` serves true only when `a` serves true: its answers change with `a`.
    app.put(
        "/api/v1/flags/dependent/environments/production",
        json!({"enabled": true, "offVariant": "off", "defaultVariant": "on",
               "prerequisites": [{"flag": "a", "variants": ["on"]}]}),
    )
    .await
    .expect(200);
    let key = sdk_key(app, "production").await;
    let (prod, staging) = (version(app, "production").await, version(app, "staging").await);
    let mut stream = SseReader::open(&app.base, &key, None).await;
    assert_eq!(stream.next_event(SOON).await.unwrap().event, "put");
    let mut compact = SseReader::open_query(&app.base, "?patch=configs", &key, None).await;
    assert_eq!(compact.next_event(SOON).await.unwrap().event, "put");
    let id = release(
        app,
        "Launch",
        json!([
            enable("a", "production"),
            enable("b", "production"),
            enable("c", "production"),
            enable("a", "staging"),
            enable("d", "production"),
            enable("e", "production")
        ]),
    )
    .await;
    // The preview: per environment, each part's diff and the flags whose answers change.
    let preview = app.get(&format!("/api/v1/releases/{id}/preview")).await.expect(200);
    assert_eq!(preview["applicable"], true, "{preview}");
    let envs = preview["environments"].as_array().unwrap();
    assert_eq!(envs.len(), 2);
    assert_eq!(envs[0]["environment"], "production");
    assert_eq!(envs[0]["changes"][0]["fields"], json!(["enabled", "defaultVariant"]));
    assert_eq!(envs[0]["changes"][0]["before"]["enabled"], false);
    assert_eq!(envs[0]["changes"][0]["after"]["enabled"], true);
    assert_eq!(envs[0]["affectedFlags"], json!(["a", "b", "c", "d", "dependent", "e"]));
    assert_eq!(envs[1]["affectedFlags"], json!(["a"]));
    // Nothing changed yet.
    assert_eq!(version(app, "production").await, prod);

    let applied = app.post(&format!("/api/v1/releases/{id}/apply"), json!(null)).await.expect(200);
    assert_eq!(applied["state"], "applied");
    assert_eq!(applied["outcome"]["versions"], json!({"production": prod + 1, "staging": staging + 1}));
    assert_eq!(version(app, "production").await, prod + 1, "one version for the whole release");
    assert_eq!(version(app, "staging").await, staging + 1);
    for f in ["a", "b", "c", "d", "e"] {
        assert_eq!(config(app, f, "production").await["enabled"], true, "{f}");
    }
    // One patch with all five flags, at the one new version.
    let patch = stream.next_event(SOON).await.unwrap();
    assert_eq!((patch.event.as_str(), patch.id), ("patch", Some(prod + 1)));
    let flags = patch.json()["flags"].as_object().unwrap().clone();
    assert_eq!(flags.keys().collect::<Vec<_>>(), ["a", "b", "c", "d", "e"]);
    assert!(flags.values().all(|f| f["environments"]["production"]["enabled"] == true));
    // A stream that asked for `configs` entries gets the same patch with
    // each flag's configuration only (a release leaves definitions alone).
    let small = compact.next_event(SOON).await.unwrap();
    assert_eq!((small.event.as_str(), small.id), ("patch", Some(prod + 1)));
    let body = small.json();
    assert!(body.get("flags").is_some_and(|f| f.as_object().unwrap().is_empty()), "{body}");
    let configs = body["configs"].as_object().unwrap();
    assert_eq!(configs.keys().collect::<Vec<_>>(), ["a", "b", "c", "d", "e"]);
    assert!(configs.values().all(|c| c["enabled"] == true && c.get("environments").is_none()), "{body}");
    assert_eq!(configs["a"], flags["a"]["environments"]["production"], "the same configuration as the full patch's");
    assert!(small.data.len() < patch.data.len(), "{} vs {} bytes", small.data.len(), patch.data.len());
    // A stream resuming from before the release gets the same one patch.
    let mut resumed = SseReader::open(&app.base, &key, Some(prod)).await;
    let again = resumed.next_event(SOON).await.unwrap();
    assert_eq!((again.event.as_str(), again.id), ("patch", Some(prod + 1)));
    assert_eq!(again.json()["flags"].as_object().unwrap().len(), 5);
    let mut resumed = SseReader::open_query(&app.base, "?patch=configs", &key, Some(prod)).await;
    let again = resumed.next_event(SOON).await.unwrap();
    assert_eq!(again.json()["configs"].as_object().unwrap().len(), 5, "resumed with `configs` too");
    // OFREP answers the new state.
    let ofrep = app
        .call(
            reqwest::Method::POST,
            "/ofrep/v1/evaluate/flags",
            Some(&key),
            Some(&json!({"context": {"targetingKey": "u"}})),
        )
        .await
        .expect(200);
    let values: Vec<_> =
        ofrep["flags"].as_array().unwrap().iter().map(|f| (f["key"].clone(), f["value"].clone())).collect();
    assert!(values.contains(&(json!("dependent"), json!(true))), "{values:?}");
    // One audit entry for the apply, naming the release.
    let audit = app.get("/api/v1/audit?limit=1000").await.expect(200);
    let applies: Vec<_> = audit.as_array().unwrap().iter().filter(|a| a["action"] == "release.apply").collect();
    assert_eq!(applies.len(), 1, "{audit}");
    assert_eq!(applies[0]["key"], id.to_string());
    // An applied release is the record: no edit, no delete, no second apply.
    let again = app.post(&format!("/api/v1/releases/{id}/apply"), json!(null)).await.expect(409);
    assert!(again["detail"].as_str().unwrap().contains("already applied"), "{again}");
    app.put(&format!("/api/v1/releases/{id}"), json!({"name": "x", "changes": []})).await.expect(409);
    app.delete(&format!("/api/v1/releases/{id}")).await.expect(409);
    let listed = app.get("/api/v1/releases?state=applied").await.expect(200);
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["appliedBy"], applied["appliedBy"]);
});

api_test!(a_release_with_a_bad_part_applies_nothing, |app| async move {
    for f in ["a", "b", "c"] {
        create_flag(app, f).await;
    }
    let (prod, staging) = (version(app, "production").await, version(app, "staging").await);
    let b_revision = config(app, "b", "production").await["revision"].as_i64().unwrap();
    // A stale base revision on part 1: 409 naming it, nothing applied.
    let mut stale = enable("b", "production");
    stale["baseRevision"] = json!(b_revision);
    let id = release(app, "Stale", json!([enable("a", "staging"), stale, enable("c", "production")])).await;
    app.patch("/api/v1/flags/b/environments/production", json!({"enabled": true})).await.expect(200);
    let prod = prod + 1;
    let refused = app.post(&format!("/api/v1/releases/{id}/apply"), json!(null)).await.expect(409);
    let detail = refused["detail"].as_str().unwrap();
    assert!(detail.contains("changes[1]") && detail.contains("flag `b` in `production`"), "{detail}");
    let preview = app.get(&format!("/api/v1/releases/{id}/preview")).await.expect(200);
    assert_eq!(
        (preview["applicable"].clone(), preview["conflicts"][0]["path"].clone()),
        (json!(false), json!("changes[1]"))
    );
    assert_eq!(preview["environments"][1]["changes"][0]["stale"], true);
    // An invalid part (a variant the flag lacks) and an unknown environment: 422 with paths.
    let bad = json!({"flag": "c", "environment": "production", "defaultVariant": "maybe"});
    let nowhere = json!({"flag": "a", "environment": "nowhere", "enabled": true});
    let id2 = release(app, "Invalid", json!([enable("a", "production"), bad, nowhere])).await;
    let refused = app.post(&format!("/api/v1/releases/{id2}/apply"), json!(null)).await.expect(422);
    let paths: Vec<_> = refused["errors"].as_array().unwrap().iter().map(|e| e["path"].as_str().unwrap()).collect();
    assert!(paths.contains(&"changes[1].defaultVariant"), "{refused}");
    assert!(paths.contains(&"changes[2].environment"), "{refused}");
    // Nothing of either release is in force: no new version, no change.
    assert_eq!((version(app, "production").await, version(app, "staging").await), (prod, staging));
    for (f, env) in [("a", "staging"), ("a", "production"), ("c", "production")] {
        assert_eq!(config(app, f, env).await["enabled"], false, "{f} in {env}");
    }
    assert_eq!(app.get(&format!("/api/v1/releases/{id}")).await.expect(200)["state"], "draft");
    // Input checks at creation: one change per flag and environment, valid keys.
    let twice = app
        .post(
            "/api/v1/releases",
            json!({"name": "Twice", "changes": [enable("a", "production"), enable("a", "production")]}),
        )
        .await
        .expect(422);
    assert_eq!(twice["errors"][0]["path"], "changes[1]");
    app.post("/api/v1/releases", json!({"name": " ", "changes": []})).await.expect(422);
    app.post("/api/v1/releases", json!({"name": "x", "changes": [{"flag": "a"}]})).await.expect(400);
    // A fixed draft applies.
    let fixed =
        json!({"name": "Fixed", "changes": [enable("a", "production"), enable("c", "production")], "baseRevision": 1});
    let updated = app.put(&format!("/api/v1/releases/{id2}"), fixed.clone()).await.expect(200);
    assert_eq!(updated["revision"], 2);
    app.put(&format!("/api/v1/releases/{id2}"), fixed).await.expect(409);
    app.post(&format!("/api/v1/releases/{id2}/apply"), json!(null)).await.expect(200);
    assert_eq!(version(app, "production").await, prod + 1);
    app.delete(&format!("/api/v1/releases/{id}")).await.expect(204);
    app.get(&format!("/api/v1/releases/{id}")).await.expect(404);
});

api_test!(a_release_is_reverted_by_its_inverse, |app| async move {
    for f in ["a", "b"] {
        create_flag(app, f).await;
    }
    app.patch("/api/v1/flags/b/environments/production", json!({"enabled": true})).await.expect(200);
    let rules = json!([{"id": "half", "serve": {"split": {"variants": [
        {"variant": "on", "weight": 5000}, {"variant": "off", "weight": 5000}]}}}]);
    let id = release(
        app,
        "Ramp",
        json!([{"flag": "a", "environment": "production", "enabled": true, "rules": rules},
               {"flag": "b", "environment": "production", "enabled": true}]),
    )
    .await;
    app.post(&format!("/api/v1/releases/{id}/apply"), json!(null)).await.expect(200);
    let before_revert = version(app, "production").await;
    let revert = app.post(&format!("/api/v1/releases/{id}/revert"), json!(null)).await.expect(201);
    assert_eq!((revert["state"].clone(), revert["reverts"].clone()), (json!("applied"), json!(id)));
    // Only the part that changed something is put back; in one version.
    assert_eq!(revert["changes"].as_array().unwrap().len(), 1, "{revert}");
    assert_eq!(version(app, "production").await, before_revert + 1);
    let a = config(app, "a", "production").await;
    assert_eq!((a["enabled"].clone(), a["rules"].clone()), (json!(false), json!([])));
    let original = app.get(&format!("/api/v1/releases/{id}")).await.expect(200);
    assert_eq!((original["state"].clone(), original["revertedBy"].clone()), (json!("reverted"), revert["id"].clone()));
    app.post(&format!("/api/v1/releases/{id}/revert"), json!(null)).await.expect(409);
    // A revert does not overwrite an edit made since the release.
    let id2 = release(app, "Again", json!([enable("a", "production")])).await;
    app.post(&format!("/api/v1/releases/{id2}/apply"), json!(null)).await.expect(200);
    app.patch("/api/v1/flags/a/environments/production", json!({"defaultVariant": "off"})).await.expect(200);
    let refused = app.post(&format!("/api/v1/releases/{id2}/revert"), json!(null)).await.expect(409);
    assert!(refused["detail"].as_str().unwrap().contains("changes[0]"), "{refused}");
    assert_eq!(app.get(&format!("/api/v1/releases/{id2}")).await.expect(200)["state"], "applied");
    assert_eq!(app.get("/api/v1/releases").await.expect(200).as_array().unwrap().len(), 3, "no revert left behind");
});

async fn clock_app(url: String, guard: Box<dyn std::any::Any + Send>) -> TestApp {
    TestApp::start_with(url, guard, &[("FLAGYARD_TEST_CLOCK", T0)]).await
}

async fn set_clock(app: &TestApp, now: &str) -> Value {
    app.post("/api/v1/test/clock", json!({"now": now})).await.expect(200)
}

async fn schedule(app: &TestApp, id: i64, body: Value) -> Value {
    app.put(&format!("/api/v1/releases/{id}/schedule"), body).await.expect(200)
}

async fn state(app: &TestApp, id: i64) -> Value {
    app.get(&format!("/api/v1/releases/{id}")).await.expect(200)
}

async fn scheduler_runs(app: &TestApp) {
    for f in ["a", "b", "c"] {
        create_flag(app, f).await;
    }
    let on_time = release(app, "On time", json!([enable("a", "production")])).await;
    let r = schedule(app, on_time, json!({"at": "2030-01-01T02:00:00+01:00"})).await;
    assert_eq!((r["state"].clone(), r["scheduledAt"].clone()), (json!("scheduled"), json!("2030-01-01T01:00:00.000Z")));
    let late = release(app, "Late", json!([enable("b", "production")])).await;
    schedule(app, late, json!({"at": "2030-01-01T01:10:00Z"})).await;
    let expiring = release(app, "Expiring", json!([enable("c", "production")])).await;
    schedule(app, expiring, json!({"at": "2030-01-01T01:10:00Z", "expiresAt": "2030-01-01T01:20:00Z"})).await;
    let cancelled = release(app, "Cancelled", json!([enable("c", "staging")])).await;
    schedule(app, cancelled, json!({"at": "2030-01-01T01:05:00Z"})).await;
    assert_eq!(app.delete(&format!("/api/v1/releases/{cancelled}/schedule")).await.expect(200)["state"], "draft");
    let listed = app.get("/api/v1/releases?state=scheduled").await.expect(200);
    assert_eq!(listed.as_array().unwrap().len(), 3);
    // Bad schedules.
    let bad = app.put(&format!("/api/v1/releases/{on_time}/schedule"), json!({"at": "tomorrow"})).await.expect(422);
    assert_eq!(bad["errors"][0]["path"], "at");
    let r = app.put(&format!("/api/v1/releases/{on_time}/schedule"), json!({"at": T0, "onStale": "maybe"})).await;
    assert_eq!(r.expect(422)["errors"][0]["path"], "onStale");

    // Nothing is due before its instant; at the first one's instant it is
    // applied, on time.
    set_clock(app, "2030-01-01T00:59:59Z").await;
    assert_eq!(state(app, on_time).await["state"], "scheduled");
    set_clock(app, "2030-01-01T01:00:00Z").await;
    let r = state(app, on_time).await;
    assert_eq!(
        (r["state"].clone(), r["lateMs"].clone(), r["appliedBy"].clone()),
        (json!("applied"), json!(0), json!("scheduler"))
    );
    assert_eq!(config(app, "a", "production").await["enabled"], true);
    assert_eq!(state(app, late).await["state"], "scheduled");
    // Half an hour past the others: the late one runs, marked late; the expired one does not.
    set_clock(app, "2030-01-01T01:40:00Z").await;
    let r = state(app, late).await;
    assert_eq!((r["state"].clone(), r["lateMs"].clone()), (json!("applied"), json!(30 * 60 * 1000)));
    let r = state(app, expiring).await;
    assert_eq!(r["state"], "failed");
    assert!(r["failure"].as_str().unwrap().starts_with("expired"), "{r}");
    assert_eq!(config(app, "c", "production").await["enabled"], false);
    assert_eq!(state(app, cancelled).await["state"], "draft");
    // Audit entries name the scheduler.
    let audit = app.get("/api/v1/audit?limit=1000").await.expect(200);
    let by_scheduler: Vec<_> =
        audit.as_array().unwrap().iter().filter(|a| a["actor"] == "scheduler").map(|a| a["action"].clone()).collect();
    assert_eq!(by_scheduler, [json!("release.expire"), json!("release.apply"), json!("release.apply")]);
    let metrics = app.http.get(format!("{}/metrics", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("flagyard_scheduled_changes_total{outcome=\"late\"}"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduler_applies_on_time_late_and_not_after_expiry_sqlite() {
    let db = support::db::SqliteTestDb::new();
    let app = clock_app(db.url.clone(), Box::new(db)).await;
    scheduler_runs(&app).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduler_applies_on_time_late_and_not_after_expiry_postgres() {
    let Some(db) = support::db::PgTestDb::create("releases::scheduler").await else { return };
    let app = clock_app(db.url.clone(), Box::new(db)).await;
    scheduler_runs(&app).await;
    app.stop().await;
}

async fn stale_schedules(app: &TestApp) {
    for f in ["a", "b"] {
        create_flag(app, f).await;
    }
    let mut part = json!({"flag": "a", "environment": "production", "defaultVariant": "on", "baseRevision": 1});
    let fails = release(app, "Fails", json!([part.clone()])).await;
    schedule(app, fails, json!({"at": "2030-01-01T00:01:00Z"})).await;
    part["flag"] = json!("b");
    let on_top = release(app, "On top", json!([part])).await;
    schedule(app, on_top, json!({"at": "2030-01-01T00:01:00Z", "onStale": "apply"})).await;
    // Someone edits both flags after the schedules were made.
    for f in ["a", "b"] {
        app.patch(&format!("/api/v1/flags/{f}/environments/production"), json!({"enabled": true})).await.expect(200);
    }
    set_clock(app, "2030-01-01T00:01:00Z").await;
    let r = state(app, fails).await;
    assert_eq!(r["state"], "failed");
    assert!(
        r["failure"].as_str().unwrap().contains("changes[0]: flag `a` in `production` changed since revision 1"),
        "{r}"
    );
    let a = config(app, "a", "production").await;
    assert_eq!(
        (a["enabled"].clone(), a["defaultVariant"].clone()),
        (json!(true), json!("off")),
        "the newer edit stands"
    );
    let b = config(app, "b", "production").await;
    assert_eq!((b["enabled"].clone(), b["defaultVariant"].clone()), (json!(true), json!("on")), "applied on top");
    assert_eq!(state(app, on_top).await["state"], "applied");
    // A failed release is edited back to a draft and scheduled again.
    let fixed =
        json!({"name": "Fails", "changes": [{"flag": "a", "environment": "production", "defaultVariant": "on"}]});
    assert_eq!(app.put(&format!("/api/v1/releases/{fails}"), fixed).await.expect(200)["state"], "draft");
    schedule(app, fails, json!({"at": "2030-01-01T00:02:00Z"})).await;
    set_clock(app, "2030-01-01T00:02:00Z").await;
    assert_eq!(state(app, fails).await["state"], "applied");
    assert_eq!(config(app, "a", "production").await["defaultVariant"], "on");
    // One change scheduled on its own; what would fail is refused up front.
    let path = "/api/v1/flags/b/environments/staging/schedule";
    let bad = app.post(path, json!({"at": "2030-01-01T00:03:00Z", "defaultVariant": "maybe"})).await.expect(422);
    assert_eq!(bad["errors"][0]["path"], "changes[0].defaultVariant");
    let stale = app.post(path, json!({"at": "2030-01-01T00:03:00Z", "enabled": true, "baseRevision": 7})).await;
    assert!(stale.expect(409)["detail"].as_str().unwrap().contains("changed since revision 7"));
    let one = app.post(path, json!({"at": "2030-01-01T00:03:00Z", "enabled": true})).await.expect(201);
    assert_eq!((one["state"].clone(), one["changes"].as_array().unwrap().len()), (json!("scheduled"), 1));
    set_clock(app, "2030-01-01T00:03:00Z").await;
    assert_eq!(config(app, "b", "staging").await["enabled"], true);
    assert_eq!(app.get("/api/v1/releases?state=draft").await.expect(200), json!([]), "no draft left behind");
}

api_test!(the_test_clock_needs_the_test_configuration, |app| async move {
    // This app runs on the system clock: the test clock endpoint says so.
    let r = app.post("/api/v1/test/clock", json!({"now": T0})).await.expect(404);
    assert!(r["detail"].as_str().unwrap().contains("system clock"), "{r}");
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_schedules_sqlite() {
    let db = support::db::SqliteTestDb::new();
    let app = clock_app(db.url.clone(), Box::new(db)).await;
    stale_schedules(&app).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_schedules_postgres() {
    let Some(db) = support::db::PgTestDb::create("releases::stale").await else { return };
    let app = clock_app(db.url.clone(), Box::new(db)).await;
    stale_schedules(&app).await;
    app.stop().await;
}

/// A release due while the server was down runs when it starts, marked late.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overdue_release_runs_at_start() {
    let db = support::db::SqliteTestDb::new();
    let url = db.url.clone();
    let app = clock_app(url.clone(), Box::new(())).await;
    create_flag(&app, "a").await;
    let id = release(&app, "Overdue", json!([enable("a", "production")])).await;
    schedule(&app, id, json!({"at": "2030-01-01T00:05:00Z"})).await;
    app.stop().await;
    // Back two hours later.
    let app = TestApp::start_with(url, Box::new(db), &[("FLAGYARD_TEST_CLOCK", "2030-01-01T02:05:00Z")]).await;
    let mut r = state(&app, id).await;
    for _ in 0..100 {
        if r["state"] != "scheduled" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        r = state(&app, id).await;
    }
    assert_eq!((r["state"].clone(), r["lateMs"].clone()), (json!("applied"), json!(2 * 3600 * 1000)), "{r}");
    assert_eq!(config(&app, "a", "production").await["enabled"], true);
    app.stop().await;
}

/// Two replicas on one Postgres, both moving their clocks past 200 due
/// releases at once: each release applies exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_apply_each_due_release_once() {
    let Some(db) = support::db::PgTestDb::create("releases::replicas").await else { return };
    let url = db.url.clone();
    let a = clock_app(url.clone(), Box::new(db)).await;
    let b = clock_app(url, Box::new(())).await;
    for i in 0..20 {
        create_flag(&a, &format!("f{i}")).await;
    }
    let before = version(&a, "production").await;
    let mut ids = Vec::new();
    for i in 0..200 {
        // Each toggles one of 20 flags; applied twice, a part would show a second revision.
        let part = json!({"flag": format!("f{}", i % 20), "environment": "production",
                          "enabled": i % 40 < 20, "baseRevision": null});
        let id = release(&a, &format!("r{i}"), json!([part])).await;
        schedule(&a, id, json!({"at": format!("2030-01-01T00:{:02}:{:02}Z", i / 60, i % 60)})).await;
        ids.push(id);
    }
    let (ra, rb) = tokio::join!(set_clock(&a, "2030-01-01T01:00:00Z"), set_clock(&b, "2030-01-01T01:00:00Z"));
    eprintln!("replica a ran {}, replica b ran {}", ra["ran"], rb["ran"]);
    let mut applied = 0;
    for id in &ids {
        let mut r = state(&a, *id).await;
        for _ in 0..200 {
            if r["state"] != "scheduled" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            r = state(&a, *id).await;
        }
        assert_eq!(r["state"], "applied", "{r}");
        applied += 1;
    }
    assert_eq!(applied, 200);
    let audit = a.get("/api/v1/audit?actor=scheduler&limit=1000").await.expect(200);
    let applies = audit.as_array().unwrap().iter().filter(|x| x["action"] == "release.apply").count();
    assert_eq!(applies, 200, "one apply per release");
    // Every release changes its flag (they alternate): one version each, none twice.
    assert_eq!(version(&a, "production").await - before, 200);
    for i in 0..20 {
        assert_eq!(config(&a, &format!("f{i}"), "production").await["revision"], 11, "f{i}: ten toggles");
    }
    a.stop().await;
    b.stop().await;
}
