//! The route table of `/api/v1`: one list that builds both the axum router
//! and the OpenAPI document, so the two cannot drift apart.

use axum::Router;
use utoipa::openapi::path::Parameter;
use utoipa::openapi::schema::{ArrayBuilder, Schema};
use utoipa::openapi::{Ref, RefOr};

use super::api::*;
use super::auth::RequiredRole;
use super::experiment_api::*;
use super::ramp_api::*;
use super::release_api::*;
use super::user_api::*;
use crate::auth::Role;
use crate::service::{
    AuditView, ConfigView, ConfigWrite, EnvironmentInput, EnvironmentView, EventCountsView, ExperimentInput,
    ExperimentView, FlagInput, FlagPage, FlagPatch, FlagQueryParams, FlagView, HistoryView, MetricInput, MetricView,
    RampAction, RampInput, RampView, ReleaseInput, ReleasePreview, ReleaseView, ResultsView, ScheduleInput,
    ScheduledChangeInput, SdkKeyInput, SdkKeyView, SegmentInput, SegmentView, TokenInput, TokenView, UserInput,
    UserPatch, UserView,
};
use crate::state::AppState;
use crate::store::Backend;

/// Component schemas collected while describing endpoints.
pub type Components = Vec<(String, RefOr<Schema>)>;
type SchemaFn = fn(&mut Components) -> RefOr<Schema>;

/// One endpoint, as documented.
pub struct Endpoint {
    /// `get`, `post`, ...
    pub method: &'static str,
    /// Relative to `/api/v1`, with `{param}` placeholders.
    pub path: &'static str,
    /// The least role that may call it.
    pub role: Role,
    pub summary: &'static str,
    pub query: Option<fn() -> Vec<Parameter>>,
    pub body: Option<SchemaFn>,
    /// The success status.
    pub status: u16,
    pub response: Option<SchemaFn>,
}

/// A reference to `T`'s component schema, registering it (and what it uses).
pub fn schema_of<T: utoipa::ToSchema>(components: &mut Components) -> RefOr<Schema> {
    T::schemas(components);
    components.push((T::name().into_owned(), T::schema()));
    Ref::from_schema_name(T::name()).into()
}

/// An array of `T`.
pub fn list_of<T: utoipa::ToSchema>(components: &mut Components) -> RefOr<Schema> {
    ArrayBuilder::new().items(schema_of::<T>(components)).build().into()
}

macro_rules! endpoints {
    ($( $method:ident $path:literal => $handler:ident, $role:ident, $summary:literal,
        query: $query:tt, body: $body:tt, $status:literal: $resp:tt; )*) => {
        /// The `/api/v1` routes (at their full paths).
        pub fn router<B: Backend>() -> Router<AppState<B>> {
            // Each route carries its least role, checked when the caller is
            // authenticated: before the body is read or parsed.
            Router::new()$(.route(
                concat!("/api/v1", $path),
                axum::routing::$method($handler::<B>).layer(axum::Extension(RequiredRole(Role::$role))),
            ))*
            // Serialized flag lists by query and catalog version (one cache per server).
            .layer(axum::Extension(std::sync::Arc::new(super::cache::AnswerCache::default())))
        }

        /// Every `/api/v1` endpoint, in table order.
        pub fn endpoints() -> Vec<Endpoint> {
            vec![$(Endpoint {
                method: stringify!($method),
                path: $path,
                role: Role::$role,
                summary: $summary,
                query: endpoints!(@query $query),
                body: endpoints!(@schema $body),
                status: $status,
                response: endpoints!(@schema $resp),
            }),*]
        }
    };
    (@query -) => { None };
    (@query ($t:ty)) => {
        Some(|| <$t as utoipa::IntoParams>::into_params(|| Some(utoipa::openapi::path::ParameterIn::Query)))
    };
    (@schema -) => { None };
    (@schema [$t:ty]) => { Some(list_of::<$t> as SchemaFn) };
    (@schema ($t:ty)) => { Some(schema_of::<$t> as SchemaFn) };
}

