//! Sample view models shared by the tests and the benchmark.
#![allow(dead_code)]

use flagyard_web::*;
use serde_json::json;

pub const EVIL: &str = "<script>alert(1)</script>";

pub fn layout(section: Section) -> Layout {
    let mut l = Layout::new("Page", CurrentUser { name: "Ada".into(), role: Role::Admin }, "tok-123", section);
    l.flashes.push(Flash { kind: FlashKind::Success, message: format!("Saved {EVIL}") });
    l
}

pub fn columns() -> Vec<EnvColumn> {
    ["development", "staging", "production"]
        .iter()
        .map(|k| EnvColumn { key: (*k).into(), production: *k == "production" })
        .collect()
}

pub fn flag_row(i: usize, name: &str) -> FlagRow {
    FlagRow {
        key: format!("flag-{i}"),
        name: name.into(),
        description: "A flag".into(),
        value_type: "boolean".into(),
        tags: vec!["checkout".into(), "team-a".into()],
        stale: i.is_multiple_of(7),
        ramp: if i == 2 { "rolled back".into() } else { String::new() },
        archived: false,
        environments: columns()
            .into_iter()
            .enumerate()
            .map(|(j, c)| EnvState {
                environment: c.key,
                enabled: (i + j).is_multiple_of(2),
                production: c.production,
                revision: (i * 3 + j) as u64,
            })
            .collect(),
        updated: "2 hours ago".into(),
    }
}

pub fn flags_page(n: usize) -> FlagsPage {
    let mut rows: Vec<FlagRow> = (0..n).map(|i| flag_row(i, "Checkout")).collect();
    if let Some(r) = rows.first_mut() {
        r.name = EVIL.into();
    }
    FlagsPage {
        layout: layout(Section::Flags),
        filter: FlagsFilter { q: EVIL.into(), ..FlagsFilter::default() },
        tags: vec!["checkout".into(), "team-a".into()],
        table: FlagsTable {
            csrf: "tok-123".into(),
            columns: columns(),
            rows,
            version: 42,
            filter: FlagsFilter::default(),
            can_edit: true,
        },
        total: n,
        onboarding: Some(Onboarding {
            base_url: format!("http://{EVIL}"),
            environment: "production".into(),
            key_name: Some(EVIL.into()),
            flag: EVIL.into(),
            has_flag: true,
        }),
        new_flag: NewFlagView {
            form: NewFlagForm { key: "bad key".into(), value_type: "string".into(), ..NewFlagForm::default() },
            errors: vec![FieldError::new("key", "keys use letters, digits, `.`, `_`, `-`")],
        },
    }
}

pub fn config_json() -> serde_json::Value {
    json!({
        "enabled": true,
        "offVariant": "off",
        "defaultVariant": "off",
        "prerequisites": [{"flag": "payments-v2", "variants": ["on"]}],
        "rules": [
            {"id": "staff", "conditions": [
                {"attribute": "email", "op": "ends_with", "values": ["@example.com", "@example.org"]},
                {"attribute": "plan", "op": "in", "values": ["pro", "team"]},
                {"attribute": "age", "op": "gte", "values": [18]},
                {"attribute": "beta", "op": "eq", "values": [true]},
                {"attribute": "version", "op": "semver_gte", "values": ["2.1.0"]},
                {"attribute": "signup", "op": "before", "values": ["2025-01-01T00:00:00Z"]},
                {"attribute": "ua", "op": "matches", "values": ["^Mozilla"]},
                {"attribute": "country", "op": "exists"},
                {"op": "segment", "values": ["beta-testers"]},
                {"op": "prerequisite", "flag": "payments-v2", "values": ["on"]}
            ], "serve": {"variant": "on"}},
            {"id": "canary", "serve": {"split": {
                "variants": [{"variant": "on", "weight": 500}, {"variant": "off", "weight": 9500}],
                "coverage": 5000, "bucketBy": "key", "salt": "new-checkout"}}}
        ]
    })
}

