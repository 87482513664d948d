//! The desktop shell's stand-ins on the private session bus: a notification
//! server that records every `Notify` and `CloseNotification`, and a tray
//! host that records the tray item registering and reads and clicks its menu
//! over `com.canonical.dbusmenu`. Also what the app left in the OS keyring
//! (gnome-keyring's Secret Service on the same bus).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use zbus::interface;
use zbus::zvariant::{OwnedObjectPath, OwnedValue};

use crate::wait_for;

const NOTIFICATIONS_PATH: &str = "/org/freedesktop/Notifications";
const NOTIFICATIONS_INTERFACE: &str = "org.freedesktop.Notifications";

/// One recorded `Notify` call.
#[derive(Debug, Clone)]
pub struct Popup {
    pub summary: String,
    pub body: String,
    pub urgency: Option<u8>,
    pub actions: Vec<String>,
}

#[derive(Default)]
struct Notifications {
    calls: Arc<Mutex<Vec<Popup>>>,
    /// Ids passed to `CloseNotification`.
    closed: Arc<Mutex<Vec<u32>>>,
    next: u32,
}

#[interface(name = "org.freedesktop.Notifications")]
impl Notifications {
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &mut self,
        _app_name: String,
        _replaces_id: u32,
        _app_icon: String,
        summary: String,
        body: String,
        actions: Vec<String>,
        hints: HashMap<String, OwnedValue>,
        _expire_timeout: i32,
    ) -> u32 {
        let urgency = hints.get("urgency").and_then(|v| u8::try_from(v).ok());
        self.calls.lock().unwrap().push(Popup {
            summary,
            body,
            urgency,
            actions,
        });
        // Ids count from 1 in `Notify` order, so the n-th pop-up is n.
        self.next += 1;
        self.next
    }

    fn get_capabilities(&self) -> Vec<String> {
        ["body", "body-markup", "actions", "persistence", "sound"]
            .map(String::from)
            .to_vec()
    }

    fn get_server_information(&self) -> (String, String, String, String) {
        (
            "belfry-test".into(),
            "belfry".into(),
            "1".into(),
            "1.2".into(),
        )
    }

    fn close_notification(&self, id: u32) {
        self.closed.lock().unwrap().push(id);
    }
}

/// A tray item that registered: its bus name and what it registered with.
#[derive(Debug, Clone)]
struct TrayItem {
    sender: String,
    service: String,
}

#[derive(Default)]
struct Watcher {
    items: Arc<Mutex<Vec<TrayItem>>>,
}

#[interface(name = "org.kde.StatusNotifierWatcher")]
impl Watcher {
    fn register_status_notifier_item(
        &self,
        service: String,
        #[zbus(header)] header: zbus::message::Header<'_>,
    ) {
        let sender = header.sender().map(|s| s.to_string()).unwrap_or_default();
        self.items
            .lock()
            .unwrap()
            .push(TrayItem { sender, service });
    }

    fn register_status_notifier_host(&self, _service: String) {}

    #[zbus(property)]
    fn registered_status_notifier_items(&self) -> Vec<String> {
        self.items
            .lock()
            .unwrap()
            .iter()
            .map(|i| i.service.clone())
            .collect()
    }

    #[zbus(property)]
    fn is_status_notifier_host_registered(&self) -> bool {
        true
    }

    #[zbus(property)]
    fn protocol_version(&self) -> i32 {
        0
    }
}

/// The stand-ins, served on one connection to the session bus, and what
/// they recorded.
pub struct Shell {
    bus: zbus::Connection,
    popups: Arc<Mutex<Vec<Popup>>>,
    /// Pop-ups the app closed (`CloseNotification`), by the ids `Notify` gave.
    closed: Arc<Mutex<Vec<u32>>>,
    tray_items: Arc<Mutex<Vec<TrayItem>>>,
}

impl Shell {
    /// Takes the shell's well-known names on the bus at `address`.
    pub async fn serve(address: &str) -> anyhow::Result<Self> {
        let popups = Arc::new(Mutex::new(Vec::<Popup>::new()));
        let closed = Arc::new(Mutex::new(Vec::<u32>::new()));
        let tray_items = Arc::new(Mutex::new(Vec::<TrayItem>::new()));
        let bus = zbus::connection::Builder::address(address)?
            .name(NOTIFICATIONS_INTERFACE)?
            .name("org.kde.StatusNotifierWatcher")?
            .serve_at(
                NOTIFICATIONS_PATH,
                Notifications {
                    calls: popups.clone(),
                    closed: closed.clone(),
                    next: 0,
                },
            )?
            .serve_at(
                "/StatusNotifierWatcher",
                Watcher {
                    items: tray_items.clone(),
                },
            )?
            .build()
            .await?;
        Ok(Self {
            bus,
            popups,
            closed,
            tray_items,
        })
    }

