//! Outbound channels as an operator meets them: declared in `belfry.toml`,
//! listed and tested with `belfry-server channel`, against a real HTTP
//! receiver that is not Belfry's code (`tests/receivers/receiver.py`: the
//! Python standard library, and the Standard Webhooks reference library to
//! verify signatures). The receiver runs in the virtual environment
//! `scripts/setup.sh` makes at `.venv`.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Output, Stdio};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_belfry-server");

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A running receiver; killed when dropped.
struct Receiver {
    child: Child,
    lines: BufReader<ChildStdout>,
    port: u16,
}

impl Receiver {
    /// Starts `receiver.py` (HTTP) with `args`.
    fn start(args: &[&str]) -> Self {
        Self::spawn("receiver.py", args)
    }

    /// Starts `smtp_receiver.py` (aiosmtpd) with `args`.
    fn smtp(args: &[&str]) -> Self {
        Self::spawn("smtp_receiver.py", args)
    }

    /// Starts `tests/receivers/<script>`, which says its port first.
    fn spawn(script: &str, args: &[&str]) -> Self {
        let python = workspace().join(".venv/bin/python3");
        assert!(
            python.exists(),
            "{} is missing: run scripts/setup.sh (it installs the test receivers' libraries)",
            python.display()
        );
        let mut child = Command::new(python)
            .arg(workspace().join("tests/receivers").join(script))
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("the receiver starts");
        let mut lines = BufReader::new(child.stdout.take().expect("piped"));
        let first = read_line(&mut lines);
        let port = first["port"].as_u64().expect("the receiver says its port") as u16;
        Receiver { child, lines, port }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The next request it received (it reports each as it answers).
    fn next(&mut self) -> Value {
        read_line(&mut self.lines)
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_line(lines: &mut BufReader<ChildStdout>) -> Value {
    let mut line = String::new();
    lines.read_line(&mut line).expect("the receiver writes");
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"))
}

/// Runs `belfry-server channel ARGS` with `config` as its file.
fn channel(config: &str, args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("belfry.toml");
    std::fs::write(&file, config).unwrap();
    Command::new(BIN)
        .arg("channel")
        .args(args)
        .arg("--config")
        .arg(&file)
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .expect("belfry-server runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const OTHER_SECRET: &str = "whsec_dGhpcyBpcyBhbm90aGVyIHNlY3JldCBrZXkhIQ==";

#[test]
fn a_test_message_through_a_webhook_channel_verifies_with_the_standard_webhooks_library() {
    let mut receiver = Receiver::start(&["--whsec", SECRET]);
    let config = format!(
        "public_url = \"https://belfry.shop.example\"\n\
         [channels.erp]\ntype = \"webhook\"\nurl = \"{}\"\nsecret = \"{SECRET}\"\n",
        receiver.url("/hooks/belfry")
    );
    let out = channel(&config, &["test", "erp", "--severity", "critical"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("sent a test message through `erp`"),
        "{}",
        text(&out.stdout)
    );
    let got = receiver.next();
    assert_eq!(got["verified"], true, "{got}");
    assert_eq!(got["path"], "/hooks/belfry");
    let body = &got["json"];
    assert_eq!(body["type"], "notification");
    assert_eq!(body["reason"], "test");
    assert_eq!(body["notification"]["severity"], "critical");
    assert_eq!(body["url"], "https://belfry.shop.example/");
    assert!(
        got["headers"]["webhook-id"]
            .as_str()
            .is_some_and(|id| id.starts_with("msg_")),
        "{got}"
    );
}

#[test]
fn a_receiver_with_another_secret_refuses_the_signature() {
    // The check above could fail: the same library, another key, says no.
    let mut receiver = Receiver::start(&["--whsec", OTHER_SECRET]);
    let config = format!(
        "[channels.erp]\ntype = \"webhook\"\nurl = \"{}\"\nsecret = \"{SECRET}\"\n",
        receiver.url("/")
    );
    channel(&config, &["test", "erp"]);
    let got = receiver.next();
    assert_eq!(got["verified"], false, "{got}");
}

#[test]
fn an_sms_channel_posts_twilios_form_with_basic_auth() {
    let mut receiver = Receiver::start(&["--answers", "201"]);
    let config = format!(
        "[channels.on-call]\ntype = \"sms\"\nurl = \"{}\"\naccount_sid = \"AC0123\"\n\
         auth_token = \"tok-secret\"\nfrom = \"+14155550100\"\nto = \"+447700900123\"\n",
        receiver.url("")
    );
    let out = channel(&config, &["test", "on-call", "--severity", "critical"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let got = receiver.next();
    assert_eq!(got["path"], "/2010-04-01/Accounts/AC0123/Messages.json");
    assert_eq!(
        got["basic_auth"],
        serde_json::json!(["AC0123", "tok-secret"])
    );
    assert_eq!(got["form"]["To"], serde_json::json!(["+447700900123"]));
    assert_eq!(got["form"]["From"], serde_json::json!(["+14155550100"]));
    let body = got["form"]["Body"][0].as_str().unwrap();
    assert!(
        body.starts_with("Belfry Critical: Test message from Belfry"),
        "{body}"
    );
}

#[test]
fn a_refusal_fails_the_test_saying_whether_a_retry_would_help() {
    let receiver = Receiver::start(&["--answers", "400,503", "--retry-after", "7"]);
    let config = format!(
        "[channels.erp]\ntype = \"webhook\"\nurl = \"{}\"\nsecret = \"{SECRET}\"\n",
        receiver.url("/")
    );
    let refused = channel(&config, &["test", "erp"]);
    assert!(!refused.status.success());
    let said = text(&refused.stderr);
    assert!(said.contains("answered 400 Bad Request"), "{said}");
    assert!(
        said.contains("check the channel's URL and secret"),
        "{said}"
    );
    let unavailable = channel(&config, &["test", "erp"]);
    let said = text(&unavailable.stderr);
    assert!(said.contains("answered 503"), "{said}");
    assert!(said.contains("would be retried"), "{said}");
    for out in [&refused, &unavailable] {
        let all = text(&out.stdout) + &text(&out.stderr);
        assert!(!all.contains(SECRET), "{all}");
    }
}

#[test]
fn channel_list_shows_no_secret() {
    let config = "[channels.ops]\ntype = \"slack\"\nurl = \"https://hooks.slack.com/services/T0/B0/sEcReT\"\n\
                  [channels.on-call]\ntype = \"sms\"\naccount_sid = \"AC1\"\nauth_token = \"tOkEn\"\n\
                  from = \"+14155550100\"\nto = \"+14155550101\"\n";
    let out = channel(config, &["list"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listed = text(&out.stdout);
    assert!(
        listed.contains("ops") && listed.contains("slack"),
        "{listed}"
    );
    assert!(
        listed.contains("+14155550101 via api.twilio.com"),
        "{listed}"
    );
    assert!(
        !listed.contains("sEcReT") && !listed.contains("tOkEn"),
        "{listed}"
    );
}

#[test]
fn bad_channels_are_refused_naming_the_channel_and_field() {
    let cases = [
        (
            "[channels.erp]\ntype = \"webhook\"\nurl = \"ftp://x.example\"\nsecret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\n",
            "channels.erp.url: is not an http(s) URL",
        ),
        (
            "[channels.erp]\ntype = \"webhook\"\nurl = \"https://x.example\"\nsecret = \"hunter2-not-whsec\"\n",
            "channels.erp.secret: must start with `whsec_`",
        ),
        (
            "[channels.Ops]\ntype = \"slack\"\nurl = \"https://hooks.slack.com/x\"\n",
            "channels.Ops.name: use lowercase letters",
        ),
        (
            "[channels.self]\ntype = \"discord\"\nurl = \"http://127.0.0.1:8080/api/notifications\"\n",
            "channels.self.url: points at this Belfry server itself",
        ),
        (
            "public_url = \"https://belfry.shop.example\"\n[channels.self]\ntype = \"teams\"\nurl = \"https://belfry.shop.example/x\"\n",
            "channels.self.url: points at this Belfry server itself",
        ),
        (
            "[channels.sms]\ntype = \"sms\"\naccount_sid = \"AC1\"\nauth_token = \"t\"\nfrom = \"+14155550100\"\nto = \"0044 7700 900123\"\n",
            "channels.sms.to: is not an E.164 number",
        ),
        (
            "[channels.pager]\ntype = \"pagerduty\"\nurl = \"https://x.example\"\n",
            "unknown variant `pagerduty`",
        ),
    ];
    for (config, says) in cases {
        let out = channel(config, &["list"]);
        assert!(!out.status.success(), "{config}");
        let said = text(&out.stderr);
        assert!(said.contains(says), "{config}\n{said}");
        assert!(!said.contains("hunter2"), "{said}");
    }
    let out = channel("", &["test", "nowhere"]);
    assert!(
        text(&out.stderr).contains("no channel is named `nowhere`"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn slack_discord_and_teams_get_their_own_formats() {
    let mut receiver = Receiver::start(&["--answers", "204"]);
    let config = format!(
        "public_url = \"https://belfry.shop.example\"\n\
         [channels.slack]\ntype = \"slack\"\nurl = \"{0}\"\n\
         [channels.discord]\ntype = \"discord\"\nurl = \"{1}\"\n\
         [channels.teams]\ntype = \"teams\"\nurl = \"{2}\"\n",
        receiver.url("/services/T0/B0/x"),
        receiver.url("/api/webhooks/1/x"),
        receiver.url("/workflows/x"),
    );
    for name in ["slack", "discord", "teams"] {
        let out = channel(&config, &["test", name, "--severity", "critical"]);
        assert!(out.status.success(), "{name}: {}", text(&out.stderr));
    }
    let slack = receiver.next()["json"].clone();
    assert!(
        slack["text"]
            .as_str()
            .is_some_and(|t| t.contains("Critical")),
        "{slack}"
    );
    let blocks = slack["blocks"].as_array().expect("Block Kit blocks");
    assert!(
        blocks.iter().all(|b| b["type"].is_string()),
        "every block has a type: {slack}"
    );
    assert!(
        slack.to_string().contains("https://belfry.shop.example/"),
        "{slack}"
    );

    let discord = receiver.next()["json"].clone();
    let embed = &discord["embeds"][0];
    assert!(
        embed["title"]
            .as_str()
            .is_some_and(|t| t.contains("Test message")),
        "{discord}"
    );
    assert!(embed["color"].is_u64(), "{discord}");
    assert_eq!(discord["allowed_mentions"]["parse"], serde_json::json!([]));

    let teams = receiver.next()["json"].clone();
    assert_eq!(teams["type"], "message");
    let attachment = &teams["attachments"][0];
    assert_eq!(
        attachment["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert_eq!(attachment["content"]["type"], "AdaptiveCard");
    assert!(
        attachment["content"]["body"]
            .as_array()
            .is_some_and(|b| !b.is_empty())
    );
}

/// Mints a token with the server's generated secret in `data_dir`.
fn mint(data_dir: &Path, args: &[&str]) -> String {
    let out = Command::new(BIN)
        .arg("token")
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .output()
        .expect("token runs");
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout).lines().last().unwrap().trim().to_owned()
}

/// `serve` on a free port with `config` as its file; the data directory
/// lives as long as the returned guard.
fn serve(config: &str) -> (tempfile::TempDir, belfry_process::ServerProcess) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("belfry.toml");
    std::fs::write(&file, config).unwrap();
    let served = belfry_process::ServerCommand::serve(BIN)
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .arg("--config")
        .arg(&file)
        .start()
        .expect("belfry-server serves");
    (dir, served)
}

#[tokio::test]
async fn test_messages_in_flight_are_bounded_and_the_next_is_told_when_to_retry() {
    // Each test message waits 3 s for the receiver: the first two hold the
    // server's two turns while the third asks.
    let receiver = Receiver::start(&["--delay", "3"]);
    let (dir, served) = serve(&format!(
        "[channels.erp]\ntype = \"webhook\"\nurl = \"{}\"\nsecret = \"{SECRET}\"\n",
        receiver.url("/hooks")
    ));
    let admin = mint(
        dir.path(),
        &["--email", "ann@shop.example", "--role", "admin"],
    );
    let http = reqwest::Client::new();
    let url = format!("http://{}/api/admin/channels/erp/test", served.addr());
    let send = || http.post(&url).bearer_auth(&admin).send();
    let (a, b, c) = tokio::join!(send(), send(), send());
    let mut answers: Vec<_> = [a, b, c].into_iter().map(Result::unwrap).collect();
    answers.sort_by_key(|r| r.status());
    let statuses: Vec<u16> = answers.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(statuses, [200, 200, 503]);
    assert_eq!(answers[2].headers()["retry-after"], "2");
}

#[tokio::test]
async fn admins_list_channels_without_secrets_and_send_a_test_message_through_the_api() {
    let mut receiver = Receiver::start(&["--whsec", SECRET]);
    let (dir, served) = serve(&format!(
        "[channels.erp]\ntype = \"webhook\"\nurl = \"{}\"\nsecret = \"{SECRET}\"\n\
         [channels.ops]\ntype = \"slack\"\nurl = \"https://hooks.slack.com/services/T0/B0/sEcReT\"\n",
        receiver.url("/hooks")
    ));
    let admin = mint(
        dir.path(),
        &["--email", "ann@shop.example", "--role", "admin"],
    );
    let publisher = mint(dir.path(), &["--scope", "publish", "--sub", "orders"]);
    let http = reqwest::Client::new();
    let url = |path: &str| format!("http://{}{path}", served.addr());

    let listed = http
        .get(url("/api/admin/channels"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    let listed = listed.text().await.unwrap();
    let value: Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(value["channels"][0]["name"], "erp");
    assert_eq!(value["channels"][1]["type"], "slack");
    assert!(
        !listed.contains("sEcReT") && !listed.contains("whsec"),
        "{listed}"
    );
    for (token, status) in [(Some(&publisher), 403), (None, 401)] {
        let mut request = http.get(url("/api/admin/channels"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        assert_eq!(request.send().await.unwrap().status(), status);
    }

    let answer = http
        .post(url("/api/admin/channels/erp/test"))
        .bearer_auth(&admin)
        .json(&serde_json::json!({"severity": "info"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let answer: Value = answer.json().await.unwrap();
    assert_eq!(answer["outcome"], "delivered", "{answer}");
    let got = receiver.next();
    assert_eq!(got["verified"], true, "{got}");
    assert_eq!(got["json"]["notification"]["severity"], "info");

    let unknown = http
        .post(url("/api/admin/channels/nowhere/test"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let bad = http
        .post(url("/api/admin/channels/erp/test"))
        .bearer_auth(&admin)
        .json(&serde_json::json!({"severity": "loud"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
    let bad: Value = bad.json().await.unwrap();
    assert_eq!(bad["error"]["field"], "severity", "{bad}");
}

#[test]
fn serve_refuses_a_bad_channel_at_start_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("belfry.toml");
    std::fs::write(
        &file,
        "[channels.ops]\ntype = \"slack\"\nurl = \"hooks.slack.com/services/x\"\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .arg("--config")
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("channels.ops.url: is not an http(s) URL"),
        "{}",
        text(&out.stderr)
    );
}

/// A throwaway CA and a certificate it signed for 127.0.0.1 and localhost,
/// made with the `openssl` command: (dir, CA file, certificate, key).
fn test_ca() -> (tempfile::TempDir, PathBuf, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name);
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir.path())
            .output()
            .expect("the openssl command runs (Debian: apt-get install openssl)");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            text(&out.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    openssl(
        &[
            &["req", "-x509"][..],
            &ec,
            &[
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                "/CN=Belfry test CA",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        ]
        .concat(),
    );
    openssl(
        &[
            &["req"][..],
            &ec,
            &[
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=localhost",
            ],
        ]
        .concat(),
    );
    std::fs::write(
        path("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
         keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    ]);
    let (ca, cert, key) = (path("ca.pem"), path("server.pem"), path("server.key"));
    (dir, ca, cert, key)
}

fn str_of(value: &Value) -> &str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a string: {value}"))
}

#[test]
fn an_email_channel_sends_text_and_html_over_plain_smtp_to_loopback() {
    let mut receiver = Receiver::smtp(&[]);
    let config = format!(
        "public_url = \"https://belfry.shop.example\"\n\
         [channels.ops-email]\ntype = \"email\"\nhost = \"127.0.0.1\"\nport = {}\n\
         security = \"none\"\nfrom = \"Belfry <belfry@shop.example>\"\n\
         to = [\"ops@shop.example\", \"Ann <ann@shop.example>\"]\n",
        receiver.port
    );
    let listed = channel(&config, &["list"]);
    assert!(
        text(&listed.stdout).contains(&format!(
            "ops@shop.example, ann@shop.example via 127.0.0.1:{} (none)",
            receiver.port
        )),
        "{}",
        text(&listed.stdout)
    );
    let out = channel(&config, &["test", "ops-email", "--severity", "critical"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("sent a test message through `ops-email` (email to"),
        "{}",
        text(&out.stdout)
    );
    assert!(
        text(&out.stdout).contains("answered 250"),
        "{}",
        text(&out.stdout)
    );

    let got = receiver.next();
    assert_eq!(got["mail_from"], "belfry@shop.example", "{got}");
    assert_eq!(
        got["rcpt_tos"],
        serde_json::json!(["ops@shop.example", "ann@shop.example"])
    );
    assert_eq!(got["tls"], Value::Null);
    assert_eq!(got["login"], Value::Null);
    assert_eq!(got["defects"], serde_json::json!([]), "{got}");
    assert_eq!(
        got["subject"],
        "[Belfry] Critical: Test message from Belfry (test)"
    );
    let headers = &got["headers"];
    assert_eq!(
        headers["From"],
        serde_json::json!(["Belfry <belfry@shop.example>"])
    );
    assert_eq!(
        headers["To"],
        serde_json::json!(["ops@shop.example, Ann <ann@shop.example>"])
    );
    assert_eq!(
        headers["Auto-Submitted"],
        serde_json::json!(["auto-generated"])
    );
    let id = str_of(&headers["Message-ID"][0]);
    assert!(
        id.starts_with("<msg_test_") && id.ends_with("@shop.example>"),
        "{id}"
    );
    assert_eq!(got["content_type"], "multipart/alternative");
    assert_eq!(got["parts"], serde_json::json!(["text/plain", "text/html"]));

    let plain = str_of(&got["text"]);
    assert!(
        plain.starts_with("Critical: Test message from Belfry\n"),
        "{plain}"
    );
    // The sample body quotes the channel name in backticks; the link is the
    // public URL.
    assert!(
        plain.contains("the channel `ops-email` reaches you"),
        "{plain}"
    );
    assert!(
        plain.contains("Open in Belfry: https://belfry.shop.example/"),
        "{plain}"
    );
    let html = str_of(&got["html"]);
    assert!(
        html.contains(
            "<h1 style=\"margin:0 0 12px;font-size:18px;\">Test message from Belfry</h1>"
        ),
        "{html}"
    );
    assert!(
        html.contains("<a href=\"https://belfry.shop.example/\""),
        "{html}"
    );
}

#[tokio::test]
async fn publisher_text_in_an_email_is_escaped_in_html_and_starts_no_header() {
    // `channel test` sends a fixed sample; a publisher's text goes through
    // the same channel, so send one through the library against the same
    // receiver, and let Python's email package read it.
    use belfry_server::channels::{ChannelSettings, Channels, Message, Outcome, SelfAddress};
    let mut receiver = Receiver::smtp(&[]);
    let settings = format!(
        "type = \"email\"\nhost = \"localhost\"\nport = {}\nsecurity = \"none\"\n\
         from = \"belfry@shop.example\"\nto = [\"ops@shop.example\"]\n",
        receiver.port
    );
    let settings: ChannelSettings = toml::from_str(&settings).unwrap();
    let channels = Channels::new(
        &[("mail".to_owned(), settings)].into_iter().collect(),
        &SelfAddress::default(),
    )
    .unwrap();
    let mut message = Message::test(
        belfry_proto::Severity::Critical,
        "mail",
        Some(&url::Url::parse("https://belfry.shop.example/#/n/42").unwrap()),
    );
    message.id = "msg_2JxQ9".to_owned();
    message.notification.title =
        "Disk <b>full</b> on \"db-1\"\r\nBcc: victim@evil.example".to_owned();
    message.notification.body = Some("<script>alert('x')</script> & more".to_owned());
    message.notification.link = Some("https://status.example/?q=\"><b>x</b>".to_owned());
    let outcome = channels.send(channels.get("mail").unwrap(), &message).await;
    assert_eq!(outcome, Outcome::Delivered { status: 250 });

    let got = receiver.next();
    assert_eq!(
        got["rcpt_tos"],
        serde_json::json!(["ops@shop.example"]),
        "{got}"
    );
    assert_eq!(got["defects"], serde_json::json!([]), "{got}");
    let headers = got["headers"].as_object().unwrap();
    assert!(
        !headers.keys().any(|k| k.eq_ignore_ascii_case("bcc")),
        "{got}"
    );
    assert_eq!(
        got["subject"],
        "[Belfry] Critical: Disk <b>full</b> on \"db-1\"  Bcc: victim@evil.example (test)"
    );
    assert_eq!(
        headers["Message-ID"],
        serde_json::json!(["<msg_2JxQ9@shop.example>"])
    );
    let html = str_of(&got["html"]);
    assert!(
        html.contains("Disk &lt;b&gt;full&lt;/b&gt; on &quot;db-1&quot;"),
        "{html}"
    );
    assert!(
        html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; more"),
        "{html}"
    );
    assert!(
        html.contains("<a href=\"https://status.example/?q=%22%3E%3Cb%3Ex%3C/b%3E\""),
        "{html}"
    );
    assert!(
        html.contains("<a href=\"https://belfry.shop.example/#/n/42\""),
        "{html}"
    );
    assert!(!html.contains("<script") && !html.contains("<b>"), "{html}");
    let plain = str_of(&got["text"]);
    assert!(
        plain.contains("<script>alert('x')</script> & more"),
        "{plain}"
    );
}

#[test]
fn an_email_channel_upgrades_with_starttls_trusting_ca_file_and_logs_in() {
    let (_dir, ca, cert, key) = test_ca();
    let mut receiver = Receiver::smtp(&[
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
        "--require-starttls",
        "--auth",
        "belfry:s3cret-pw",
    ]);
    let config = |host: &str, security: &str, password: &str, port: u16| {
        format!(
            "[channels.mail]\ntype = \"email\"\nhost = \"{host}\"\nport = {port}\n\
             security = \"{security}\"\nusername = \"belfry\"\npassword = \"{password}\"\n\
             from = \"belfry@shop.example\"\nto = [\"ops@shop.example\"]\nca_file = \"{}\"\n",
            ca.display()
        )
    };
    for host in ["127.0.0.1", "localhost"] {
        let out = channel(
            &config(host, "starttls", "s3cret-pw", receiver.port),
            &["test", "mail"],
        );
        assert!(out.status.success(), "{host}: {}", text(&out.stderr));
        let got = receiver.next();
        assert_eq!(got["tls"], "starttls", "{got}");
        assert_eq!(got["login"], "belfry", "{got}");
        assert_eq!(
            got["subject"],
            "[Belfry] Warning: Test message from Belfry (test)"
        );
    }

    // Without the CA the server's certificate is not trusted: nothing is
    // sent, and a real delivery would be retried.
    let untrusted = format!(
        "[channels.mail]\ntype = \"email\"\nhost = \"127.0.0.1\"\nport = {}\n\
         username = \"belfry\"\npassword = \"s3cret-pw\"\n\
         from = \"belfry@shop.example\"\nto = [\"ops@shop.example\"]\n",
        receiver.port
    );
    let out = channel(&untrusted, &["test", "mail"]);
    assert!(!out.status.success());
    let said = text(&out.stderr);
    assert!(said.contains("would be retried"), "{said}");
    assert!(said.contains("invalid peer certificate"), "{said}");
    assert_eq!(
        said.matches("UnknownIssuer").count(),
        1,
        "said once: {said}"
    );

    // The same server with implicit TLS (`security = "tls"`).
    let mut implicit = Receiver::smtp(&[
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
        "--implicit-tls",
        "--auth",
        "belfry:s3cret-pw",
    ]);
    let out = channel(
        &config("127.0.0.1", "tls", "s3cret-pw", implicit.port),
        &["test", "mail"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let got = implicit.next();
    assert_eq!(got["tls"], "implicit", "{got}");
    assert_eq!(got["login"], "belfry", "{got}");
}

#[test]
fn a_refused_smtp_login_fails_the_test_quoting_the_server_not_the_password() {
    let (_dir, ca, cert, key) = test_ca();
    let receiver = Receiver::smtp(&[
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
        "--require-starttls",
        "--auth",
        "belfry:s3cret-pw",
    ]);
    let config = format!(
        "[channels.mail]\ntype = \"email\"\nhost = \"127.0.0.1\"\nport = {}\n\
         username = \"belfry\"\npassword = \"wr0ng-hunter2\"\n\
         from = \"belfry@shop.example\"\nto = [\"ops@shop.example\"]\nca_file = \"{}\"\n",
        receiver.port,
        ca.display()
    );
    let out = channel(&config, &["test", "mail"]);
    assert!(!out.status.success());
    let said = text(&out.stderr);
    assert!(said.contains("answered 535"), "{said}");
    assert!(said.contains("Authentication"), "{said}");
    assert!(said.contains("check the channel's addresses"), "{said}");
    let all = text(&out.stdout) + &said;
    assert!(
        !all.contains("wr0ng-hunter2") && !all.contains("hunter2"),
        "{all}"
    );

    // And a server that offers no STARTTLS is not sent anything in the clear.
    let plain = Receiver::smtp(&["--auth", "belfry:s3cret-pw"]);
    let config = format!(
        "[channels.mail]\ntype = \"email\"\nhost = \"127.0.0.1\"\nport = {}\n\
         username = \"belfry\"\npassword = \"s3cret-pw\"\n\
         from = \"belfry@shop.example\"\nto = [\"ops@shop.example\"]\n",
        plain.port
    );
    let out = channel(&config, &["test", "mail"]);
    assert!(!out.status.success());
    let said = text(&out.stderr);
    assert!(said.contains("STARTTLS"), "{said}");
    assert!(!said.contains("s3cret-pw"), "{said}");
}

#[test]
fn bad_email_channels_are_refused_naming_the_field() {
    let base = "[channels.mail]\ntype = \"email\"\n";
    let cases = [
        (
            "host = \"smtp.shop.example\"\nfrom = \"belfry\"\nto = [\"ops@shop.example\"]\n",
            "channels.mail.from: `belfry` is not one email address",
        ),
        (
            "host = \"smtp.shop.example\"\nfrom = \"b@shop.example\"\nto = [\"ops@shop.example\", \"not an address\"]\n",
            "channels.mail.to: [1]: `not an address` is not one email address",
        ),
        (
            "host = \"smtp.shop.example\"\nfrom = \"b@shop.example\"\nto = []\n",
            "channels.mail.to: lists no address",
        ),
        (
            "host = \"smtp.shop.example\"\nsecurity = \"none\"\nfrom = \"b@shop.example\"\nto = [\"ops@shop.example\"]\n",
            "channels.mail.security: `none` sends the mail (and any password) unencrypted",
        ),
        (
            "host = \"smtp.shop.example\"\npassword = \"hunter2\"\nfrom = \"b@shop.example\"\nto = [\"ops@shop.example\"]\n",
            "channels.mail.password: is set without a `username`",
        ),
        (
            "host = \"smtp.shop.example\"\nca_file = \"/nonexistent/ca.pem\"\nfrom = \"b@shop.example\"\nto = [\"ops@shop.example\"]\n",
            "channels.mail.ca_file: /nonexistent/ca.pem: cannot be read",
        ),
        (
            "host = \"smtp.shop.example\"\nsecurity = \"ssl\"\nfrom = \"b@shop.example\"\nto = [\"ops@shop.example\"]\n",
            "unknown variant `ssl`",
        ),
    ];
    for (rest, says) in cases {
        let config = format!("{base}{rest}");
        let out = channel(&config, &["list"]);
        assert!(!out.status.success(), "{config}");
        let said = text(&out.stderr);
        assert!(said.contains(says), "{config}\n{said}");
        assert!(!said.contains("hunter2"), "{said}");
    }
}
