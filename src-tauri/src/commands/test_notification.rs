//! `test_notification`: raises a sample pop-up of one severity, so an admin
//! can check that the OS shows Belfry's notifications (and how loudly)
//! without waiting for a real incident. It skips the preferences on purpose.

use belfry_client::policy::{Popup, Urgency};
use belfry_desktop_core::contract::TestNotificationArgs;
use belfry_proto::Severity;

use super::{Args, Reply};

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
pub fn test_notification(
    app: tauri::AppHandle,
    Args(args): Args<TestNotificationArgs>,
) -> Reply<TestNotificationArgs> {
    let popup = sample(args.severity);
    #[cfg(target_os = "linux")]
    {
        crate::notify::show(&app, &popup, None);
        Ok(())
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (app, popup);
        Err(super::CommandError::new(
            belfry_proto::ErrorKind::Server,
            "native notifications are only wired up on Linux so far",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_critical_test_notification_is_urgent_loud_and_persistent() {
        let p = sample(Severity::Critical);
        assert_eq!(p.urgency, Urgency::Critical);
        assert!(p.sound && p.persistent);
        let p = sample(Severity::Info);
        assert_eq!(p.urgency, Urgency::Low);
        assert!(!p.sound && !p.persistent);
    }
}
