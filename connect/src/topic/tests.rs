#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use proptest::prelude::*;
use serde_json::json;

fn resolver(template: &str, normalization: NormalizationConfig) -> TopicResolver {
    TopicResolver::new(template, normalization).unwrap()
}

fn build_error(builder: TopicResolverBuilder) -> String {
    builder.build().unwrap_err().to_string()
}

fn meta(database: &str, schema: &str, table: &str) -> TopicMetadata {
    TopicMetadata::new(database, schema, table)
}

#[test]
fn seed_production_example_resolves_exactly() {
    let resolver = TopicResolver::builder("{database}.{schema}.{table}")
        .snake_case()
        .avro_compatible()
        .strip_prefixes(vec!["dbo_", "public_"])
        .build()
        .unwrap();
    let topic = resolver.resolve(&meta("SalesDB", "dbo_MySchema", "UserProfiles"));
    assert_eq!(topic, "sales_db.my_schema.user_profiles");
}

#[test]
fn seed_placeholder_examples() {
    let users = meta("mydb", "public", "users");
    let plain = NormalizationConfig::new();
    assert_eq!(
        resolver("cdc.{schema}.{table}", plain.clone()).resolve(&users),
        "cdc.public.users"
    );
    assert_eq!(
        resolver("{database}.{schema}.{table}", plain.clone()).resolve(&users),
        "mydb.public.users"
    );
    let orders = meta("mydb", "public", "orders");
    assert_eq!(
        resolver("events.{table}", plain).resolve(&orders),
        "events.orders"
    );
}

#[test]
fn seed_normalization_table() {
    let plain = NormalizationConfig::new();
    assert_eq!(plain.normalize("my schema"), "my_schema");
    assert_eq!(plain.normalize("user@data"), "user_data");
    assert_eq!(plain.normalize("schema.with.dots"), "schema_with_dots");
    let snake = NormalizationConfig::new().with_case_conversion(CaseConversion::SnakeCase);
    assert_eq!(snake.normalize("UserProfiles"), "user_profiles");
    assert_eq!(
        NormalizationConfig::new()
            .with_avro_compatible()
            .normalize("my-table"),
        "my_table"
    );
    let strip = NormalizationConfig::new().with_strip_prefixes(vec!["dbo_".into()]);
    assert_eq!(strip.normalize("dbo_users"), "users");
}

#[test]
fn dashes_survive_without_avro_mode_and_case_conversion() {
    let plain = NormalizationConfig::new();
    assert_eq!(plain.normalize("my-table"), "my-table");
    assert_eq!(plain.normalize("My-Table"), "My-Table");
}

#[test]
fn snake_case_splits_camel_case_acronyms_and_separators() {
    let snake = NormalizationConfig::new().with_case_conversion(CaseConversion::SnakeCase);
    for (input, expected) in [
        ("SalesDB", "sales_db"),
        ("HTTPServer", "http_server"),
        ("my-table", "my_table"),
        ("Table1Name", "table1_name"),
        ("user2", "user2"),
        ("already_snake", "already_snake"),
        ("_tmp", "_tmp"),
        ("My Big--Table", "my_big_table"),
    ] {
        assert_eq!(snake.normalize(input), expected, "{input}");
    }
}

#[test]
fn kebab_lower_and_upper_cases() {
    let kebab = NormalizationConfig::new().with_case_conversion(CaseConversion::KebabCase);
    assert_eq!(kebab.normalize("UserProfiles"), "user-profiles");
    assert_eq!(kebab.normalize("my_table"), "my-table");
    assert_eq!(kebab.normalize("schema.with.dots"), "schema-with-dots");
    assert_eq!(
        kebab
            .clone()
            .with_avro_compatible()
            .normalize("UserProfiles"),
        "user_profiles"
    );
    let lower = TopicResolver::builder("{table}")
        .lowercase()
        .build()
        .unwrap();
    assert_eq!(lower.resolve(&meta("", "", "UserProfiles")), "userprofiles");
    let upper = TopicResolver::builder("{table}")
        .case_conversion(CaseConversion::Upper)
        .build()
        .unwrap();
    assert_eq!(
        upper.resolve(&meta("", "", "user_profiles")),
        "USER_PROFILES"
    );
}

#[test]
fn character_rules_collapse_underscores_and_replace_non_ascii() {
    let plain = NormalizationConfig::new();
    assert_eq!(plain.normalize("a  b"), "a_b");
    assert_eq!(plain.normalize("a__b@@c"), "a_b_c");
    assert_eq!(plain.normalize("café"), "caf_");
    assert_eq!(plain.normalize("1table"), "1table");
    let avro = NormalizationConfig::new().with_avro_compatible();
    assert_eq!(avro.normalize("1table"), "_1table");
    assert_eq!(avro.normalize("_1table"), "_1table");
    assert_eq!(avro.normalize("a-b_c"), "a_b_c");
}

