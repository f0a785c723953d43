//! Snapshot → [`Ruleset`]: validation with exact paths, and precomputation.
//!
//! Every problem is collected (not just the first) so a UI can show them
//! all; each names its path, e.g.
//! `flags.new-checkout.environments.production.rules[2].conditions[0].values`.

use rustc_hash::FxHashMap;

use crate::bucket::{BUCKETS, split_ranges};
use crate::detail::{Code, Kind, MAX_RULES};
use crate::error::{CompileError, CompileErrorKind as K, CompileErrors, json_excerpt};
use crate::graph::{GraphError, check_acyclic};
use crate::index::KeyIndex;
use crate::model::{Condition, Flag, FlagConfig, Operator, Serve, Snapshot};
use crate::murmur::PrefixHasher;
use crate::ops::{self, StrSet};
use crate::ruleset::{
    AttrRef, CFlag, CRule, CSegment, CServe, CSplit, CVariant, Cond, MAX_DEPTH, Prereq, Range, Ruleset,
};

/// Whether `key` is a valid flag, segment, variant or rule key: 1 to 128
/// ASCII letters, digits, `.`, `_` or `-`, starting with a letter or digit.
pub fn is_valid_key(key: &str) -> bool {
    let b = key.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && b[0].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
}

/// Parses snapshot JSON, naming the path of any structural problem.
pub fn parse_snapshot(json: &str) -> Result<Snapshot, CompileErrors> {
    let de = &mut serde_json::Deserializer::from_str(json);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        CompileErrors(vec![CompileError { path, kind: K::Malformed(e.into_inner().to_string()) }])
    })
}

impl Ruleset {
    /// Validates and compiles a snapshot for its `environment`.
    pub fn compile(snapshot: &Snapshot) -> Result<Ruleset, CompileErrors> {
        Compiler::new(snapshot).run()
    }

    /// Parses and compiles snapshot JSON.
    pub fn from_json(json: &str) -> Result<Ruleset, CompileErrors> {
        Ruleset::compile(&parse_snapshot(json)?)
    }
}

struct Compiler<'a> {
    snap: &'a Snapshot,
    flag_index: FxHashMap<&'a str, u32>,
    segment_index: FxHashMap<&'a str, u32>,
    errors: Vec<CompileError>,
    /// `matches` patterns seen so far: (count, bytes).
    patterns: (usize, usize),
}

/// Most `matches` patterns one snapshot may hold. With each pattern's
/// compiled size bounded too (`ops`), this bounds the cost of compiling a
/// snapshot, which every SDK and the server pay on every new version.
pub const MAX_PATTERNS: usize = 1_000;
/// Most bytes of `matches` patterns, all together, in one snapshot.
pub const MAX_PATTERN_BYTES: usize = 64 * 1024;

/// The `matches` patterns of a snapshot, without compiling anything:
/// `(count, bytes)` over its segments and its flags' rules in its
/// environment. A server checks a write against [`MAX_PATTERNS`] and
/// [`MAX_PATTERN_BYTES`] with it when it compiles only part of an environment.
pub fn pattern_totals(snap: &Snapshot) -> (usize, usize) {
    let count = |conds: &[Condition]| {
        conds.iter().filter(|c| c.op == Operator::Matches).fold((0, 0), |(n, b), c| {
            (n + c.values.len(), b + c.values.iter().filter_map(|v| v.as_str()).map(str::len).sum::<usize>())
        })
    };
    let segments = snap.segments.values().map(|s| count(&s.conditions));
    let flags = snap
        .flags
        .values()
        .filter_map(|f| f.environments.get(&snap.environment))
        .flat_map(|config| config.rules.iter().map(|r| count(&r.conditions)));
    segments.chain(flags).fold((0, 0), |(n, b), (n2, b2)| (n + n2, b + b2))
}

/// Where a condition list lives, for the rules that differ between flags and segments.
#[derive(Clone, Copy, PartialEq)]
enum Scope {
    Flag,
    Segment,
}

