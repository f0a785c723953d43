//! The first steps, shown on the flags list until an SDK has connected:
//! create a flag, create an SDK key, paste a snippet (the Rust SDK, OFREP
//! with curl, and the OpenFeature OFREP providers for Python and
//! JavaScript), each filled in with this server's URL, the environment, its
//! key's name and the flag.

/// What the first steps say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Onboarding {
    /// This server's URL as the browser reached it, e.g. `https://flags.example.com`.
    pub base_url: String,
    /// The environment the snippets evaluate in.
    pub environment: String,
    /// The name of its newest SDK key, if it has one.
    pub key_name: Option<String>,
    /// The flag the snippets ask for (the first flag, or an example key).
    pub flag: String,
    /// Whether the project has a flag yet.
    pub has_flag: bool,
}

/// One snippet: a name, its language (for the `<code>` class) and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snippet {
    /// Tab label.
    pub name: &'static str,
    /// What to install first, if anything.
    pub install: &'static str,
    /// The code.
    pub code: String,
}

impl Onboarding {
    fn key_comment(&self) -> String {
        match &self.key_name {
            Some(name) => format!("the secret of SDK key \"{name}\" ({})", self.environment),
            None => format!("an SDK key of {}", self.environment),
        }
    }

    /// The four snippets, in the order shown.
    pub fn snippets(&self) -> Vec<Snippet> {
        let (base, flag, key) = (&self.base_url, &self.flag, self.key_comment());
        vec![
            Snippet {
                name: "Rust SDK",
                install: "the flagyard crate from this repository's sdk/ (cargo add --path <checkout>/sdk), and tokio",
                code: format!(
                    "use flagyard::{{Client, Context}};\n\n\
                     // FLAGYARD_SDK_KEY: {key}\n\
                     let client = Client::builder(\"{base}\", std::env::var(\"FLAGYARD_SDK_KEY\")?).build().await?;\n\
                     let user = Context::new(\"user-1\").with(\"plan\", \"pro\");\n\
                     if client.bool_value(\"{flag}\", &user, false) {{\n    // the new code path\n}}"
                ),
            },
            Snippet {
                name: "curl (OFREP)",
                install: "",
                code: format!(
                    "# FLAGYARD_SDK_KEY: {key}\n\
                     curl -s -X POST {base}/ofrep/v1/evaluate/flags/{flag} \\\n  \
                     -H \"Authorization: Bearer $FLAGYARD_SDK_KEY\" -H 'content-type: application/json' \\\n  \
                     -d '{{\"context\": {{\"targetingKey\": \"user-1\", \"plan\": \"pro\"}}}}'"
                ),
            },
            Snippet {
                name: "Python (OpenFeature)",
                install: "pip install openfeature-sdk openfeature-provider-ofrep",
                code: format!(
                    "import os\n\
                     from openfeature import api\n\
                     from openfeature.evaluation_context import EvaluationContext\n\
                     from openfeature.contrib.provider.ofrep import OFREPProvider\n\n\
                     # FLAGYARD_SDK_KEY: {key}\n\
                     api.set_provider(OFREPProvider(\n    \"{base}\",\n    \
                     headers_factory=lambda: {{\"Authorization\": \"Bearer \" + os.environ[\"FLAGYARD_SDK_KEY\"]}},\n))\n\
                     client = api.get_client()\n\
                     on = client.get_boolean_value(\"{flag}\", False, EvaluationContext(\"user-1\", {{\"plan\": \"pro\"}}))"
                ),
            },
            Snippet {
                name: "JavaScript (OpenFeature)",
                install: "npm install @openfeature/server-sdk @openfeature/ofrep-provider",
                code: format!(
                    "import {{ OpenFeature }} from '@openfeature/server-sdk';\n\
                     import {{ OFREPProvider }} from '@openfeature/ofrep-provider';\n\n\
                     // FLAGYARD_SDK_KEY: {key}\n\
                     await OpenFeature.setProviderAndWait(new OFREPProvider({{\n  baseUrl: '{base}',\n  \
                     headers: [['Authorization', `Bearer ${{process.env.FLAGYARD_SDK_KEY}}`]],\n}}));\n\
                     const client = OpenFeature.getClient();\n\
                     const on = await client.getBooleanValue('{flag}', false, {{ targetingKey: 'user-1', plan: 'pro' }});"
                ),
            },
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_carry_the_url_the_flag_and_the_key() {
        let o = Onboarding {
            base_url: "https://flags.example.com".into(),
            environment: "production".into(),
            key_name: Some("web".into()),
            flag: "new-checkout".into(),
            has_flag: true,
        };
        let snippets = o.snippets();
        assert_eq!(snippets.len(), 4);
        for s in &snippets {
            assert!(s.code.contains("https://flags.example.com"), "{}", s.name);
            assert!(s.code.contains("new-checkout"), "{}", s.name);
            assert!(s.code.contains("SDK key \"web\" (production)"), "{}", s.name);
        }
        assert!(snippets[1].code.contains("/ofrep/v1/evaluate/flags/new-checkout"));
        assert!(snippets[1].code.contains(r#"{"context": {"targetingKey": "user-1", "plan": "pro"}}"#));
        assert!(snippets[3].code.contains("${process.env.FLAGYARD_SDK_KEY}"));
    }
}
