//! `mailboxes`: declared; answers 501 until mailboxes live in the core.

use super::not_implemented;
use crate::decl::{api, h, op, Method::*, Resource};
use crate::models;

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
                    h!(not_implemented),
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
                        h!(not_implemented),
                    )
                    .path("mailboxName", "Name of the mailbox")
                    .error(404, "Mailbox not found"),
                    op(
                        Put,
                        "update",
                        "Change the state of a mailbox. (Note - implicitly creates the mailbox).",
                        "void",
                        h!(not_implemented),
                    )
                    .path("mailboxName", "Name of the mailbox")
                    .query("oldMessages", "int", "Count of old messages in the mailbox")
                    .required()
                    .query("newMessages", "int", "Count of new messages in the mailbox")
                    .required()
                    .error(404, "Mailbox not found"),
                    op(
                        Delete,
                        "delete",
                        "Destroy a mailbox.",
                        "void",
                        h!(not_implemented),
                    )
                    .path("mailboxName", "Name of the mailbox")
                    .error(404, "Mailbox not found"),
                ],
            ),
        ],
    }
}
