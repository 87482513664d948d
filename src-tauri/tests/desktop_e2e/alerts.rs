//! Alerts as an admin meets them in the app: the pop-ups the desktop shows,
//! the window's list and badge, the tray menu, and what an acknowledgement
//! (by another admin, or from the pop-up's own button) does to a pop-up.
//! Each test starts from an app signed in through its window ([`SignedIn`]).

use serde_json::json;

use crate::fixture::SignedIn;
use crate::wait_for;

/// A critical alert whose text carries markup, which the pop-up must show
/// as text.
const CRITICAL_TITLE: &str = "Payment <b>declined</b> & retried";
const CRITICAL_BODY: &str = "Card <b>4242</b> & <a href=\"https://evil.example\">details</a>";
const INFO_TITLE: &str = "Order #1042 placed";
/// What the pop-up of the app's own test notification says.
const TEST_NOTIFICATION: &str = "Belfry can reach you";
/// The unread badge's text in the window, empty without one.
const BADGE: &str = "const b = document.querySelector('[data-testid=\"unread-badge\"]'); \
                     return b ? b.textContent : ''";

/// Publishes the critical alert; its id.
async fn publish_critical(app: &SignedIn) -> anyhow::Result<u64> {
    app.server
        .publish(
            "critical",
            "payment.failed",
            CRITICAL_TITLE,
            Some(CRITICAL_BODY),
        )
        .await
}

/// Publishes the critical alert, then an info one, and waits until the
/// window shows both (publisher text as text, markup and all). The
/// critical's id.
async fn publish_critical_and_info(app: &SignedIn, test: &str) -> anyhow::Result<u64> {
    let critical = publish_critical(app).await?;
    app.server
        .publish("info", "order.created", INFO_TITLE, None)
        .await?;
    app.window
        .wait_for_texts(test, &[CRITICAL_TITLE, INFO_TITLE])
        .await?;
    Ok(critical)
}

/// Raises the app's test notification and waits for its pop-up.
async fn raise_test_notification(app: &SignedIn) -> anyhow::Result<u32> {
    app.test_notification().await?;
    wait_for("the test notification's pop-up", async || {
        Ok(app.shell().popup_id(TEST_NOTIFICATION))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_critical_alert_pops_up_once_with_its_markup_escaped_and_an_info_one_does_not()
-> anyhow::Result<()> {
    let app = SignedIn::start().await?;
    publish_critical_and_info(&app, "pop-ups").await?;

    // The test notification as a marker: pop-ups go out in order, so once
    // it arrives, anything the info notification had raised would have
    // arrived before it.
    raise_test_notification(&app).await?;
    let raised = app.shell().popups();
    anyhow::ensure!(
        raised.len() == 2,
        "expected the critical pop-up and the marker, got {raised:#?}"
    );
    let critical = &raised[0];
    assert_eq!(critical.summary, "Critical: payment failed", "{critical:?}");
    assert_eq!(critical.urgency, Some(2), "urgency critical: {critical:?}");
    assert_eq!(
        critical.body,
        "Payment &lt;b&gt;declined&lt;/b&gt; &amp; retried\nCard &lt;b&gt;4242&lt;/b&gt; &amp; \
         &lt;a href=&quot;https://evil.example&quot;&gt;details&lt;/a&gt;",
    );
    assert!(
        critical.actions.iter().any(|a| a == "acknowledge"),
        "a critical pop-up offers Acknowledge: {critical:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tray_lists_alerts_and_mark_all_read_there_clears_the_window_badge()
-> anyhow::Result<()> {
    let app = SignedIn::start().await?;
    publish_critical_and_info(&app, "tray").await?;

    // The tray registered with the host and its menu lists the alerts.
    let labels = wait_for("the alert in the tray menu", async || {
        let labels = app.shell().tray_labels().await?;
        Ok(labels
            .iter()
            .any(|l| l.contains("Critical: Payment"))
            .then_some(labels))
    })
    .await?;
    assert!(labels.iter().any(|l| l == "Quit"), "{labels:?}");
    assert!(labels.iter().any(|l| l.contains(INFO_TITLE)), "{labels:?}");

    // "Mark all read" in the tray reaches the server and the window.
    assert_eq!(app.window.script(BADGE).await?, json!("2"));
    app.shell().click_tray("Mark all read").await?;
    wait_for("everything read", async || {
        let unread = app
            .window
            .script_async(
                "const done = arguments[arguments.length - 1]; \
                 window.__TAURI_INTERNALS__.invoke('history', {query: {limit: 1}}) \
                 .then(r => done(r.unread.total), e => done(-1))",
            )
            .await?;
        Ok((unread == json!(0)).then_some(()))
    })
    .await?;
    wait_for("the badge to clear", async || {
        Ok((app.window.script(BADGE).await? == json!("")).then_some(()))
    })
    .await?;

    // A screenshot of the window, kept as a test artifact.
    app.window.save_screenshot("window.png").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_critical_pop_up_closes_once_acknowledged_elsewhere_or_from_its_own_button()
-> anyhow::Result<()> {
    let app = SignedIn::start().await?;
    let shell = app.shell();

    // A critical pop-up stays until handled; the test notification's next
    // to it stays regardless.
    let critical_id = publish_critical(&app).await?;
    let critical = wait_for("the critical pop-up", async || {
        Ok(shell.popup_id("declined"))
    })
    .await?;
    raise_test_notification(&app).await?;

    // Another admin acknowledges the critical alert elsewhere: its pop-up
    // is closed here, and only that one.
    app.server.acknowledge_as_another_admin(critical_id).await?;
    wait_for("the acknowledged pop-up to close", async || {
        Ok((!shell.closed().is_empty()).then_some(()))
    })
    .await?;
    assert_eq!(shell.closed(), [critical]);

    // Acknowledged from the pop-up's own button: the notification service
    // reports the click (`ActionInvoked`), the app acknowledges on the
    // server, and the ack coming back over the stream closes that pop-up.
    let disk_title = "Disk almost full";
    app.server
        .publish("critical", "disk.full", disk_title, None)
        .await?;
    let popup = wait_for("the second critical's pop-up", async || {
        Ok(shell.popup_id(disk_title))
    })
    .await?;
    shell.click_popup_action(popup, "acknowledge").await?;
    wait_for(
        "the pop-up acknowledged from its button to close",
        async || Ok(shell.closed().contains(&popup).then_some(())),
    )
    .await?;
    Ok(())
}
