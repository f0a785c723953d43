//! The new-experiment form: flag → environment → the split rule (by its
//! name and position) → control variant (from that split) → metrics (from
//! lists), with a sample-size estimate as it is filled in. `POST
//! /experiments/new` re-renders it with the choices the earlier answers
//! allow (htmx swaps the form, or just the estimate; without JavaScript the
//! "Update" button posts the same); `POST /experiments` creates.

use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use flagyard_eval::{FlagConfig, Serve, Split};
use flagyard_stats::{Baseline, DEFAULT_POWER, sample_size};
use flagyard_web::{
    Estimate, FieldError, FlashKind, MetricChoice, NewExperimentForm, NewExperimentPage, RuleChoice, Section, thousands,
};

use super::answer::{done, frame, page, with_status};
use super::catalog_cache::CatalogCache;
use super::error::{UiError, form_errors};
use super::ramp_panel::percent;
use super::request::{Pairs, Posted, Signed, authorize, field, write_value};
use crate::auth::Role;
use crate::http::UiUser;
use crate::service::{self, ExperimentInput};
use crate::state::AppState;
use crate::store::{
    Backend, ConfigQueries, EnvironmentQueries, ExperimentQueries, FlagQueries, IngestQueries, MetricQueries,
    MetricRecord,
};

/// "Rule 2 “canary”: on 50 %, off 50 % (of 20 % of units)".
fn rule_label(index: usize, id: Option<&str>, serve: &Serve) -> String {
    let name = match id {
        Some(id) => format!("Rule {} “{id}”", index + 1),
        None => format!("Rule {}", index + 1),
    };
    match serve {
        Serve::Variant(v) => format!("{name}: serves {v}"),
        Serve::Split(split) => {
            let arms: Vec<String> =
                split.variants.iter().map(|w| format!("{} {}", w.variant, percent(w.weight))).collect();
            let coverage = if split.coverage < 10_000 {
                format!(" (of {} of units)", percent(split.coverage))
            } else {
                String::new()
            };
            format!("{name}: {}{coverage}", arms.join(", "))
        }
    }
}

/// The rule choices of `config`, the chosen one's split, and the chosen id.
fn rules_of(config: Option<&FlagConfig>, wanted: &str) -> (Vec<RuleChoice>, Option<Split>, String) {
    let Some(config) = config else { return (Vec::new(), None, String::new()) };
    let usable = |serve: &Serve, id: Option<&str>| matches!(serve, Serve::Split(_)) && id.is_some();
    let chosen = config
        .rules
        .iter()
        .find(|r| r.id.as_deref() == Some(wanted) && usable(&r.serve, r.id.as_deref()))
        .or_else(|| config.rules.iter().find(|r| usable(&r.serve, r.id.as_deref())));
    let chosen_id = chosen.and_then(|r| r.id.clone()).unwrap_or_default();
    let split = chosen.and_then(|r| match &r.serve {
        Serve::Split(s) => Some(s.clone()),
        Serve::Variant(_) => None,
    });
    let rules = config
        .rules
        .iter()
        .enumerate()
        .map(|(i, r)| RuleChoice {
            id: r.id.clone().unwrap_or_default(),
            label: rule_label(i, r.id.as_deref(), &r.serve),
            usable: usable(&r.serve, r.id.as_deref()),
            selected: !chosen_id.is_empty() && r.id.as_deref() == Some(chosen_id.as_str()),
        })
        .collect();
    (rules, split, chosen_id)
}

fn metric_choice(m: &MetricRecord) -> MetricChoice {
    let better = if m.good_direction == "decrease" { ", lower is better" } else { "" };
    MetricChoice {
        key: m.key.clone(),
        label: format!("{} ({} of “{}”{better})", m.key, m.kind, m.event),
        guardrail: m.guardrail,
        kind: m.kind.clone(),
    }
}

/// A typed number (`12.5`, `12,5` is not one), or `None` when empty.
fn number(text: &str) -> Option<Result<f64, ()>> {
    let t = text.trim().trim_end_matches('%').trim();
    (!t.is_empty()).then(|| t.parse::<f64>().ok().filter(|v| v.is_finite()).ok_or(()))
}

