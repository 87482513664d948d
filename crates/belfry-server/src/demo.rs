//! `--demo`: a realistic stream of store events, so the whole system can be
//! seen working with no other backend. It opens with one of each severity
//! within its first seconds, then settles into a mostly-info mix.

use std::time::Duration;

use belfry_proto::{NewNotification, Severity};
use rand::seq::IndexedRandom as _;
use serde_json::json;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use crate::publish::Publisher;
use crate::store::Append;

/// Publisher name the demo events are stored under.
pub const DEMO_PUBLISHER: &str = "belfry-demo";
/// Gap between the opening events, which show every severity at once.
const OPENING_GAP: Duration = Duration::from_secs(3);

const CUSTOMERS: &[&str] = &[
    "Ada Lovelace",
    "Grace Hopper",
    "Alan Turing",
    "Katherine Johnson",
    "Linus Torvalds",
    "Margaret Hamilton",
    "Dennis Ritchie",
    "Barbara Liskov",
    "Ken Thompson",
    "Radia Perlman",
];
const PRODUCTS: &[&str] = &[
    "Linen shirt",
    "Espresso grinder",
    "Trail runners",
    "Walnut desk lamp",
    "Wool throw",
    "Ceramic mug set",
    "Noise-cancelling headphones",
    "Cast-iron skillet",
];
const CARRIERS: &[&str] = &["DHL", "UPS", "PostNL", "FedEx", "DPD"];

fn money(rng: &mut impl rand::Rng) -> String {
    format!(
        "€{}.{:02}",
        rng.random_range(9..480),
        rng.random_range(0..100)
    )
}

fn data(v: serde_json::Value) -> Option<serde_json::Map<String, serde_json::Value>> {
    v.as_object().cloned()
}

/// One event of the given kind, with plausible details.
pub fn event(kind: &str, rng: &mut impl rand::Rng) -> NewNotification {
    let order = rng.random_range(10_000..99_999);
    let customer = *CUSTOMERS.choose(rng).expect("non-empty");
    let product = *PRODUCTS.choose(rng).expect("non-empty");
    let amount = money(rng);
    let link = Some(format!("https://shop.example/admin/orders/{order}"));
    let (title, body, extra) = match kind {
        "order.created" => (
            format!("New order #{order}"),
            format!(
                "{customer} ordered {} × {product}, {amount}",
                rng.random_range(1..4)
            ),
            json!({"order_id": order, "customer": customer, "total": amount}),
        ),
        "payment.received" => (
            format!("Payment received for #{order}"),
            format!("{amount} from {customer} by card"),
            json!({"order_id": order, "amount": amount, "method": "card"}),
        ),
        "shipment.updated" => {
            let carrier = *CARRIERS.choose(rng).expect("non-empty");
            (
                format!("Order #{order} shipped"),
                format!("Handed to {carrier}; {customer} has the tracking link"),
                json!({"order_id": order, "carrier": carrier}),
            )
        }
        "payment.expired" => (
            format!("Payment expired for #{order}"),
            format!("{customer} did not complete the {amount} payment within 30 minutes"),
            json!({"order_id": order, "amount": amount}),
        ),
        "stock.low" => {
            let left = rng.random_range(1..6);
            (
                format!("Low stock: {product}"),
                format!("Only {left} left; reorder to avoid overselling"),
                json!({"product": product, "remaining": left}),
            )
        }
        "refund.requested" => (
            format!("Refund requested for #{order}"),
            format!("{customer} asks for {amount} back: item arrived damaged"),
            json!({"order_id": order, "amount": amount}),
        ),
        "dispute.created" => (
            format!("Chargeback opened on #{order}"),
            format!("{customer}'s bank disputes {amount}; respond within 7 days"),
            json!({"order_id": order, "amount": amount, "reason": "fraudulent"}),
        ),
        "fraud.detected" => (
            format!("Possible fraud on #{order}"),
            format!("Card country differs from IP country; {amount} held for review"),
            json!({"order_id": order, "amount": amount, "risk_score": rng.random_range(80..100)}),
        ),
        _ => (
            "Payment provider unreachable".to_owned(),
            "Checkout requests to the payment provider time out; orders cannot be paid".to_owned(),
            json!({"component": "payments", "error": "timeout after 10s"}),
        ),
    };
    let mut n = NewNotification::new(kind, title);
    n.body = Some(body);
    n.link = if kind == "system.error" || kind == "stock.low" {
        None
    } else {
        link
    };
    n.data = data(extra);
    n
}

/// A random kind: mostly info, some warning, rare critical.
fn random_kind(rng: &mut impl rand::Rng) -> &'static str {
    let roll = rng.random_range(0..100);
    let pool: &[&str] = match roll {
        0..75 => &["order.created", "payment.received", "shipment.updated"],
        75..95 => &["payment.expired", "stock.low", "refund.requested"],
        _ => &["dispute.created", "fraud.detected", "system.error"],
    };
    pool.choose(rng).expect("non-empty")
}

/// Publishes demo events until `shutdown` fires.
pub async fn run(publisher: Publisher, per_minute: u32, shutdown: CancellationToken) {
    let opening = [
        "order.created",
        "stock.low",
        "payment.received",
        "fraud.detected",
    ];
    let steady = Duration::from_secs_f64(60.0 / f64::from(per_minute.max(1)));
    let mut sent = 0usize;
    loop {
        let kind = match opening.get(sent) {
            Some(k) => *k,
            None => random_kind(&mut rand::rng()),
        };
        let n = event(kind, &mut rand::rng());
        let severity: Severity = n.effective_severity();
        let append = Append {
            notification: n,
            publisher: DEMO_PUBLISHER.to_owned(),
            idempotency: None,
            created_at: OffsetDateTime::now_utc(),
        };
        if let Err(e) = publisher.publish(append).await {
            tracing::warn!(error = %e, kind, %severity, "demo publish failed");
        }
        sent += 1;
        let wait = if sent < opening.len() {
            OPENING_GAP.min(steady)
        } else {
            steady
        };
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_demo_event_is_valid_and_kinds_are_varied() {
        let mut rng = rand::rng();
        for (kind, _) in belfry_proto::KNOWN_KINDS {
            for _ in 0..20 {
                let n = event(kind, &mut rng);
                assert_eq!(n.validate(), Ok(()), "{kind}: {n:?}");
            }
        }
        let mut seen = std::collections::HashSet::new();
        for _ in 0..2_000 {
            seen.insert(NewNotification::new(random_kind(&mut rng), "x").effective_severity());
        }
        assert_eq!(seen.len(), 3, "all severities appear in the steady mix");
    }
}