impl<'a> Compiler<'a> {
    fn new(snap: &'a Snapshot) -> Self {
        let flag_index = snap.flags.keys().enumerate().map(|(i, k)| (k.as_str(), i as u32)).collect();
        let segment_index = snap.segments.keys().enumerate().map(|(i, k)| (k.as_str(), i as u32)).collect();
        Compiler { snap, flag_index, segment_index, errors: Vec::new(), patterns: (0, 0) }
    }

    fn err(&mut self, path: impl Into<String>, kind: K) {
        self.errors.push(CompileError { path: path.into(), kind });
    }

    fn run(mut self) -> Result<Ruleset, CompileErrors> {
        let snap = self.snap;
        for key in snap.flags.keys() {
            if !is_valid_key(key) {
                self.err(format!("flags.{key}"), K::InvalidKey(key.clone()));
            }
        }
        for key in snap.segments.keys() {
            if !is_valid_key(key) {
                self.err(format!("segments.{key}"), K::InvalidKey(key.clone()));
            }
        }
        let segments: Vec<CSegment> = snap
            .segments
            .iter()
            .map(|(key, seg)| {
                let path = format!("segments.{key}");
                CSegment {
                    included: StrSet::new(seg.included.iter().map(|s| s.as_str().into()).collect()),
                    excluded: StrSet::new(seg.excluded.iter().map(|s| s.as_str().into()).collect()),
                    conds: self.conditions(&path, &seg.conditions, Scope::Segment),
                }
            })
            .collect();
        let flags: Vec<CFlag> = snap.flags.iter().filter_map(|(key, flag)| self.flag(key, flag)).collect();
        self.check_references();
        if !self.errors.is_empty() {
            return Err(CompileErrors(self.errors));
        }
        let index = KeyIndex::new(flags.iter().map(|f| f.key.as_ref()));
        Ok(Ruleset {
            environment: snap.environment.as_str().into(),
            version: snap.version,
            index,
            flags: flags.into(),
            segments: segments.into(),
        })
    }

    fn flag(&mut self, key: &str, flag: &'a Flag) -> Option<CFlag> {
        let env = self.snap.environment.as_str();
        let base = format!("flags.{key}");
        if flag.variants.is_empty() {
            self.err(format!("{base}.variants"), K::NoVariants);
        }
        let mut variants: Vec<CVariant> = Vec::with_capacity(flag.variants.len());
        for (i, v) in flag.variants.iter().enumerate() {
            if !is_valid_key(&v.key) {
                self.err(format!("{base}.variants[{i}].key"), K::InvalidKey(v.key.clone()));
            } else if variants.iter().any(|c| *c.key == *v.key) {
                self.err(format!("{base}.variants[{i}].key"), K::DuplicateKey(v.key.clone()));
            }
            if !flag.kind.admits(&v.value) {
                let found = json_excerpt(&v.value);
                self.err(format!("{base}.variants[{i}].value"), K::WrongValueType { expected: flag.kind, found });
            }
            variants.push(CVariant { key: v.key.as_str().into(), value: v.value.clone() });
        }
        if variants.len() > usize::from(u16::MAX) {
            self.err(format!("{base}.variants"), K::Field("a flag may have at most 65535 variants"));
            return None;
        }
        let Some(config) = flag.environments.get(env) else {
            self.err(format!("{base}.environments"), K::MissingEnvironment(env.to_owned()));
            return None;
        };
        let path = format!("{base}.environments.{env}");
        self.config(key, &path, flag, config, variants)
    }

    fn variant(&mut self, flag: &Flag, path: String, key: &str) -> u16 {
        match flag.variants.iter().position(|v| v.key == key) {
            Some(i) => i as u16,
            None => {
                self.err(path, K::UnknownVariant(key.to_owned()));
                0
            }
        }
    }