#[test]
fn strips_one_prefix_and_suffix_never_to_empty() {
    let config = NormalizationConfig::new()
        .with_strip_prefixes(vec!["dbo_".into(), "tbl_".into()])
        .with_strip_suffixes(vec!["_table".into(), "_tbl".into()]);
    assert_eq!(config.normalize("dbo_tbl_users"), "tbl_users");
    assert_eq!(config.normalize("tbl_users_table"), "users");
    assert_eq!(config.normalize("dbo_"), "dbo_");
    assert_eq!(config.normalize("_table"), "_table");
    assert_eq!(config.normalize("DBO_users"), "DBO_users");
    // The first prefix that leaves something is the one stripped.
    let config = NormalizationConfig::new().with_strip_prefixes(vec!["users".into(), "us".into()]);
    assert_eq!(config.normalize("users"), "ers");
}

#[test]
fn unknown_placeholder_is_named_with_the_valid_ones() {
    let err = build_error(TopicResolver::builder("cdc.{schema}.{tabel}"));
    assert!(err.contains("`{tabel}`"), "{err}");
    for valid in ["{database}", "{schema}", "{table}"] {
        assert!(err.contains(valid), "{err}");
    }
    let err = build_error(TopicResolver::builder("cdc.{}"));
    assert!(err.contains("`{}`"), "{err}");
}

#[test]
fn unbalanced_braces_and_empty_template_are_rejected() {
    for template in [
        "cdc.{table",
        "cdc.table}",
        "cdc.{{table}}",
        "{sch{ema}",
        "}",
    ] {
        let err = build_error(TopicResolver::builder(template));
        assert!(err.contains("unbalanced"), "{template}: {err}");
    }
    let err = TopicResolver::builder("").build().unwrap_err();
    assert_eq!(err.kind(), crate::ErrorKind::Config);
    assert!(err.to_string().contains("empty"), "{err}");
}

#[test]
fn literal_characters_outside_topic_charset_are_rejected() {
    let err = build_error(TopicResolver::builder("cdc {table}"));
    assert!(err.contains("` `"), "{err}");
    let err = build_error(TopicResolver::builder("cdc/{table}"));
    assert!(err.contains("`/`"), "{err}");
    let ok = resolver(
        "Cdc-v1_x.{table}",
        NormalizationConfig::new().with_avro_compatible(),
    );
    // Literal parts are kept as written, even in avro mode.
    assert_eq!(ok.resolve(&meta("", "", "my-t")), "Cdc-v1_x.my_t");
}

#[test]
fn static_template_and_accessors() {
    let config = NormalizationConfig::new().with_case_conversion(CaseConversion::Lower);
    let r = resolver("events", config.clone());
    assert_eq!(r.resolve(&meta("a", "b", "c")), "events");
    assert_eq!(r.template(), "events");
    assert_eq!(r.normalization(), &config);
}

#[test]
fn empty_prefix_is_rejected_by_build_and_validate() {
    let err = build_error(TopicResolver::builder("{table}").strip_prefixes(vec![""]));
    assert!(err.contains("strip_prefixes"), "{err}");
    let config = NormalizationConfig::new().with_strip_suffixes(vec![String::new()]);
    assert!(config.validate().is_err());
    assert!(NormalizationConfig::new().validate().is_ok());
}

#[test]
fn later_builder_calls_override_earlier_ones() {
    let config = NormalizationConfig::new().with_case_conversion(CaseConversion::Upper);
    let r = TopicResolver::builder("{table}")
        .snake_case()
        .normalization(config)
        .build()
        .unwrap();
    assert_eq!(r.resolve(&meta("", "", "Users")), "USERS");
    let r = TopicResolver::builder("{table}")
        .normalization(NormalizationConfig::new())
        .lowercase()
        .strip_suffixes(vec!["_v1".to_string()])
        .build()
        .unwrap();
    assert_eq!(r.resolve(&meta("", "", "Users_V1")), "users_v1");
    assert_eq!(r.resolve(&meta("", "", "users_v1")), "users");
}

#[test]
fn long_names_are_cut_to_249_with_a_stable_hash() {
    let r = resolver("cdc.{schema}.{table}", NormalizationConfig::new());
    let long = "t".repeat(300);
    let topic = r.resolve(&meta("db", "public", &long));
    assert_eq!(topic.len(), MAX_TOPIC_LENGTH);
    let (head, hash) = topic.split_at(MAX_TOPIC_LENGTH - HASH_HEX_DIGITS);
    assert!(
        head.starts_with("cdc.public.ttt") && head.ends_with("t-"),
        "{head}"
    );
    assert!(hash
        .chars()
        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    // Deterministic, and distinct names with a common head stay distinct.
    assert_eq!(topic, r.resolve(&meta("db", "public", &long)));
    let other = r.resolve(&meta("db", "public", &format!("{long}x")));
    assert_eq!(other.len(), MAX_TOPIC_LENGTH);
    assert_ne!(topic, other);
    // The hash is of the full (normalized) name.
    let full = format!("cdc.public.{long}");
    let digest = Sha256::digest(full.as_bytes());
    let expected: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hash, expected);
}