pub fn editor() -> RulesEditor {
    RulesEditor {
        csrf: "tok-123".into(),
        flag_key: "new-checkout".into(),
        environment: "production".into(),
        production: true,
        draft: ConfigDraft::from_json(&config_json(), 7),
        errors: vec![
            FieldError::new("rules[0].conditions[6].values", format!("invalid regular expression: {EVIL}")),
            FieldError::new("rules[1].serve.split.variants", "weights add up to 10500"),
        ],
        variants: vec!["on".into(), "off".into()],
        segments: vec!["beta-testers".into(), "staff".into()],
        flags: vec!["payments-v2".into()],
        can_edit: true,
        notice: None,
    }
}

pub fn flag_page() -> FlagPage {
    let row = flag_row(1, "New checkout");
    FlagPage {
        revision: 3,
        layout: layout(Section::Flags),
        key: "new-checkout".into(),
        name: EVIL.into(),
        description: "The new checkout flow".into(),
        value_type: "boolean".into(),
        tags: vec!["checkout".into()],
        archived: false,
        variants: vec![
            VariantView { key: "on".into(), value_json: "true".into() },
            VariantView { key: "off".into(), value_json: "false".into() },
        ],
        environments: row
            .environments
            .iter()
            .map(|s| EnvTab { state: s.clone(), current: s.environment == "production" })
            .collect(),
        editor: editor(),
        test: TestContextPanel {
            context_json: r#"{"targetingKey": "u1"}"#.into(),
            result: Some(TestContextResult {
                environment: "production".into(),
                outcome: Ok(Evaluation {
                    value_json: "true".into(),
                    variant: "on".into(),
                    reason: "split".into(),
                    bucket: Some(1234),
                }),
            }),
        },
        experiments: vec![FlagExperimentLink {
            key: "checkout-test".into(),
            environment: "production".into(),
            state: "running".into(),
        }],
        ramp: ramp_panel(),
    }
}

/// The releases list (texts carry [`EVIL`]).
pub fn releases_page() -> ReleasesPage {
    ReleasesPage {
        layout: layout(Section::Releases),
        releases: vec![ReleaseRow {
            id: 7,
            name: EVIL.into(),
            state: "applied".into(),
            changes: 3,
            when: "2026-12-04T10:00:00.000Z".into(),
            by: "admin".into(),
        }],
    }
}

/// A release in `state` with one change and its preview (texts carry [`EVIL`]).
pub fn release_page(state: &str) -> ReleasePage {
    ReleasePage {
        layout: layout(Section::Releases),
        id: 7,
        name: EVIL.into(),
        description: EVIL.into(),
        state: state.into(),
        changes: vec![ChangeRow {
            flag: "new-checkout".into(),
            environment: "production".into(),
            summary: EVIL.into(),
        }],
        preview: Some(vec![EnvironmentPreviewView {
            environment: "production".into(),
            next_version: 12,
            changes: vec![ChangePreviewView {
                flag: "new-checkout".into(),
                fields: vec!["enabled".into()],
                stale: false,
                diff: line_diff(
                    "{\n  \"enabled\": false\n}",
                    &format!("{{\n  \"enabled\": true, \"x\": \"{EVIL}\"\n}}"),
                ),
            }],
            affected_flags: vec!["new-checkout".into()],
        }]),
        problems: vec![format!("changes[0].defaultVariant: {EVIL}")],
        versions: if state == "applied" { vec![("production".into(), 12)] } else { Vec::new() },
        scheduled_at: None,
        failure: None,
        reverts: None,
        reverted_by: None,
        flags: vec!["new-checkout".into()],
        environments: vec!["production".into()],
    }
}