    fn config(&mut self, key: &str, path: &str, flag: &Flag, c: &FlagConfig, variants: Vec<CVariant>) -> Option<CFlag> {
        let off = self.variant(flag, format!("{path}.offVariant"), &c.off_variant);
        let default = self.variant(flag, format!("{path}.defaultVariant"), &c.default_variant);
        let prereqs = c
            .prerequisites
            .iter()
            .enumerate()
            .filter_map(|(i, p)| self.prereq(&format!("{path}.prerequisites[{i}]"), &p.flag, &p.variants, "variants"))
            .collect();
        if c.rules.len() > MAX_RULES {
            self.err(format!("{path}.rules"), K::Field("a flag may have at most 16383 rules per environment"));
            return None;
        }
        if c.prerequisites.len() > MAX_RULES {
            self.err(format!("{path}.prerequisites"), K::Field("a flag may have at most 16383 prerequisites"));
            return None;
        }
        let mut rule_ids: Vec<&str> = Vec::new();
        let mut rules = Vec::with_capacity(c.rules.len());
        for (i, rule) in c.rules.iter().enumerate() {
            let rpath = format!("{path}.rules[{i}]");
            if let Some(id) = &rule.id {
                if !is_valid_key(id) {
                    self.err(format!("{rpath}.id"), K::InvalidKey(id.clone()));
                } else if rule_ids.contains(&id.as_str()) {
                    self.err(format!("{rpath}.id"), K::DuplicateKey(id.clone()));
                }
                rule_ids.push(id);
            }
            let conds = self.conditions(&rpath, &rule.conditions, Scope::Flag);
            let serve = match &rule.serve {
                Serve::Variant(v) => CServe::Variant(self.variant(flag, format!("{rpath}.serve.variant"), v)),
                Serve::Split(s) => {
                    let spath = format!("{rpath}.serve.split");
                    let mut weights = Vec::with_capacity(s.variants.len());
                    let mut indices = Vec::with_capacity(s.variants.len());
                    for (j, wv) in s.variants.iter().enumerate() {
                        indices.push(self.variant(flag, format!("{spath}.variants[{j}].variant"), &wv.variant));
                        if wv.weight > BUCKETS {
                            self.err(format!("{spath}.variants[{j}].weight"), K::BasisPoints(wv.weight));
                        }
                        weights.push(wv.weight);
                    }
                    let sum: u64 = weights.iter().map(|w| u64::from(*w)).sum();
                    if s.variants.is_empty() {
                        self.err(format!("{spath}.variants"), K::EmptySplit);
                    } else if sum != u64::from(BUCKETS) {
                        self.err(format!("{spath}.variants"), K::WeightSum(sum));
                    }
                    if s.coverage > BUCKETS {
                        self.err(format!("{spath}.coverage"), K::BasisPoints(s.coverage));
                    }
                    let salt = s.salt.as_deref().unwrap_or(key);
                    let prefix = PrefixHasher::new(format!("{salt}:").as_bytes());
                    let ranges = split_ranges(&weights, s.coverage.min(BUCKETS))
                        .zip(indices)
                        .filter(|((start, end), _)| start < end)
                        .map(|((start, end), variant)| Range { start, end, variant })
                        .collect();
                    let attr = AttrRef::new(s.bucket_by.as_deref().unwrap_or("key"));
                    CServe::Split(CSplit { attr, prefix, ranges })
                }
            };
            rules.push(CRule { id: rule.id.as_deref().map(Into::into), conds, serve });
        }
        Some(CFlag {
            key: key.into(),
            kind: flag.kind,
            variants: variants.into(),
            enabled: c.enabled,
            off,
            default,
            fixed: if c.enabled { Code::served(default, Kind::Default, 0) } else { Code::served(off, Kind::Off, 0) },
            prereqs,
            rules: rules.into(),
        })
    }

