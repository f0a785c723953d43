//! Renders every page and fragment with sample data and checks what every
//! page must do: escape, carry the CSRF token in every POST form, label
//! every control, keep ids unique.

mod common;

use common::{EVIL, all_pages};

/// The attribute `name` of the tag text `tag` (`<input a="b" ...>`).
fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let pat = format!(" {name}=\"");
    let start = tag.find(&pat)? + pat.len();
    let end = tag[start..].find('"')?;
    Some(&tag[start..start + end])
}

/// Every opening tag `<name ...>` in `html`.
fn tags<'a>(html: &'a str, name: &str) -> Vec<&'a str> {
    let open = format!("<{name}");
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find(&open) {
        let after = &rest[i + open.len()..];
        let boundary = after.chars().next().is_some_and(|c| c.is_whitespace() || c == '>');
        let end = after.find('>').map_or(rest.len(), |e| i + open.len() + e + 1);
        if boundary {
            out.push(&rest[i..end]);
        }
        rest = &rest[end.min(rest.len())..];
    }
    out
}

#[test]
fn user_text_is_escaped_everywhere() {
    for (name, html) in all_pages() {
        assert!(!html.contains(EVIL), "{name}: raw <script> from user data");
        assert!(!html.contains("<script>alert"), "{name}");
    }
    let flags = &all_pages()[3].1;
    assert!(flags.contains("&#60;script&#62;") || flags.contains("&lt;script&gt;"), "escaped text is shown");
}

#[test]
fn every_post_form_carries_the_csrf_token() {
    let mut forms = 0;
    for (name, html) in all_pages() {
        for (i, _) in html.match_indices("<form") {
            let tag_end = html[i..].find('>').map(|e| i + e + 1).expect("form tag closes");
            let tag = &html[i..tag_end];
            let method = attr(tag, "method").unwrap_or("get");
            assert!(method == "post" || method == "get", "{name}: odd method in {tag}");
            if method == "post" {
                assert!(tag.starts_with("<form method=\"post\""), "{name}: {tag}");
                let next = html[tag_end..].trim_start();
                assert!(
                    next.starts_with(r#"<input type="hidden" name="csrf" value="tok-123">"#),
                    "{name}: POST form without csrf first: {tag}"
                );
                forms += 1;
            }
        }
    }
    assert!(forms >= 30, "only {forms} POST forms found");
}

#[test]
fn every_control_has_a_label_and_ids_are_unique() {
    for (name, html) in all_pages() {
        let labels: Vec<&str> = tags(&html, "label").into_iter().filter_map(|t| attr(t, "for")).collect();
        for kind in ["input", "select", "textarea"] {
            for tag in tags(&html, kind) {
                let ty = attr(tag, "type").unwrap_or("text");
                if ty == "hidden" || ty == "submit" {
                    continue;
                }
                if attr(tag, "aria-label").is_some() {
                    continue;
                }
                let id = attr(tag, "id").unwrap_or_else(|| panic!("{name}: control without id: {tag}"));
                assert!(labels.contains(&id), "{name}: no <label for=\"{id}\"> for {tag}");
            }
        }
        for tag in tags(&html, "button") {
            assert!(!tag.contains("type=\"button\"") || tag.contains("data-copy"), "{name}: {tag}");
        }
        let mut ids: Vec<&str> =
            ["input", "select", "textarea", "div", "li", "tr", "tbody", "form", "section", "h2", "p"]
                .iter()
                .flat_map(|k| tags(&html, k))
                .filter_map(|t| attr(t, "id"))
                .collect();
        ids.sort_unstable();
        let before = ids.len();
        ids.dedup();
        assert_eq!(before, ids.len(), "{name}: duplicate ids");
    }
}

#[test]
fn pages_show_their_key_content() {
    let pages: std::collections::HashMap<_, _> = all_pages().into_iter().collect();
    let flags = &pages["flags"];
    assert!(flags.contains(r#"id="flag-rows" data-live="flags" data-version="42" data-src="/flags/rows""#));
    assert!(flags.contains(r#"action="/flags/flag-0/environments/production/toggle""#));
    assert_eq!(flags.matches("hx-confirm=").count(), 5, "one confirmation per production toggle");
    assert!(
        flags.contains(r#"aria-current="page""#) && flags.contains("<details class=\"card\" id=\"new-flag\" open>")
    );
    assert!(flags.contains("aria-invalid=\"true\""));

    let flag = &pages["flag"];
    for needle in [
        r#"name="rules[0].conditions[0].attribute" value="email""#,
        r#"name="rules[1].serve.split.variants[0].weight" value="5""#,
        r#"name="rules[1].serve.split.coverage" value="50""#,
        "2.5% of traffic (250 bp)",
        "47.5% of traffic (4750 bp)",
        r#"value="remove_rule:1""#,
        r#"value="move_rule_up:1""#,
        r#"name="confirm" value="yes""#,
        "id=\"test-result\"",
        "1234",
        "Copy rules",
        r#"<option value="beta-testers" selected>"#,
        r#"<option value="ends_with" selected>"#,
        r#"<option value="boolean" selected>"#,
        r#"inputmode="decimal""#,
        "weights add up to 10500",
    ] {
        assert!(flag.contains(needle), "flag page lacks {needle}");
    }
    assert!(
        flag.contains("id=\"f-rules-0-conditions-6-values\"")
            && flag.contains("href=\"#f-rules-0-conditions-6-values\"")
    );

    let exp = &pages["experiment"];
    for needle in [
        "Sample ratio mismatch",
        "Better",
        "Worse",
        "Not enough data",
        "<svg",
        "/experiments/checkout-test/results.csv",
        "p = 0.028",
        "+10.0% (+1.1% to +18.9%)",
        "64%",
    ] {
        assert!(exp.contains(needle), "experiment page lacks {needle}");
    }
    assert!(!exp.contains("NaN"));

    assert!(pages["environments"].contains("data-copy=\"#secret-value\""));
    assert!(
        pages["audit"].contains(r#"<span class="ins">"#) && pages["audit"].contains(r#"action="/audit/a9/rollback""#)
    );
    assert!(pages["users"].contains(r#"name="disabled" value="false""#));
    assert!(pages["users"].contains(r#"name="username""#) && pages["users"].contains("/disable\""));
    assert!(!pages["users"].contains(r#"name="email""#));
    assert!(pages["login"].contains(r#"name="next" value="/flags""#) && !pages["login"].contains("Sign out"));
    assert!(pages["test_result"].contains("invalid JSON"));
    assert!(pages["tokens"].contains(r#"<a href="/tokens" aria-current="page">"#));
}

#[test]
fn viewers_get_no_edit_controls() {
    let mut page = common::flags_page(2);
    page.layout.user = Some(flagyard_web::CurrentUser { name: "V".into(), role: flagyard_web::Role::Viewer });
    page.table.can_edit = false;
    let html = page.to_string();
    assert!(!html.contains("/toggle") && !html.contains("Create a flag"));
    assert!(!html.contains("href=\"/tokens\"") && !html.contains("href=\"/users\""));
}