/// A ramp panel whose newest plan was rolled back (texts carry [`EVIL`]).
pub fn ramp_panel() -> RampPanel {
    let step = |label: &str, done, current| StepView { label: label.into(), hold: "1h".into(), done, current };
    let points = [
        GuardPointView { at: 0, interval: Some([-0.4, 0.1, 0.6]) },
        GuardPointView { at: 60_000, interval: Some([0.05, 0.3, 0.55]) },
    ];
    RampPanel {
        csrf: "tok-123".into(),
        flag: "new-checkout".into(),
        environment: "production".into(),
        can_edit: true,
        latest: Some(RampCard {
            id: 3,
            state: "rolled_back".into(),
            rule_id: "canary".into(),
            canary: "on".into(),
            control: "off".into(),
            steps: vec![
                step("coverage 1 %", true, false),
                step("coverage 5 %", false, true),
                step("coverage 100 %", false, false),
            ],
            next_at: None,
            reason: Some(format!("guardrail `errors` regressed {EVIL}")),
            updated_at: "2026-12-04T10:00:00.000Z".into(),
            guard: Some(GuardView {
                verdict: "regression".into(),
                summary: EVIL.into(),
                canary_units: 2_900,
                control_units: 2_950,
                metrics: vec![GuardMetricView {
                    metric: "errors".into(),
                    good_direction: "decrease".into(),
                    tolerance: 0.0,
                    lift: Some(0.3),
                    lower: Some(0.05),
                    upper: Some(0.55),
                    verdict: "regression".into(),
                }],
            }),
            chart: Some(guard_chart(EVIL, &points, 0.0, 600)),
        }),
        rules: vec![RampableRule { id: "canary".into(), variants: vec!["on".into(), "off".into()] }],
        metrics: vec!["errors".into()],
        recent: vec![AutomaticAction {
            at: "2026-12-04T10:00:00.000Z".into(),
            actor: "ramp:3".into(),
            action: "ramp.rollback".into(),
        }],
        form: StartRampForm::default(),
        error: None,
    }
}

pub fn experiment_page() -> ExperimentPage {
    let metric = |name: &str, kind: &str, good: GoodDirection| MetricResult {
        key: name.into(),
        name: name.into(),
        kind: kind.into(),
        role: "primary".into(),
        good_direction: good,
        control_variant: "control".into(),
        control_units: 10_000,
        control_value: 0.1,
        trend: vec![TrendSeries {
            label: EVIL.into(),
            points: vec![
                TrendPoint {
                    day: "2025-05-01".into(),
                    estimate: 0.2,
                    lower: -0.1,
                    upper: 0.5,
                    verdict: Verdict::NoDifferenceYet,
                },
                TrendPoint {
                    day: "2025-05-02".into(),
                    estimate: 0.1,
                    lower: 0.01,
                    upper: 0.19,
                    verdict: Verdict::Better,
                },
            ],
        }],
        variants: vec![
            VariantResult {
                variant: "treatment".into(),
                units: 10_000,
                value: 0.11,
                absolute: Some(Interval { estimate: 0.01, lower: 0.0015, upper: 0.0185 }),
                relative: Some(Interval { estimate: 0.1, lower: 0.0108647, upper: 0.189135 }),
                level: 0.95,
                p_value: Some(0.0278895),
                chance_to_beat: Some(0.986061),
                verdict: if good == GoodDirection::Increase { Verdict::Better } else { Verdict::Worse },
            },
            VariantResult {
                variant: EVIL.into(),
                units: 0,
                value: f64::NAN,
                absolute: None,
                relative: None,
                level: 0.95,
                p_value: None,
                chance_to_beat: None,
                verdict: Verdict::NotEnoughData,
            },
        ],
    };
    ExperimentPage {
        layout: layout(Section::Experiments),
        key: "checkout-test".into(),
        name: "Checkout test".into(),
        hypothesis: "Green converts better".into(),
        flag: "new-checkout".into(),
        environment: "production".into(),
        rule_id: "canary".into(),
        state: "running".into(),
        analysis: Analysis::Frequentist,
        alpha: 0.05,
        started_at: Some("2025-05-01 10:00 UTC".into()),
        stopped_at: None,
        coverage_bp: 10_000,
        allocation: vec![
            AllocationRow { variant: "control".into(), weight_bp: 5000, control: true, units: 10_000, excluded: 3 },
            AllocationRow { variant: "treatment".into(), weight_bp: 5000, control: false, units: 10_000, excluded: 4 },
        ],
        srm: Some(SrmCheck { p_value: 0.0001, tripped: true }),
        srm_basis: None,
        progress: Some(Progress { units: 20_000, required: 31_000 }),
        metrics: vec![
            metric("conversion", "conversion", GoodDirection::Increase),
            metric("latency", "mean", GoodDirection::Decrease),
        ],
        computed_at: Some("2025-05-02 10:00 UTC".into()),
        correction: None,
        decision_rule: Some("One comparison: no multiple-comparison correction.".into()),
    }
}