/// The sample-size estimate for the form as typed.
fn estimate(form: &NewExperimentForm, conversion: bool, split: Option<&Split>) -> Estimate {
    let missing = |what: &str| Estimate::Missing(what.to_owned());
    let alpha = match number(&form.alpha) {
        None => flagyard_stats::DEFAULT_ALPHA,
        Some(Ok(a)) if a > 0.0 && a < 1.0 => a,
        Some(_) => return missing("α must be a number between 0 and 1, such as 0.05."),
    };
    let mde = match number(&form.minimum_detectable_effect) {
        None => return missing("Enter the minimum detectable effect to see how many units the experiment needs."),
        Some(Ok(m)) if m != 0.0 && m > -100.0 => m,
        Some(_) => return missing("The minimum detectable effect is a percentage such as 2 (not 0)."),
    };
    let baseline = match (number(&form.baseline), conversion) {
        (None, true) => {
            return missing("Enter the baseline conversion rate to see how many units the experiment needs.");
        }
        (None, false) => {
            return missing("Enter the baseline mean and standard deviation to see how many units it needs.");
        }
        (Some(Ok(rate)), true) if rate > 0.0 && rate < 100.0 => Baseline::Conversion { rate: rate / 100.0 },
        (Some(_), true) => {
            return missing("The baseline conversion rate is a percentage between 0 and 100, such as 5.");
        }
        (Some(Ok(mean)), false) if mean != 0.0 => match number(&form.baseline_sd) {
            Some(Ok(sd)) if sd >= 0.0 => Baseline::Continuous { mean, variance: sd * sd },
            Some(_) => return missing("The standard deviation is a number of 0 or more."),
            None => return missing("Enter the standard deviation per unit to see how many units it needs."),
        },
        (Some(_), false) => return missing("The baseline mean is a number other than 0."),
    };
    let size = match sample_size(baseline, mde / 100.0, alpha, DEFAULT_POWER) {
        Ok(size) => size,
        Err(e) => return Estimate::Missing(format!("No estimate for these figures: {e}.")),
    };
    let variants = split.map_or(2, |s| s.variants.len().max(2));
    // The smallest arm's share of the units reaching the rule.
    let share = split
        .and_then(|s| {
            let smallest = s.variants.iter().map(|w| w.weight).min()?;
            Some(f64::from(smallest) / 10_000.0 * f64::from(s.coverage.min(10_000)) / 10_000.0)
        })
        .unwrap_or(0.5);
    let days = match number(&form.daily_units) {
        Some(Ok(daily)) if daily > 0.0 && share > 0.0 => Some(size.units_per_variant as f64 / (daily * share)),
        _ => None,
    };
    Estimate::Ready {
        per_variant: size.units_per_variant,
        variants,
        mde_percent: mde,
        alpha,
        days,
        smallest_share: share * 100.0,
    }
}

