//! The ramp panel of the flag page, filled from the ramp service: the
//! newest plan on the flag and environment (with its guardrails evaluated
//! now and its history as a chart), the rules a plan can ramp, the metrics,
//! and the recent automatic actions. Its forms are `ramp_pages.rs`.

use flagyard_eval::{FlagConfig, Serve};
use flagyard_web::{
    AutomaticAction, GuardMetricView, GuardPointView, GuardView, RampCard, RampPanel, RampableRule, StartRampForm,
    StepView, guard_chart,
};

use crate::auth::Role;
use crate::http::UiUser;
use crate::service::{self, Error as DomainError, RampView};
use crate::store::{AuditQuery, IngestQueries, Queries, RampFilter};

/// Basis points as a percentage: `2500` → `25 %`, `1250` → `12.5 %`.
pub(super) fn percent(bp: u32) -> String {
    let p = f64::from(bp) / 100.0;
    if p.fract() == 0.0 { format!("{p:.0} %") } else { format!("{p} %") }
}

fn hold(ms: i64) -> String {
    match ms {
        0 => "no hold".into(),
        ms if ms % 86_400_000 == 0 => format!("{}d", ms / 86_400_000),
        ms if ms % 3_600_000 == 0 => format!("{}h", ms / 3_600_000),
        ms if ms % 60_000 == 0 => format!("{}m", ms / 60_000),
        ms => format!("{}s", ms / 1000),
    }
}

/// A step's hold and what it waits for besides: `1h`, `1h, then 1000
/// units per arm and every guardrail healthy (at most 2d)`.
fn waits(s: &service::RampStep) -> String {
    let mut out = hold(s.hold_ms);
    let mut then = Vec::new();
    if s.min_units > 0 {
        then.push(format!("{} units per arm", s.min_units));
    }
    if s.require_evidence {
        then.push("every guardrail healthy".to_owned());
    }
    if !then.is_empty() {
        out.push_str(&format!(", then {} (at most {})", then.join(" and "), hold(s.max_hold_ms)));
    }
    out
}

/// The card of plan `v`.
fn card(v: &RampView) -> RampCard {
    let steps = v
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let label = match (s.coverage, s.weight) {
                (Some(c), _) => format!("coverage {}", percent(c)),
                (_, Some(w)) => format!("weight {}", percent(w)),
                _ => String::new(),
            };
            let i = i64::try_from(i).unwrap_or(i64::MAX);
            let finished = v.state == service::RampState::Completed;
            StepView { label, hold: waits(s), done: i < v.step || finished, current: i == v.step && !finished }
        })
        .collect();
    let first = v.guardrails.first();
    let guard = v.guard.as_ref().map(|g| GuardView {
        verdict: serde_json::to_value(g.verdict).ok().and_then(|x| x.as_str().map(str::to_owned)).unwrap_or_default(),
        summary: g.summary.clone(),
        canary_units: g.units.canary,
        control_units: g.units.control,
        metrics: g
            .metrics
            .iter()
            .map(|m| GuardMetricView {
                metric: m.metric.clone(),
                good_direction: m.good_direction.clone(),
                tolerance: m.tolerance,
                lift: m.lift,
                lower: m.lower,
                upper: m.upper,
                verdict: m.verdict.to_owned(),
            })
            .collect(),
    });
    let chart = first.filter(|_| !v.history.is_empty()).map(|g| {
        let points: Vec<GuardPointView> = v
            .history
            .iter()
            .map(|p| GuardPointView { at: p.at, interval: p.intervals.first().copied().flatten() })
            .collect();
        let tolerance = if g.good_direction == "decrease" { g.tolerance } else { -g.tolerance };
        guard_chart(&g.metric, &points, tolerance, 640)
    });
    RampCard {
        id: v.id,
        state: v.state.as_str().to_owned(),
        rule_id: v.rule_id.clone(),
        canary: v.canary_variant.clone(),
        control: v.control_variant.clone(),
        steps,
        next_at: v.next_at.clone(),
        reason: v.reason.clone(),
        updated_at: v.updated_at.clone(),
        guard,
        chart,
    }
}

/// The ramp panel of `flag` in `env` (whose configuration is `config`).
pub(super) async fn panel<T: Queries + IngestQueries>(
    tx: &mut T,
    user: &UiUser,
    flag: (i64, &str),
    env: (i64, &str),
    config: &FlagConfig,
    now: i64,
) -> Result<RampPanel, DomainError> {
    let filter = RampFilter { flag_id: Some(flag.0), environment_id: Some(env.0), states: &[] };
    let latest = match tx.ramps(filter, 1).await?.first() {
        Some(r) => Some(card(&service::get_ramp(tx, r.id, now).await?)),
        None => None,
    };
    let rules = config
        .rules
        .iter()
        .filter_map(|r| match (&r.id, &r.serve) {
            (Some(id), Serve::Split(s)) => {
                Some(RampableRule { id: id.clone(), variants: s.variants.iter().map(|v| v.variant.clone()).collect() })
            }
            _ => None,
        })
        .collect();
    let metrics = tx.metrics().await?.into_iter().map(|m| m.key).collect();
    let query = AuditQuery {
        flag: Some(flag.1.to_owned()),
        environment: Some(env.1.to_owned()),
        limit: 200,
        ..AuditQuery::default()
    };
    let recent = tx
        .audit(&query)
        .await?
        .into_iter()
        .filter(|a| a.actor.starts_with("ramp:") || a.actor == "scheduler")
        .take(10)
        .map(|a| AutomaticAction { at: service::rfc3339(a.at), actor: a.actor, action: a.action })
        .collect();
    Ok(RampPanel {
        csrf: user.csrf.clone(),
        flag: flag.1.to_owned(),
        environment: env.1.to_owned(),
        can_edit: user.role >= Role::Editor,
        latest,
        rules,
        metrics,
        recent,
        form: StartRampForm::default(),
        error: None,
    })
}
