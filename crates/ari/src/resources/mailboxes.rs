//! `mailboxes`: message-waiting counts set by applications, kept in memory and in
//! the store (so they survive a restart, as Asterisk's `res_mwi_external` keeps them
//! in its astdb).

use serde_json::Value;
use switchboard_store::Mailbox;

use crate::decl::{api, h, op, Method::*, Resource};
use crate::error::AriError;
use crate::params::Args;
use crate::reply::Reply;
use crate::{json, models, Ari};

pub fn resource() -> Resource {
    Resource {
        name: "mailboxes",
        description: "Mailboxes resources",
        models: &[models::MAILBOXES],
        apis: vec![
            api(
                "/mailboxes",
                "Mailboxes",
                vec![op(
                    Get,
                    "list",
                    "List all mailboxes.",
                    "List[Mailbox]",
                    h!(list),
                )],
            ),
            api(
                "/mailboxes/{mailboxName}",
                "Mailbox state",
                vec![
                    op(
                        Get,
                        "get",
                        "Retrieve the current state of a mailbox.",
                        "Mailbox",
                        h!(get),
                    )
                    .path("mailboxName", "Name of the mailbox")
                    .error(404, "Mailbox not found"),
                    op(
                        Put,
                        "update",
                        "Change the state of a mailbox. (Note - implicitly creates the mailbox).",
                        "void",
                        h!(update),
                    )
                    .path("mailboxName", "Name of the mailbox")
                    .query("oldMessages", "int", "Count of old messages in the mailbox")
                    .required()
                    .range(Some(0), None)
                    .query("newMessages", "int", "Count of new messages in the mailbox")
                    .required()
                    .range(Some(0), None)
                    .error(404, "Mailbox not found"),
                    op(Delete, "delete", "Destroy a mailbox.", "void", h!(delete))
                        .path("mailboxName", "Name of the mailbox")
                        .error(404, "Mailbox not found"),
                ],
            ),
        ],
    }
}

/// Loads the mailboxes kept in the store (at ARI's start).
pub(crate) async fn load(ari: &Ari) {
    let store = ari.switch().store().clone();
    match tokio::task::spawn_blocking(move || store.mailboxes()).await {
        Ok(Ok(stored)) => {
            let mut mailboxes = ari.mailboxes().lock().await;
            for mailbox in stored {
                mailboxes.insert(mailbox.name.clone(), mailbox);
            }
            if !mailboxes.is_empty() {
                tracing::info!(count = mailboxes.len(), "ARI mailboxes restored");
            }
        }
        Ok(Err(e)) => tracing::error!(error = %e, "ARI: reading the stored mailboxes failed"),
        Err(e) => tracing::error!(error = %e, "ARI: reading the stored mailboxes failed"),
    }
}

fn not_found() -> AriError {
    AriError::not_found("Mailbox does not exist")
}

fn store_failed(e: impl std::fmt::Display) -> AriError {
    tracing::error!(error = %e, "ARI: storing a mailbox failed");
    AriError::new(500, "Error updating mailbox")
}

async fn list(ari: Ari, _args: Args) -> Result<Reply, AriError> {
    let mailboxes = ari.mailboxes().lock().await;
    let list: Vec<Value> = mailboxes.values().map(json::mailbox).collect();
    Ok(Reply::Json(list.into()))
}

async fn get(ari: Ari, args: Args) -> Result<Reply, AriError> {
    let mailboxes = ari.mailboxes().lock().await;
    let mailbox = mailboxes
        .get(args.path("mailboxName"))
        .ok_or_else(not_found)?;
    Ok(Reply::Json(json::mailbox(mailbox)))
}

async fn update(ari: Ari, args: Args) -> Result<Reply, AriError> {
    let count = |name: &str| {
        args.int(name)
            .ok_or_else(|| AriError::bad_request(format!("Missing required parameter {name}")))
    };
    let mailbox = Mailbox {
        name: args.path("mailboxName").to_owned(),
        old_messages: count("oldMessages")?,
        new_messages: count("newMessages")?,
    };
    let mut mailboxes = ari.mailboxes().lock().await;
    let store = ari.switch().store().clone();
    let stored = mailbox.clone();
    tokio::task::spawn_blocking(move || store.put_mailbox_blocking(stored))
        .await
        .map_err(store_failed)?
        .map_err(store_failed)?;
    mailboxes.insert(mailbox.name.clone(), mailbox);
    Ok(Reply::NoContent)
}

async fn delete(ari: Ari, args: Args) -> Result<Reply, AriError> {
    let name = args.path("mailboxName").to_owned();
    let mut mailboxes = ari.mailboxes().lock().await;
    if !mailboxes.contains_key(&name) {
        return Err(not_found());
    }
    let store = ari.switch().store().clone();
    let key = name.clone();
    tokio::task::spawn_blocking(move || store.delete_mailbox_blocking(&key))
        .await
        .map_err(store_failed)?
        .map_err(store_failed)?;
    mailboxes.remove(&name);
    Ok(Reply::NoContent)
}