#[test]
fn names_at_the_limit_are_kept_and_avro_mode_hash_uses_underscore() {
    let r = resolver("{table}", NormalizationConfig::new());
    let exact = "a".repeat(MAX_TOPIC_LENGTH);
    assert_eq!(r.resolve(&meta("", "", &exact)), exact);
    let r = resolver("{table}", NormalizationConfig::new().with_avro_compatible());
    let topic = r.resolve(&meta("", "", &"a".repeat(MAX_TOPIC_LENGTH + 1)));
    assert_eq!(topic.len(), MAX_TOPIC_LENGTH);
    assert_eq!(
        topic.as_bytes()[MAX_TOPIC_LENGTH - HASH_HEX_DIGITS - 1],
        b'_'
    );
    assert!(!topic.contains('-'));
}

#[test]
fn resolving_normalized_names_is_idempotent() {
    let r = TopicResolver::builder("{database}.{schema}.{table}")
        .snake_case()
        .avro_compatible()
        .strip_prefixes(vec!["dbo_", "public_"])
        .build()
        .unwrap();
    let once = r.resolve(&meta("SalesDB", "dbo_MySchema", "UserProfiles"));
    let parts: Vec<&str> = once.split('.').collect();
    assert_eq!(r.resolve(&meta(parts[0], parts[1], parts[2])), once);
}

fn any_case() -> impl Strategy<Value = CaseConversion> {
    prop_oneof![
        Just(CaseConversion::None),
        Just(CaseConversion::Lower),
        Just(CaseConversion::Upper),
        Just(CaseConversion::SnakeCase),
        Just(CaseConversion::KebabCase),
    ]
}

proptest! {
    #[test]
    fn normalization_is_idempotent_and_yields_topic_characters(
        value in "[A-Za-z0-9 ._@#é-]{0,24}",
        case in any_case(),
        avro in any::<bool>(),
    ) {
        let config = NormalizationConfig { case_conversion: case, avro_compatible: avro, ..NormalizationConfig::default() };
        let once = config.normalize(&value);
        prop_assert_eq!(config.normalize(&once), once.clone());
        prop_assert!(once.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'));
        prop_assert!(!once.contains("__"));
        if avro {
            prop_assert!(!once.contains('-'));
            prop_assert!(!once.starts_with(|c: char| c.is_ascii_digit()));
        }
    }
}

#[test]
fn normalization_config_deserializes_with_defaults_and_rejects_unknown_keys() {
    let config: NormalizationConfig = serde_json::from_value(json!({})).unwrap();
    assert_eq!(config, NormalizationConfig::default());
    assert_eq!(config.case_conversion, CaseConversion::None);
    let config: NormalizationConfig = serde_json::from_value(json!({
        "case_conversion": "kebab-case",
        "avro_compatible": true,
        "strip_prefixes": ["dbo_"],
        "strip_suffixes": ["_table"],
    }))
    .unwrap();
    assert_eq!(config.case_conversion, CaseConversion::KebabCase);
    assert!(config.avro_compatible);
    assert_eq!(config.strip_suffixes, vec!["_table".to_string()]);
    assert!(serde_json::from_value::<NormalizationConfig>(json!({"case": "lower"})).is_err());
    assert!(serde_json::from_value::<NormalizationConfig>(
        json!({"case_conversion": "kebab_case"})
    )
    .is_err());
}

#[test]
fn case_conversion_serde_names_match_the_seed() {
    for (case, name) in [
        (CaseConversion::None, "none"),
        (CaseConversion::Lower, "lower"),
        (CaseConversion::Upper, "upper"),
        (CaseConversion::SnakeCase, "snake_case"),
        (CaseConversion::KebabCase, "kebab-case"),
    ] {
        assert_eq!(serde_json::to_value(case).unwrap(), json!(name));
        assert_eq!(
            serde_json::from_value::<CaseConversion>(json!(name)).unwrap(),
            case
        );
    }
    let schema = serde_json::to_value(schemars::schema_for!(NormalizationConfig)).unwrap();
    let text = schema.to_string();
    assert!(
        text.contains("kebab-case") && text.contains("snake_case"),
        "{text}"
    );
    assert_eq!(schema["additionalProperties"], json!(false), "{text}");
}
