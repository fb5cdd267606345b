"""Request numbers from one PostgreSQL sequence per year instead of a counter row.

The counter row (`request_numbers`) was locked from a submission's number until its
commit, so every submission waited for the one before it: the submission benchmark
measured under 200/s, with nearly every session waiting on that row. A sequence hands
out numbers without a lock; the price is that a submission rolled back after taking its
number leaves a gap (numbers stay unique and increasing). `request_number(year)` makes the
year's sequence on first use, starting after the counter's last number, so numbers given
before this migration are never handed out again. The sequences belong to that table
(OWNED BY): dropping or truncating it (RESTART IDENTITY) drops or restarts them too.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 11:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The exception blocks run inside the server (no extra round trip): the first is taken
# once per year, the second only when two first submissions of a year race to create it.
FUNCTION = """
CREATE FUNCTION request_number(year integer) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    sequence_name text := format('request_number_%s', year);
    start bigint;
BEGIN
    RETURN nextval(sequence_name::regclass);
EXCEPTION WHEN undefined_table THEN
    SELECT coalesce(max(last), 0) + 1 INTO start
    FROM request_numbers WHERE request_numbers.year = request_number.year;
    BEGIN
        EXECUTE format(
            'CREATE SEQUENCE IF NOT EXISTS %I START WITH %s OWNED BY request_numbers.year',
            sequence_name, start
        );
    EXCEPTION WHEN unique_violation THEN
        NULL;
    END;
    RETURN nextval(sequence_name::regclass);
END;
$$
"""


def upgrade() -> None:
    op.execute(FUNCTION)


def downgrade() -> None:
    op.execute("DROP FUNCTION request_number(integer)")