/// The page for `form`, its choices resolved against what exists now.
pub(super) async fn new_page<B: Backend>(
    s: &AppState<B>,
    kept: &CatalogCache,
    user: &UiUser,
    headers: &HeaderMap,
    mut form: NewExperimentForm,
    errors: Vec<FieldError>,
) -> Result<NewExperimentPage, UiError> {
    // The flags list's catalog (kept between requests): the keys, without
    // reading 1,000 flags again.
    let catalog = super::catalog_cache::load(s, kept).await?;
    let flags: Vec<String> = catalog.rows.iter().filter(|r| !r.archived).map(|r| r.key.clone()).collect();
    drop(catalog);
    let mut tx = s.store.read().await?;
    let envs = tx.environments().await?;
    let environments: Vec<String> = envs.iter().map(|e| e.key.clone()).collect();
    if !environments.contains(&form.environment) {
        // Experiments measure real traffic: production unless told otherwise.
        form.environment =
            environments.iter().find(|e| *e == "production").or(environments.first()).cloned().unwrap_or_default();
    }
    let env = envs.iter().find(|e| e.key == form.environment);
    let parse = |c: &crate::store::ConfigRecord| serde_json::from_str::<FlagConfig>(&c.config).ok();
    let chosen = if flags.contains(&form.flag) { tx.flag(&form.flag).await? } else { None };
    let config: Option<FlagConfig> = match (env, &chosen) {
        (None, _) => None,
        // The chosen flag: its configuration only.
        (Some(env), Some(flag)) => tx.config(flag.id, env.id).await?.as_ref().and_then(parse),
        // None chosen yet: the first flag an experiment can run on here (one
        // statement; only configurations with a split are parsed), else the first.
        (Some(env), None) => {
            let candidates = tx.split_configs(env.id).await?;
            let runnable = candidates.iter().find_map(|(key, json)| {
                let parsed = serde_json::from_str::<FlagConfig>(json).ok()?;
                (!rules_of(Some(&parsed), "").2.is_empty()).then(|| (key.clone(), parsed))
            });
            match runnable {
                Some((key, parsed)) => {
                    form.flag = key;
                    Some(parsed)
                }
                None => {
                    form.flag = flags.first().cloned().unwrap_or_default();
                    match tx.flag(&form.flag).await? {
                        Some(flag) => tx.config(flag.id, env.id).await?.as_ref().and_then(parse),
                        None => None,
                    }
                }
            }
        }
    };
    let (rules, split, rule_id) = rules_of(config.as_ref(), &form.rule_id);
    form.rule_id = rule_id;
    let variants: Vec<String> = split.iter().flat_map(|s| s.variants.iter().map(|w| w.variant.clone())).collect();
    if !variants.contains(&form.control_variant) {
        let off = config.as_ref().map(|c| c.off_variant.clone()).unwrap_or_default();
        form.control_variant =
            if variants.contains(&off) { off } else { variants.first().cloned().unwrap_or_default() };
    }
    let metric_records = tx.metrics().await?;
    let metrics: Vec<MetricChoice> = metric_records.iter().map(metric_choice).collect();
    if !metrics.iter().any(|m| m.key == form.primary_metric) {
        let first = metrics.iter().find(|m| !m.guardrail).or(metrics.first());
        form.primary_metric = first.map(|m| m.key.clone()).unwrap_or_default();
    }
    if !form.posted {
        form.guardrail_metrics =
            metrics.iter().filter(|m| m.guardrail && m.key != form.primary_metric).map(|m| m.key.clone()).collect();
    }
    // The traffic of the latest experiment on this flag and environment.
    let mut traffic_note = String::new();
    if form.daily_units.is_empty()
        && let Some(env) = env
        && let Some(flag) = tx.flag(&form.flag).await?
    {
        let mut past = tx.experiments_of_flag(flag.id).await?;
        past.retain(|x| x.environment_id == env.id && x.started_at.is_some());
        past.sort_by_key(|x| std::cmp::Reverse(x.started_at));
        if let Some(x) = past.first() {
            let units: i64 = tx.variant_units(x.id).await?.iter().map(|v| v.units).sum();
            let started = x.started_at.unwrap_or_default();
            let ended = x.stopped_at.unwrap_or_else(service::now_ms);
            // At least an hour, so a just-started experiment does not extrapolate from seconds.
            let days = ((ended - started) as f64 / 86_400_000.0).max(1.0 / 24.0);
            if units > 0 {
                form.daily_units = ((units as f64 / days).round() as u64).to_string();
                let hours = (days * 24.0).round().max(1.0);
                let span = if hours <= 1.0 {
                    "an hour".to_owned()
                } else if days < 1.0 {
                    format!("{hours:.0} hours")
                } else {
                    format!("{days:.1} days")
                };
                traffic_note = format!(
                    "From experiment {}: {} units in {span}. Change it if traffic has changed.",
                    x.key,
                    thousands(units.unsigned_abs()),
                );
            }
        }
    }
    drop(tx);
    let conversion = metrics.iter().find(|m| m.key == form.primary_metric).is_none_or(|m| m.kind == "conversion");
    let estimate = estimate(&form, conversion, split.as_ref());
    let layout = frame(user, headers, "New experiment", Section::Experiments);
    Ok(NewExperimentPage {
        layout,
        form,
        errors,
        flags,
        environments,
        rules,
        variants,
        metrics,
        traffic_note,
        estimate,
    })
}

/// `GET /experiments/new`.
pub(super) async fn new<B: Backend>(
    State(s): State<AppState<B>>,
    Extension(kept): Extension<Arc<CatalogCache>>,
    Signed(user): Signed,
    headers: HeaderMap,
) -> Result<Response, UiError> {
    let view = new_page(&s, &kept, &user, &headers, NewExperimentForm::default(), Vec::new()).await?;
    Ok(page(&user, &view))
}

/// `POST /experiments/new`: the form again, its choices and estimate
/// following what was chosen so far (nothing is written).
pub(super) async fn refresh<B: Backend>(
    State(s): State<AppState<B>>,
    Extension(kept): Extension<Arc<CatalogCache>>,
    Signed(user): Signed,
    headers: HeaderMap,
    Posted(pairs): Posted<Pairs>,
) -> Result<Response, UiError> {
    authorize(&user, &headers, field(&pairs, "csrf"), Role::Editor)?;
    let form = NewExperimentForm::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let view = new_page(&s, &kept, &user, &headers, form, Vec::new()).await?;
    Ok(page(&user, &view))
}

/// The create form as the service's input, or the form's problems.
fn input_of(form: &NewExperimentForm) -> Result<ExperimentInput, Vec<FieldError>> {
    let mut errors = Vec::new();
    let optional = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_owned());
    let alpha = match number(&form.alpha) {
        None => None,
        Some(Ok(a)) => Some(a),
        Some(Err(())) => {
            errors.push(FieldError::new("alpha", "a number such as 0.05"));
            None
        }
    };
    let mde = match number(&form.minimum_detectable_effect) {
        None => None,
        Some(Ok(p)) => Some(p / 100.0),
        Some(Err(())) => {
            errors.push(FieldError::new("minimumDetectableEffect", "a percentage such as 2"));
            None
        }
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(ExperimentInput {
        key: Some(form.key.clone()),
        name: optional(&form.name),
        hypothesis: form.hypothesis.trim().to_owned(),
        flag: form.flag.trim().to_owned(),
        environment: form.environment.trim().to_owned(),
        rule_id: form.rule_id.clone(),
        control_variant: form.control_variant.clone(),
        primary_metric: form.primary_metric.trim().to_owned(),
        secondary_metrics: form.secondary_metrics.clone(),
        guardrail_metrics: form.guardrail_metrics.clone(),
        analysis: optional(&form.analysis),
        alpha,
        minimum_detectable_effect: mde,
        base_revision: None,
    })
}