endpoints! {
    get "/environments" => list_environments, Viewer, "List environments with their versions",
        query: -, body: -, 200: [EnvironmentView];
    post "/environments" => create_environment, Admin, "Create an environment (every flag starts off in it)",
        query: -, body: (EnvironmentInput), 201: (EnvironmentView);
    get "/environments/{env}/event-counts" => event_counts, Viewer, "Events accepted by ingest in an environment, per kind",
        query: -, body: -, 200: (EventCountsView);
    post "/environments/{env}/sdk-keys" => create_sdk_key, Admin, "Create an SDK key for an environment (secret shown once)",
        query: -, body: (SdkKeyInput), 201: (SdkKeyView);
    get "/flags" => list_flags, Viewer, "List flags (search, tag, archived, paging)",
        query: (FlagQueryParams), body: -, 200: (FlagPage);
    post "/flags" => create_flag, Editor, "Create a flag, off in every environment",
        query: -, body: (FlagInput), 201: (FlagView);
    get "/flags/{key}" => get_flag, Viewer, "A flag with its configuration in every environment",
        query: -, body: -, 200: (FlagView);
    patch "/flags/{key}" => update_flag, Editor, "Change a flag's definition (name, tags, variants, archived)",
        query: -, body: (FlagPatch), 200: (FlagView);
    delete "/flags/{key}" => delete_flag, Editor, "Delete a flag everywhere (409 while another flag depends on it)",
        query: -, body: -, 204: -;
    post "/flags/{key}/copy" => copy_config, Editor, "Copy a flag's configuration from one environment to another",
        query: -, body: (CopyBody), 200: (ConfigView);
    get "/flags/{key}/environments/{env}" => get_config, Viewer, "A flag's configuration in one environment (ETag: revision)",
        query: -, body: -, 200: (ConfigView);
    put "/flags/{key}/environments/{env}" => put_config, Editor, "Replace a flag's configuration in one environment",
        query: -, body: (ConfigWrite), 200: (ConfigView);
    patch "/flags/{key}/environments/{env}" => patch_config, Editor, "Change some fields of a configuration (e.g. the kill switch)",
        query: -, body: (ConfigWrite), 200: (ConfigView);
    get "/flags/{key}/environments/{env}/history" => config_history, Viewer, "Recorded revisions of a configuration, newest first",
        query: (HistoryParams), body: -, 200: [ConfigView];
    post "/flags/{key}/environments/{env}/rollback" => rollback_config, Editor, "Restore a recorded revision as a new revision",
        query: -, body: (RollbackBody), 200: (ConfigView);
    post "/flags/{key}/environments/{env}/schedule" => schedule_change, Editor, "Schedule one configuration change (a release of one change)",
        query: -, body: (ScheduledChangeInput), 201: (ReleaseView);
    get "/segments" => list_segments, Viewer, "List segments",
        query: -, body: -, 200: [SegmentView];
    post "/segments" => create_segment, Editor, "Create a segment",
        query: -, body: (SegmentInput), 201: (SegmentView);
    get "/segments/{key}" => get_segment, Viewer, "A segment",
        query: -, body: -, 200: (SegmentView);
    put "/segments/{key}" => update_segment, Editor, "Replace a segment",
        query: -, body: (SegmentInput), 200: (SegmentView);
    delete "/segments/{key}" => delete_segment, Editor, "Delete a segment (409 while used)",
        query: -, body: -, 204: -;
    get "/metrics" => list_metrics, Viewer, "List metric definitions",
        query: -, body: -, 200: [MetricView];
    post "/metrics" => create_metric, Editor, "Create a metric (what experiments measure, from one track event)",
        query: -, body: (MetricInput), 201: (MetricView);
    get "/metrics/{key}" => get_metric, Viewer, "A metric",
        query: -, body: -, 200: (MetricView);
    put "/metrics/{key}" => update_metric, Editor, "Replace a metric",
        query: -, body: (MetricInput), 200: (MetricView);
    delete "/metrics/{key}" => delete_metric, Editor, "Delete a metric (409 while an experiment uses it)",
        query: -, body: -, 204: -;
    get "/experiments" => list_experiments, Viewer, "List experiments",
        query: -, body: -, 200: [ExperimentView];
    post "/experiments" => create_experiment, Editor, "Create a draft experiment on a flag's split rule in one environment",
        query: -, body: (ExperimentInput), 201: (ExperimentView);
    get "/experiments/{key}" => get_experiment, Viewer, "An experiment",
        query: -, body: -, 200: (ExperimentView);
    put "/experiments/{key}" => update_experiment, Editor, "Replace an experiment (once started, only name and hypothesis)",
        query: -, body: (ExperimentInput), 200: (ExperimentView);
    delete "/experiments/{key}" => delete_experiment, Editor, "Delete a draft or stopped experiment",
        query: -, body: -, 204: -;
    post "/experiments/{key}/start" => start_experiment, Editor, "Start a draft experiment (snapshots the split's weights)",
        query: -, body: -, 200: (ExperimentView);
    post "/experiments/{key}/stop" => stop_experiment, Editor, "Stop a running experiment",
        query: -, body: -, 200: (ExperimentView);
    get "/experiments/{key}/results" => experiment_results, Viewer, "Results of a started experiment: JSON, or CSV with ?format=csv",
        query: (ResultsParams), body: -, 200: (ResultsView);
    get "/experiments/{key}/history" => experiment_history, Viewer, "Results over time: each day's figures and verdicts, from the daily snapshots",
        query: -, body: -, 200: (HistoryView);
    get "/releases" => list_releases, Viewer, "List releases, newest first (optionally in one state)",
        query: (ReleaseParams), body: -, 200: [ReleaseView];
    post "/releases" => create_release, Editor, "Create a draft release: changes to many flags and environments",
        query: -, body: (ReleaseInput), 201: (ReleaseView);
    get "/releases/{id}" => get_release, Viewer, "A release",
        query: -, body: -, 200: (ReleaseView);
    put "/releases/{id}" => update_release, Editor, "Replace a draft release (a failed one becomes a draft again)",
        query: -, body: (ReleaseInput), 200: (ReleaseView);
    delete "/releases/{id}" => delete_release, Editor, "Delete a release that was never applied",
        query: -, body: -, 204: -;
    get "/releases/{id}/preview" => preview_release, Viewer, "What applying a release now would do: diffs, problems, affected flags",
        query: -, body: -, 200: (ReleasePreview);
    post "/releases/{id}/apply" => apply_release, Editor, "Apply a release now: one version per environment, all or nothing",
        query: -, body: -, 200: (ReleaseView);
    post "/releases/{id}/revert" => revert_release, Editor, "Revert an applied release by applying its inverse as a new release",
        query: -, body: -, 201: (ReleaseView);
    put "/releases/{id}/schedule" => schedule_release, Editor, "Schedule (or reschedule) a release for an instant",
        query: -, body: (ScheduleInput), 200: (ReleaseView);
    delete "/releases/{id}/schedule" => unschedule_release, Editor, "Cancel a release's schedule (it is a draft again)",
        query: -, body: -, 200: (ReleaseView);
    get "/ramps" => list_ramps, Viewer, "List ramps (timed and guarded rollout plans), newest first",
        query: (RampParams), body: -, 200: [RampView];
    post "/ramps" => create_ramp, Editor, "Start a ramp on a split rule: steps of coverage or canary weight, optional guardrails",
        query: -, body: (RampInput), 201: (RampView);
    get "/ramps/{id}" => get_ramp, Viewer, "A ramp, with its guardrails evaluated now",
        query: -, body: -, 200: (RampView);
    post "/ramps/{id}/pause" => pause_ramp, Editor, "Pause a running ramp (optional body: reason)",
        query: -, body: (RampAction), 200: (RampView);
    post "/ramps/{id}/resume" => resume_ramp, Editor, "Resume a paused ramp from the rule as it is now",
        query: -, body: (RampAction), 200: (RampView);
    post "/ramps/{id}/skip" => skip_ramp, Editor, "Skip ahead to a later step now (body: step)",
        query: -, body: (RampAction), 200: (RampView);
    post "/ramps/{id}/abort" => abort_ramp, Editor, "Abort a ramp: the rule back as before it (to: before) or the canary at 0 % (to: zero)",
        query: -, body: (RampAction), 200: (RampView);
    get "/tokens" => list_tokens, Admin, "List admin tokens (never their secrets)",
        query: -, body: -, 200: [TokenView];
    post "/tokens" => create_token, Admin, "Create an admin token (secret shown once)",
        query: -, body: (TokenInput), 201: (TokenView);
    delete "/tokens/{id}" => revoke_token, Admin, "Revoke an admin token (not the last admin one)",
        query: -, body: -, 204: -;
    get "/sdk-keys" => list_sdk_keys, Admin, "List SDK keys (never their secrets)",
        query: (SdkKeyParams), body: -, 200: [SdkKeyView];
    delete "/sdk-keys/{id}" => revoke_sdk_key, Admin, "Revoke an SDK key",
        query: -, body: -, 204: -;
    get "/users" => list_users, Admin, "List web UI users (never their password hashes)",
        query: -, body: -, 200: [UserView];
    post "/users" => create_user, Admin, "Create a web UI user (password: at least 10 characters)",
        query: -, body: (UserInput), 201: (UserView);
    patch "/users/{username}" => update_user, Admin, "Change a user's role, disabled flag or password (not the last active admin's role or flag)",
        query: -, body: (UserPatch), 200: (UserView);
    delete "/users/{username}" => delete_user, Admin, "Delete a web UI user and its sessions (not the last active admin)",
        query: -, body: -, 204: -;
    get "/audit" => audit, Viewer, "The audit log, newest first",
        query: (AuditParams), body: -, 200: [AuditView];
}
