//! Flagyard's web UI, presentation layer only.
//!
//! * **View models**: plain structs with owned data, one module per page
//!   family. The server's handlers fill them and return them directly
//!   (each derives [`askama::Template`] and [`askama_web::WebTemplate`]), or
//!   call `render()`.
//! * **Fragments** for htmx swaps: [`FlagsTable`], [`FlagRowFragment`],
//!   [`RulesEditor`], [`TestContextResult`].
//! * **Forms**: every state-changing form is a plain `<form method="post">`
//!   with a hidden `csrf` field (works without JavaScript), enhanced by the
//!   vendored htmx. Field names and paths are listed in `web/README.md`;
//!   [`ConfigDraft`] and [`SegmentDraft`] parse the nested rule fields
//!   back into the rules JSON of `docs/rules.md`.
//! * **Assets** compiled in: [`asset`] (with ETags) and [`asset_href`].
//! * **Charts**: [`forest_plot`], an SVG drawn on the server.
//!
//! Everything printed is HTML-escaped (askama's default) except the chart
//! SVG, which escapes its own text, and nested fragments.

mod assets;
mod audit;
mod charts;
mod csrf_form;
mod diff;
mod environments;
mod errors;
mod experiment;
mod experiments;
mod flag_detail;
mod flags;
mod form_tree;
mod format;
mod layout;
mod login;
mod metrics;
mod onboarding;
mod operators;
mod ramp;
mod releases;
mod rules_draft;
mod rules_editor;
mod rules_form;
mod secret;
mod segments;
mod test_context;
mod tokens;
mod trend_chart;
mod users;
mod verdict;

/// The trait giving every page `render()`; re-exported so callers need no askama import.
pub use askama::{Error as RenderError, Template};

pub use assets::{ASSET_PREFIX, Asset, asset, assets, href as asset_href};
pub use audit::{AuditEntry, AuditFilter, AuditPage, RollbackTarget};
pub use charts::{ForestRow, MIN_WIDTH as FOREST_MIN_WIDTH, forest_plot};
pub use csrf_form::CsrfForm;
pub use diff::{DiffKind, DiffLine, line_diff};
pub use environments::{EnvironmentRow, EnvironmentsPage, NewEnvironmentForm, NewSdkKeyForm, SdkKeyRow};
pub use errors::{ConfirmPage, ErrorPage, FieldError, field_id, plain_quotes};
pub use experiment::{
    AllocationRow, Correction, ExperimentPage, MetricResult, Progress, ResultRowView, SrmCheck, VariantResult,
};
pub use experiments::{
    Estimate, ExperimentRow, ExperimentsPage, MetricChoice, NewExperimentForm, NewExperimentPage, RuleChoice, thousands,
};
pub use flag_detail::{CopyConfigForm, EnvTab, FlagExperimentLink, FlagPage, VariantView};
pub use flags::{
    EnvColumn, EnvState, FlagRow, FlagRowFragment, FlagsFilter, FlagsPage, FlagsTable, NewFlagForm, NewFlagView,
    ToggleForm,
};
pub use form_tree::{FormLimitError, MAX_FORM_DEPTH, MAX_FORM_FIELDS, MAX_NAME_BYTES, check_form_limits};
pub use layout::{CurrentUser, Flash, FlashKind, Layout, NavLink, Role, Section};
pub use login::{LoginForm, LoginPage};
pub use metrics::{METRIC_KINDS, MetricForm, MetricPage, MetricRow, MetricsPage};
pub use onboarding::{Onboarding, Snippet};
pub use operators::{InputKind, OPERATOR_GROUPS, OperatorGroup, OperatorInfo, operator, operators};
pub use ramp::{
    AdvanceRule, AutomaticAction, DEFAULT_STEPS, GUARD_SLOTS, GuardMetricView, GuardPointView, GuardSlot, GuardView,
    RampCard, RampPanel, RampableRule, StartRampForm, StepView, guard_chart,
};
pub use releases::{
    ChangePreviewView, ChangeRow, EnvironmentPreviewView, NewReleaseForm, ReleaseChangeForm, ReleasePage, ReleaseRow,
    ReleasesPage, ScheduleForm,
};
pub use rules_draft::{
    ConditionDraft, ConfigDraft, PrerequisiteDraft, RuleDraft, ServeDraft, SplitDraft, ValueType, WeightDraft,
};
pub use rules_editor::{ConditionView, PrerequisiteView, RuleView, RulesEditor, SplitRowView};
pub use rules_form::EditorAction;
pub use secret::CreatedSecret;
pub use segments::{SegmentDraft, SegmentPage, SegmentRow, SegmentsPage};
pub use test_context::{Evaluation, TestContextForm, TestContextPanel, TestContextResult};
pub use tokens::{NewTokenForm, TokenRow, TokensPage};
pub use trend_chart::{TrendPoint, TrendSeries, effect_over_time};
pub use users::{AccountPage, NewUserForm, UserDisableForm, UserRoleForm, UserRow, UsersPage};
pub use verdict::{Analysis, GoodDirection, Interval, Verdict};