/// `POST /experiments`.
pub(super) async fn create<B: Backend>(
    State(s): State<AppState<B>>,
    Extension(kept): Extension<Arc<CatalogCache>>,
    Signed(user): Signed,
    headers: HeaderMap,
    Posted(pairs): Posted<Pairs>,
) -> Result<Response, UiError> {
    authorize(&user, &headers, field(&pairs, "csrf"), Role::Editor)?;
    let form = NewExperimentForm::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let created = match input_of(&form) {
        Ok(input) => {
            let actor = user.actor();
            write_value(&s, move |tx| Box::pin(async move { service::create_experiment(tx, &actor, input).await }))
                .await
                .map_err(|e| form_errors(e, ""))
        }
        Err(errors) => Err(Ok((StatusCode::UNPROCESSABLE_ENTITY, errors))),
    };
    match created {
        Ok(x) => {
            let message = format!("Experiment {} created as a draft.", x.key);
            Ok(done(&headers, &format!("/experiments/{}", x.key), FlashKind::Success, &message))
        }
        Err(problems) => {
            let (status, errors) = problems?;
            let view = new_page(&s, &kept, &user, &headers, form, errors).await?;
            Ok(with_status(status, page(&user, &view)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flagyard_eval::WeightedVariant;

    fn split(weights: &[(&str, u32)], coverage: u32) -> Split {
        let mut s: Split = serde_json::from_value(serde_json::json!({"variants": [], "coverage": coverage})).unwrap();
        s.variants = weights
            .iter()
            .map(|(v, w)| {
                serde_json::from_value::<WeightedVariant>(serde_json::json!({"variant": v, "weight": w})).unwrap()
            })
            .collect();
        s
    }

    #[test]
    fn rules_read_as_the_editor_numbers_them() {
        let s = split(&[("on", 2500), ("off", 7500)], 2000);
        assert_eq!(
            rule_label(1, Some("canary"), &Serve::Split(s)),
            "Rule 2 “canary”: on 25 %, off 75 % (of 20 % of units)"
        );
        let s = split(&[("a", 3333), ("b", 3334), ("c", 3333)], 10_000);
        assert_eq!(rule_label(0, None, &Serve::Split(s)), "Rule 1: a 33.33 %, b 33.34 %, c 33.33 %");
    }

    #[test]
    fn the_estimate_follows_the_stats_crate_and_the_smallest_arm() {
        let form = NewExperimentForm {
            baseline: "5".into(),
            minimum_detectable_effect: "10".into(),
            daily_units: "1000".into(),
            ..NewExperimentForm::default()
        };
        let s = split(&[("on", 2000), ("off", 8000)], 10_000);
        let expected = sample_size(Baseline::Conversion { rate: 0.05 }, 0.1, 0.05, DEFAULT_POWER).unwrap();
        match estimate(&form, true, Some(&s)) {
            Estimate::Ready { per_variant, days: Some(days), smallest_share, .. } => {
                assert_eq!(per_variant, expected.units_per_variant);
                assert!((smallest_share - 20.0).abs() < 1e-9);
                // The 20 % arm gets 200 units a day.
                assert!((days - expected.units_per_variant as f64 / 200.0).abs() < 1e-9);
            }
            other => panic!("{other:?}"),
        }
        let missing = NewExperimentForm { baseline: String::new(), ..form.clone() };
        assert!(
            matches!(estimate(&missing, true, Some(&s)), Estimate::Missing(m) if m.contains("baseline conversion rate"))
        );
        let bad = NewExperimentForm { baseline: "150".into(), ..form.clone() };
        assert!(matches!(estimate(&bad, true, Some(&s)), Estimate::Missing(m) if m.contains("between 0 and 100")));
        let continuous = NewExperimentForm { baseline: "20".into(), baseline_sd: "30".into(), ..form };
        let expected =
            sample_size(Baseline::Continuous { mean: 20.0, variance: 900.0 }, 0.1, 0.05, DEFAULT_POWER).unwrap();
        assert!(
            matches!(estimate(&continuous, false, None), Estimate::Ready { per_variant, .. } if per_variant == expected.units_per_variant)
        );
    }
}