    /// Every pop-up raised so far, in `Notify` order.
    pub fn popups(&self) -> Vec<Popup> {
        self.popups.lock().unwrap().clone()
    }

    /// The `Notify` id of the first pop-up whose body contains `text`.
    pub fn popup_id(&self, text: &str) -> Option<u32> {
        self.popups
            .lock()
            .unwrap()
            .iter()
            .position(|p| p.body.contains(text))
            .map(|i| u32::try_from(i + 1).expect("a few pop-ups"))
    }

    /// The ids of the pop-ups the app closed, in order.
    pub fn closed(&self) -> Vec<u32> {
        self.closed.lock().unwrap().clone()
    }

    /// Clicks `action` on pop-up `id`, as the notification service reports
    /// it (`ActionInvoked`).
    pub async fn click_popup_action(&self, id: u32, action: &str) -> anyhow::Result<()> {
        self.bus
            .emit_signal(
                None::<&str>,
                NOTIFICATIONS_PATH,
                NOTIFICATIONS_INTERFACE,
                "ActionInvoked",
                &(id, action),
            )
            .await?;
        Ok(())
    }

    /// The tray menu's labels once the tray item has registered.
    pub async fn tray_labels(&self) -> anyhow::Result<Vec<String>> {
        let item = wait_for("the tray item", async || {
            Ok(self.tray_items.lock().unwrap().first().cloned())
        })
        .await?;
        let (entries, _, _) = tray_menu(&self.bus, &item).await?;
        Ok(entries.into_iter().map(|(_, label)| label).collect())
    }

    /// Clicks the tray menu entry labelled `label`, as a tray host does.
    pub async fn click_tray(&self, label: &str) -> anyhow::Result<()> {
        let item = self.tray_items.lock().unwrap().first().cloned();
        let (entries, dest, menu) = tray_menu(&self.bus, &item.context("no tray item")?).await?;
        let id = entries
            .iter()
            .find(|(_, l)| l == label)
            .with_context(|| format!("no {label:?} in {entries:?}"))?
            .0;
        self.bus
            .call_method(
                Some(dest.as_str()),
                menu.as_str(),
                Some("com.canonical.dbusmenu"),
                "Event",
                &(id, "clicked", zbus::zvariant::Value::from(0i32), 0u32),
            )
            .await?;
        Ok(())
    }

    /// The unlocked keyring items with these attributes (Secret Service
    /// `SearchItems`).
    pub async fn keyring_items(
        &self,
        attributes: HashMap<&str, &str>,
    ) -> anyhow::Result<Vec<OwnedObjectPath>> {
        let secrets = zbus::Proxy::new(
            &self.bus,
            "org.freedesktop.secrets",
            "/org/freedesktop/secrets",
            "org.freedesktop.Secret.Service",
        )
        .await?;
        let (unlocked, _locked): (Vec<OwnedObjectPath>, Vec<OwnedObjectPath>) =
            secrets.call("SearchItems", &(attributes,)).await?;
        Ok(unlocked)
    }
}

/// A dbusmenu layout node: id, properties, children (`(ia{sv}av)`).
type MenuNode = (i32, HashMap<String, OwnedValue>, Vec<OwnedValue>);

/// Every `(id, label)` in a dbusmenu layout, depth first.
fn menu_labels(node: &OwnedValue, out: &mut Vec<(i32, String)>) -> anyhow::Result<()> {
    let (id, props, children): MenuNode = node.try_clone()?.try_into()?;
    if let Some(label) = props.get("label") {
        out.push((id, String::try_from(label.try_clone()?)?));
    }
    for child in &children {
        menu_labels(child, out)?;
    }
    Ok(())
}

/// The tray menu's entries, read from the registered item over D-Bus, and
/// where its menu is (bus name, object path) to click them.
async fn tray_menu(
    bus: &zbus::Connection,
    item: &TrayItem,
) -> anyhow::Result<(Vec<(i32, String)>, String, OwnedObjectPath)> {
    let (dest, path) = if item.service.starts_with('/') {
        (item.sender.clone(), item.service.clone())
    } else {
        (item.service.clone(), "/StatusNotifierItem".to_owned())
    };
    let props = zbus::fdo::PropertiesProxy::builder(bus)
        .destination(dest.clone())?
        .path(path)?
        .build()
        .await?;
    let menu: OwnedObjectPath = props
        .get("org.kde.StatusNotifierItem".try_into()?, "Menu")
        .await?
        .try_into()?;
    let reply = bus
        .call_method(
            Some(dest.as_str()),
            menu.as_str(),
            Some("com.canonical.dbusmenu"),
            "GetLayout",
            &(0i32, -1i32, Vec::<String>::new()),
        )
        .await?;
    let (_revision, layout): (u32, MenuNode) = reply.body().deserialize()?;
    let mut labels = Vec::new();
    for child in &layout.2 {
        menu_labels(child, &mut labels)?;
    }
    Ok((labels, dest, menu))
}
