//! The JSON Schema of the stack file as users write it, generated from [`super::input`].
//!
//! `schemas/compose.schema.json` holds a checked-in copy for editors and other tools; a unit
//! test fails when it differs from what the input types generate. Regenerate it with
//! `BERTH_UPDATE_SCHEMA=1 cargo test --lib stack::schema`.

use super::input::StackFile;

/// The schema as pretty-printed JSON (what `schemas/compose.schema.json` holds).
pub fn generate() -> String {
    let schema = schemars::schema_for!(StackFile);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_else(|_| String::from("{}"));
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn checked_in_path() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schemas/compose.schema.json")
    }

    #[test]
    fn checked_in_schema_matches_the_input_types() {
        let generated = generate();
        let path = checked_in_path();
        if std::env::var_os("BERTH_UPDATE_SCHEMA").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &generated).unwrap();
            return;
        }
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            on_disk == generated,
            "{} is out of date with the input types in src/stack/input/; regenerate it with \
             `BERTH_UPDATE_SCHEMA=1 cargo test --lib stack::schema` and commit the result",
            path.display()
        );
    }

    #[test]
    fn schema_describes_services_and_accepts_strings_for_numbers() {
        let schema: serde_json::Value = serde_json::from_str(&generate()).unwrap();
        let service = &schema["$defs"]["Service"]["properties"];
        assert!(service["ports"].is_object());
        assert!(
            service["blkio_config"].is_object(),
            "unsupported keys are in the schema too"
        );
        let read_only = service["read_only"].to_string();
        assert!(
            read_only.contains("boolean") && read_only.contains("string"),
            "{read_only}"
        );
        assert_eq!(schema["$defs"]["Service"]["additionalProperties"], false);
    }
}