    /// A prerequisite on `flag_key` serving one of `variants` (listed under
    /// `field`: `variants` at flag level, `values` in a condition).
    fn prereq(&mut self, path: &str, flag_key: &str, variants: &[String], field: &str) -> Option<Prereq> {
        let Some(&idx) = self.flag_index.get(flag_key) else {
            self.err(format!("{path}.flag"), K::UnknownFlag(flag_key.to_owned()));
            return None;
        };
        let other = self.snap.flags.get(flag_key)?;
        if variants.is_empty() {
            self.err(
                format!("{path}.{field}"),
                K::Operands { op: "prerequisite", expected: "one or more variant keys" },
            );
        }
        let variants =
            variants.iter().enumerate().map(|(i, v)| self.variant(other, format!("{path}.{field}[{i}]"), v)).collect();
        Some(Prereq { flag: idx, key: flag_key.into(), variants })
    }

    fn conditions(&mut self, path: &str, conds: &[Condition], scope: Scope) -> Box<[Cond]> {
        conds
            .iter()
            .enumerate()
            .filter_map(|(i, c)| self.condition(&format!("{path}.conditions[{i}]"), c, scope))
            .collect()
    }

    fn condition(&mut self, path: &str, c: &Condition, scope: Scope) -> Option<Cond> {
        let name = ops::op_name(c.op);
        match c.op {
            Operator::Segment | Operator::NotSegment | Operator::Prerequisite => {
                if c.attribute.is_some() {
                    self.err(format!("{path}.attribute"), K::Field("this operator takes no attribute"));
                }
            }
            _ => {
                if c.flag.is_some() {
                    self.err(format!("{path}.flag"), K::Field("only `prerequisite` takes a flag"));
                }
            }
        }
        match c.op {
            Operator::Segment | Operator::NotSegment => {
                let mut segments = Vec::with_capacity(c.values.len());
                if c.values.is_empty() {
                    self.err(format!("{path}.values"), K::Operands { op: name, expected: "one or more segment keys" });
                }
                for (i, v) in c.values.iter().enumerate() {
                    let vpath = format!("{path}.values[{i}]");
                    match v.as_str().map(|s| (s, self.segment_index.get(s))) {
                        Some((_, Some(&idx))) => segments.push(idx),
                        Some((s, None)) => self.err(vpath, K::UnknownSegment(s.to_owned())),
                        None => self.err(vpath, K::Operands { op: name, expected: "segment keys (strings)" }),
                    }
                }
                Some(Cond::Segment { segments: segments.into(), negate: c.op == Operator::NotSegment })
            }
            Operator::Prerequisite => {
                if scope == Scope::Segment {
                    self.err(path, K::PrerequisiteInSegment);
                    return None;
                }
                let Some(flag_key) = &c.flag else {
                    self.err(format!("{path}.flag"), K::Field("`prerequisite` needs the flag it depends on"));
                    return None;
                };
                let keys: Option<Vec<String>> = c.values.iter().map(|v| v.as_str().map(str::to_owned)).collect();
                let Some(keys) = keys else {
                    self.err(format!("{path}.values"), K::Operands { op: name, expected: "variant keys (strings)" });
                    return None;
                };
                self.prereq(path, flag_key, &keys, "values").map(Cond::Prerequisite)
            }
            _ => {
                let Some(attribute) = c.attribute.as_deref().filter(|a| !a.is_empty()) else {
                    self.err(format!("{path}.attribute"), K::Field("this operator needs an attribute"));
                    return None;
                };
                if c.op == Operator::Matches {
                    let bytes: usize = c.values.iter().filter_map(|v| v.as_str()).map(str::len).sum();
                    self.patterns = (self.patterns.0 + c.values.len(), self.patterns.1 + bytes);
                    let (patterns, bytes) = self.patterns;
                    if patterns > MAX_PATTERNS || bytes > MAX_PATTERN_BYTES {
                        // Over budget: reported, and not compiled (the cost
                        // of compiling stays bounded whatever the input).
                        let kind = K::PatternBudget {
                            patterns,
                            bytes,
                            max_patterns: MAX_PATTERNS,
                            max_bytes: MAX_PATTERN_BYTES,
                        };
                        self.err(format!("{path}.values"), kind);
                        return None;
                    }
                }
                match ops::compile(c.op, &c.values) {
                    Ok((test, negate)) => Some(Cond::Attr { attr: AttrRef::new(attribute), test, negate }),
                    Err(kind) => {
                        self.err(format!("{path}.values"), kind);
                        None
                    }
                }
            }
        }
    }