/// Every full page and fragment, rendered, with a name.
pub fn all_pages() -> Vec<(&'static str, String)> {
    let ok = |r: Result<String, RenderError>| r.expect("render");
    let secret = Some(CreatedSecret { name: "ci".into(), secret: format!("fy_sdk_{EVIL}") });
    let mut login_layout = Layout { title: "Sign in".into(), csrf: "tok-123".into(), ..Layout::default() };
    login_layout.flashes.push(Flash { kind: FlashKind::Error, message: "Session expired".into() });
    vec![
        (
            "login",
            ok(LoginPage {
                layout: login_layout.clone(),
                username: EVIL.into(),
                next: "/flags".into(),
                error: Some("Wrong username or password".into()),
            }
            .render()),
        ),
        (
            "error",
            ok(ErrorPage {
                layout: login_layout.clone(),
                status: 404,
                title: "Not found".into(),
                detail: EVIL.into(),
                request_id: Some("r-1".into()),
            }
            .render()),
        ),
        (
            "confirm",
            ok(ConfirmPage {
                layout: layout(Section::Flags),
                question: "Turn new-checkout off in production?".into(),
                detail: "Every SDK serves the off state at once.".into(),
                action: "/flags/new-checkout/environments/production/toggle".into(),
                fields: vec![("enabled".into(), "false".into())],
                confirm_label: "Turn off".into(),
                cancel_href: "/flags".into(),
            }
            .render()),
        ),
        ("flags", ok(flags_page(5).render())),
        ("flags_table", ok(flags_page(3).table.render())),
        ("flag_row", ok(FlagRowFragment { csrf: "tok-123".into(), row: flag_row(2, EVIL), can_edit: true }.render())),
        ("flag", ok(flag_page().render())),
        ("releases", ok(releases_page().render())),
        ("release", ok(release_page("draft").render())),
        ("release_applied", ok(release_page("applied").render())),
        ("rules_editor", ok(editor().render())),
        (
            "test_result",
            ok(TestContextResult { environment: "staging".into(), outcome: Err(format!("invalid JSON {EVIL}")) }
                .render()),
        ),
        (
            "segments",
            ok(SegmentsPage {
                layout: layout(Section::Segments),
                segments: vec![SegmentRow {
                    key: "beta".into(),
                    description: EVIL.into(),
                    conditions: 1,
                    included: 2,
                    excluded: 0,
                    used_by: vec!["new-checkout".into()],
                }],
            }
            .render()),
        ),
        (
            "segment",
            ok(SegmentPage {
                layout: layout(Section::Segments),
                is_new: true,
                draft: SegmentDraft {
                    key: "beta".into(),
                    included: vec!["u1".into()],
                    conditions: vec![ConditionDraft {
                        attribute: "plan".into(),
                        op: "in".into(),
                        values: vec!["pro".into()],
                        ..ConditionDraft::default()
                    }],
                    ..SegmentDraft::default()
                },
                segments: vec!["staff".into()],
                errors: vec![FieldError::new("conditions[0].attribute", "required")],
            }
            .render()),
        ),
        (
            "environments",
            ok(EnvironmentsPage {
                layout: layout(Section::Environments),
                environments: vec![EnvironmentRow {
                    key: "production".into(),
                    name: "Production".into(),
                    version: 12,
                    production: true,
                }],
                keys: vec![SdkKeyRow {
                    id: "k1".into(),
                    name: EVIL.into(),
                    environment: "production".into(),
                    prefix: "fy_sdk_ab".into(),
                    created: "today".into(),
                    last_used: None,
                    revoked: false,
                }],
                created_key: secret.clone(),
                new_environment: NewEnvironmentForm::default(),
                new_key: NewSdkKeyForm::default(),
                errors: vec![],
            }
            .render()),
        ),
        (
            "tokens",
            ok(TokensPage {
                layout: layout(Section::Tokens),
                tokens: vec![TokenRow {
                    id: "t1".into(),
                    name: EVIL.into(),
                    role: Role::Editor,
                    prefix: "fy_adm_12".into(),
                    created: "today".into(),
                    last_used: Some("now".into()),
                    revoked: false,
                }],
                created: secret,
                form: NewTokenForm::default(),
                errors: vec![FieldError::new("name", "required")],
            }
            .render()),
        ),
        (
            "users",
            ok(UsersPage {
                layout: layout(Section::Users),
                users: vec![
                    UserRow {
                        username: "ada@example.com".into(),
                        role: Role::Admin,
                        disabled: false,
                        is_self: true,
                        created: "today".into(),
                    },
                    UserRow {
                        username: EVIL.into(),
                        role: Role::Viewer,
                        disabled: true,
                        is_self: false,
                        created: "today".into(),
                    },
                ],
                form: NewUserForm::default(),
                errors: vec![],
            }
            .render()),
        ),
        (
            "audit",
            ok(AuditPage {
                layout: layout(Section::Audit),
                filter: AuditFilter::default(),
                entries: vec![AuditEntry {
                    id: "a9".into(),
                    at: "2025-05-01 10:00".into(),
                    actor: "ada@example.com".into(),
                    action: "flag.config.update".into(),
                    target: "new-checkout / production".into(),
                    before: "{\n  \"enabled\": false\n}".into(),
                    after: format!("{{\n  \"enabled\": true,\n  \"note\": \"{EVIL}\"\n}}"),
                    rollback: Some(RollbackTarget {
                        flag: "new-checkout".into(),
                        environment: "production".into(),
                        revision: 6,
                    }),
                }],
                next_before: Some("a9".into()),
            }
            .render()),
        ),
        (
            "experiments",
            ok(ExperimentsPage {
                layout: layout(Section::Experiments),
                experiments: vec![ExperimentRow {
                    key: "checkout-test".into(),
                    name: EVIL.into(),
                    flag: "new-checkout".into(),
                    environment: "production".into(),
                    state: "running".into(),
                    primary_metric: "conversion".into(),
                    started: None,
                }],
            }
            .render()),
        ),
        (
            "experiment_new",
            ok(NewExperimentPage {
                layout: layout(Section::Experiments),
                form: NewExperimentForm {
                    key: EVIL.into(),
                    secondary_metrics: vec!["revenue".into()],
                    ..NewExperimentForm::default()
                },
                errors: vec![FieldError::new("key", "invalid key")],
                flags: vec!["new-checkout".into()],
                environments: vec!["production".into()],
                rules: vec![RuleChoice {
                    id: "exp".into(),
                    label: format!("Rule 1 “{EVIL}”: on 50 %, off 50 %"),
                    usable: true,
                    selected: true,
                }],
                variants: vec!["on".into(), EVIL.into()],
                metrics: ["conversion", "revenue"]
                    .map(|k| MetricChoice {
                        key: k.into(),
                        label: format!("{k} (count of “{EVIL}”)"),
                        guardrail: false,
                        kind: "count".into(),
                    })
                    .to_vec(),
                traffic_note: format!("From experiment {EVIL}"),
                estimate: Estimate::Missing(format!("Enter {EVIL}")),
            }
            .render()),
        ),
        (
            "account",
            ok(AccountPage { layout: layout(Section::Users), errors: vec![FieldError::new("current", EVIL)] }.render()),
        ),
        (
            "metrics",
            ok(MetricsPage {
                layout: layout(Section::Metrics),
                metrics: vec![MetricRow {
                    key: "conversion".into(),
                    name: EVIL.into(),
                    event: "buy".into(),
                    kind: "conversion".into(),
                    good_direction: "increase".into(),
                    guardrail: true,
                    used_by: vec!["checkout-test".into()],
                }],
            }
            .render()),
        ),
        (
            "metric",
            ok(MetricPage {
                layout: layout(Section::Metrics),
                is_new: false,
                form: MetricForm { key: "conversion".into(), description: EVIL.into(), ..MetricForm::default() },
                errors: vec![FieldError::new("event", EVIL)],
                used_by: Vec::new(),
            }
            .render()),
        ),
        ("experiment", ok(experiment_page().render())),
    ]
}
