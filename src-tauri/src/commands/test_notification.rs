//! `test_notification`: raises a sample pop-up of one severity, so an admin
//! can check that the OS shows Belfry's notifications (and how loudly)
//! without waiting for a real incident. It skips the preferences on purpose.

use belfry_client::policy::{Popup, Urgency};
use belfry_proto::{ErrorKind, Severity};

use super::CommandError;

/// Parses `info`, `warning` or `critical`.
pub fn parse_severity(severity: &str) -> Result<Severity, CommandError> {
    serde_json::from_value(serde_json::Value::String(severity.to_owned())).map_err(|_| {
        CommandError::new(
            ErrorKind::Validation,
            format!("severity: unknown severity {severity:?}: expected info, warning or critical"),
        )
    })
}

/// The sample pop-up for a severity.
pub fn sample(severity: Severity) -> Popup {
    let urgency = Urgency::from(severity);
    Popup {
        title: format!(
            "Test notification ({})",
            belfry_desktop_core::text::severity_word(severity)
        ),
        body: Some("If you can read this, Belfry can reach you.".to_owned()),
        urgency,
        sound: urgency != Urgency::Low,
        persistent: severity == Severity::Critical,
        ids: Vec::new(),
    }
}

#[tauri::command]
pub fn test_notification(app: tauri::AppHandle, severity: String) -> Result<(), CommandError> {
    let popup = sample(parse_severity(&severity)?);
    #[cfg(target_os = "linux")]
    {
        crate::notify::show(&app, &popup, None);
        Ok(())
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (app, popup);
        Err(CommandError::new(
            ErrorKind::Server,
            "native notifications are only wired up on Linux so far",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_critical_test_notification_is_urgent_loud_and_persistent() {
        let p = sample(parse_severity("critical").unwrap());
        assert_eq!(p.urgency, Urgency::Critical);
        assert!(p.sound && p.persistent);
    }

    #[test]
    fn an_unknown_severity_is_refused() {
        assert_eq!(
            parse_severity("loud").unwrap_err().kind,
            ErrorKind::Validation
        );
    }
}
