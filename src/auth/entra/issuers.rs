//! The issuers accepted, as templates in which `{tenantid}` stands for the token's `tid`.
//!
//! Entra ID's v2 tokens name `https://login.microsoftonline.com/{tenant}/v2.0` and its v1
//! tokens `https://sts.windows.net/{tenant}/`, with the tenant the token was issued in. The
//! metadata of one tenant gives that tenant's v2 issuer; the multi-tenant metadata gives the
//! template itself. Binding the issuer to `tid` this way keeps a token of one tenant from
//! passing as another's.

use crate::config::EntraSettings;
use crate::config::entra::{TENANT_PLACEHOLDER, V1_ISSUER_TEMPLATE};

/// The templates a token's `iss` is held to: `settings.issuers` when set; else the metadata's
/// `issuer` (with the home tenant id made the placeholder, or as it is when it holds the
/// placeholder already) and the v1 issuer.
pub fn templates(settings: &EntraSettings, metadata_issuer: &str) -> Vec<String> {
    if let Some(issuers) = &settings.issuers {
        return issuers.clone();
    }
    let v2 = if metadata_issuer.contains(TENANT_PLACEHOLDER) {
        metadata_issuer.to_owned()
    } else {
        replace_ignoring_case(metadata_issuer, &settings.tenant_id, TENANT_PLACEHOLDER)
    };
    let mut templates = vec![v2];
    if !templates
        .iter()
        .any(|template| template == V1_ISSUER_TEMPLATE)
    {
        templates.push(V1_ISSUER_TEMPLATE.to_owned());
    }
    templates
}

/// True when `issuer` is `template` with each `{tenantid}` replaced by `tenant`. The tenant is
/// a GUID, compared without regard to case; the rest of the template must match exactly.
pub fn matches(template: &str, issuer: &str, tenant: &str) -> bool {
    let mut rest = issuer;
    for (index, part) in template.split(TENANT_PLACEHOLDER).enumerate() {
        if index > 0 {
            match rest.get(..tenant.len()) {
                Some(head) if head.eq_ignore_ascii_case(tenant) => rest = &rest[tenant.len()..],
                _ => return false,
            }
        }
        match rest.strip_prefix(part) {
            Some(after) => rest = after,
            None => return false,
        }
    }
    rest.is_empty()
}

/// `text` with each occurrence of `from` (an ASCII string, found without regard to case)
/// replaced by `to`.
fn replace_ignoring_case(text: &str, from: &str, to: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let from = from.to_ascii_lowercase();
    let mut result = String::with_capacity(text.len());
    let mut start = 0;
    while let Some(found) = lower[start..].find(&from) {
        result.push_str(&text[start..start + found]);
        result.push_str(to);
        start += found + from.len();
    }
    result.push_str(&text[start..]);
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::entra::testing::{OTHER_TENANT, TENANT, settings};

    #[test]
    fn a_tenants_metadata_issuer_becomes_a_template_beside_the_v1_issuer() {
        let issuer = format!(
            "https://login.microsoftonline.com/{}/v2.0",
            TENANT.to_uppercase()
        );

        let templates = templates(&settings(), &issuer);

        assert_eq!(
            templates,
            [
                "https://login.microsoftonline.com/{tenantid}/v2.0",
                "https://sts.windows.net/{tenantid}/"
            ]
        );
    }

    #[test]
    fn a_multi_tenant_metadata_issuer_is_a_template_already() {
        let templates = templates(&settings(), "https://login.example.test/{tenantid}/v2.0");

        assert_eq!(templates[0], "https://login.example.test/{tenantid}/v2.0");
    }

    #[test]
    fn configured_issuers_replace_the_defaults() {
        let mut settings = settings();
        settings.issuers = Some(vec!["https://issuer.example.test/{tenantid}".to_owned()]);

        let templates = templates(&settings, "https://login.example.test/x/v2.0");

        assert_eq!(templates, ["https://issuer.example.test/{tenantid}"]);
    }

    #[test]
    fn an_issuer_matches_its_own_tenant_only() {
        let template = "https://login.microsoftonline.com/{tenantid}/v2.0";
        let own = format!("https://login.microsoftonline.com/{TENANT}/v2.0");

        assert!(matches(template, &own, TENANT));
        assert!(matches(template, &own, &TENANT.to_uppercase()));
        assert!(!matches(template, &own, OTHER_TENANT));
    }

    #[test]
    fn the_rest_of_the_issuer_must_match_exactly() {
        let template = "https://sts.windows.net/{tenantid}/";
        for issuer in [
            format!("https://sts.windows.net/{TENANT}"),
            format!("https://sts.windows.net/{TENANT}/x"),
            format!("http://sts.windows.net/{TENANT}/"),
            format!("https://STS.windows.net/{TENANT}/"),
            "https://sts.windows.net/{tenantid}/".to_owned(),
            String::new(),
        ] {
            assert!(!matches(template, &issuer, TENANT), "{issuer}");
        }
        assert!(matches(
            "https://fixed.example.test/",
            "https://fixed.example.test/",
            TENANT
        ));
    }

    #[test]
    fn a_template_may_name_the_tenant_twice() {
        let template = "https://{tenantid}.example.test/{tenantid}/";
        let issuer = format!("https://{TENANT}.example.test/{TENANT}/");

        assert!(matches(template, &issuer, TENANT));
        let mixed = format!("https://{TENANT}.example.test/{OTHER_TENANT}/");
        assert!(!matches(template, &mixed, TENANT));
    }

    #[test]
    fn replaces_without_regard_to_case() {
        assert_eq!(replace_ignoring_case("aXbxc", "x", "-"), "a-b-c");
        assert_eq!(replace_ignoring_case("abc", "x", "-"), "abc");
    }
}