    /// Prerequisites and segment references must form shallow acyclic
    /// graphs. Edges are read from the wire model so each carries the path
    /// of the field that makes it; a cycle is reported at every member, at
    /// the field that leads to the next one.
    fn check_references(&mut self) {
        let snap = self.snap;
        let env = &snap.environment;
        let mut flag_edges: Vec<Vec<(u32, String)>> = vec![Vec::new(); snap.flags.len()];
        for (edges, flag) in flag_edges.iter_mut().zip(snap.flags.values()) {
            let Some(config) = flag.environments.get(env) else { continue };
            for (j, p) in config.prerequisites.iter().enumerate() {
                if let Some(&t) = self.flag_index.get(p.flag.as_str()) {
                    edges.push((t, format!("prerequisites[{j}].flag")));
                }
            }
            for (r, rule) in config.rules.iter().enumerate() {
                for (c, cond) in rule.conditions.iter().enumerate() {
                    let target = cond.flag.as_deref().filter(|_| cond.op == Operator::Prerequisite);
                    if let Some(&t) = target.and_then(|f| self.flag_index.get(f)) {
                        edges.push((t, format!("rules[{r}].conditions[{c}].flag")));
                    }
                }
            }
        }
        let flag_names: Vec<&str> = snap.flags.keys().map(String::as_str).collect();
        let prefix = |name: &str| format!("flags.{name}.environments.{env}.");
        self.report_graph(&flag_names, &flag_edges, prefix, "prerequisites");

        let mut segment_edges: Vec<Vec<(u32, String)>> = vec![Vec::new(); snap.segments.len()];
        for (edges, segment) in segment_edges.iter_mut().zip(snap.segments.values()) {
            for (c, cond) in segment.conditions.iter().enumerate() {
                if matches!(cond.op, Operator::Segment | Operator::NotSegment) {
                    for (v, value) in cond.values.iter().enumerate() {
                        if let Some(&t) = value.as_str().and_then(|k| self.segment_index.get(k)) {
                            edges.push((t, format!("conditions[{c}].values[{v}]")));
                        }
                    }
                }
            }
        }
        let segment_names: Vec<&str> = snap.segments.keys().map(String::as_str).collect();
        self.report_graph(&segment_names, &segment_edges, |name| format!("segments.{name}."), "conditions");
    }

    fn report_graph(
        &mut self,
        names: &[&str],
        edges: &[Vec<(u32, String)>],
        prefix: impl Fn(&str) -> String,
        depth_field: &str,
    ) {
        let plain: Vec<Vec<u32>> = edges.iter().map(|e| e.iter().map(|(t, _)| *t).collect()).collect();
        match check_acyclic(names.len(), &plain) {
            Ok(()) => {}
            Err(GraphError::TooDeep(at)) => {
                self.err(format!("{}{depth_field}", prefix(names[at])), K::TooDeep(MAX_DEPTH));
            }
            Err(GraphError::Cycle(nodes)) => {
                for (i, &from) in nodes.iter().enumerate() {
                    let to = nodes[(i + 1) % nodes.len()];
                    let field =
                        edges[from].iter().find(|(t, _)| *t as usize == to).map_or(depth_field, |(_, p)| p.as_str());
                    let cycle: Vec<&str> =
                        nodes[i..].iter().chain(&nodes[..i]).chain(std::iter::once(&from)).map(|&x| names[x]).collect();
                    self.err(format!("{}{field}", prefix(names[from])), K::Cycle(cycle.join(" -> ")));
                }
            }
        }
    }
}
