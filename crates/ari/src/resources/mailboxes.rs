//! `mailboxes`: message-waiting counts set by applications, kept by the core (in the
//! store too, so they survive a restart, as Asterisk's `res_mwi_external` keeps them
//! in its astdb).

use serde_json::Value;
use switchboard_core::mailbox::Mailbox;
use switchboard_core::ControlError;

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

fn not_found() -> AriError {
    AriError::not_found("Mailbox does not exist")
}

fn store_failed(e: ControlError) -> AriError {
    match e {
        ControlError::NotFound => not_found(),
        _ => AriError::new(500, "Error updating mailbox"),
    }
}

async fn list(ari: Ari, _args: Args) -> Result<Reply, AriError> {
    let mailboxes = ari.switch().mailboxes().await;
    let list: Vec<Value> = mailboxes.iter().map(json::mailbox).collect();
    Ok(Reply::Json(list.into()))
}

async fn get(ari: Ari, args: Args) -> Result<Reply, AriError> {
    let mailbox = ari
        .switch()
        .mailbox(args.path("mailboxName"))
        .await
        .ok_or_else(not_found)?;
    Ok(Reply::Json(json::mailbox(&mailbox)))
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
    ari.switch()
        .set_mailbox(mailbox)
        .await
        .map_err(store_failed)?;
    Ok(Reply::NoContent)
}

async fn delete(ari: Ari, args: Args) -> Result<Reply, AriError> {
    ari.switch()
        .delete_mailbox(args.path("mailboxName"))
        .await
        .map_err(store_failed)?;
    Ok(Reply::NoContent)
}
