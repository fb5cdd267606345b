"""The inbox's writes: a message once per (event, person), and what a new message brings
with it (its email, or its email held until the person is known here).

Each is one pipelined statement over a batch of parameter sets. The message is inserted
with ON CONFLICT DO NOTHING, and its email (or held email) is inserted only from the row
that insert returned, so a redelivered or replayed event adds neither.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.sql.elements import TextClause

_INSERT_MESSAGE = """
    INSERT INTO notifications
        (id, account_id, request_id, event_id, event_type, language, title, body, created_at)
    VALUES
        (:id, :account_id, :request_id, :event_id, :event_type, :language, :title, :body, :now)
    ON CONFLICT (event_id, account_id) DO NOTHING
"""


def _statement(sql: str) -> TextClause:
    return sa.text(sql).bindparams(sa.bindparam("now", type_=sa.DateTime(timezone=True)))


def _with_new_message(then: str) -> TextClause:
    """`then` runs on the message's row only if the message was new (as `inserted`)."""
    return _statement(f"WITH inserted AS ({_INSERT_MESSAGE} RETURNING id) {then}")


MESSAGE = _statement(_INSERT_MESSAGE)
MESSAGE_AND_EMAIL = _with_new_message(
    """
    INSERT INTO emails
        (id, notification_id, message_id, to_address, language, subject, text_body,
         html_body, status, attempts, next_attempt_at, created_at, updated_at)
    SELECT CAST(:email_id AS uuid), inserted.id, :message_id, :address, :language, :title,
           :body, :html, 'created', 0, :now, :now, :now
    FROM inserted
    """
)
MESSAGE_AND_HELD_EMAIL = _with_new_message(
    """
    INSERT INTO held_emails
        (notification_id, account_id, message_id, language, subject, text_body, html_body,
         created_at)
    SELECT inserted.id, :account_id, :message_id, :language, :title, :body, :html, :now
    FROM inserted
    """
)
